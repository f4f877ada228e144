//! Labelled text: one example a row, a text field and a label field, in the usual formats.
//!
//! | format | file name | a row | the fields |
//! | --- | --- | --- | --- |
//! | tsv | `<split>.tsv` | one line, fields split by tabs, no quoting | named by the header row |
//! | csv | `<split>.csv` | one record, RFC 4180 quoting (a quoted field may hold commas and line ends) | named by the header row |
//! | jsonl | `<split>.jsonl` | one JSON object a line | its keys |
//!
//! Each may be gzip-compressed (`.tsv.gz`, ...). A UTF-8 byte-order mark at the start is
//! skipped, CRLF line ends are accepted and blank lines are skipped. The text and label fields
//! are named by [`Fields`] (`text` and `label` by default); other fields are ignored.
//!
//! - **Labels** are class names or class indices `0..k-1`. Read against known classes
//!   ([`resolve`]), a label that is a class name is that class; otherwise a whole number below
//!   `k` is that index. Without known classes ([`infer_classes`], for training) the classes
//!   are `0..=max` when every label is a whole number, and otherwise the distinct labels sorted
//!   by their bytes (so the order does not depend on the order of the rows). A jsonl label may
//!   be a string or a whole number.
//! - **Texts** are split into tokens by the same PTB-style tokenizer as every raw sentence
//!   (see [`Vocab`]), case kept (the vocabulary lower-cases when it does). Each example becomes
//!   a [`Tree`] with one labelled span, the whole sentence: labelled text has no phrase labels.
//! - **Errors** name the file and the 1-based line of the row (for tsv and csv, the line where
//!   the csv reader's record starts): a malformed record, a line that is not JSON, a missing
//!   column or field, an empty text or label, an unknown label, a text above the token limit.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::classes::{Classes, MAX_CLASSES};
use super::sst::{LabelledSpan, Tree};
use super::vocab::Vocab;
use crate::error::{LabelledError, Result};

/// Which fields of a labelled-text file hold the text and the label. Each is left out of the
/// serialised form when it has its default, so options that embed these read and write as
/// before for SST data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct Fields {
    /// For labelled-text data (.tsv, .csv, .jsonl): the column (header name) or JSON key of
    /// the text.
    #[arg(long, value_name = "NAME", default_value = "text")]
    #[serde(skip_serializing_if = "is_text")]
    pub text_field: String,
    /// For labelled-text data: the column or JSON key of the label (a class name, or a class
    /// index 0..k-1).
    #[arg(long, value_name = "NAME", default_value = "label")]
    #[serde(skip_serializing_if = "is_label")]
    pub label_field: String,
}

fn is_text(field: &str) -> bool {
    field == "text"
}

fn is_label(field: &str) -> bool {
    field == "label"
}

impl Default for Fields {
    fn default() -> Self {
        Fields { text_field: "text".into(), label_field: "label".into() }
    }
}

/// A labelled-text file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tab-separated values with a header row, no quoting.
    Tsv,
    /// Comma-separated values with a header row, RFC 4180 quoting.
    Csv,
    /// One JSON object a line.
    Jsonl,
}

impl Format {
    /// Every format, in the order their files are looked for.
    pub const ALL: [Format; 3] = [Format::Tsv, Format::Csv, Format::Jsonl];

    /// The file extension (without `.gz`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tsv => "tsv",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format of a file name (`x.tsv`, `x.csv.gz`, ...), if it is one.
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        let name = name.strip_suffix(".gz").unwrap_or(name);
        Format::ALL.into_iter().find(|f| name.ends_with(&format!(".{}", f.extension())))
    }
}

/// One example as written: its line, its text and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line where the row starts.
    pub line: u64,
    /// The text.
    pub text: String,
    /// The label, trimmed (not empty).
    pub label: String,
}

/// Read the rows of a labelled-text file (decompressed when the name ends in `.gz`; the format
/// from the name).
pub fn read_rows(path: &Path, fields: &Fields) -> Result<Vec<Row>, LabelledError> {
    let format = Format::of(path).ok_or_else(|| LabelledError::Mismatch {
        path: path.to_path_buf(),
        message: "not a labelled-text file (the name must end in .tsv, .csv or .jsonl, optionally .gz)".into(),
    })?;
    let bytes =
        super::text::read_file(path).map_err(|source| LabelledError::Io { path: path.to_path_buf(), source })?;
    parse_rows(&bytes, format, path, fields)
}

/// The rows of a file's contents in `format`; `path` names the file in errors.
pub fn parse_rows(contents: &[u8], format: Format, path: &Path, fields: &Fields) -> Result<Vec<Row>, LabelledError> {
    let contents = contents.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(contents);
    match format {
        Format::Tsv => parse_delimited(contents, b'\t', false, path, fields),
        Format::Csv => parse_delimited(contents, b',', true, path, fields),
        Format::Jsonl => parse_jsonl(contents, path, fields),
    }
}

/// Line numbers of the csv reader's positions. The reader's own line count can point at the
/// line end before a record (after a CRLF, or blank lines), so a record's line is counted here
/// from its byte offset: the first byte after the position that is not a line end.
struct Lines<'a> {
    contents: &'a [u8],
    /// A byte offset already counted, and the line it is on.
    byte: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(contents: &'a [u8]) -> Self {
        Lines { contents, byte: 0, line: 1 }
    }

    /// The 1-based line of what starts at `position` (positions come in increasing order).
    fn at(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else { return self.line };
        let mut start = usize::try_from(position.byte()).unwrap_or(usize::MAX).min(self.contents.len());
        while matches!(self.contents.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let start = start.max(self.byte);
        self.line += self.contents[self.byte..start].iter().filter(|&&b| b == b'\n').count() as u64;
        self.byte = start;
        self.line
    }
}

fn csv_error(path: &Path, e: &csv::Error, lines: &mut Lines) -> LabelledError {
    let line = lines.at(e.position());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields, the header {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not UTF-8 (at its byte {})", err.field() + 1, err.valid_up_to() + 1)
        }
        _ => e.to_string(),
    };
    LabelledError::Csv { path: path.to_path_buf(), line, message }
}

fn parse_delimited(
    contents: &[u8],
    delimiter: u8,
    quoting: bool,
    path: &Path,
    fields: &Fields,
) -> Result<Vec<Row>, LabelledError> {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).quoting(quoting).from_reader(contents);
    let mut lines = Lines::new(contents);
    let header = reader.headers().map_err(|e| csv_error(path, &e, &mut lines))?.clone();
    let column = |field: &str, role: &'static str| {
        header.iter().position(|h| h.trim() == field).ok_or_else(|| LabelledError::NoColumn {
            path: path.to_path_buf(),
            field: field.to_string(),
            role,
            found: header.iter().map(str::to_string).collect(),
        })
    };
    let (text_at, label_at) = (column(&fields.text_field, "text")?, column(&fields.label_field, "label")?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &e, &mut lines))?;
        let line = lines.at(record.position());
        // The reader checks that every record has the header's number of fields.
        let (text, label) = (&record[text_at], &record[label_at]);
        rows.push(row(path, fields, line, text, label)?);
    }
    Ok(rows)
}

/// A row, checked: neither field empty.
fn row(path: &Path, fields: &Fields, line: u64, text: &str, label: &str) -> Result<Row, LabelledError> {
    let empty =
        |field: &str, role| LabelledError::EmptyField { path: path.to_path_buf(), line, field: field.into(), role };
    if text.trim().is_empty() {
        return Err(empty(&fields.text_field, "text"));
    }
    if label.trim().is_empty() {
        return Err(empty(&fields.label_field, "label"));
    }
    Ok(Row { line, text: text.to_string(), label: label.trim().to_string() })
}

fn parse_jsonl(contents: &[u8], path: &Path, fields: &Fields) -> Result<Vec<Row>, LabelledError> {
    let mut rows = Vec::new();
    for l in super::text::lines(contents) {
        let line = l.number as u64;
        let json_error = |column, message| LabelledError::Json { path: path.to_path_buf(), line, column, message };
        let text = l.text().map_err(|column| json_error(column, "invalid UTF-8".into()))?;
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m).to_string();
            json_error(e.column(), message)
        })?;
        let serde_json::Value::Object(object) = value else {
            return Err(json_error(1, format!("found {}", kind(&value))));
        };
        let get = |field: &str, role| {
            object.get(field).ok_or_else(|| LabelledError::MissingField {
                path: path.to_path_buf(),
                line,
                field: field.to_string(),
                role,
                found: object.keys().cloned().collect(),
            })
        };
        let wrong = |field: &str, expected, value: &serde_json::Value| LabelledError::WrongType {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            expected,
            found: kind(value),
        };
        let text = match get(&fields.text_field, "text")? {
            serde_json::Value::String(s) => s.as_str(),
            other => return Err(wrong(&fields.text_field, "a string", other)),
        };
        let label = match get(&fields.label_field, "label")? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) if n.is_u64() => n.to_string(),
            other => return Err(wrong(&fields.label_field, "a string or a whole number 0 or above", other)),
        };
        rows.push(row(path, fields, line, text, &label)?);
    }
    Ok(rows)
}

/// A JSON value's kind and a short form of it, for errors.
fn kind(value: &serde_json::Value) -> String {
    let mut shown = value.to_string();
    if shown.len() > 40 {
        let cut = (0..=40).rev().find(|&i| shown.is_char_boundary(i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    let what = match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    };
    format!("{what} ({shown})")
}

/// The classes of a training file's rows: `0..=max` when every label is a whole number, else
/// the distinct labels sorted by their bytes. Fewer than two classes, or more than
/// [`MAX_CLASSES`], is an error naming the file.
pub fn infer_classes(rows: &[Row], path: &Path) -> Result<Classes, LabelledError> {
    let numbers: Option<Vec<u64>> = rows.iter().map(|r| r.label.parse::<u64>().ok()).collect();
    let names: Vec<String> = match numbers {
        Some(numbers) => {
            let max = numbers.iter().copied().max().unwrap_or(0);
            if max >= MAX_CLASSES as u64 {
                return Err(LabelledError::Classes {
                    path: path.to_path_buf(),
                    message: format!(
                        "label {max} read as a class index, but at most {MAX_CLASSES} classes are supported \
                         (give the classes by name to use numbers as names)"
                    ),
                });
            }
            (0..=max).map(|i| i.to_string()).collect()
        }
        None => {
            let mut names: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
            names.sort();
            names.dedup();
            names
        }
    };
    Classes::text(names).map_err(|message| LabelledError::Classes { path: path.to_path_buf(), message })
}

/// The class index of `label`: a class name first, then a whole number below the number of
/// classes.
pub fn class_index(label: &str, classes: &[&str]) -> Option<usize> {
    classes.iter().position(|c| *c == label).or_else(|| label.parse::<usize>().ok().filter(|&i| i < classes.len()))
}

/// The rows as one-span trees (the whole sentence labelled with its class index), their texts
/// split by the PTB-style tokenizer (case kept). A label that is not a class, a text without
/// tokens or one above `max_tokens` is an error naming the row's line.
pub fn resolve(rows: &[Row], classes: &Classes, path: &Path, max_tokens: usize) -> Result<Vec<Tree>> {
    let names = classes.names();
    // A vocabulary that knows no words splits raw text by the PTB rules alone.
    let splitter = Vocab::build(std::iter::empty(), false, 1)?;
    let mut trees = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(class) = class_index(&r.label, &names) else {
            return Err(LabelledError::UnknownLabel {
                path: path.to_path_buf(),
                line: r.line,
                label: r.label.clone(),
                classes: names.iter().map(|s| s.to_string()).collect(),
            }
            .into());
        };
        let tokens = splitter.encode_text(&r.text)?.tokens;
        if tokens.is_empty() {
            let e = LabelledError::EmptyField {
                path: path.to_path_buf(),
                line: r.line,
                field: "text".into(),
                role: "text",
            };
            return Err(e.into());
        }
        if tokens.len() > max_tokens {
            let e = LabelledError::TooLong {
                path: path.to_path_buf(),
                line: r.line,
                tokens: tokens.len(),
                limit: max_tokens,
            };
            return Err(e.into());
        }
        // At most `MAX_CLASSES` (256) classes, so the index fits a byte.
        let label = class as u8;
        trees.push(Tree { spans: vec![LabelledSpan { start: 0, end: tokens.len(), label }], tokens });
    }
    Ok(trees)
}

/// The labelled-text file of a split in `dir`: every `<stem>.<tsv|csv|jsonl>[.gz]` that exists.
pub(crate) fn candidates(dir: &Path, stem: &str) -> Vec<PathBuf> {
    Format::ALL
        .into_iter()
        .flat_map(|f| [format!("{stem}.{}", f.extension()), format!("{stem}.{}.gz", f.extension())])
        .map(|name| dir.join(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn rows(contents: &str, format: Format) -> Result<Vec<Row>, LabelledError> {
        parse_rows(contents.as_bytes(), format, Path::new("d/train.x"), &Fields::default())
    }

    fn pairs(rows: &[Row]) -> Vec<(u64, &str, &str)> {
        rows.iter().map(|r| (r.line, r.text.as_str(), r.label.as_str())).collect()
    }

    #[test]
    fn each_format_reads_the_same_examples() {
        let expected = [(2, "a fine film", "pos"), (3, "dull , \"flat\"", "neg")];
        let tsv = rows("id\ttext\tlabel\n1\ta fine film\tpos\n2\tdull , \"flat\"\t neg \n", Format::Tsv).unwrap();
        assert_eq!(pairs(&tsv), expected);
        let csv = rows("label,text\r\npos,a fine film\r\nneg,\"dull , \"\"flat\"\"\"\r\n", Format::Csv).unwrap();
        assert_eq!(pairs(&csv), expected, "CRLF line ends");
        // Blank lines are skipped, and counted.
        let csv = rows("label,text\n\n\npos,a fine film\r\n\r\nneg,\"dull , \"\"flat\"\"\"\n", Format::Csv).unwrap();
        assert_eq!(pairs(&csv).iter().map(|r| r.0).collect::<Vec<_>>(), [4, 6]);
        let e = rows("label,text\r\n\r\npos,a\r\nneg,b,c\r\n", Format::Csv).unwrap_err().to_string();
        assert!(e.starts_with("d/train.x:4: the row has 3 fields, the header 2"), "{e}");
        let jsonl = "\u{feff}{\"x\": 1}\n{\"text\": \"a fine film\", \"label\": \"pos\"}\n{\"label\": \"neg\", \"text\": \"dull , \\\"flat\\\"\"}\n";
        let mut jsonl = rows(jsonl, Format::Jsonl).unwrap_err().to_string();
        assert!(jsonl.contains("d/train.x:1: no `text` field") && jsonl.contains(": x"), "{jsonl}");
        jsonl = "\n{\"text\": \"a fine film\", \"label\": \"pos\"}\n{\"label\": \"neg\", \"text\": \"dull , \\\"flat\\\"\"}\n".into();
        assert_eq!(pairs(&rows(&jsonl, Format::Jsonl).unwrap()), expected, "a blank line is skipped");
    }

    #[test]
    fn gzip_files_and_field_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.jsonl.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{\"sentence\": \"ok then\", \"y\": 1}\n{\"sentence\": \"no\", \"y\": \"0\"}\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let fields = Fields { text_field: "sentence".into(), label_field: "y".into() };
        let read = read_rows(&path, &fields).unwrap();
        assert_eq!(pairs(&read), [(1, "ok then", "1"), (2, "no", "0")]);
        assert_eq!(Format::of(&path), Some(Format::Jsonl));
        assert_eq!(Format::of(Path::new("a/train.tsv")), Some(Format::Tsv));
        assert_eq!(Format::of(Path::new("a/train.txt.gz")), None);
        let e = read_rows(&path, &Fields::default()).unwrap_err().to_string();
        assert!(e.contains("dev.jsonl.gz:1: no `text` field"), "{e}");
    }

    #[test]
    fn bad_rows_name_the_file_and_line() {
        let err = |contents: &str, format| rows(contents, format).unwrap_err().to_string();
        let e = err("text\tlabel\na\tpos\nb\tneg\textra\n", Format::Tsv);
        assert!(e.starts_with("d/train.x:3: the row has 3 fields, the header 2"), "{e}");
        let e = err("text,labels\na,pos\n", Format::Csv);
        assert!(e.starts_with("d/train.x:1: the header has no `label` column") && e.contains("text, labels"), "{e}");
        let e = err("text,label\na,pos\n   ,neg\n", Format::Csv);
        assert_eq!(e, "d/train.x:3: the text (`text`) is empty");
        let e = err("text,label\na,pos\n\"b\nc\",\n", Format::Csv);
        assert_eq!(e, "d/train.x:3: the label (`label`) is empty", "a quoted line end: the row starts on line 3");
        let e = err("{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": }\n", Format::Jsonl);
        assert!(e.starts_with("d/train.x:2:24: not a JSON object: expected value"), "{e}");
        let e = err("{\"text\": \"a\", \"label\": 1}\n[1, 2]\n", Format::Jsonl);
        assert!(e.starts_with("d/train.x:2:1: not a JSON object: found an array"), "{e}");
        let e = err("{\"text\": 3, \"label\": 1}\n", Format::Jsonl);
        assert!(e.starts_with("d/train.x:1: the `text` field must be a string, found a number (3)"), "{e}");
        let e = err("{\"text\": \"a\", \"label\": -1}\n", Format::Jsonl);
        assert!(e.contains("d/train.x:1: the `label` field must be a string or a whole number"), "{e}");
        let e = parse_rows(b"text\tlabel\na\xff\tpos\n", Format::Tsv, Path::new("f.tsv"), &Fields::default());
        let e = e.unwrap_err().to_string();
        assert!(e.starts_with("f.tsv:2: field 1 is not UTF-8"), "{e}");
    }

    #[test]
    fn classes_from_names_or_integers() {
        let names = rows("text\tlabel\na\tpos\nb\tneg\nc\tpos\n", Format::Tsv).unwrap();
        let classes = infer_classes(&names, Path::new("t.tsv")).unwrap();
        assert_eq!(classes.names(), ["neg", "pos"], "sorted, not in order of appearance");
        let numbers = rows("text\tlabel\na\t2\nb\t0\n", Format::Tsv).unwrap();
        assert_eq!(infer_classes(&numbers, Path::new("t.tsv")).unwrap().names(), ["0", "1", "2"]);
        let one = rows("text\tlabel\na\tpos\nb\tpos\n", Format::Tsv).unwrap();
        let e = infer_classes(&one, Path::new("t.tsv")).unwrap_err().to_string();
        assert!(e.starts_with("t.tsv: a classifier needs at least two classes"), "{e}");
        let big = rows("text\tlabel\na\t300\nb\t0\n", Format::Tsv).unwrap();
        assert!(infer_classes(&big, Path::new("t.tsv")).unwrap_err().to_string().contains("at most 256"));
    }

    #[test]
    fn labels_resolve_by_name_then_index_and_texts_are_split() {
        let classes = Classes::text(vec!["neg".into(), "pos".into()]).unwrap();
        let read = rows("text\tlabel\nI can't (really) say.\tpos\nno\t0\n", Format::Tsv).unwrap();
        let trees = resolve(&read, &classes, Path::new("t.tsv"), 20).unwrap();
        assert_eq!(trees[0].tokens, ["I", "ca", "n't", "-LRB-", "really", "-RRB-", "say", "."]);
        assert_eq!(trees[0].spans, [LabelledSpan { start: 0, end: 8, label: 1 }]);
        assert_eq!((trees[1].root_label(), trees[1].tokens.len()), (0, 1));
        // Names win over indices: with classes named "1" and "0", label "0" is class 1.
        let swapped = Classes::text(vec!["1".into(), "0".into()]).unwrap();
        assert_eq!(resolve(&read[1..], &swapped, Path::new("t.tsv"), 20).unwrap()[0].root_label(), 1);

        let bad = rows("text\tlabel\na\tpos\nb\tmeh\n", Format::Tsv).unwrap();
        let e = resolve(&bad, &classes, Path::new("t.tsv"), 20).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.tsv:3: unknown label `meh`; the classes are neg, pos (a label is a class name or an index 0..1)"
        );
        let e = resolve(&rows("text\tlabel\na\t2\n", Format::Tsv).unwrap(), &classes, Path::new("t.tsv"), 20);
        assert!(e.unwrap_err().to_string().contains("unknown label `2`"));
        let e = resolve(&read, &classes, Path::new("t.tsv"), 3).unwrap_err().to_string();
        assert_eq!(e, "t.tsv:2: the text has 8 tokens, above the limit of 3");
    }
}
