//! CSV in long format: one line per number, so that any table tool can filter and pivot.
//!
//! - [`attributions`] writes `sentence,position,token,word,dimension,value` (the matrix of each
//!   attribution; erasure has the single dimension 0).
//! - [`token_scores`] writes `sentence,position,token,word,score`.
//! - [`reconstruction_matrix`] and [`reconstruction_gradients`]: autoencoder saliency, per output
//!   and input token (and dimension).
//! - [`views`] writes `view,sentence,position,token,dimension,value` (`position` is empty for a whole
//!   phrase; `dimension` is the column label, e.g. `f3` for a BiLSTM's forward unit 3).

use crate::error::{Error, Result};
use crate::explain::autoencoder::ReconstructionSaliency;
use crate::explain::views::MatrixView;
use crate::explain::Attribution;

fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::invalid("results", format!("cannot write CSV: {e}"))
}

fn finish(w: ::csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    w.into_inner().map_err(csv_error)
}

/// The matrices of `attributions`, one line per token and dimension.
pub fn attributions(attributions: &[Attribution]) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(["sentence", "position", "token", "word", "dimension", "value"]).map_err(csv_error)?;
    for a in attributions {
        for (i, row) in a.matrix.iter().enumerate() {
            let (sentence, position) = (a.sentence.to_string(), i.to_string());
            for (j, v) in row.iter().enumerate() {
                w.write_record([&sentence, &position, &a.tokens[i], &a.words[i], &j.to_string(), &v.to_string()])
                    .map_err(csv_error)?;
            }
        }
    }
    finish(w)
}

/// The per-token scores of `attributions`.
pub fn token_scores(attributions: &[Attribution]) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(["sentence", "position", "token", "word", "score"]).map_err(csv_error)?;
    for a in attributions {
        for (i, v) in a.token_scores.iter().enumerate() {
            w.write_record([&a.sentence.to_string(), &i.to_string(), &a.tokens[i], &a.words[i], &v.to_string()])
                .map_err(csv_error)?;
        }
    }
    finish(w)
}

/// The matrices of `views`, one line per row and column.
pub fn views(views: &[MatrixView]) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(["view", "sentence", "position", "token", "dimension", "value"]).map_err(csv_error)?;
    for v in views {
        let slug = v.slug();
        for (key, row) in v.rows.iter().zip(&v.matrix) {
            let sentence = key.sentence.to_string();
            let position = key.position.map(|p| p.to_string()).unwrap_or_default();
            for (label, value) in v.column_labels.iter().zip(row) {
                w.write_record([&slug, &sentence, &position, &key.token, label, &value.to_string()])
                    .map_err(csv_error)?;
            }
        }
    }
    finish(w)
}

/// The output × input matrices of autoencoder saliency:
/// `sentence,output_position,output_token,input_position,input_token,input_word,value`.
pub fn reconstruction_matrix(results: &[ReconstructionSaliency]) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "sentence",
        "output_position",
        "output_token",
        "input_position",
        "input_token",
        "input_word",
        "value",
    ])
    .map_err(csv_error)?;
    for r in results {
        let sentence = r.sentence.to_string();
        for (t, row) in r.matrix.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                w.write_record([
                    &sentence,
                    &t.to_string(),
                    &r.output_tokens[t],
                    &i.to_string(),
                    &r.input_tokens[i],
                    &r.input_words[i],
                    &v.to_string(),
                ])
                .map_err(csv_error)?;
            }
        }
    }
    finish(w)
}

/// The per-dimension gradients of autoencoder saliency:
/// `sentence,output_position,output_token,input_position,input_token,dimension,value`.
pub fn reconstruction_gradients(results: &[ReconstructionSaliency]) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "sentence",
        "output_position",
        "output_token",
        "input_position",
        "input_token",
        "dimension",
        "value",
    ])
    .map_err(csv_error)?;
    for r in results {
        let sentence = r.sentence.to_string();
        for (t, step) in r.gradients.iter().enumerate() {
            let (position, token) = (t.to_string(), &r.output_tokens[t]);
            for (i, row) in step.iter().enumerate() {
                let input_position = i.to_string();
                for (j, v) in row.iter().enumerate() {
                    w.write_record([
                        &sentence,
                        &position,
                        token,
                        &input_position,
                        &r.input_tokens[i],
                        &j.to_string(),
                        &v.to_string(),
                    ])
                    .map_err(csv_error)?;
                }
            }
        }
    }
    finish(w)
}
