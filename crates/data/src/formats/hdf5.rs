//! ann-benchmarks HDF5 files through `hdf5-reader`, a pure-Rust reader (no libhdf5): contiguous,
//! compact and chunked datasets, the deflate (gzip), shuffle and fletcher32 filters, float32 and
//! float64 vectors, 32- and 64-bit integer neighbours, and the `distance` attribute as a fixed- or
//! variable-length string, as h5py writes them.

use std::path::{Path, PathBuf};

use hdf5_reader::{Dataset, Datatype, Hdf5File, SliceInfo, SliceInfoElem};
use ndarray::ArrayD;

use super::{Format, Source, ids_rows, metric_from_word};
use crate::error::{DataError, Result};
use crate::files::RowBlocks;
use crate::vectors::Vectors;

const LAYOUT: &str = "an ann-benchmarks file holds `train`, `test` and optionally `neighbors`";

fn open(path: &Path) -> Result<Hdf5File> {
    let file = Hdf5File::open(path).map_err(|e| {
        DataError::bad_file(
            path,
            format!("cannot be opened as HDF5 ({e}); it is truncated or not an HDF5 file"),
        )
    })?;
    // The superblock records where the file ends: a shorter file was cut (a copy or download
    // that stopped), and is refused here rather than at the first block it lacks.
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX);
    let end = file.superblock().base_address + file.superblock().eof_address;
    if len < end {
        return Err(DataError::bad_file(
            path,
            format!(
                "is truncated: {len} bytes where its HDF5 superblock says {end}; copy or \
                 download it again"
            ),
        ));
    }
    Ok(file)
}

/// The 2-D dataset `name` with its rows and columns, or None when the file has no such dataset.
fn matrix(file: &Hdf5File, path: &Path, name: &str) -> Result<Option<(usize, usize, Dataset)>> {
    let bad = |what: String| DataError::bad_file(path, what);
    let (_, datasets) = file
        .root_group()
        .and_then(|root| root.member_names())
        .map_err(|e| bad(format!("its root group cannot be read ({e})")))?;
    if !datasets.iter().any(|d| d == name) {
        return Ok(None);
    }
    let ds = file
        .dataset(name)
        .map_err(|e| bad(format!("`{name}` cannot be read ({e})")))?;
    match ds.shape()[..] {
        [rows, cols] => Ok(Some((rows as usize, cols as usize, ds))),
        ref other => Err(bad(format!(
            "`{name}` has shape {other:?}; ann-benchmarks files hold 2-D rows x dimension arrays"
        ))),
    }
}

/// The element type of a vector dataset, or an error naming the type found.
fn float_size(path: &Path, name: &str, ds: &Dataset) -> Result<usize> {
    match ds.dtype() {
        Datatype::FloatingPoint { size: 4, .. } => Ok(4),
        Datatype::FloatingPoint { size: 8, .. } => Ok(8),
        other => Err(DataError::bad_file(
            path,
            format!("`{name}` holds {other:?}; vectors are read as float32 or float64"),
        )),
    }
}

/// Rows `rows` (all when None) of a float32 or float64 dataset of `cols` columns, as f32.
fn read_floats(
    path: &Path,
    name: &str,
    ds: &Dataset,
    rows: Option<std::ops::Range<usize>>,
    cols: usize,
) -> Result<Vec<f32>> {
    let size = float_size(path, name, ds)?;
    let what = || match &rows {
        Some(r) => format!("`{name}` rows {}..{}", r.start, r.end),
        None => format!("`{name}`"),
    };
    let bad = |e: hdf5_reader::error::Error| {
        DataError::bad_file(path, format!("{} cannot be read ({e})", what()))
    };
    let selection = rows.as_ref().map(|r| SliceInfo {
        selections: vec![
            SliceInfoElem::Slice {
                start: r.start as u64,
                end: r.end as u64,
                step: 1,
            },
            SliceInfoElem::Slice {
                start: 0,
                end: cols as u64,
                step: 1,
            },
        ],
    });
    match (size, selection) {
        (4, None) => {
            let n = ds.num_elements().map_err(bad)? as usize;
            let mut out = vec![0f32; n];
            ds.read_into(&mut out).map_err(bad)?;
            Ok(out)
        }
        (4, Some(sel)) => Ok(into_vec(ds.read_slice::<f32>(&sel).map_err(bad)?)),
        (_, None) => Ok(narrow(ds.read_array::<f64>().map_err(bad)?)),
        (_, Some(sel)) => Ok(narrow(ds.read_slice::<f64>(&sel).map_err(bad)?)),
    }
}

fn into_vec<T: Clone>(a: ArrayD<T>) -> Vec<T> {
    if a.is_standard_layout() {
        a.into_raw_vec_and_offset().0
    } else {
        a.iter().cloned().collect()
    }
}

fn narrow(a: ArrayD<f64>) -> Vec<f32> {
    a.iter().map(|&x| x as f32).collect()
}

/// Neighbour ids of any 32- or 64-bit integer type, widened to i64.
fn read_ids(path: &Path, ds: &Dataset) -> Result<Vec<i64>> {
    let bad = |e: hdf5_reader::error::Error| {
        DataError::bad_file(
            path,
            format!("`neighbors` cannot be read as integers ({e})"),
        )
    };
    fn widened<T: hdf5_reader::H5Type + Copy>(
        ds: &Dataset,
        widen: fn(T) -> i64,
    ) -> std::result::Result<Vec<i64>, hdf5_reader::error::Error> {
        Ok(ds.read_array::<T>()?.iter().map(|&x| widen(x)).collect())
    }
    let ids = match ds.dtype() {
        Datatype::FixedPoint {
            size: 8,
            signed: true,
            ..
        } => widened::<i64>(ds, |x| x),
        // Beyond i64 is beyond u32 too: ids_rows names it.
        Datatype::FixedPoint {
            size: 8,
            signed: false,
            ..
        } => widened::<u64>(ds, |x| i64::try_from(x).unwrap_or(i64::MAX)),
        Datatype::FixedPoint {
            size: 4,
            signed: true,
            ..
        } => widened::<i32>(ds, i64::from),
        Datatype::FixedPoint {
            size: 4,
            signed: false,
            ..
        } => widened::<u32>(ds, i64::from),
        other => {
            return Err(DataError::bad_file(
                path,
                format!("`neighbors` holds {other:?}; ids are read as 32- or 64-bit integers"),
            ));
        }
    };
    ids.map_err(bad)
}

/// The file attribute `distance` as text, fixed- or variable-length.
fn distance(file: &Hdf5File, path: &Path) -> Result<Option<String>> {
    let root = file
        .root_group()
        .map_err(|e| DataError::bad_file(path, format!("its root group cannot be read ({e})")))?;
    let Ok(attr) = root.attribute("distance") else {
        return Ok(None);
    };
    attr.read_string()
        .map(|s| Some(s.trim_end_matches('\0').to_string()))
        .map_err(|e| {
            DataError::bad_file(
                path,
                format!("the `distance` attribute is not a string ({e})"),
            )
        })
}

pub(super) fn read(path: &Path, mapped_train: Option<&Path>) -> Result<Source> {
    let bad = |what: String| DataError::bad_file(path, what);
    let file = open(path)?;
    let vectors = |name: &str| -> Result<Vectors> {
        let Some((rows, cols, ds)) = matrix(&file, path, name)? else {
            return Err(bad(format!("has no `{name}` dataset; {LAYOUT}")));
        };
        if cols == 0 {
            return Err(bad(format!("`{name}` has dimension 0")));
        }
        let data = read_floats(path, name, &ds, None, cols)?;
        if data.len() != rows * cols {
            return Err(bad(format!(
                "`{name}`: read {} values of {rows} x {cols}",
                data.len()
            )));
        }
        Vectors::new(cols, data)
    };
    let train = match mapped_train {
        Some(fbin) => Vectors::map_fbin(fbin)?,
        None => vectors("train")?,
    };
    let test = vectors("test")?;
    let neighbors = match matrix(&file, path, "neighbors")? {
        None => None,
        Some((rows, k, ds)) => {
            let ids = read_ids(path, &ds)?;
            Some((k, ids_rows(path, &ids, rows, k)?, path.to_path_buf()))
        }
    };
    let metric = match distance(&file, path)? {
        None => None,
        Some(word) => {
            let metric = metric_from_word(&word).ok_or_else(|| {
                bad(format!(
                    "the `distance` attribute is {word:?}; known: angular, euclidean, dot, ip \
                     (or remove it and pass --metric)"
                ))
            })?;
            Some((metric, word))
        }
    };
    Ok(Source {
        metric,
        ..Source::new(
            Format::Hdf5,
            train,
            test,
            neighbors,
            path.to_path_buf(),
            path.to_path_buf(),
        )
    })
}

/// An ann-benchmarks file's `train` dataset a block of rows at a time (a hyperslab of rows per
/// block: only the chunks those rows touch are read and decoded), for the converter to `.fbin`.
pub(super) struct Hdf5Blocks {
    path: PathBuf,
    train: Dataset,
    rows: usize,
    cols: usize,
    next: usize,
}

impl Hdf5Blocks {
    pub(super) fn open(path: &Path) -> Result<Self> {
        let bad = |what: String| DataError::bad_file(path, what);
        let file = open(path)?;
        let Some((rows, cols, train)) = matrix(&file, path, "train")? else {
            return Err(bad(format!("has no `train` dataset; {LAYOUT}")));
        };
        if cols == 0 {
            return Err(bad("`train` has dimension 0".into()));
        }
        float_size(path, "train", &train)?;
        Ok(Self {
            path: path.to_path_buf(),
            train,
            rows,
            cols,
            next: 0,
        })
    }
}

impl RowBlocks for Hdf5Blocks {
    fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    fn read_rows(&mut self, n: usize, out: &mut Vec<f32>) -> Result<()> {
        let (a, b) = (self.next, self.next + n);
        out.extend(read_floats(
            &self.path,
            "train",
            &self.train,
            Some(a..b),
            self.cols,
        )?);
        self.next = b;
        Ok(())
    }
}
