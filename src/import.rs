//! Classifiers trained in PyTorch: a state dict saved as safetensors, made into a salient model
//! directory that every command explains.
//!
//! salient's classifier is, in PyTorch terms, a module whose attributes are
//!
//! ```text
//! embedding  = nn.Embedding(V, E)                     # row i is token id i of the tokenizer
//! encoder    = nn.RNN(E, H) | nn.LSTM(E, H) | nn.GRU(E, H)   # one layer, tanh for nn.RNN,
//!                                                     # bidirectional=True for birnn/bilstm/bigru
//! classifier = nn.Linear(H * directions, C)           # C = 5 (SST fine) or 2 (SST binary)
//! ```
//!
//! and whose forward pass is `logits = classifier(h)`, where `h` is the encoder's final hidden
//! state (`h_n`), the forward direction's then the backward one's. Its state dict has exactly
//! the names salient stores: `embedding.weight`, `encoder.weight_ih_l0`, `encoder.weight_hh_l0`,
//! `encoder.bias_ih_l0`, `encoder.bias_hh_l0` (and each with `_reverse` for a bidirectional
//! encoder), `classifier.weight`, `classifier.bias`. Dropout has no weights; `batch_first` does
//! not change them.
//!
//! [`import_classifier`] reads such a state dict (saved with `safetensors.torch.save_file`) and
//! the tokenizer it was trained with, takes the sizes from the tensors (`V`, `E` from
//! `embedding.weight`, `H` from `encoder.weight_hh_l0`, `C` from `classifier.bias`), checks every
//! name and shape against the architecture the caller names, and builds the classifier; each
//! mismatch is an [`ImportError`] naming the tensor, the shape expected and the shape found.
//! [`ImportedClassifier::save`] writes the model directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use crate::checkpoint::{self, sha256_hex, ModelCard};
use crate::data::{Task, Vocab};
use crate::error::{Error, ImportError, Result};
use crate::eval::SplitScores;
use crate::model::{Arch, Classifier, ClassifierConfig};

/// A classifier read from a PyTorch state dict, ready to use or save.
#[derive(Debug, Clone)]
pub struct ImportedClassifier {
    /// The model.
    pub model: Classifier,
    /// Its vocabulary (the tokenizer given).
    pub vocab: Vocab,
    /// Its shape, as read from the tensors.
    pub config: ClassifierConfig,
    /// Where the weights came from, for the model's card.
    pub source: ImportSource,
}

/// Where an imported model came from: recorded as the `training` entry of its `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSource {
    /// Always `pytorch`.
    pub imported_from: &'static str,
    /// The state dict's file, as given.
    pub weights: PathBuf,
    /// Its SHA-256, hex.
    pub weights_sha256: String,
    /// The tokenizer's file, as given.
    pub tokenizer: PathBuf,
}

impl ImportedClassifier {
    /// Write the model directory `dir` (`model.safetensors` in `dtype`, `tokenizer.json`,
    /// `config.json` last) with `dev`, the model's scores on the SST dev split, in its card;
    /// the card's epoch is 0 (salient did not train it) and its `training` entry is the
    /// [`ImportSource`].
    pub fn save(&self, dir: &Path, dev: SplitScores, dtype: DType) -> Result<()> {
        let training = serde_json::to_value(&self.source).expect("the import source serializes");
        let card = ModelCard::new(self.config.clone(), training, 0, dev);
        checkpoint::save_classifier(dir, &self.model, &self.vocab, card, dtype)
    }
}

/// Read the state dict `weights` (safetensors) of a classifier of architecture `arch` trained
/// with the tokenizer `tokenizer` (a `tokenizer.json` with `[PAD]` at id 0 and `[UNK]` at 1),
/// onto `device`. Floating tensors of any width are read as f32.
pub fn import_classifier(weights: &Path, tokenizer: &Path, arch: Arch, device: &Device) -> Result<ImportedClassifier> {
    let bytes = std::fs::read(weights).map_err(|e| Error::io("cannot read", weights, e))?;
    let tensors = read_state_dict(weights, &bytes)?;
    let config = infer_config(weights, &tensors, arch)?;
    check_state_dict(weights, &tensors, &config)?;
    let vocab = Vocab::load(tokenizer)?;
    if vocab.len() != config.vocab_size {
        return Err(ImportError::Vocabulary {
            tokenizer: tokenizer.to_path_buf(),
            file: weights.to_path_buf(),
            entries: vocab.len(),
            rows: config.vocab_size,
        }
        .into());
    }
    let model = checkpoint::classifier_from_tensors(weights, tensors, config.clone(), device)?;
    let source = ImportSource {
        imported_from: "pytorch",
        weights: weights.to_path_buf(),
        weights_sha256: sha256_hex(&bytes),
        tokenizer: tokenizer.to_path_buf(),
    };
    Ok(ImportedClassifier { model, vocab, config, source })
}

/// The tensors of a safetensors file, as f32 on the CPU.
fn read_state_dict(file: &Path, bytes: &[u8]) -> Result<HashMap<String, Tensor>> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| ImportError::Unreadable { file: file.to_path_buf(), message: e.to_string() })?;
    let mut out = HashMap::with_capacity(tensors.len());
    for (name, t) in tensors {
        if !t.dtype().is_float() {
            return Err(ImportError::NotFloat {
                file: file.to_path_buf(),
                tensor: name,
                dtype: t.dtype().as_str().into(),
            }
            .into());
        }
        out.insert(name, t.to_dtype(DType::F32)?);
    }
    Ok(out)
}

/// The dimension `axis` of `tensor` in `tensors`, which must have `rank` dimensions (`shape`
/// describes the shape it should have, for errors).
fn dimension(
    file: &Path,
    tensors: &HashMap<String, Tensor>,
    tensor: &str,
    rank: usize,
    axis: usize,
    model: &str,
    shape: &str,
) -> Result<usize> {
    match tensors.get(tensor) {
        None => Err(ImportError::Missing {
            file: file.to_path_buf(),
            tensor: tensor.into(),
            model: model.into(),
            expected: shape.into(),
        }
        .into()),
        Some(t) if t.rank() != rank => Err(ImportError::Shape {
            file: file.to_path_buf(),
            tensor: tensor.into(),
            model: model.into(),
            expected: shape.into(),
            found: t.dims().to_vec(),
        }
        .into()),
        Some(t) => Ok(t.dims()[axis]),
    }
}

/// The classifier's sizes, read from the tensors that define them.
fn infer_config(file: &Path, tensors: &HashMap<String, Tensor>, arch: Arch) -> Result<ClassifierConfig> {
    let model = format!("a {arch} classifier");
    let gates = arch.cell.blocks();
    let embedding =
        |axis| dimension(file, tensors, "embedding.weight", 2, axis, &model, "[vocabulary size, embedding size]");
    let (vocab_size, embedding_dim) = (embedding(0)?, embedding(1)?);
    let hidden_shape = format!("[{gates} x hidden size, hidden size]");
    let hidden_dim = dimension(file, tensors, "encoder.weight_hh_l0", 2, 1, &model, &hidden_shape)?;
    let classes = dimension(file, tensors, "classifier.bias", 1, 0, &model, "[classes]")?;
    let task = Task::ALL
        .into_iter()
        .find(|t| t.num_classes() == classes)
        .ok_or_else(|| ImportError::Classes { file: file.to_path_buf(), found: classes })?;
    Ok(ClassifierConfig { arch, task: task.into(), vocab_size, embedding_dim, hidden_dim })
}

/// Check that `tensors` are exactly the parameters of `config`.
fn check_state_dict(file: &Path, tensors: &HashMap<String, Tensor>, config: &ClassifierConfig) -> Result<()> {
    let model = format!(
        "a {} {} classifier (vocabulary {}, embedding {}, hidden {})",
        config.arch, config.task, config.vocab_size, config.embedding_dim, config.hidden_dim
    );
    let expected = config.parameter_shapes();
    // Extra tensors first: a `_reverse` one says more about a wrong architecture than a shape does.
    let mut extra: Vec<&String> = tensors.keys().filter(|k| !expected.iter().any(|(n, _)| n == *k)).collect();
    extra.sort();
    if let Some(tensor) = extra.first() {
        let names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
        return Err(ImportError::Extra {
            file: file.to_path_buf(),
            tensor: (*tensor).clone(),
            model,
            expected: names.join(", "),
        }
        .into());
    }
    for (name, shape) in &expected {
        match tensors.get(name) {
            None => {
                return Err(ImportError::Missing {
                    file: file.to_path_buf(),
                    tensor: name.clone(),
                    model,
                    expected: format!("{shape:?}"),
                }
                .into())
            }
            Some(t) if t.dims() != shape.as_slice() => {
                return Err(ImportError::Shape {
                    file: file.to_path_buf(),
                    tensor: name.clone(),
                    model,
                    expected: format!("{shape:?}"),
                    found: t.dims().to_vec(),
                }
                .into())
            }
            Some(_) => {}
        }
    }
    Ok(())
}
