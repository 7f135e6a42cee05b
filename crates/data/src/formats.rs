//! Users' own datasets in the formats ANN datasets are published in, read into the suite's
//! [`Vectors`] plus the shipped neighbours (when there are any) and the metric (when the file
//! says it). [`crate::Dataset::open`] checks what is read and builds the dataset from it.
//!
//! Every train set ends up mapped, so a train set larger than memory can be used: a `.fbin` and a
//! little-endian float32 `.npy` are mapped where they are; every other train set is converted to
//! a `.fbin` in the dataset cache a block of rows at a time by the one converter
//! ([`crate::files::write_fbin_blocks`], fed by a [`RowBlocks`] reader per format), then mapped.
//! Test sets and neighbours are read into memory.
//!
//! - ann-benchmarks HDF5 (`.hdf5` / `.h5`): datasets `train`, `test`, optional `neighbors`, the
//!   file attribute `distance` ("angular" -> cosine, "euclidean" -> euclid, "dot"/"ip" -> dot).
//!   `train` is converted by hyperslabs of rows. Read in pure Rust ([`hdf5`]): contiguous or
//!   chunked, deflate/shuffle filters, float32/float64 vectors, 32/64-bit integer neighbours.
//! - big-ann-benchmarks / TEXMEX, a directory with `base*` or `train*` and `query*` or `test*`
//!   vector files (`.fbin`, `.u8bin`, `.i8bin`, `.fvecs`, `.bvecs`) and optionally a
//!   `groundtruth*`, `gt*` or `neighbors*` id file (`.ibin`, `.ivecs`).
//! - NumPy, a directory with `train.npy`, `test.npy`, optional `neighbors.npy` (2-D, C order,
//!   f32/f64/u8/i8 vectors, integer neighbours).
//! - VectorDBBench Parquet, a directory with `train.parquet`, `test.parquet`, optional
//!   `neighbors.parquet`: an `id` column and an embedding column (a list of floats: `emb`,
//!   `embedding` or `vector`, else the only list column); the neighbours file's list column holds
//!   train ids. Scalar columns of `train` are kept as the points' payloads
//!   ([`crate::SourcePayloads`]); the embeddings are converted as the rows are read.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{DataError, Result};
use crate::files::{
    BLOCK_BYTES, RowBlocks, convert_to_fbin_blocks, read_byte_vectors, read_ids, read_vectors,
    write_fbin_blocks,
};
use crate::generator::Metric;
use crate::payload::SourcePayloads;
use crate::vectors::Vectors;
use hdf5::Hdf5Blocks;

mod hdf5;

/// The format a dataset path was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Hdf5,
    /// `.fbin` / `.u8bin` / `.i8bin` / `.fvecs` / `.bvecs` with `.ibin` / `.ivecs` truth.
    Bin,
    Npy,
    Parquet,
}

impl Format {
    pub fn name(&self) -> &'static str {
        match self {
            Format::Hdf5 => "ann-benchmarks HDF5",
            Format::Bin => "big-ann-benchmarks/TEXMEX binary",
            Format::Npy => "NumPy .npy",
            Format::Parquet => "VectorDBBench Parquet",
        }
    }
}

/// The formats and layouts `--dataset` accepts, for error messages.
pub const FORMATS_HELP: &str = "an ann-benchmarks .hdf5 file, or a directory holding train.npy + test.npy \
     [+ neighbors.npy], train.parquet + test.parquet [+ neighbors.parquet], or base|train.{fbin,u8bin,i8bin,fvecs,bvecs} \
     + query|test.<same> [+ groundtruth|gt|neighbors.{ibin,ivecs}]";

/// What a dataset path holds, as read.
#[derive(Clone)]
pub(crate) struct Source {
    pub format: Format,
    pub train: Vectors,
    pub test: Vectors,
    /// Shipped neighbours: (row width, rows of train ids), and the file they came from.
    pub neighbors: Option<(usize, Vec<Vec<u32>>, PathBuf)>,
    /// The metric the file states (HDF5 only), and the word it used.
    pub metric: Option<(Metric, String)>,
    /// Train's scalar columns, one object per point (Parquet only).
    pub payloads: Option<SourcePayloads>,
    /// The files read, for the content hash.
    pub files: Vec<PathBuf>,
    /// The train file, where a neighbour id out of range or a bad row is reported.
    pub train_file: PathBuf,
    pub test_file: PathBuf,
}

impl Source {
    /// What was read from `train_file`, `test_file` and the neighbours' file; `files` (the
    /// content hash's input) are those files, each once, in that order.
    fn new(
        format: Format,
        train: Vectors,
        test: Vectors,
        neighbors: Option<(usize, Vec<Vec<u32>>, PathBuf)>,
        train_file: PathBuf,
        test_file: PathBuf,
    ) -> Source {
        let mut files: Vec<PathBuf> = Vec::new();
        for f in [
            Some(&train_file),
            Some(&test_file),
            neighbors.as_ref().map(|n| &n.2),
        ]
        .into_iter()
        .flatten()
        {
            if !files.contains(f) {
                files.push(f.clone());
            }
        }
        Source {
            format,
            train,
            test,
            neighbors,
            metric: None,
            payloads: None,
            files,
            train_file,
            test_file,
        }
    }
}

/// Where a dataset path's files are, by format (one detection for reading and converting).
enum Layout {
    Hdf5(PathBuf),
    Npy(PathBuf, PathBuf, Option<PathBuf>),
    Parquet(PathBuf, PathBuf, Option<PathBuf>),
    Bin(PathBuf, PathBuf, Option<PathBuf>),
}

fn layout(path: &Path) -> Result<Layout> {
    if !path.exists() {
        return Err(DataError::bad_file(
            path,
            format!("does not exist; --dataset / QDRANT_PERF_DATASET takes {FORMATS_HELP}"),
        ));
    }
    if path.is_file() {
        return match ext(path) {
            "hdf5" | "h5" => Ok(Layout::Hdf5(path.to_path_buf())),
            _ => Err(unknown(path, "not a .hdf5/.h5 file nor a directory")),
        };
    }
    let file = |name: &str| {
        let p = path.join(name);
        p.is_file().then_some(p)
    };
    if let (Some(train), Some(test)) = (file("train.npy"), file("test.npy")) {
        return Ok(Layout::Npy(train, test, file("neighbors.npy")));
    }
    if let (Some(train), Some(test)) = (file("train.parquet"), file("test.parquet")) {
        return Ok(Layout::Parquet(train, test, file("neighbors.parquet")));
    }
    let train = find(path, &["base", "train"], VECTOR_EXTS)?;
    let test = find(path, &["query", "test"], VECTOR_EXTS)?;
    match (train, test) {
        (Some(train), Some(test)) => {
            let truth = find(path, &["groundtruth", "gt", "neighbors"], ID_EXTS)?;
            Ok(Layout::Bin(train, test, truth))
        }
        _ => Err(unknown(
            path,
            "no train and test files found in this directory",
        )),
    }
}

/// The train file of the dataset at `path` when it cannot be mapped as it is and is converted
/// to a `.fbin` first ([`convert_train`]): every train set but a `.fbin` and a little-endian
/// float32 `.npy`, which are mapped in place.
pub(crate) fn train_to_convert(path: &Path) -> Result<Option<PathBuf>> {
    Ok(match layout(path)? {
        Layout::Hdf5(file) => Some(file),
        Layout::Npy(train, ..) => npy_map_offset(&train)?.is_none().then_some(train),
        Layout::Parquet(train, ..) => Some(train),
        Layout::Bin(train, ..) => (ext(&train) != "fbin").then_some(train),
    })
}

/// Writes the train set of `train` (a file [`train_to_convert`] named) to `dst` as a `.fbin`,
/// a block of rows at a time (HDF5 by row hyperslabs, Parquet row group by row group), through
/// the one converter [`crate::files::write_fbin_blocks`].
pub(crate) fn convert_train(train: &Path, dst: &Path) -> Result<()> {
    convert_train_blocks(train, dst, BLOCK_BYTES)
}

/// [`convert_train`] with blocks of about `block_bytes` bytes of values.
fn convert_train_blocks(train: &Path, dst: &Path, block_bytes: usize) -> Result<()> {
    match ext(train) {
        "hdf5" | "h5" => write_fbin_blocks(dst, &mut Hdf5Blocks::open(train)?, block_bytes),
        "npy" => write_fbin_blocks(dst, &mut NpyBlocks::open(train)?, block_bytes),
        "parquet" => write_fbin_blocks(dst, &mut ParquetBlocks::open(train)?, block_bytes),
        _ => convert_to_fbin_blocks(train, dst, block_bytes),
    }
}

const VECTOR_EXTS: &[&str] = &["fbin", "u8bin", "i8bin", "fvecs", "bvecs"];
const ID_EXTS: &[&str] = &["ibin", "ivecs"];

fn ext(p: &Path) -> &str {
    p.extension().and_then(|e| e.to_str()).unwrap_or("")
}

fn unknown(path: &Path, why: &str) -> DataError {
    DataError::bad_file(
        path,
        format!(
            "{why}: unknown dataset format; --dataset / QDRANT_PERF_DATASET takes {FORMATS_HELP}"
        ),
    )
}

/// The one file in `dir` whose name starts with one of `stems` (then `.`) and ends in one of
/// `exts`; two candidates are an error naming both.
fn find(dir: &Path, stems: &[&str], exts: &[&str]) -> Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for e in entries {
        let path = e.map_err(|e| DataError::io(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let stem_ok = stems.iter().any(|s| {
            name.strip_prefix(s)
                .is_some_and(|rest| rest.starts_with('.'))
        });
        if stem_ok && exts.contains(&ext(&path)) && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(DataError::bad_file(
            dir,
            format!(
                "holds more than one {} file ({}); keep one per directory",
                stems.join("/"),
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Reads the dataset at `path` (see the module docs for what is accepted). `mapped_train`, when
/// given, is a `.fbin` already converted from the train file [`train_to_convert`] named.
pub(crate) fn read_source(path: &Path, mapped_train: Option<&Path>) -> Result<Source> {
    match layout(path)? {
        Layout::Hdf5(file) => hdf5::read(&file, mapped_train),
        Layout::Npy(train, test, truth) => read_files(
            Format::Npy,
            (train, test, truth),
            mapped_train,
            read_npy_vectors,
            read_npy_ids,
        ),
        Layout::Parquet(train, test, truth) => read_parquet(train, test, truth, mapped_train),
        Layout::Bin(train, test, truth) => read_files(
            Format::Bin,
            (train, test, truth),
            mapped_train,
            read_bin_vectors,
            read_ids,
        ),
    }
}

fn read_bin_vectors(path: &Path) -> Result<Vectors> {
    match ext(path) {
        "fbin" => Vectors::map_fbin(path),
        "fvecs" => read_vectors(path),
        _ => read_byte_vectors(path),
    }
}

/// A truth file's width and its rows of neighbour ids.
type IdRows = (usize, Vec<Vec<u32>>);

/// A layout of separate files: train (or its converted copy `mapped_train`), test, and the
/// neighbours when there are some, each read by the format's readers.
fn read_files(
    format: Format,
    (train_file, test_file, truth): (PathBuf, PathBuf, Option<PathBuf>),
    mapped_train: Option<&Path>,
    read_vectors: fn(&Path) -> Result<Vectors>,
    read_truth: fn(&Path) -> Result<IdRows>,
) -> Result<Source> {
    let train = match mapped_train {
        Some(fbin) => Vectors::map_fbin(fbin)?,
        None => read_vectors(&train_file)?,
    };
    let test = read_vectors(&test_file)?;
    let neighbors = truth
        .map(|p| read_truth(&p).map(|(k, rows)| (k, rows, p)))
        .transpose()?;
    let files = (train_file, test_file);
    Ok(Source::new(
        format, train, test, neighbors, files.0, files.1,
    ))
}

/// ann-benchmarks' word for a metric.
pub fn metric_from_word(word: &str) -> Option<Metric> {
    match word.trim().to_ascii_lowercase().as_str() {
        "angular" | "cosine" => Some(Metric::Cosine),
        "euclidean" | "euclid" | "l2" => Some(Metric::Euclid),
        "dot" | "ip" | "inner_product" => Some(Metric::Dot),
        _ => None,
    }
}

/// Neighbour rows from a flat id matrix; negative ids end a row (padding).
fn ids_rows(path: &Path, ids: &[i64], rows: usize, k: usize) -> Result<Vec<Vec<u32>>> {
    if k == 0 || ids.len() != rows * k {
        return Err(DataError::bad_file(
            path,
            format!("neighbours: {} ids is not {rows} rows of {k}", ids.len()),
        ));
    }
    ids.chunks_exact(k)
        .map(|row| {
            row.iter()
                .take_while(|&&id| id >= 0)
                .map(|&id| {
                    u32::try_from(id).map_err(|_| {
                        DataError::bad_file(path, format!("neighbour id {id} is beyond u32"))
                    })
                })
                .collect()
        })
        .collect()
}

fn npy_open(path: &Path) -> Result<npyz::NpyFile<std::io::BufReader<File>>> {
    let f = File::open(path).map_err(|e| DataError::io(path, e))?;
    npyz::NpyFile::new(std::io::BufReader::new(f)).map_err(|e| {
        DataError::bad_file(
            path,
            format!("is not a readable .npy file ({e}); it may be truncated"),
        )
    })
}

/// (rows, cols, numpy type string) of a 2-D C-order array.
fn npy_shape(
    path: &Path,
    npy: &npyz::NpyFile<std::io::BufReader<File>>,
) -> Result<(usize, usize, String)> {
    let shape = npy.shape().to_vec();
    let [rows, cols] = shape[..] else {
        return Err(DataError::bad_file(
            path,
            format!("has shape {shape:?}; a dataset array is 2-D (rows x dimension)"),
        ));
    };
    if npy.order() != npyz::Order::C {
        return Err(DataError::bad_file(
            path,
            "is in Fortran order; save it with np.ascontiguousarray(...)",
        ));
    }
    let dtype = match npy.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => {
            return Err(DataError::bad_file(
                path,
                format!("has a structured dtype {other:?}; a plain numeric array is needed"),
            ));
        }
    };
    Ok((rows as usize, cols as usize, dtype))
}

fn npy_read<T: npyz::Deserialize>(
    path: &Path,
    npy: npyz::NpyFile<std::io::BufReader<File>>,
) -> Result<Vec<T>> {
    npy.into_vec::<T>().map_err(|e| {
        DataError::bad_file(
            path,
            format!("cannot be read ({e}); the file may be truncated"),
        )
    })
}

/// A vector `.npy` file's values as `f32`, read one at a time.
type NpyValues = Box<dyn Iterator<Item = std::io::Result<f32>>>;

/// (rows, cols, the values) of a 2-D vector `.npy` file.
fn npy_values(path: &Path) -> Result<(usize, usize, NpyValues)> {
    let npy = npy_open(path)?;
    let (rows, cols, dtype) = npy_shape(path, &npy)?;
    if cols == 0 {
        return Err(DataError::bad_file(path, "has dimension 0"));
    }
    let dt = |e: npyz::DTypeError| DataError::bad_file(path, format!("cannot be read ({e})"));
    let values: NpyValues = match &dtype[1..] {
        "f4" => Box::new(npy.data::<f32>().map_err(dt)?),
        "f8" => Box::new(npy.data::<f64>().map_err(dt)?.map(|r| r.map(|x| x as f32))),
        "u1" => Box::new(npy.data::<u8>().map_err(dt)?.map(|r| r.map(f32::from))),
        "i1" => Box::new(npy.data::<i8>().map_err(dt)?.map(|r| r.map(f32::from))),
        other => {
            return Err(DataError::bad_file(
                path,
                format!("holds {other} values; vectors must be float32, float64, uint8 or int8"),
            ));
        }
    };
    Ok((rows, cols, values))
}

fn npy_truncated(path: &Path, e: std::io::Error) -> DataError {
    DataError::bad_file(
        path,
        format!("cannot be read ({e}); the file may be truncated"),
    )
}

/// (byte offset of the data, rows, cols) when `path` is a little-endian float32 `.npy` whose
/// values can be mapped where they are (the header ends on a multiple of 4 and the file holds
/// exactly the values); `None` for any other dtype, which is converted.
fn npy_map_offset(path: &Path) -> Result<Option<(usize, usize, usize)>> {
    let npy = npy_open(path)?;
    let (rows, cols, dtype) = npy_shape(path, &npy)?;
    if dtype != "<f4" || cols == 0 || !cfg!(target_endian = "little") {
        return Ok(None);
    }
    let mut head = [0u8; 12];
    File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .map_err(|e| DataError::io(path, e))?;
    let offset = match head[6] {
        1 => 10 + u16::from_le_bytes([head[8], head[9]]) as usize,
        2 | 3 => 12 + u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize,
        _ => return Ok(None),
    };
    let len = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, e))?
        .len();
    let fits = offset.is_multiple_of(4) && len == (offset + rows * cols * 4) as u64;
    Ok(fits.then_some((offset, rows, cols)))
}

/// A vector `.npy` file: float32 mapped in place, other types read into memory.
fn read_npy_vectors(path: &Path) -> Result<Vectors> {
    if let Some((offset, rows, cols)) = npy_map_offset(path)? {
        return Vectors::map_at(path, offset, rows, cols);
    }
    let (rows, cols, values) = npy_values(path)?;
    let data: Vec<f32> = values
        .collect::<std::io::Result<_>>()
        .map_err(|e| npy_truncated(path, e))?;
    if data.len() != rows * cols {
        return Err(DataError::bad_file(
            path,
            format!(
                "has {} values for shape {rows} x {cols}; it is truncated",
                data.len()
            ),
        ));
    }
    Vectors::new(cols, data)
}

/// A vector `.npy` train file a block of rows at a time, for [`convert_train`].
struct NpyBlocks {
    path: PathBuf,
    rows: usize,
    cols: usize,
    values: NpyValues,
}

impl NpyBlocks {
    fn open(path: &Path) -> Result<Self> {
        let (rows, cols, values) = npy_values(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            rows,
            cols,
            values,
        })
    }
}

impl RowBlocks for NpyBlocks {
    fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    fn read_rows(&mut self, n: usize, out: &mut Vec<f32>) -> Result<()> {
        for _ in 0..n * self.cols {
            match self.values.next() {
                Some(Ok(x)) => out.push(x),
                Some(Err(e)) => return Err(npy_truncated(&self.path, e)),
                None => {
                    return Err(DataError::bad_file(
                        &self.path,
                        format!(
                            "has fewer values than its shape {} x {}; it is truncated",
                            self.rows, self.cols
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An npy file of neighbour ids (integers of any width), one row per test vector.
fn read_npy_ids(p: &Path) -> Result<IdRows> {
    let npy = npy_open(p)?;
    let (rows, k, dtype) = npy_shape(p, &npy)?;
    let ids: Vec<i64> = match &dtype[1..] {
        "i8" => npy_read::<i64>(p, npy)?,
        "i4" => npy_read::<i32>(p, npy)?
            .into_iter()
            .map(i64::from)
            .collect(),
        "u4" => npy_read::<u32>(p, npy)?
            .into_iter()
            .map(i64::from)
            .collect(),
        "u8" => npy_read::<u64>(p, npy)?
            .into_iter()
            .map(|x| x as i64)
            .collect(),
        other => {
            return Err(DataError::bad_file(
                p,
                format!("holds {other} values; neighbour ids must be integers"),
            ));
        }
    };
    Ok((k, ids_rows(p, &ids, rows, k)?))
}

const EMBEDDING_NAMES: &[&str] = &["emb", "embedding", "vector"];

/// One Parquet file's rows: ids, the list column's values and the other scalar columns.
struct ParquetRows {
    ids: Option<Vec<i64>>,
    lists: Vec<Vec<f64>>,
    list_column: String,
    scalars: Vec<Map<String, Value>>,
}

/// One row of a Parquet dataset file.
struct ParquetRow {
    id: Option<i64>,
    /// Empty when the reader was asked not to keep lists.
    list: Vec<f64>,
    scalars: Map<String, Value>,
}

/// A Parquet dataset file read a row at a time (the record API reads one row group at a time).
struct ParquetReader {
    path: PathBuf,
    rows: parquet::record::reader::RowIter<'static>,
    num_rows: usize,
    list_column: String,
    floats: bool,
    next: usize,
}

impl ParquetReader {
    /// Opens `path` and finds its list column: floats (`floats`) or integer ids.
    fn open(path: &Path, floats: bool) -> Result<Self> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let bad = |why: String| DataError::bad_file(path, why);
        let f = File::open(path).map_err(|e| DataError::io(path, e))?;
        let reader = SerializedFileReader::new(f).map_err(|e| {
            bad(format!(
                "cannot be opened as Parquet ({e}); it is truncated or not a Parquet file"
            ))
        })?;
        // The embedding column: a known name, else the only top-level list column.
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let num_rows = reader.metadata().file_metadata().num_rows().max(0) as usize;
        let root = schema.root_schema();
        let fields = root.get_fields();
        let is_list = |t: &parquet::schema::types::Type| {
            t.is_group() || t.get_basic_info().repetition() == parquet::basic::Repetition::REPEATED
        };
        let column = fields
            .iter()
            .find(|t| EMBEDDING_NAMES.contains(&t.name()))
            .or_else(|| {
                let lists: Vec<_> = fields.iter().filter(|t| is_list(t)).collect();
                (lists.len() == 1).then(|| lists[0])
            })
            .ok_or_else(|| {
                bad(format!(
                    "has no embedding column: name it one of {EMBEDDING_NAMES:?} or keep exactly one list column (columns: {})",
                    fields.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
                ))
            })?;
        let list_column = column.name().to_string();
        let out = Self {
            path: path.to_path_buf(),
            rows: parquet::record::reader::RowIter::from_file_into(Box::new(reader)),
            num_rows,
            list_column,
            floats,
            next: 0,
        };
        if !is_list(column) {
            return Err(bad(format!(
                "column `{}` is not {}; write it as a list column (pyarrow: pa.list_(pa.float32()))",
                out.list_column,
                out.what()
            )));
        }
        Ok(out)
    }

    fn what(&self) -> &'static str {
        if self.floats {
            "a list of floats"
        } else {
            "a list of integer ids"
        }
    }

    /// The next row, or `None` at the end; `keep_list: false` checks the list but drops it.
    fn next_row(&mut self, keep_list: bool) -> Result<Option<ParquetRow>> {
        use parquet::record::Field;
        let (path, r, what, floats) = (&self.path, self.next, self.what(), self.floats);
        let list_column = self.list_column.as_str();
        let bad = |why: String| DataError::bad_file(path, why);
        let Some(row) = self.rows.next() else {
            return Ok(None);
        };
        self.next += 1;
        let row = row.map_err(|e| {
            bad(format!(
                "row {r} cannot be read ({e}); the file may be truncated"
            ))
        })?;
        let mut list = None;
        let mut id = None;
        let mut scalars = Map::new();
        for (name, field) in row.get_column_iter() {
            if name == list_column {
                let Field::ListInternal(l) = field else {
                    return Err(bad(format!(
                        "column `{list_column}` is not {what} (row {r} holds {field})"
                    )));
                };
                let mut values = Vec::with_capacity(if keep_list { l.elements().len() } else { 0 });
                for e in l.elements() {
                    let v = match (e, floats) {
                        (Field::Float(x), true) => *x as f64,
                        (Field::Double(x), true) => *x,
                        (Field::Float16(x), true) => f64::from(*x),
                        (Field::Int(x), false) => *x as f64,
                        (Field::Long(x), false) => *x as f64,
                        (Field::UInt(x), false) => *x as f64,
                        (Field::ULong(x), false) => *x as f64,
                        (other, _) => {
                            return Err(bad(format!(
                                "column `{list_column}` is not {what}: row {r} holds {other}"
                            )));
                        }
                    };
                    if keep_list {
                        values.push(v);
                    }
                }
                list = Some(values);
            } else if name == "id" {
                id = match field {
                    Field::Long(x) => Some(*x),
                    Field::Int(x) => Some(*x as i64),
                    Field::UInt(x) => Some(*x as i64),
                    Field::ULong(x) => Some(*x as i64),
                    other => {
                        return Err(bad(format!(
                            "column `id` must be integers (row {r} holds {other})"
                        )));
                    }
                };
            } else {
                let v = match field {
                    Field::Null => Value::Null,
                    Field::Bool(b) => Value::Bool(*b),
                    Field::Byte(x) => (*x).into(),
                    Field::Short(x) => (*x).into(),
                    Field::Int(x) => (*x).into(),
                    Field::Long(x) => (*x).into(),
                    Field::UByte(x) => (*x).into(),
                    Field::UShort(x) => (*x).into(),
                    Field::UInt(x) => (*x).into(),
                    Field::ULong(x) => (*x).into(),
                    Field::Float(x) => {
                        serde_json::Number::from_f64(*x as f64).map_or(Value::Null, Value::Number)
                    }
                    Field::Double(x) => {
                        serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number)
                    }
                    Field::Str(s) => Value::String(s.clone()),
                    // Lists, maps, structs and binary: not payload scalars.
                    _ => continue,
                };
                scalars.insert(name.clone(), v);
            }
        }
        let list = list.ok_or_else(|| bad(format!("row {r} has no `{list_column}` value")))?;
        Ok(Some(ParquetRow { id, list, scalars }))
    }
}

/// Reads a whole Parquet file; `keep_lists: false` keeps the ids and scalars only (the train set
/// of a file whose vectors were converted to a mapped `.fbin`).
fn read_parquet_rows(path: &Path, floats: bool, keep_lists: bool) -> Result<ParquetRows> {
    let mut reader = ParquetReader::open(path, floats)?;
    let mut out = ParquetRows {
        ids: Some(Vec::new()),
        lists: Vec::new(),
        list_column: reader.list_column.clone(),
        scalars: Vec::new(),
    };
    let mut has_id = false;
    while let Some(row) = reader.next_row(keep_lists)? {
        if keep_lists {
            out.lists.push(row.list);
        }
        if let (Some(ids), Some(id)) = (out.ids.as_mut(), row.id) {
            ids.push(id);
            has_id = true;
        }
        out.scalars.push(row.scalars);
    }
    if !has_id {
        out.ids = None;
    }
    Ok(out)
}

/// A Parquet train set's embeddings a block of rows at a time, for [`convert_train`]: every
/// row's dimension is checked against row 0's, with the message of the in-memory reader.
struct ParquetBlocks {
    reader: ParquetReader,
    dim: usize,
    /// Row 0, read to learn the dimension.
    first: Option<Vec<f64>>,
}

impl ParquetBlocks {
    fn open(path: &Path) -> Result<Self> {
        let mut reader = ParquetReader::open(path, true)?;
        let first = reader.next_row(true)?.map(|r| r.list);
        let dim = first.as_ref().map_or(0, Vec::len);
        if dim == 0 {
            return Err(DataError::bad_file(
                path,
                "has no vectors (or an empty first embedding)",
            ));
        }
        Ok(Self { reader, dim, first })
    }
}

impl RowBlocks for ParquetBlocks {
    fn shape(&self) -> (usize, usize) {
        (self.reader.num_rows, self.dim)
    }

    fn read_rows(&mut self, n: usize, out: &mut Vec<f32>) -> Result<()> {
        for _ in 0..n {
            let r = self.reader.next;
            let list = match self.first.take() {
                Some(l) => l,
                None => match self.reader.next_row(true)? {
                    Some(row) => row.list,
                    None => {
                        return Err(DataError::bad_file(
                            &self.reader.path,
                            format!(
                                "ends at row {r}; its metadata says {} rows",
                                self.reader.num_rows
                            ),
                        ));
                    }
                },
            };
            check_row_dim(
                &self.reader.path,
                &self.reader.list_column,
                r,
                list.len(),
                self.dim,
            )?;
            out.extend(list.iter().map(|&x| x as f32));
        }
        Ok(())
    }
}

fn check_row_dim(path: &Path, column: &str, r: usize, len: usize, dim: usize) -> Result<()> {
    if len != dim {
        return Err(DataError::bad_file(
            path,
            format!(
                "row {r}'s `{column}` has {len} values, row 0's has {dim}: every vector needs the same dimension"
            ),
        ));
    }
    Ok(())
}

fn parquet_vectors(path: &Path, rows: &ParquetRows) -> Result<Vectors> {
    let dim = rows.lists.first().map_or(0, Vec::len);
    if dim == 0 {
        return Err(DataError::bad_file(
            path,
            "has no vectors (or an empty first embedding)",
        ));
    }
    let mut data = Vec::with_capacity(rows.lists.len() * dim);
    for (r, l) in rows.lists.iter().enumerate() {
        check_row_dim(path, &rows.list_column, r, l.len(), dim)?;
        data.extend(l.iter().map(|&x| x as f32));
    }
    Vectors::new(dim, data)
}

fn read_parquet(
    train_file: PathBuf,
    test_file: PathBuf,
    truth: Option<PathBuf>,
    mapped_train: Option<&Path>,
) -> Result<Source> {
    // With a converted train set only train's ids and scalar columns are kept in memory.
    let train_rows = read_parquet_rows(&train_file, true, mapped_train.is_none())?;
    let test_rows = read_parquet_rows(&test_file, true, true)?;
    let train = match mapped_train {
        Some(fbin) => Vectors::map_fbin(fbin)?,
        None => parquet_vectors(&train_file, &train_rows)?,
    };
    let test = parquet_vectors(&test_file, &test_rows)?;
    // Neighbours name train ids; map them to rows (identity when ids are 0..n in order).
    let neighbors = match truth {
        None => None,
        Some(p) => {
            let rows = read_parquet_rows(&p, false, true)?;
            let by_id: Option<std::collections::HashMap<i64, u32>> = match &train_rows.ids {
                Some(ids) if ids.iter().enumerate().any(|(i, &id)| id != i as i64) => Some(
                    ids.iter()
                        .enumerate()
                        .map(|(i, &id)| (id, i as u32))
                        .collect(),
                ),
                _ => None,
            };
            // Rows in the order of the test file's ids, when both have ids.
            let order: Vec<usize> = match (&test_rows.ids, &rows.ids) {
                (Some(test_ids), Some(truth_ids)) => {
                    let at: std::collections::HashMap<i64, usize> = truth_ids
                        .iter()
                        .enumerate()
                        .map(|(i, &id)| (id, i))
                        .collect();
                    test_ids
                        .iter()
                        .map(|id| {
                            at.get(id).copied().ok_or_else(|| {
                                DataError::bad_file(&p, format!("has no row for test id {id}"))
                            })
                        })
                        .collect::<Result<_>>()?
                }
                _ => (0..rows.lists.len()).collect(),
            };
            let k = rows.lists.iter().map(Vec::len).max().unwrap_or(0);
            let mut out = Vec::with_capacity(order.len());
            for i in order {
                let row = rows.lists[i]
                    .iter()
                    .map(|&id| {
                        let id = id as i64;
                        match &by_id {
                            Some(m) => m.get(&id).copied().ok_or_else(|| {
                                DataError::bad_file(
                                    &p,
                                    format!(
                                        "neighbour id {id} is not an id of {}; neighbours must point into the train set",
                                        train_file.display()
                                    ),
                                )
                            }),
                            // Ids past the train set are reported by the dataset's checks.
                            None => Ok(id.clamp(0, u32::MAX as i64) as u32),
                        }
                    })
                    .collect::<Result<Vec<u32>>>()?;
                out.push(row);
            }
            Some((k, out, p))
        }
    };
    let payloads = train_rows
        .scalars
        .iter()
        .any(|m| !m.is_empty())
        .then(|| SourcePayloads::new(train_rows.scalars));
    Ok(Source {
        payloads,
        ..Source::new(
            Format::Parquet,
            train,
            test,
            neighbors,
            train_file,
            test_file,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/datasets")
            .join(rel)
    }

    /// Each format's train set converted a block at a time (blocks of a few rows here, so
    /// blocks end mid-file) equals what the in-memory reader gives, and is mapped.
    #[test]
    fn converted_train_sets_equal_the_in_memory_readers() {
        let dir = tempfile::tempdir().unwrap();
        for rel in [
            "same/ann.hdf5",
            "same/ann-gzip.hdf5",
            "same/ann-f64.hdf5",
            "same/parquet",
            "same/fvecs",
            "same/bvecs",
            "same/u8",
            "same/u8-npy",
            "deepcoder-768-filtered-parquet",
        ] {
            let path = fixture(rel);
            let old = read_source(&path, None).unwrap();
            assert!(!old.train.is_mapped(), "{rel}: read into memory");
            let train = train_to_convert(&path).unwrap().expect("converted");
            let dst = dir.path().join(format!("{}.fbin", rel.replace('/', "_")));
            // Blocks of 3 rows at 16 dimensions, 1 row at 768.
            convert_train_blocks(&train, &dst, 200).unwrap();
            if !rel.starts_with("deepcoder") {
                let two = dir.path().join("whole.fbin");
                convert_train(&train, &two).unwrap();
                assert_eq!(
                    std::fs::read(&two).unwrap(),
                    std::fs::read(&dst).unwrap(),
                    "{rel}"
                );
            }
            let new = read_source(&path, Some(&dst)).unwrap();
            assert!(new.train.is_mapped(), "{rel}");
            assert_eq!(new.train, old.train, "{rel}");
            assert_eq!(new.test, old.test, "{rel}");
            assert_eq!(new.payloads, old.payloads, "{rel}");
            assert_eq!(new.files, old.files, "{rel}");
        }
        // The 768-d Parquet file has 4 row groups of 25 rows, read across.
        let rows = ParquetReader::open(
            &fixture("deepcoder-768-filtered-parquet/train.parquet"),
            true,
        )
        .unwrap()
        .num_rows;
        assert_eq!(rows, 100);
        // Float32 .npy and .fbin train sets are mapped where they are.
        for rel in ["same/npy", "same/bin"] {
            let path = fixture(rel);
            assert_eq!(train_to_convert(&path).unwrap(), None, "{rel}");
            assert!(read_source(&path, None).unwrap().train.is_mapped(), "{rel}");
        }
    }

    /// A reader's error ends the conversion with that error, and no file is left behind.
    #[test]
    fn a_bad_row_stops_the_conversion_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("mixed.fbin");
        let e = convert_train(&fixture("bad/mixed-parquet/train.parquet"), &dst)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row 5's `emb` has 3 values, row 0's has 4"),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// The source's files, each once, in train, test, neighbours order.
    #[test]
    fn a_source_lists_each_file_once() {
        let v = || Vectors::new(1, vec![1.0]).unwrap();
        let (a, b) = (PathBuf::from("a"), PathBuf::from("b"));
        let s = Source::new(
            Format::Hdf5,
            v(),
            v(),
            Some((1, vec![vec![0]], a.clone())),
            a.clone(),
            a.clone(),
        );
        assert_eq!(s.files, std::slice::from_ref(&a));
        let s = Source::new(
            Format::Npy,
            v(),
            v(),
            Some((1, vec![vec![0]], PathBuf::from("c"))),
            a.clone(),
            b.clone(),
        );
        assert_eq!(s.files, [a, b, PathBuf::from("c")]);
    }
}
