//! Dataset files in the standard ANN formats.
//!
//! - `.fbin` / `.ibin` (big-ann-benchmarks): a header of two little-endian `u32`, the number of
//!   rows and the row width, then the rows as `f32` / `i32`. The suite writes these.
//! - `.fvecs` / `.ivecs` (TEXMEX, ann-benchmarks' sources): each row is an `i32` width followed by
//!   that many `f32` / `i32`. The suite reads these too, so users can bring their own files.
//!
//! Ground-truth id rows shorter than k are padded with -1, as big-ann-benchmarks does.
//! Every write goes to a temporary file in the same directory and is renamed into place, so a
//! reader never sees half a file.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{DataError, Result};
use crate::vectors::{MAX_DIM, Vectors};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Header `n, d` once, then rows.
    Bin,
    /// Each row prefixed by its width.
    Vecs,
}

fn layout(path: &Path, bin: &str, vecs: &str) -> Result<Layout> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e == bin => Ok(Layout::Bin),
        Some(e) if e == vecs => Ok(Layout::Vecs),
        _ => Err(DataError::bad_file(
            path,
            format!("unknown file type: expected a .{bin} or .{vecs} file"),
        )),
    }
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| DataError::io(path, e))?;
    Ok(bytes)
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes"))
}

fn check_width(path: &Path, width: u32, what: &str) -> Result<usize> {
    let width = width as usize;
    if width == 0 || width > MAX_DIM {
        return Err(DataError::bad_file(
            path,
            format!(
                "bad header: {what} {width} is not between 1 and {MAX_DIM}; is this really an ANN dataset file?"
            ),
        ));
    }
    Ok(width)
}

/// Checks a big-ann-benchmarks header (`rows, width` as little-endian `u32`) against the length
/// of the whole file, `elem` bytes per value: (rows, width).
pub(crate) fn bin_header(path: &Path, bytes: &[u8], elem: usize) -> Result<(usize, usize)> {
    if bytes.len() < 8 {
        return Err(DataError::bad_file(
            path,
            format!(
                "truncated header: {} bytes, a big-ann-benchmarks header is 8 bytes (rows, width as u32)",
                bytes.len()
            ),
        ));
    }
    let n = u32_at(bytes, 0) as usize;
    let width = check_width(path, u32_at(bytes, 4), "row width")?;
    let expected = 8 + n as u64 * width as u64 * elem as u64;
    if bytes.len() as u64 != expected {
        return Err(DataError::bad_file(
            path,
            format!(
                "wrong length: the header says {n} rows of {width} values ({expected} bytes), \
                 the file has {} bytes; it is truncated or not in this format",
                bytes.len()
            ),
        ));
    }
    Ok((n, width))
}

/// Decodes the rows of a `.fbin`/`.ibin` or `.fvecs`/`.ivecs` file into (width, flat values).
fn decode(path: &Path, bytes: &[u8], layout: Layout) -> Result<(usize, Vec<[u8; 4]>)> {
    let words = |b: &[u8]| -> Vec<[u8; 4]> {
        b.chunks_exact(4)
            .map(|c| c.try_into().expect("4 bytes"))
            .collect()
    };
    match layout {
        Layout::Bin => {
            let (_, width) = bin_header(path, bytes, 4)?;
            Ok((width, words(&bytes[8..])))
        }
        Layout::Vecs => {
            if bytes.len() < 4 {
                return Err(DataError::bad_file(
                    path,
                    "truncated: not even one row width",
                ));
            }
            let width = check_width(path, u32_at(bytes, 0), "row width")?;
            let row = 4 + width * 4;
            if !bytes.len().is_multiple_of(row) {
                return Err(DataError::bad_file(
                    path,
                    format!(
                        "wrong length: {} bytes is not a whole number of rows of {width} values \
                         ({row} bytes each); the file is truncated or its rows differ in width",
                        bytes.len()
                    ),
                ));
            }
            let mut values = Vec::with_capacity(bytes.len() / 4);
            for (i, r) in bytes.chunks_exact(row).enumerate() {
                if u32_at(r, 0) as usize != width {
                    return Err(DataError::bad_file(
                        path,
                        format!(
                            "row {i} has width {}, the first row has {width}",
                            u32_at(r, 0)
                        ),
                    ));
                }
                values.extend(words(&r[4..]));
            }
            Ok((width, values))
        }
    }
}

/// Reads vectors from a `.fbin` or `.fvecs` file, checking the header against the length.
pub fn read_vectors(path: &Path) -> Result<Vectors> {
    let layout = layout(path, "fbin", "fvecs")?;
    let bytes = read_all(path)?;
    let (dim, words) = decode(path, &bytes, layout)?;
    let data: Vec<f32> = words.into_iter().map(f32::from_le_bytes).collect();
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(DataError::bad_file(
            path,
            format!("value {i} (vector {}) is not a finite number", i / dim),
        ));
    }
    Vectors::new(dim, data)
}

/// Reads neighbour ids from a `.ibin` or `.ivecs` file: (row width k, rows). A negative id ends
/// its row (padding for rows with fewer than k neighbours).
pub fn read_ids(path: &Path) -> Result<(usize, Vec<Vec<u32>>)> {
    let layout = layout(path, "ibin", "ivecs")?;
    let mut bytes = read_all(path)?;
    // big-ann-benchmarks ground truth: the same header, the ids, then as many f32 distances.
    if layout == Layout::Bin && bytes.len() >= 8 {
        let (n, k) = (u32_at(&bytes, 0) as u64, u32_at(&bytes, 4) as u64);
        if bytes.len() as u64 == 8 + 2 * n * k * 4 && k > 0 {
            bytes.truncate((8 + n * k * 4) as usize);
        }
    }
    let (k, words) = decode(path, &bytes, layout)?;
    let rows = words
        .chunks_exact(k)
        .map(|row| {
            row.iter()
                .map(|w| i32::from_le_bytes(*w))
                .take_while(|&id| id >= 0)
                .map(|id| id as u32)
                .collect()
        })
        .collect();
    Ok((k, rows))
}

/// Reads `.u8bin` / `.i8bin` (big-ann-benchmarks' byte vectors) or `.bvecs` (TEXMEX bytes, each
/// row prefixed by its `i32` width) into `f32` vectors in memory. For files too large for that,
/// [`convert_to_fbin`] writes them as a `.fbin` to map.
pub fn read_byte_vectors(path: &Path) -> Result<Vectors> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let bytes = read_all(path)?;
    let (dim, data): (usize, Vec<f32>) = match ext {
        "u8bin" | "i8bin" => {
            let (_, dim) = bin_header(path, &bytes, 1)?;
            let signed = ext == "i8bin";
            (dim, bytes[8..].iter().map(|&b| byte(b, signed)).collect())
        }
        "bvecs" => {
            if bytes.len() < 4 {
                return Err(DataError::bad_file(
                    path,
                    "truncated: not even one row width",
                ));
            }
            let dim = check_width(path, u32_at(&bytes, 0), "row width")?;
            let row = 4 + dim;
            if !bytes.len().is_multiple_of(row) {
                return Err(DataError::bad_file(
                    path,
                    format!(
                        "wrong length: {} bytes is not a whole number of rows of {dim} bytes \
                         ({row} bytes each); the file is truncated or its rows differ in width",
                        bytes.len()
                    ),
                ));
            }
            let mut data = Vec::with_capacity(bytes.len() / row * dim);
            for (i, r) in bytes.chunks_exact(row).enumerate() {
                if u32_at(r, 0) as usize != dim {
                    return Err(DataError::bad_file(
                        path,
                        format!(
                            "row {i} has width {}, the first row has {dim}",
                            u32_at(r, 0)
                        ),
                    ));
                }
                data.extend(r[4..].iter().map(|&b| b as f32));
            }
            (dim, data)
        }
        _ => {
            return Err(DataError::bad_file(
                path,
                "unknown file type: expected a .u8bin, .i8bin or .bvecs file",
            ));
        }
    };
    Vectors::new(dim, data)
}

fn byte(b: u8, signed: bool) -> f32 {
    if signed { b as i8 as f32 } else { b as f32 }
}

/// A train set read a block of rows at a time, to be written as a `.fbin` and mapped: the one
/// conversion path of every format that cannot be mapped as it is ([`write_fbin_blocks`]).
pub(crate) trait RowBlocks {
    /// (rows, dimension), known before the first block.
    fn shape(&self) -> (usize, usize);
    /// Appends the values of the next `n` rows to `out` (blocks are asked for in order).
    fn read_rows(&mut self, n: usize, out: &mut Vec<f32>) -> Result<()>;
}

/// About this many bytes of values per block (4 MiB).
pub(crate) const BLOCK_BYTES: usize = 1 << 22;

/// Writes the rows of `src` as a `.fbin` at `dst` (atomically), a block of about 4 MiB at a
/// time, so a train set larger than memory can then be mapped ([`Vectors::map_fbin`]). An error
/// of the reader is returned as it is, and no file is left behind.
pub(crate) fn write_fbin_blocks(
    dst: &Path,
    src: &mut dyn RowBlocks,
    block_bytes: usize,
) -> Result<()> {
    let (rows, dim) = src.shape();
    if rows > u32::MAX as usize {
        return Err(DataError::bad_file(
            dst,
            format!(
                "{rows} rows do not fit a .fbin header (at most {})",
                u32::MAX
            ),
        ));
    }
    let block = (block_bytes / (dim.max(1) * 4)).max(1);
    let mut failed = None;
    let written = write_atomic(dst, |out| {
        write_header(out, Layout::Bin, rows, dim)?;
        let mut values = Vec::with_capacity(block * dim);
        let mut bytes = Vec::with_capacity(block * dim * 4);
        let mut done = 0;
        while done < rows {
            let n = block.min(rows - done);
            values.clear();
            match src.read_rows(n, &mut values) {
                Ok(()) if values.len() == n * dim => {}
                Ok(()) => {
                    failed = Some(DataError::bad_file(
                        dst,
                        format!(
                            "rows {done}..{}: read {} values, not {n} x {dim}",
                            done + n,
                            values.len()
                        ),
                    ));
                    return Err(std::io::Error::other("short block"));
                }
                Err(e) => {
                    failed = Some(e);
                    return Err(std::io::Error::other("the reader failed"));
                }
            }
            bytes.clear();
            for x in &values {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            out.write_all(&bytes)?;
            done += n;
        }
        Ok(())
    });
    match failed {
        Some(e) => Err(e),
        None => written,
    }
}

/// `.u8bin` / `.i8bin` / `.fvecs` / `.bvecs` rows from a buffered file.
struct FileBlocks {
    path: PathBuf,
    reader: std::io::BufReader<File>,
    rows: usize,
    dim: usize,
    /// Bytes per value: 4 (f32) or 1 (u8 / i8).
    elem: usize,
    signed: bool,
    /// Each row prefixed by its width (`.fvecs` / `.bvecs`).
    prefixed: bool,
    row: usize,
    buf: Vec<u8>,
}

impl RowBlocks for FileBlocks {
    fn shape(&self) -> (usize, usize) {
        (self.rows, self.dim)
    }

    fn read_rows(&mut self, n: usize, out: &mut Vec<f32>) -> Result<()> {
        let row_bytes = self.dim * self.elem + if self.prefixed { 4 } else { 0 };
        self.buf.resize(n * row_bytes, 0);
        self.reader
            .read_exact(&mut self.buf)
            .map_err(|e| DataError::io(&self.path, e))?;
        for (i, r) in self.buf.chunks_exact(row_bytes).enumerate() {
            let values = if self.prefixed {
                if u32_at(r, 0) as usize != self.dim {
                    return Err(DataError::bad_file(
                        &self.path,
                        format!(
                            "row {} has width {}, the first row has {}",
                            self.row + i,
                            u32_at(r, 0),
                            self.dim
                        ),
                    ));
                }
                &r[4..]
            } else {
                r
            };
            if self.elem == 4 {
                out.extend(
                    values
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
                );
            } else {
                out.extend(values.iter().map(|&b| byte(b, self.signed)));
            }
        }
        self.row += n;
        Ok(())
    }
}

/// Converts a `.u8bin` / `.i8bin` / `.fvecs` / `.bvecs` file to a `.fbin` at `dst`
/// (atomically), a few MiB at a time ([`write_fbin_blocks`]), so a file larger than memory can
/// then be mapped ([`Vectors::map_fbin`]). The header (or the first row's width) is checked
/// against the file's length first, with the in-memory readers' messages.
pub fn convert_to_fbin(src: &Path, dst: &Path) -> Result<()> {
    convert_to_fbin_blocks(src, dst, BLOCK_BYTES)
}

/// [`convert_to_fbin`] with blocks of about `block_bytes` bytes of values.
pub(crate) fn convert_to_fbin_blocks(src: &Path, dst: &Path, block_bytes: usize) -> Result<()> {
    use std::io::BufReader;
    let ext = src.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (elem, signed, prefixed) = match ext {
        "u8bin" => (1, false, false),
        "i8bin" => (1, true, false),
        "fvecs" => (4, false, true),
        "bvecs" => (1, false, true),
        _ => {
            return Err(DataError::bad_file(
                src,
                "unknown file type: expected a .u8bin, .i8bin, .fvecs or .bvecs file",
            ));
        }
    };
    let file = File::open(src).map_err(|e| DataError::io(src, e))?;
    let len = file.metadata().map_err(|e| DataError::io(src, e))?.len();
    let mut reader = BufReader::new(file);
    let mut header = [0u8; 8];
    let head_len = if prefixed { 4 } else { 8 };
    let got = reader
        .read(&mut header[..head_len])
        .map_err(|e| DataError::io(src, e))?;
    let (rows, dim) = if prefixed {
        if got < 4 {
            return Err(DataError::bad_file(
                src,
                "truncated: not even one row width",
            ));
        }
        let dim = check_width(src, u32_at(&header, 0), "row width")?;
        let row = (4 + dim * elem) as u64;
        if !len.is_multiple_of(row) {
            return Err(DataError::bad_file(
                src,
                format!(
                    "wrong length: {len} bytes is not a whole number of rows of {dim} values \
                     ({row} bytes each); the file is truncated or its rows differ in width"
                ),
            ));
        }
        // The first row's width is read again with its row.
        reader = BufReader::new(reader.into_inner());
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0))
            .map_err(|e| DataError::io(src, e))?;
        ((len / row) as usize, dim)
    } else {
        let n = u32_at(&header, 0) as u64;
        let width = u32_at(&header, 4) as u64;
        if got < 8 || len != 8 + n * width {
            // The same checks and message as the in-memory reader.
            let mut head = header[..got].to_vec();
            head.resize(len.min(8) as usize, 0);
            if got < 8 {
                bin_header(src, &head, 1)?;
            }
            check_width(src, width as u32, "row width")?;
            return Err(DataError::bad_file(
                src,
                format!(
                    "wrong length: the header says {n} rows of {width} values ({} bytes), \
                     the file has {len} bytes; it is truncated or not in this format",
                    8 + n * width
                ),
            ));
        }
        (n as usize, check_width(src, width as u32, "row width")?)
    };
    write_fbin_blocks(
        dst,
        &mut FileBlocks {
            path: src.to_path_buf(),
            reader,
            rows,
            dim,
            elem,
            signed,
            prefixed,
            row: 0,
            buf: Vec::new(),
        },
        block_bytes,
    )
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temporary sibling of `path` (same directory, so the rename is atomic).
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `path` atomically (qdrant-perf-report's one writer: a temporary file beside it,
/// synced to disk, renamed into place, the directory synced).
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    qdrant_perf_plumbing::write::write_atomic_with(path, write).map_err(|e| DataError::io(path, e))
}

fn write_header(
    out: &mut dyn Write,
    layout: Layout,
    rows: usize,
    width: usize,
) -> std::io::Result<()> {
    if layout == Layout::Bin {
        out.write_all(&(rows as u32).to_le_bytes())?;
        out.write_all(&(width as u32).to_le_bytes())?;
    }
    Ok(())
}

/// Writes vectors as `.fbin` or `.fvecs` (by extension), atomically.
pub fn write_vectors(path: &Path, vectors: &Vectors) -> Result<()> {
    let layout = layout(path, "fbin", "fvecs")?;
    let dim = vectors.dim();
    write_atomic(path, |out| {
        write_header(out, layout, vectors.len(), dim)?;
        for row in vectors.rows() {
            if layout == Layout::Vecs {
                out.write_all(&(dim as u32).to_le_bytes())?;
            }
            for x in row {
                out.write_all(&x.to_le_bytes())?;
            }
        }
        Ok(())
    })
}

/// Writes id rows as `.ibin` or `.ivecs` (by extension), atomically; rows shorter than `k` are
/// padded with -1.
pub fn write_ids(path: &Path, k: usize, rows: &[Vec<u32>]) -> Result<()> {
    let layout = layout(path, "ibin", "ivecs")?;
    if let Some(row) = rows.iter().find(|r| r.len() > k) {
        return Err(DataError::bad_file(
            path,
            format!("a row has {} ids, more than k = {k}", row.len()),
        ));
    }
    write_atomic(path, |out| {
        write_header(out, layout, rows.len(), k)?;
        for row in rows {
            if layout == Layout::Vecs {
                out.write_all(&(k as u32).to_le_bytes())?;
            }
            for &id in row {
                out.write_all(&(id as i32).to_le_bytes())?;
            }
            for _ in row.len()..k {
                out.write_all(&(-1i32).to_le_bytes())?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sample() -> Vectors {
        Vectors::new(3, (0..12).map(|i| i as f32 * 0.5 - 1.0).collect()).unwrap()
    }

    #[test]
    fn vectors_round_trip_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["v.fbin", "v.fvecs"] {
            let path = dir.path().join(name);
            write_vectors(&path, &sample()).unwrap();
            assert_eq!(read_vectors(&path).unwrap(), sample());
        }
        // fbin is 8 header bytes + data; fvecs has a 4-byte width per row.
        assert_eq!(
            fs::metadata(dir.path().join("v.fbin")).unwrap().len(),
            8 + 48
        );
        assert_eq!(
            fs::metadata(dir.path().join("v.fvecs")).unwrap().len(),
            4 * 4 + 48
        );
    }

    #[test]
    fn ids_round_trip_with_short_rows_padded() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![vec![5, 1, 2], vec![7], vec![]];
        for name in ["g.ibin", "g.ivecs"] {
            let path = dir.path().join(name);
            write_ids(&path, 3, &rows).unwrap();
            assert_eq!(read_ids(&path).unwrap(), (3, rows.clone()));
        }
    }

    #[test]
    fn a_truncated_file_names_the_expected_and_actual_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fbin");
        write_vectors(&path, &sample()).unwrap();
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let err = read_vectors(&path).unwrap_err().to_string();
        assert!(err.contains("v.fbin"), "{err}");
        assert!(err.contains("4 rows of 3 values (56 bytes)"), "{err}");
        assert!(err.contains("51 bytes"), "{err}");

        fs::write(&path, [1u8, 0, 0]).unwrap();
        let err = read_vectors(&path).unwrap_err().to_string();
        assert!(err.contains("truncated header"), "{err}");
    }

    #[test]
    fn a_corrupt_header_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fbin");
        let mut bytes = 4u32.to_le_bytes().to_vec();
        bytes.extend(0u32.to_le_bytes());
        fs::write(&path, &bytes).unwrap();
        let err = read_vectors(&path).unwrap_err().to_string();
        assert!(err.contains("row width 0"), "{err}");

        let path = dir.path().join("v.fvecs");
        write_vectors(&path, &sample()).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes[16] = 9; // the second row's width
        fs::write(&path, &bytes).unwrap();
        let err = read_vectors(&path).unwrap_err().to_string();
        assert!(err.contains("row 1 has width 9"), "{err}");
    }

    #[test]
    fn non_finite_values_and_unknown_extensions_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fbin");
        let v = Vectors::new(2, vec![1.0, f32::NAN]).unwrap();
        write_vectors(&path, &v).unwrap();
        let err = read_vectors(&path).unwrap_err().to_string();
        assert!(err.contains("not a finite number"), "{err}");
        let err = read_vectors(&dir.path().join("v.npy"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a .fbin or .fvecs file"), "{err}");
    }

    #[test]
    fn a_failed_write_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.fbin");
        let err = write_atomic(&path, |_| Err(std::io::Error::other("disk full"))).unwrap_err();
        assert!(err.to_string().contains("disk full"));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
