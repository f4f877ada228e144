//! Reading the user's text files: one shared notion of a file and of its lines for every reader
//! (SST trees, sentence corpora, and any other one-item-a-line file).
//!
//! - A name ending in `.gz` is decompressed ([`read_file`]).
//! - A UTF-8 byte-order mark (`EF BB BF`) at the very start of the file is skipped; anywhere else
//!   it is an ordinary character (U+FEFF) of its line.
//! - Lines end at `\n`; one `\r` just before it is part of the line end, so CRLF files read like
//!   LF files. Any other `\r` stays in its line.
//! - The empty piece after a final `\n` is not a line, so an empty file has no lines and a file
//!   of one line reads the same with or without its final line end.
//! - Lines are numbered from 1, and text is decoded one line at a time ([`Line::text`]), so an
//!   invalid byte is reported with its line and column and does not hide the other lines.
//!
//! ```
//! use salient::data::text::lines;
//! let file = b"\xEF\xBB\xBFfirst\r\nsecond\n";
//! let read: Vec<(usize, &str)> = lines(file).map(|l| (l.number, l.text().unwrap())).collect();
//! assert_eq!(read, [(1, "first"), (2, "second")]);
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

/// The UTF-8 encoding of U+FEFF, the byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One line of a file, without its line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: usize,
    /// The line's bytes (no `\n`, no final `\r`, no byte-order mark).
    pub bytes: &'a [u8],
}

impl<'a> Line<'a> {
    /// The line as UTF-8 text, or the 1-based byte column of its first byte that is not valid
    /// UTF-8.
    pub fn text(&self) -> Result<&'a str, usize> {
        std::str::from_utf8(self.bytes).map_err(|e| e.valid_up_to() + 1)
    }
}

/// The lines of a file's contents (see the [module documentation](self) for the rules).
pub fn lines(contents: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let body = contents.strip_prefix(BOM).unwrap_or(contents);
    // An empty file has no lines (`split` would give one empty piece); a lone `\n` is one empty line.
    let pieces = (!body.is_empty()).then(|| body.strip_suffix(b"\n").unwrap_or(body).split(|&b| b == b'\n'));
    pieces
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, piece)| Line { number: i + 1, bytes: piece.strip_suffix(b"\r").unwrap_or(piece) })
}

/// Read a whole file, decompressing it if the name ends in `.gz`.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let raw = std::fs::read(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4));
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Where a split of a data directory is: `<dir>/<stem>.txt.gz` or `<dir>/<stem>.txt`.
#[derive(Debug)]
pub(crate) enum SplitFile {
    /// Exactly one of the two exists.
    Found(PathBuf),
    /// Neither exists: the two paths tried, `.txt.gz` first.
    Missing([PathBuf; 2]),
    /// Both exist, so which one is meant is unclear: `.txt.gz` first.
    Both([PathBuf; 2]),
}

/// Find the file of split `stem` in `dir`. Only "not found" counts as absent; any other error
/// (a directory that cannot be read) is returned with the path it concerns.
pub(crate) fn find_split(dir: &Path, stem: &str) -> Result<SplitFile, (PathBuf, std::io::Error)> {
    let candidates = [dir.join(format!("{stem}.txt.gz")), dir.join(format!("{stem}.txt"))];
    let mut present = [false; 2];
    for (found, path) in present.iter_mut().zip(&candidates) {
        *found = match std::fs::metadata(path) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err((path.clone(), e)),
        };
    }
    Ok(match present {
        [true, true] => SplitFile::Both(candidates),
        [false, false] => SplitFile::Missing(candidates),
        [gz, _] => {
            let [with_gz, plain] = candidates;
            SplitFile::Found(if gz { with_gz } else { plain })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(contents: &[u8]) -> Vec<(usize, &[u8])> {
        lines(contents).map(|l| (l.number, l.bytes)).collect()
    }

    #[test]
    fn lf_crlf_and_final_line_end() {
        let lf = read(b"a\nb\n");
        assert_eq!(lf, [(1, &b"a"[..]), (2, &b"b"[..])]);
        assert_eq!(read(b"a\r\nb\r\n"), lf);
        assert_eq!(read(b"a\r\nb"), lf);
        assert_eq!(read(b"a\nb\r"), lf, "a CR before the end of the file ends the line too");
        // Only one CR belongs to the line end; an empty line stays a line.
        assert_eq!(read(b"a\r\r\n\nb"), [(1, &b"a\r"[..]), (2, &b""[..]), (3, &b"b"[..])]);
        assert_eq!(read(b"a\n\n"), [(1, &b"a"[..]), (2, &b""[..])]);
    }

    #[test]
    fn empty_files_have_no_lines() {
        assert!(read(b"").is_empty());
        assert_eq!(read(b"\n"), [(1, &b""[..])], "one empty line");
        assert!(read(BOM).is_empty());
    }

    #[test]
    fn byte_order_mark_only_at_the_start() {
        assert_eq!(read(b"\xEF\xBB\xBFa\r\nb"), [(1, &b"a"[..]), (2, &b"b"[..])]);
        assert_eq!(read(b"a\n\xEF\xBB\xBFb"), [(1, &b"a"[..]), (2, &b"\xEF\xBB\xBFb"[..])]);
        // Two marks: the second is text.
        assert_eq!(read(b"\xEF\xBB\xBF\xEF\xBB\xBFa"), [(1, &b"\xEF\xBB\xBFa"[..])]);
    }

    #[test]
    fn text_reports_the_byte_column() {
        let all: Vec<Line> = lines(b"ok\nb\xffad\n").collect();
        assert_eq!(all[0].text(), Ok("ok"));
        assert_eq!(all[1].text(), Err(2));
    }

    #[test]
    fn split_files_are_found_missing_or_ambiguous() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(matches!(find_split(d, "dev").unwrap(), SplitFile::Missing([gz, txt])
            if gz == d.join("dev.txt.gz") && txt == d.join("dev.txt")));
        std::fs::write(d.join("dev.txt"), "x").unwrap();
        assert!(matches!(find_split(d, "dev").unwrap(), SplitFile::Found(p) if p == d.join("dev.txt")));
        std::fs::write(d.join("dev.txt.gz"), "x").unwrap();
        assert!(matches!(find_split(d, "dev").unwrap(), SplitFile::Both(_)));
        std::fs::remove_file(d.join("dev.txt")).unwrap();
        assert!(matches!(find_split(d, "dev").unwrap(), SplitFile::Found(p) if p == d.join("dev.txt.gz")));
    }
}
