//! Users' own datasets in the formats ANN datasets are published in, read into the suite's
//! [`Vectors`] plus the shipped neighbours (when there are any) and the metric (when the file
//! says it). [`crate::Dataset::open`] checks what is read and builds the dataset from it.
//!
//! - ann-benchmarks HDF5 (`.hdf5` / `.h5`): datasets `train`, `test`, optional `neighbors`, the
//!   file attribute `distance` ("angular" -> cosine, "euclidean" -> euclid, "dot"/"ip" -> dot).
//!   Read whole into memory.
//! - big-ann-benchmarks / TEXMEX, a directory with `base*` or `train*` and `query*` or `test*`
//!   vector files (`.fbin`, `.u8bin`, `.i8bin`, `.fvecs`, `.bvecs`) and optionally a
//!   `groundtruth*`, `gt*` or `neighbors*` id file (`.ibin`, `.ivecs`). A `.fbin` train set is
//!   mapped, not read; `.u8bin` / `.i8bin` train sets are converted to a `.fbin` in the dataset
//!   cache a few MiB at a time, then mapped. Query files, `.fvecs` and `.bvecs` are read into
//!   memory.
//! - NumPy, a directory with `train.npy`, `test.npy`, optional `neighbors.npy` (2-D, C order,
//!   f32/f64/u8/i8 vectors, integer neighbours). Read into memory.
//! - VectorDBBench Parquet, a directory with `train.parquet`, `test.parquet`, optional
//!   `neighbors.parquet`: an `id` column and an embedding column (a list of floats: `emb`,
//!   `embedding` or `vector`, else the only list column); the neighbours file's list column holds
//!   train ids. Scalar columns of `train` are kept as the points' payloads. Read into memory.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{DataError, Result};
use crate::files::{read_byte_vectors, read_ids, read_vectors};
use crate::generator::Metric;
use crate::vectors::Vectors;

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
    pub payloads: Option<Vec<Map<String, Value>>>,
    /// The files read, for the content hash.
    pub files: Vec<PathBuf>,
    /// The train file, where a neighbour id out of range or a bad row is reported.
    pub train_file: PathBuf,
    pub test_file: PathBuf,
}

/// The train file of a big-ann directory when it needs converting before it can be mapped.
pub(crate) fn byte_train_file(path: &Path) -> Result<Option<PathBuf>> {
    if !path.is_dir() {
        return Ok(None);
    }
    let train = find(path, &["base", "train"], VECTOR_EXTS)?;
    Ok(train.filter(|p| matches!(ext(p), "u8bin" | "i8bin")))
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
/// given, is a `.fbin` already converted from the directory's byte train file.
pub(crate) fn read_source(path: &Path, mapped_train: Option<&Path>) -> Result<Source> {
    if !path.exists() {
        return Err(DataError::bad_file(
            path,
            format!("does not exist; --dataset / QDRANT_PERF_DATASET takes {FORMATS_HELP}"),
        ));
    }
    if path.is_file() {
        return match ext(path) {
            "hdf5" | "h5" => read_hdf5(path),
            _ => Err(unknown(path, "not a .hdf5/.h5 file nor a directory")),
        };
    }
    let file = |name: &str| {
        let p = path.join(name);
        p.is_file().then_some(p)
    };
    if let (Some(train), Some(test)) = (file("train.npy"), file("test.npy")) {
        return read_npy(train, test, file("neighbors.npy"));
    }
    if let (Some(train), Some(test)) = (file("train.parquet"), file("test.parquet")) {
        return read_parquet(train, test, file("neighbors.parquet"));
    }
    let train = find(path, &["base", "train"], VECTOR_EXTS)?;
    let test = find(path, &["query", "test"], VECTOR_EXTS)?;
    match (train, test) {
        (Some(train), Some(test)) => {
            let truth = find(path, &["groundtruth", "gt", "neighbors"], ID_EXTS)?;
            read_bin(train, test, truth, mapped_train)
        }
        _ => Err(unknown(
            path,
            "no train and test files found in this directory",
        )),
    }
}

fn read_bin_vectors(path: &Path) -> Result<Vectors> {
    match ext(path) {
        "fbin" => Vectors::map_fbin(path),
        "fvecs" => read_vectors(path),
        _ => read_byte_vectors(path),
    }
}

fn read_bin(
    train_file: PathBuf,
    test_file: PathBuf,
    truth: Option<PathBuf>,
    mapped_train: Option<&Path>,
) -> Result<Source> {
    let train = match mapped_train {
        Some(fbin) => Vectors::map_fbin(fbin)?,
        None => read_bin_vectors(&train_file)?,
    };
    let test = read_bin_vectors(&test_file)?;
    let neighbors = truth
        .map(|p| read_ids(&p).map(|(k, rows)| (k, rows, p)))
        .transpose()?;
    let mut files = vec![train_file.clone(), test_file.clone()];
    files.extend(neighbors.as_ref().map(|n| n.2.clone()));
    Ok(Source {
        format: Format::Bin,
        train,
        test,
        neighbors,
        metric: None,
        payloads: None,
        files,
        train_file,
        test_file,
    })
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

fn read_hdf5(path: &Path) -> Result<Source> {
    use hdf5_metno as h5;
    let bad = |what: String| DataError::bad_file(path, what);
    let file = h5::File::open(path).map_err(|e| {
        bad(format!(
            "cannot be opened as HDF5 ({e}); it is truncated or not an HDF5 file"
        ))
    })?;
    let matrix = |name: &str| -> Result<Option<(usize, usize, h5::Dataset)>> {
        if !file.link_exists(name) {
            return Ok(None);
        }
        let ds = file
            .dataset(name)
            .map_err(|e| bad(format!("`{name}` is not a dataset ({e})")))?;
        match ds.shape()[..] {
            [rows, cols] => Ok(Some((rows, cols, ds))),
            ref other => Err(bad(format!(
                "`{name}` has shape {other:?}; ann-benchmarks files hold 2-D rows x dimension arrays"
            ))),
        }
    };
    let vectors = |name: &str| -> Result<Vectors> {
        let Some((rows, cols, ds)) = matrix(name)? else {
            return Err(bad(format!(
                "has no `{name}` dataset; an ann-benchmarks file holds `train`, `test` and optionally `neighbors`"
            )));
        };
        let data: Vec<f32> = ds
            .read_raw::<f32>()
            .map_err(|e| bad(format!("`{name}` cannot be read as floats ({e})")))?;
        if data.len() != rows * cols {
            return Err(bad(format!(
                "`{name}`: read {} values of {rows} x {cols}",
                data.len()
            )));
        }
        if cols == 0 {
            return Err(bad(format!("`{name}` has dimension 0")));
        }
        Vectors::new(cols, data)
    };
    let train = vectors("train")?;
    let test = vectors("test")?;
    let neighbors = match matrix("neighbors")? {
        None => None,
        Some((rows, k, ds)) => {
            let ids: Vec<i64> = ds
                .read_raw::<i64>()
                .map_err(|e| bad(format!("`neighbors` cannot be read as integers ({e})")))?;
            let rows = ids_rows(path, &ids, rows, k)?;
            Some((k, rows, path.to_path_buf()))
        }
    };
    let metric = match file.attr("distance") {
        Err(_) => None,
        Ok(attr) => {
            let word = read_string_attr(&attr)
                .ok_or_else(|| bad("the `distance` attribute is not a string".into()))?;
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
        format: Format::Hdf5,
        train,
        test,
        neighbors,
        metric,
        payloads: None,
        files: vec![path.to_path_buf()],
        train_file: path.to_path_buf(),
        test_file: path.to_path_buf(),
    })
}

fn read_string_attr(attr: &hdf5_metno::Attribute) -> Option<String> {
    use hdf5_metno::types::{FixedAscii, FixedUnicode, VarLenAscii, VarLenUnicode};
    if let Ok(s) = attr.read_scalar::<VarLenUnicode>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = attr.read_scalar::<VarLenAscii>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = attr.read_scalar::<FixedAscii<64>>() {
        return Some(s.as_str().to_string());
    }
    attr.read_scalar::<FixedUnicode<64>>()
        .ok()
        .map(|s| s.as_str().to_string())
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

fn read_npy_vectors(path: &Path) -> Result<Vectors> {
    let npy = npy_open(path)?;
    let (rows, cols, dtype) = npy_shape(path, &npy)?;
    let data: Vec<f32> = match &dtype[1..] {
        "f4" => npy_read::<f32>(path, npy)?,
        "f8" => npy_read::<f64>(path, npy)?
            .into_iter()
            .map(|x| x as f32)
            .collect(),
        "u1" => npy_read::<u8>(path, npy)?
            .into_iter()
            .map(f32::from)
            .collect(),
        "i1" => npy_read::<i8>(path, npy)?
            .into_iter()
            .map(f32::from)
            .collect(),
        other => {
            return Err(DataError::bad_file(
                path,
                format!("holds {other} values; vectors must be float32, float64, uint8 or int8"),
            ));
        }
    };
    if data.len() != rows * cols {
        return Err(DataError::bad_file(
            path,
            format!(
                "has {} values for shape {rows} x {cols}; it is truncated",
                data.len()
            ),
        ));
    }
    if cols == 0 {
        return Err(DataError::bad_file(path, "has dimension 0"));
    }
    Vectors::new(cols, data)
}

fn read_npy(train_file: PathBuf, test_file: PathBuf, truth: Option<PathBuf>) -> Result<Source> {
    let train = read_npy_vectors(&train_file)?;
    let test = read_npy_vectors(&test_file)?;
    let neighbors = match truth {
        None => None,
        Some(p) => {
            let npy = npy_open(&p)?;
            let (rows, k, dtype) = npy_shape(&p, &npy)?;
            let ids: Vec<i64> = match &dtype[1..] {
                "i8" => npy_read::<i64>(&p, npy)?,
                "i4" => npy_read::<i32>(&p, npy)?
                    .into_iter()
                    .map(i64::from)
                    .collect(),
                "u4" => npy_read::<u32>(&p, npy)?
                    .into_iter()
                    .map(i64::from)
                    .collect(),
                "u8" => npy_read::<u64>(&p, npy)?
                    .into_iter()
                    .map(|x| x as i64)
                    .collect(),
                other => {
                    return Err(DataError::bad_file(
                        &p,
                        format!("holds {other} values; neighbour ids must be integers"),
                    ));
                }
            };
            let rows = ids_rows(&p, &ids, rows, k)?;
            Some((k, rows, p))
        }
    };
    let mut files = vec![train_file.clone(), test_file.clone()];
    files.extend(neighbors.as_ref().map(|n| n.2.clone()));
    Ok(Source {
        format: Format::Npy,
        train,
        test,
        neighbors,
        metric: None,
        payloads: None,
        files,
        train_file,
        test_file,
    })
}

const EMBEDDING_NAMES: &[&str] = &["emb", "embedding", "vector"];

/// One Parquet file's rows: ids, the list column's values and the other scalar columns.
struct ParquetRows {
    ids: Option<Vec<i64>>,
    lists: Vec<Vec<f64>>,
    list_column: String,
    scalars: Vec<Map<String, Value>>,
}

fn read_parquet_rows(path: &Path, floats: bool) -> Result<ParquetRows> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let bad = |why: String| DataError::bad_file(path, why);
    let f = File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = SerializedFileReader::new(f).map_err(|e| {
        bad(format!(
            "cannot be opened as Parquet ({e}); it is truncated or not a Parquet file"
        ))
    })?;
    // The embedding column: a known name, else the only top-level list column.
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
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
    let what = if floats {
        "a list of floats"
    } else {
        "a list of integer ids"
    };
    if !is_list(column) {
        return Err(bad(format!(
            "column `{list_column}` is not {what}; write it as a list column (pyarrow: pa.list_(pa.float32()))"
        )));
    }
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| bad(format!("cannot be read ({e})")))?;
    let mut out = ParquetRows {
        ids: Some(Vec::new()),
        lists: Vec::new(),
        list_column: list_column.clone(),
        scalars: Vec::new(),
    };
    let mut has_id = false;
    for (r, row) in rows.enumerate() {
        let row = row.map_err(|e| {
            bad(format!(
                "row {r} cannot be read ({e}); the file may be truncated"
            ))
        })?;
        let mut list = None;
        let mut id = None;
        let mut scalars = Map::new();
        for (name, field) in row.get_column_iter() {
            if *name == list_column {
                let Field::ListInternal(l) = field else {
                    return Err(bad(format!(
                        "column `{list_column}` is not {what} (row {r} holds {field})"
                    )));
                };
                let mut values = Vec::with_capacity(l.elements().len());
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
                    values.push(v);
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
                has_id = true;
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
        out.lists.push(list);
        if let (Some(ids), Some(id)) = (out.ids.as_mut(), id) {
            ids.push(id);
        }
        out.scalars.push(scalars);
    }
    if !has_id {
        out.ids = None;
    }
    Ok(out)
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
        if l.len() != dim {
            return Err(DataError::bad_file(
                path,
                format!(
                    "row {r}'s `{}` has {} values, row 0's has {dim}: every vector needs the same dimension",
                    rows.list_column,
                    l.len()
                ),
            ));
        }
        data.extend(l.iter().map(|&x| x as f32));
    }
    Vectors::new(dim, data)
}

fn read_parquet(train_file: PathBuf, test_file: PathBuf, truth: Option<PathBuf>) -> Result<Source> {
    let train_rows = read_parquet_rows(&train_file, true)?;
    let test_rows = read_parquet_rows(&test_file, true)?;
    let train = parquet_vectors(&train_file, &train_rows)?;
    let test = parquet_vectors(&test_file, &test_rows)?;
    // Neighbours name train ids; map them to rows (identity when ids are 0..n in order).
    let neighbors = match truth {
        None => None,
        Some(p) => {
            let rows = read_parquet_rows(&p, false)?;
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
        .then(|| train_rows.scalars.clone());
    let mut files = vec![train_file.clone(), test_file.clone()];
    files.extend(neighbors.as_ref().map(|n| n.2.clone()));
    Ok(Source {
        format: Format::Parquet,
        train,
        test,
        neighbors,
        metric: None,
        payloads,
        files,
        train_file,
        test_file,
    })
}
