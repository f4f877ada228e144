//! The word-embedding table, kept in host memory.
//!
//! Looking rows up on the host and uploading only the `(batch, seq_len, dim)` slice keeps the
//! 20k x 60 table out of the autograd graph: training updates only the rows a batch touched
//! (sparse AdaGrad), and attribution takes gradients with respect to the looked-up slice.

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};

/// A `(vocab, dim)` embedding table.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    table: Vec<f32>,
    vocab: usize,
    dim: usize,
}

impl Embedding {
    /// Take the table from a `(vocab, dim)` tensor.
    pub fn from_tensor(t: &Tensor) -> Result<Self> {
        let (vocab, dim) = t.dims2()?;
        let table = t.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Embedding { table, vocab, dim })
    }

    /// The table as a `(vocab, dim)` tensor.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(&self.table, (self.vocab, self.dim), device)?)
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One row.
    pub fn row(&self, id: u32) -> &[f32] {
        let i = id as usize * self.dim;
        &self.table[i..i + self.dim]
    }

    /// Mutable access to the whole table, row-major (for optimizers).
    pub fn table_mut(&mut self) -> &mut [f32] {
        &mut self.table
    }

    /// Look `ids` (row-major `batch x seq_len`) up: `(batch, seq_len, dim)`.
    pub(crate) fn lookup(&self, ids: &[u32], batch: usize, seq_len: usize, device: &Device) -> Result<Tensor> {
        debug_assert_eq!(ids.len(), batch * seq_len);
        let mut out = Vec::with_capacity(ids.len() * self.dim);
        for &id in ids {
            if id as usize >= self.vocab {
                return Err(Error::invalid("token id", format!("{id} is outside the vocabulary of {}", self.vocab)));
            }
            out.extend_from_slice(self.row(id));
        }
        Ok(Tensor::from_vec(out, (batch, seq_len, self.dim), device)?)
    }
}
