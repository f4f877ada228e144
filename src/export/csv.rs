//! CSV tables in long format: one line per number, so that any table tool can filter and pivot.
//!
//! [`Table`] is the one CSV writer every figure kind uses; what goes in each table is decided
//! by the figure kind (see [`crate::figures`]).

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
        self.writer.write_record(cells.into_iter().map(|c| c.as_ref().to_string())).map_err(encode_error)
    }

    /// The table's bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        self.writer.into_inner().map_err(encode_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_cells_that_need_it() {
        let mut t = Table::new(["a", "b"]).unwrap();
        t.row(["x,y", "say \"hi\""]).unwrap();
        assert_eq!(String::from_utf8(t.finish().unwrap()).unwrap(), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
    }
}
