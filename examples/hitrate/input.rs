//! Opening trace files: decompression (gzip, xz, zstd, chosen by magic number, else by
//! extension) and format detection, then `weakling::cache::trace::parse`. Shared by the
//! hit-rate tool and the tests that check the simulator against published figures.

use std::io::Read;
use std::path::Path;

use weakling::cache::trace::{self, TraceFormat};

/// The compression of a file, from its first bytes.
fn decompress(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, String> {
    let name = path.display();
    let mut out = Vec::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("{name}: gzip: {e}"))?;
    } else if raw.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        lzma_rs::xz_decompress(&mut &raw[..], &mut out)
            .map_err(|e| format!("{name}: xz: {e:?}"))?;
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        ruzstd::decoding::StreamingDecoder::new(&raw[..])
            .map_err(|e| format!("{name}: zstd: {e}"))?
            .read_to_end(&mut out)
            .map_err(|e| format!("{name}: zstd: {e}"))?;
    } else {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "gz" | "xz" | "zst" | "zstd") {
            return Err(format!("{name}: named .{ext} but not in that format"));
        }
        return Ok(raw);
    }
    Ok(out)
}

/// The file's name without a compression suffix (`OLTP.lis.zst` -> `OLTP.lis`).
pub fn stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for ext in [".gz", ".xz", ".zst", ".zstd"] {
        if let Some(s) = name.strip_suffix(ext) {
            return s.to_string();
        }
    }
    name
}

/// Reads, decompresses and parses one trace (`format`: detected when `None`).
pub fn load(path: &Path, format: Option<TraceFormat>) -> Result<Vec<u64>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let data = decompress(path, raw)?;
    let format = format.unwrap_or_else(|| TraceFormat::detect(&stem(path), &data));
    trace::parse(&path.display().to_string(), &data, format).map_err(|e| e.to_string())
}

/// The directory of the shared traces: `$WEAKLING_TRACES`, else `../shared/traces` beside the
/// crate; `None` when it does not exist.
#[allow(dead_code)]
pub fn traces_dir() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("WEAKLING_TRACES") {
        Some(d) => std::path::PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/traces"),
    };
    dir.is_dir().then_some(dir)
}
