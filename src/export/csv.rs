//! CSV tables in long format: one line per number, so that any table tool can filter and pivot.
//!
//! [`Table`] is the one CSV writer every figure kind uses; what goes in each table is decided
//! by the figure kind (see [`crate::figures`]).
//!
//! Cells are made safe to open in a spreadsheet ([`safe_cell`], after OWASP's advice on CSV
//! injection), reversibly ([`original_cell`]):
//! - a control character (U+0000 to U+001F, U+007F to U+009F) is written `\u{hex}`, and a
//!   backslash that the text already has just before `u{` is doubled;
//! - a cell that would then start with `=`, `+`, `-` or `@` (after any apostrophes) and is not a
//!   finite number gets one more leading apostrophe `'`, so `=1+2` is written `'=1+2` and the
//!   number `-0.5` stays as it is.

use crate::error::{Error, Result};

/// A CSV table being written to memory.
pub struct Table {
    writer: ::csv::Writer<Vec<u8>>,
}

fn encode_error(e: impl std::fmt::Display) -> Error {
    Error::Encode { format: "CSV", message: e.to_string() }
}

impl Table {
    /// A table with this header line.
    pub fn new<I, S>(header: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut table = Table { writer: ::csv::Writer::from_writer(Vec::new()) };
        table.row(header)?;
        Ok(table)
    }

    /// Append one line.
    pub fn row<I, S>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.writer.write_record(cells.into_iter().map(|c| safe_cell(c.as_ref()))).map_err(encode_error)
    }

    /// The table's bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        self.writer.into_inner().map_err(encode_error)
    }
}

fn is_control(c: char) -> bool {
    matches!(c as u32, 0..=0x1f | 0x7f..=0x9f)
}

/// A cell as written: control characters escaped, formulas neutralised (see the module
/// documentation); [`original_cell`] undoes it.
pub fn safe_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if is_control(c) {
            out += &format!("\\u{{{:x}}}", c as u32);
        } else if c == '\\' && rest[1..].starts_with("u{") {
            out += "\\\\";
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    let after_quotes = out.trim_start_matches('\'');
    let risky = after_quotes.starts_with(['=', '+', '-', '@']);
    if risky && !out.parse::<f64>().is_ok_and(f64::is_finite) {
        out.insert(0, '\'');
    }
    out
}

/// The text a cell written by [`safe_cell`] came from.
pub fn original_cell(cell: &str) -> String {
    let after_quotes = cell.trim_start_matches('\'');
    let cell = if cell.starts_with('\'') && after_quotes.starts_with(['=', '+', '-', '@']) { &cell[1..] } else { cell };
    let mut out = String::with_capacity(cell.len());
    let mut rest = cell;
    while let Some(c) = rest.chars().next() {
        if let Some(tail) = rest.strip_prefix("\\\\u{") {
            out += "\\u{";
            rest = tail;
            continue;
        }
        if let Some(tail) = rest.strip_prefix("\\u{") {
            if let Some((hex, after)) = tail.split_once('}') {
                if let Some(ch) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                    rest = after;
                    continue;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_and_control_characters_are_neutralised_and_can_be_undone() {
        for (text, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+2", "'+1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-lrb-", "'-lrb-"),
            ("'=x", "''=x"),
            ("-0.5", "-0.5"),
            ("1e-5", "1e-5"),
            ("-inf", "'-inf"),
            ("\tx", "\\u{9}x"),
            ("a\u{0}b\u{1b}[31m", "a\\u{0}b\\u{1b}[31m"),
            ("\\/", "\\/"),
            ("\\u{41}", "\\\\u{41}"),
            ("plain", "plain"),
        ] {
            assert_eq!(safe_cell(text), written, "{text:?}");
            assert_eq!(original_cell(written), text, "{written:?}");
        }
    }

    #[test]
    fn quotes_cells_that_need_it() {
        let mut t = Table::new(["a", "b"]).unwrap();
        t.row(["x,y", "say \"hi\""]).unwrap();
        assert_eq!(String::from_utf8(t.finish().unwrap()).unwrap(), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
    }
}
