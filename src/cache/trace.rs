//! Reading cache traces: the key sequences of the formats the cache literature publishes.
//!
//! The readers take the trace's bytes already decompressed (the hit-rate tool decompresses
//! gzip, xz and zstd files before handing them here) and return one key per request. A
//! malformed line is an error that names the file and the line; nothing is skipped silently.

use std::fmt;

/// How a trace's requests are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceFormat {
    /// The ARC paper's traces: each line `start count ignored ignored` stands for the keys
    /// `start, start + 1, ..., start + count - 1`.
    Arc,
    /// One decimal key per line; lines starting with `*` are skipped (the LIRS traces mark
    /// their end that way). Plain one-key-per-line files read the same.
    Lines,
    /// cache2k's binary traces: big-endian 32-bit keys back to back.
    Cache2k,
}

impl TraceFormat {
    /// The format a file most likely has, from its name (with any compression suffix
    /// already removed by the caller or not) and its decompressed bytes: `.lis` files are
    /// ARC traces; printable text is one key per line (so a typo is reported as a bad line);
    /// anything else is cache2k's binary format.
    #[must_use]
    pub fn detect(name: &str, data: &[u8]) -> TraceFormat {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.contains(".lis") {
            return TraceFormat::Arc;
        }
        let sample = &data[..data.len().min(4096)];
        let text = sample.iter().all(|&b| b.is_ascii_graphic() || b" \t\r\n".contains(&b));
        if text {
            TraceFormat::Lines
        } else {
            TraceFormat::Cache2k
        }
    }
}

/// A trace that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The file's name as given.
    pub file: String,
    /// The 1-based line (for the binary format: the 1-based key index) where it went wrong.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for TraceError {}

/// Parses a decompressed trace into its keys.
///
/// # Errors
///
/// A line that is not in `format` (a non-number, a missing field, an ARC line whose range
/// overflows), or a binary trace whose length is not a multiple of 4, gives a [`TraceError`]
/// naming `file` and the line.
pub fn parse(file: &str, data: &[u8], format: TraceFormat) -> Result<Vec<u64>, TraceError> {
    let error = |line: usize, message: String| TraceError { file: file.to_string(), line, message };
    match format {
        TraceFormat::Cache2k => {
            if !data.len().is_multiple_of(4) {
                return Err(error(
                    data.len() / 4 + 1,
                    format!("{} bytes is not a whole number of 32-bit keys", data.len()),
                ));
            }
            Ok(data
                .chunks_exact(4)
                .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect())
        }
        TraceFormat::Lines | TraceFormat::Arc => {
            let text = std::str::from_utf8(data).map_err(|e| {
                let line = data[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
                error(line, "not UTF-8 text".to_string())
            })?;
            let mut keys = Vec::with_capacity(data.len() / 8);
            for (n, line) in text.lines().enumerate() {
                let line_no = n + 1;
                let trimmed = line.trim();
                if trimmed.is_empty() || (format == TraceFormat::Lines && trimmed.starts_with('*'))
                {
                    continue;
                }
                let mut fields = trimmed.split_ascii_whitespace();
                let number = |field: Option<&str>, what: &str| -> Result<u64, TraceError> {
                    let field = field
                        .ok_or_else(|| error(line_no, format!("missing {what} in `{trimmed}`")))?;
                    field.parse::<u64>().map_err(|_| {
                        error(line_no, format!("{what} `{field}` is not a non-negative integer"))
                    })
                };
                if format == TraceFormat::Lines {
                    keys.push(number(fields.next(), "key")?);
                    if let Some(extra) = fields.next() {
                        return Err(error(line_no, format!("unexpected `{extra}` after the key")));
                    }
                } else {
                    let start = number(fields.next(), "start")?;
                    let count = number(fields.next(), "count")?;
                    if start.checked_add(count).is_none() {
                        return Err(error(line_no, format!("range {start} + {count} overflows")));
                    }
                    keys.extend(start..start + count);
                }
            }
            Ok(keys)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_format() {
        assert_eq!(
            parse("t.lis", b"10 3 0 0\n5 1 0 0\n", TraceFormat::Arc).unwrap(),
            [10, 11, 12, 5]
        );
        assert_eq!(parse("t", b"1\n2\n*\n3\n\n", TraceFormat::Lines).unwrap(), [1, 2, 3]);
        assert_eq!(
            parse("t", &[0, 0, 1, 0, 0xff, 0, 0, 1], TraceFormat::Cache2k).unwrap(),
            [256, 0xff00_0001]
        );
    }

    #[test]
    fn detects_formats() {
        assert_eq!(TraceFormat::detect("arc/OLTP.lis", b"1 2 0 0\n"), TraceFormat::Arc);
        assert_eq!(TraceFormat::detect("gli.trace", b"12\n13\n*\n"), TraceFormat::Lines);
        assert_eq!(TraceFormat::detect("web07.trace", &[0, 0, 1, 7]), TraceFormat::Cache2k);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("x.txt", b"1\n2\nbanana\n", TraceFormat::Lines).unwrap_err();
        assert_eq!(e.to_string(), "x.txt:3: key `banana` is not a non-negative integer");
        let e = parse("y.lis", b"1 2 0 0\n7\n", TraceFormat::Arc).unwrap_err();
        assert_eq!(e.to_string(), "y.lis:2: missing count in `7`");
        let e = parse("z", &[0, 0, 0, 1, 2], TraceFormat::Cache2k).unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (2, "z"));
        let e = parse("w", b"1\n2 3\n", TraceFormat::Lines).unwrap_err();
        assert_eq!(e.to_string(), "w:2: unexpected `3` after the key");
    }
}
