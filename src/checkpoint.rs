//! Model directories: `model.safetensors` + `config.json` + `tokenizer.json`.
//!
//! Every file is written to a temporary name in the same directory, synced and renamed into
//! place, so a killed process leaves either the old file or the new one, never half of one.
//! `config.json` is written last and records the SHA-256 of `model.safetensors` (and, since
//! checkpoints were checksummed, of `tokenizer.json`): a directory whose files do not match its
//! config is refused on load with [`Error::ChecksumMismatch`] naming the file. Directories
//! without `tokenizer_sha256` (older ones, the shipped models) load with the weights checked.
//!
//! The weights carry PyTorch's names (see [`crate::model`]), so `torch.nn` modules load them with
//! `load_state_dict(strict=True)`, and the safetensors header's `__metadata__` holds one entry,
//! [`METADATA_CONFIG`]: the content of `config.json` but for `weights_sha256` (a file cannot
//! record its own checksum), for readers that see the weights file alone.
//!
//! A training run never relies on this directory alone: its checkpoint keeps a copy of the
//! selected model and writes it here again when resumed (see [`crate::train`]).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::vectors::Coverage;
use crate::data::vocab::{BOS_ID, BOS_TOKEN, EOS_ID, EOS_TOKEN};
use crate::data::Vocab;
use crate::error::{Error, Result};
use crate::eval::{ReconstructionScores, SplitScores};
use crate::model::{Autoencoder, AutoencoderConfig, Classifier, ClassifierConfig};

/// Name of the weights file.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Name of the config file.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the tokenizer file.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// What `config.json` holds: the model's shape, how it was made and how it scored on dev.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "C: Serialize, S: Serialize", deserialize = "C: DeserializeOwned, S: DeserializeOwned"))]
pub struct ModelCard<C = ClassifierConfig, S = SplitScores> {
    /// `salient-classifier` or `salient-autoencoder`.
    pub format: String,
    /// The model's shape.
    pub model: C,
    /// Storage type of the weights file (`f32` or `f16`).
    pub weights_dtype: String,
    /// SHA-256 of `model.safetensors`, hex.
    pub weights_sha256: String,
    /// SHA-256 of `tokenizer.json`, hex (absent in directories made before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_sha256: Option<String>,
    /// The training options, as given to `salient train`.
    pub training: serde_json::Value,
    /// The epoch whose weights these are (1-based).
    pub epoch: usize,
    /// Scores on the dev split at that epoch (the model was selected on them).
    pub dev: S,
    /// The pretrained word vectors the embeddings started from and what they covered (absent
    /// when they started random, and in directories made before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained_embeddings: Option<Coverage>,
}

impl<C, S> ModelCard<C, S> {
    /// A card for a model about to be saved; the format tag, the weights' type and their
    /// checksum are filled in by [`save_model_dir`].
    pub fn new(model: C, training: serde_json::Value, epoch: usize, dev: S) -> Self {
        ModelCard {
            format: String::new(),
            model,
            weights_dtype: String::new(),
            weights_sha256: String::new(),
            tokenizer_sha256: None,
            training,
            epoch,
            dev,
            pretrained_embeddings: None,
        }
    }
}

/// The format tag of classifier directories.
pub const CLASSIFIER_FORMAT: &str = "salient-classifier";

/// Write `bytes` to `path` atomically: a temporary file in the same directory, synced, renamed,
/// and the directory synced so that the rename survives a crash.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_path(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Write `bytes` to a new file at `path` and sync it (for files of a directory that is renamed
/// into place as a whole).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| Error::io("cannot write", path, e))
}

/// Sync a directory, so that the renames and creations in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    // Directories cannot be opened for syncing on every platform; there the rename is all we have.
    if cfg!(unix) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("cannot sync", dir, e))?;
    }
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Remove the temporary files that a killed [`write_atomic`] of one of `names` left in `dir`.
pub(crate) fn remove_stale_temporaries(dir: &Path, names: &[&str]) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let stale = names.iter().any(|n| {
            file.strip_prefix(&format!(".{n}.tmp-")).is_some_and(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        });
        if stale {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| Error::io("cannot remove", path, e))?;
        }
    }
    Ok(())
}

/// The key of the safetensors `__metadata__` entry that holds the model's config (see the
/// module documentation).
pub const METADATA_CONFIG: &str = "config";

/// Serialize tensors to safetensors bytes, converting floating tensors to `dtype`, with
/// `metadata` as the header's `__metadata__`. (safetensors writes a map of several entries in
/// hash order: one entry keeps the bytes, and so the checksum, reproducible.)
pub(crate) fn safetensors_bytes(
    tensors: &HashMap<String, Tensor>,
    dtype: DType,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let converted: Vec<(String, Tensor)> = names
        .into_iter()
        .map(|n| Ok((n.clone(), tensors[n].to_dtype(dtype)?.to_device(&Device::Cpu)?)))
        .collect::<Result<_>>()?;
    Ok(safetensors::serialize(converted.iter().map(|(n, t)| (n.as_str(), t)), metadata)
        .map_err(candle_core::Error::from)?)
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Check that `bytes`, read from `file`, have the SHA-256 `expected` that `recorded_in` records.
pub(crate) fn verify_sha256(file: &Path, bytes: &[u8], expected: &str, recorded_in: &Path) -> Result<()> {
    let found = sha256_hex(bytes);
    if found == expected {
        Ok(())
    } else {
        Err(Error::ChecksumMismatch {
            file: file.to_path_buf(),
            recorded_in: recorded_in.to_path_buf(),
            expected: expected.to_string(),
            found,
        })
    }
}

/// The three files of a model directory, as bytes ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFiles {
    /// `model.safetensors`.
    pub weights: Vec<u8>,
    /// `tokenizer.json`.
    pub tokenizer: Vec<u8>,
    /// `config.json`, recording the SHA-256 of the other two.
    pub config: Vec<u8>,
}

impl ModelFiles {
    /// Serialize a model: weights in `dtype`, the vocabulary, and the card with the format tag,
    /// the weights' type and both checksums filled in. The weights' `__metadata__` holds the
    /// card without `weights_sha256` (see [`METADATA_CONFIG`]).
    pub fn new<C: Serialize, S: Serialize>(
        tensors: &HashMap<String, Tensor>,
        vocab: &Vocab,
        mut card: ModelCard<C, S>,
        format: &str,
        dtype: DType,
    ) -> Result<Self> {
        let tokenizer = vocab.to_json()?.into_bytes();
        card.tokenizer_sha256 = Some(sha256_hex(&tokenizer));
        card.weights_dtype = dtype.as_str().to_string();
        card.format = format.to_string();
        let mut header = serde_json::to_value(&card).expect("model card serializes");
        if let Some(fields) = header.as_object_mut() {
            fields.remove("weights_sha256");
        }
        let metadata = HashMap::from([(METADATA_CONFIG.to_string(), header.to_string())]);
        let weights = safetensors_bytes(tensors, dtype, Some(metadata))?;
        card.weights_sha256 = sha256_hex(&weights);
        let config = serde_json::to_string_pretty(&card).expect("model card serializes").into_bytes();
        Ok(ModelFiles { weights, tokenizer, config })
    }

    /// Write the files into `dir` (created if needed), each atomically, `config.json` last.
    ///
    /// Between two of the renames the directory holds new weights with the old config, which a
    /// load refuses with [`Error::ChecksumMismatch`]; training writes the files again from its
    /// checkpoint when resumed.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        write_atomic(&dir.join(WEIGHTS_FILE), &self.weights)?;
        write_atomic(&dir.join(TOKENIZER_FILE), &self.tokenizer)?;
        write_atomic(&dir.join(CONFIG_FILE), &self.config)
    }

    /// Whether `dir` already holds exactly these files.
    pub(crate) fn written_in(&self, dir: &Path) -> bool {
        [(WEIGHTS_FILE, &self.weights), (TOKENIZER_FILE, &self.tokenizer), (CONFIG_FILE, &self.config)]
            .into_iter()
            .all(|(name, bytes)| std::fs::read(dir.join(name)).is_ok_and(|b| b == *bytes))
    }
}

/// Save a classifier directory (weights, then tokenizer, then config last).
pub fn save_classifier(dir: &Path, model: &Classifier, vocab: &Vocab, card: ModelCard, dtype: DType) -> Result<()> {
    save_model_dir(dir, &model.tensors()?, vocab, card, CLASSIFIER_FORMAT, dtype)
}

/// Save a model directory: weights in `dtype`, then the tokenizer, then `config.json` last, with
/// the format tag, the weights' type and the checksums filled in (see [`ModelFiles`]).
pub(crate) fn save_model_dir<C: Serialize, S: Serialize>(
    dir: &Path,
    tensors: &HashMap<String, Tensor>,
    vocab: &Vocab,
    card: ModelCard<C, S>,
    format: &str,
    dtype: DType,
) -> Result<()> {
    ModelFiles::new(tensors, vocab, card, format, dtype)?.write(dir)
}

/// A model directory's parts: its card, its weights by name and its vocabulary.
pub type ModelDir<C, S> = (ModelCard<C, S>, HashMap<String, Tensor>, Vocab);

/// Read a model directory's card, weights and vocabulary, checking the format tag and that the
/// weights match the checksum in `config.json`.
pub(crate) fn read_model_dir<C: DeserializeOwned, S: DeserializeOwned>(
    dir: &Path,
    format: &str,
) -> Result<ModelDir<C, S>> {
    if !dir.is_dir() {
        return Err(Error::NoModel { dir: dir.to_path_buf() });
    }
    let config_bytes = read_file(dir, CONFIG_FILE)?;
    let tag: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| Error::checkpoint(dir, format!("{CONFIG_FILE} is not a salient model config (not JSON: {e})")))?;
    let found = tag.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if found != format {
        return Err(Error::checkpoint(
            dir,
            format!("{CONFIG_FILE} has format `{found}`, expected `{format}` (is this the right kind of model?)"),
        ));
    }
    let card: ModelCard<C, S> = serde_json::from_value(tag)
        .map_err(|e| Error::checkpoint(dir, format!("{CONFIG_FILE} is not a salient model config: {e}")))?;
    let weights = read_file(dir, WEIGHTS_FILE)?;
    verify_sha256(&dir.join(WEIGHTS_FILE), &weights, &card.weights_sha256, &dir.join(CONFIG_FILE))?;
    let tensors = parse_safetensors(dir, WEIGHTS_FILE, &weights)?;
    if let Some(expected) = &card.tokenizer_sha256 {
        let tokenizer = read_file(dir, TOKENIZER_FILE)?;
        verify_sha256(&dir.join(TOKENIZER_FILE), &tokenizer, expected, &dir.join(CONFIG_FILE))?;
    }
    let vocab = Vocab::load(&dir.join(TOKENIZER_FILE))?;
    Ok((card, tensors, vocab))
}

/// Read a file of a checkpoint directory, naming the directory when it is missing.
pub fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::checkpoint(dir, format!("{name} is missing; a model directory holds {WEIGHTS_FILE}, {CONFIG_FILE} and {TOKENIZER_FILE} (made by salient's training)"))
        } else {
            Error::io("cannot read", path, e)
        }
    })
}

/// Parse safetensors bytes, saying which file is corrupt.
pub(crate) fn parse_safetensors(dir: &Path, name: &str, bytes: &[u8]) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| Error::checkpoint(dir, format!("{name} is truncated or corrupt ({e}); retrain or restore it")))
}

/// A loaded classifier with its vocabulary and card.
#[derive(Debug, Clone)]
pub struct LoadedClassifier {
    /// The model.
    pub model: Classifier,
    /// Its vocabulary.
    pub vocab: Vocab,
    /// Its `config.json`.
    pub card: ModelCard,
    /// The directory it came from.
    pub dir: PathBuf,
}

/// Load a classifier directory onto `device`, checking that weights, config and tokenizer agree.
pub fn load_classifier(dir: &Path, device: &Device) -> Result<LoadedClassifier> {
    let (card, tensors, vocab): (ModelCard, _, _) = read_model_dir(dir, CLASSIFIER_FORMAT)?;
    if vocab.len() != card.model.vocab_size {
        return Err(Error::checkpoint(
            dir,
            format!(
                "{TOKENIZER_FILE} has {} entries but {CONFIG_FILE} says vocab_size {}",
                vocab.len(),
                card.model.vocab_size
            ),
        ));
    }
    let model = classifier_from_tensors(dir, tensors, card.model.clone(), device)?;
    Ok(LoadedClassifier { model, vocab, card, dir: dir.to_path_buf() })
}

/// Build a classifier from named tensors, with an error naming any missing, extra or misshaped tensor.
pub(crate) fn classifier_from_tensors(
    dir: &Path,
    tensors: HashMap<String, Tensor>,
    config: ClassifierConfig,
    device: &Device,
) -> Result<Classifier> {
    check_tensors(dir, &tensors, &config)?;
    Classifier::load(VarBuilder::from_tensors(tensors, DType::F32, device), config)
}

/// Check that `tensors` are exactly the parameters `config` describes, naming any missing,
/// extra or misshaped one.
pub(crate) fn check_tensors(dir: &Path, tensors: &HashMap<String, Tensor>, config: &ClassifierConfig) -> Result<()> {
    check_shapes(dir, tensors, &config.parameter_shapes(), &format!("{} model", config.arch))
}

/// Check that `tensors` are exactly the `expected` names and shapes (`what` names the model in
/// messages).
pub(crate) fn check_shapes(
    dir: &Path,
    tensors: &HashMap<String, Tensor>,
    expected: &[(String, Vec<usize>)],
    what: &str,
) -> Result<()> {
    for (name, shape) in expected {
        match tensors.get(name) {
            None => {
                return Err(Error::checkpoint(
                    dir,
                    format!("{WEIGHTS_FILE} lacks tensor `{name}` that the config's {what} needs"),
                ))
            }
            Some(t) if t.dims() != shape.as_slice() => {
                return Err(Error::checkpoint(
                    dir,
                    format!("tensor `{name}` has shape {:?}, the config expects {shape:?}", t.dims()),
                ))
            }
            _ => {}
        }
    }
    if let Some(extra) = tensors.keys().find(|k| !expected.iter().any(|(n, _)| n == *k)) {
        return Err(Error::checkpoint(dir, format!("{WEIGHTS_FILE} has tensor `{extra}` that a {what} does not have")));
    }
    Ok(())
}

/// The format tag of autoencoder directories.
pub const AUTOENCODER_FORMAT: &str = "salient-autoencoder";

/// The `config.json` of an autoencoder directory.
pub type AutoencoderCard = ModelCard<AutoencoderConfig, ReconstructionScores>;

/// A loaded autoencoder with its vocabulary and card.
#[derive(Debug, Clone)]
pub struct LoadedAutoencoder {
    /// The model.
    pub model: Autoencoder,
    /// Its vocabulary.
    pub vocab: Vocab,
    /// Its `config.json`.
    pub card: AutoencoderCard,
    /// The directory it came from.
    pub dir: PathBuf,
}

/// Load an autoencoder directory onto `device` in `dtype` (f32 unless checking gradients in
/// f64), checking that weights, config and tokenizer agree.
pub fn load_autoencoder(dir: &Path, device: &Device, dtype: DType) -> Result<LoadedAutoencoder> {
    let (card, tensors, vocab): (AutoencoderCard, _, _) = read_model_dir(dir, AUTOENCODER_FORMAT)?;
    if vocab.len() != card.model.vocab_size {
        return Err(Error::checkpoint(
            dir,
            format!(
                "{TOKENIZER_FILE} has {} entries but {CONFIG_FILE} says vocab_size {}",
                vocab.len(),
                card.model.vocab_size
            ),
        ));
    }
    for (token, id) in [(BOS_TOKEN, BOS_ID), (EOS_TOKEN, EOS_ID)] {
        if vocab.exact_id(token) != Some(id) {
            return Err(Error::checkpoint(
                dir,
                format!("{TOKENIZER_FILE} lacks {token} at id {id}: not an autoencoder vocabulary"),
            ));
        }
    }
    let tensors = autoencoder_current_names(tensors);
    check_shapes(dir, &tensors, &card.model.parameter_shapes(), "autoencoder")?;
    let model = Autoencoder::load(VarBuilder::from_tensors(tensors, dtype, device), card.model)?;
    Ok(LoadedAutoencoder { model, vocab, card, dir: dir.to_path_buf() })
}

/// An autoencoder's weights under today's names: directories (and training checkpoints) written
/// before the encoder was stored under a one-direction `torch.nn.LSTM`'s names hold a
/// right-to-left encoder as `encoder.<name>_l0_reverse`; each such tensor is renamed to
/// `encoder.<name>_l0` unless that name is taken already (then [`check_shapes`] reports the
/// extra tensor).
pub(crate) fn autoencoder_current_names(mut tensors: HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    let legacy: Vec<String> =
        tensors.keys().filter(|k| k.starts_with("encoder.") && k.ends_with("_l0_reverse")).cloned().collect();
    for old in legacy {
        let new = old.trim_end_matches("_reverse").to_string();
        if !tensors.contains_key(&new) {
            if let Some(t) = tensors.remove(&old) {
                tensors.insert(new, t);
            }
        }
    }
    tensors
}

/// Where a model came from, for provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSource {
    /// The model directory.
    pub dir: String,
    /// SHA-256 of its `model.safetensors`.
    pub weights_sha256: String,
}

impl ModelSource {
    /// The source of a loaded classifier directory.
    pub fn of(loaded: &LoadedClassifier) -> Self {
        ModelSource { dir: loaded.dir.display().to_string(), weights_sha256: loaded.card.weights_sha256.clone() }
    }

    /// The source of a loaded autoencoder directory.
    pub fn of_autoencoder(loaded: &LoadedAutoencoder) -> Self {
        ModelSource { dir: loaded.dir.display().to_string(), weights_sha256: loaded.card.weights_sha256.clone() }
    }

    /// A model that was never saved (tests, benchmarks).
    pub fn in_memory() -> Self {
        ModelSource { dir: "(in memory)".into(), weights_sha256: String::new() }
    }

    /// A short name: the directory's last component.
    pub fn name(&self) -> String {
        std::path::Path::new(&self.dir)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(self.dir.clone())
    }
}
