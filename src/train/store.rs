//! A training run's checkpoint on disk: one checksummed generation, replaced as a whole.
//!
//! `checkpoint/` holds one complete generation of a run:
//!
//! | file | what |
//! |---|---|
//! | `model.safetensors` | the last epoch's weights (f32) |
//! | `optimizer.safetensors` | the optimizer's state |
//! | `state.json` | options, epochs done, the selected epoch, history |
//! | `selected.safetensors`, `selected.json`, `tokenizer.json` | the selected model's three files |
//! | `manifest.json` | the SHA-256 of each file above; written last |
//!
//! A commit writes the generation into `checkpoint.new/` (each file synced, then the directory),
//! then swaps it in with two renames, `checkpoint/` → `checkpoint.old/` and `checkpoint.new/` →
//! `checkpoint/`, and removes `checkpoint.old/`. Only after that is the selected model written to
//! the run directory's top level. A process killed at any moment therefore leaves one of:
//!
//! - the previous `checkpoint/`, perhaps beside a partial `checkpoint.new/` (the next commit
//!   removes it, a fresh run ignores it);
//! - no `checkpoint/` but the previous generation in `checkpoint.old/` (killed between the two
//!   renames): resuming reads it;
//! - the new `checkpoint/`, perhaps beside a stale `checkpoint.old/`;
//!
//! and top-level model files that are the selected model of that generation or of an earlier
//! one, or a mix of the two (killed between their renames, which a load refuses as a checksum
//! mismatch). Resuming verifies every file of the generation against the manifest, renames
//! `checkpoint.old/` back to `checkpoint/` if that is where it was found, removes the other
//! leftovers, and writes the top-level files again from the generation wherever they differ, so
//! a resumed run continues from a consistent state and ends where an uninterrupted one would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, ModelFiles, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use crate::error::{Error, Result};

/// The directory of the current generation.
pub(crate) const CHECKPOINT_DIR: &str = "checkpoint";
const NEW_DIR: &str = "checkpoint.new";
const OLD_DIR: &str = "checkpoint.old";
const STATE_FILE: &str = "state.json";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const SELECTED_WEIGHTS_FILE: &str = "selected.safetensors";
const SELECTED_CONFIG_FILE: &str = "selected.json";
const MANIFEST_FILE: &str = "manifest.json";
const MANIFEST_FORMAT: &str = "salient-checkpoint";
const MANIFEST_VERSION: u32 = 1;

/// `manifest.json`: what the generation's files must hash to.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    sha256: BTreeMap<String, String>,
}

/// One generation's files, as bytes.
#[derive(Debug, Clone)]
pub(crate) struct Generation {
    /// `state.json`.
    pub state: Vec<u8>,
    /// The last epoch's weights (safetensors, f32).
    pub weights: Vec<u8>,
    /// The optimizer's state (safetensors, f32).
    pub optimizer: Vec<u8>,
    /// The selected model's files.
    pub selected: ModelFiles,
}

impl Generation {
    fn files(&self) -> [(&'static str, &[u8]); 6] {
        [
            (STATE_FILE, &self.state),
            (WEIGHTS_FILE, &self.weights),
            (OPTIMIZER_FILE, &self.optimizer),
            (SELECTED_WEIGHTS_FILE, &self.selected.weights),
            (SELECTED_CONFIG_FILE, &self.selected.config),
            (TOKENIZER_FILE, &self.selected.tokenizer),
        ]
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |e| Error::io(action, path, e)
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("cannot remove", dir, e)),
        _ => Ok(()),
    }
}

/// Make `generation` the run's checkpoint in `out_dir`, then write its selected model to the top
/// level (see the module documentation for the order and what a kill leaves).
pub(crate) fn commit(out_dir: &Path, generation: &Generation) -> Result<()> {
    let new = out_dir.join(NEW_DIR);
    let current = out_dir.join(CHECKPOINT_DIR);
    let old = out_dir.join(OLD_DIR);
    remove_dir(&new)?;
    std::fs::create_dir_all(&new).map_err(io_error("cannot create", &new))?;
    let mut manifest = Manifest { format: MANIFEST_FORMAT.into(), version: MANIFEST_VERSION, sha256: BTreeMap::new() };
    for (name, bytes) in generation.files() {
        checkpoint::write_synced(&new.join(name), bytes)?;
        manifest.sha256.insert(name.to_string(), checkpoint::sha256_hex(bytes));
    }
    let json = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    checkpoint::write_synced(&new.join(MANIFEST_FILE), json.as_bytes())?;
    checkpoint::sync_dir(&new)?;
    if current.is_dir() {
        remove_dir(&old)?;
        std::fs::rename(&current, &old).map_err(io_error("cannot rename", &current))?;
    }
    std::fs::rename(&new, &current).map_err(io_error("cannot rename", &new))?;
    checkpoint::sync_dir(out_dir)?;
    remove_dir(&old)?;
    publish(out_dir, &generation.selected)
}

/// Write the selected model's files to the top level of `out_dir` unless they are there already,
/// removing temporaries that a killed earlier write left.
fn publish(out_dir: &Path, selected: &ModelFiles) -> Result<()> {
    checkpoint::remove_stale_temporaries(out_dir, &[WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE])?;
    if !selected.written_in(out_dir) {
        selected.write(out_dir)?;
    }
    Ok(())
}

/// Read the run's checkpoint in `out_dir` (`checkpoint/`, or `checkpoint.old/` when a kill came
/// between the two renames), verifying every file against the manifest. Returns the
/// generation's directory and files.
pub(crate) fn read(out_dir: &Path) -> Result<(PathBuf, Generation)> {
    let dir =
        [CHECKPOINT_DIR, OLD_DIR].iter().map(|name| out_dir.join(name)).find(|d| d.is_dir()).ok_or_else(|| {
            Error::checkpoint(
                out_dir.join(CHECKPOINT_DIR),
                "nothing to resume: there is no checkpoint here (no epoch of a run completed); start a new run",
            )
        })?;
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest_bytes = match std::fs::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::checkpoint(
                &dir,
                format!(
                    "{MANIFEST_FILE} is missing: this checkpoint was written by a salient that did not yet checksum \
                     checkpoints (or by hand), so its files cannot be verified; start the run again in a new directory"
                ),
            ))
        }
        Err(e) => return Err(Error::io("cannot read", manifest_path, e)),
    };
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .ok()
        .filter(|m: &Manifest| m.format == MANIFEST_FORMAT && m.version == MANIFEST_VERSION)
        .ok_or_else(|| {
            Error::checkpoint(
                &dir,
                format!("{MANIFEST_FILE} is corrupt or not a {MANIFEST_FORMAT} manifest of version {MANIFEST_VERSION}"),
            )
        })?;
    let verified = |name: &str| -> Result<Vec<u8>> {
        let expected = manifest
            .sha256
            .get(name)
            .ok_or_else(|| Error::checkpoint(&dir, format!("{MANIFEST_FILE} records no checksum for {name}")))?;
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::checkpoint(&dir, format!("{name} is missing, though {MANIFEST_FILE} lists it"))
            } else {
                Error::io("cannot read", &path, e)
            }
        })?;
        checkpoint::verify_sha256(&path, &bytes, expected, &manifest_path)?;
        Ok(bytes)
    };
    let generation = Generation {
        state: verified(STATE_FILE)?,
        weights: verified(WEIGHTS_FILE)?,
        optimizer: verified(OPTIMIZER_FILE)?,
        selected: ModelFiles {
            weights: verified(SELECTED_WEIGHTS_FILE)?,
            tokenizer: verified(TOKENIZER_FILE)?,
            config: verified(SELECTED_CONFIG_FILE)?,
        },
    };
    Ok((dir, generation))
}

/// Finish what a kill interrupted, given the generation that [`read`] found in `dir`: make it
/// `checkpoint/` again if it was left as `checkpoint.old/`, remove the other leftovers, and
/// bring the top-level model files in line with it. Returns the checkpoint's directory.
pub(crate) fn restore(out_dir: &Path, dir: &Path, generation: &Generation) -> Result<PathBuf> {
    let current = out_dir.join(CHECKPOINT_DIR);
    let old = out_dir.join(OLD_DIR);
    remove_dir(&out_dir.join(NEW_DIR))?;
    if dir == old {
        std::fs::rename(&old, &current).map_err(io_error("cannot rename", &old))?;
        checkpoint::sync_dir(out_dir)?;
    } else {
        remove_dir(&old)?;
    }
    publish(out_dir, &generation.selected)?;
    Ok(current)
}

/// Refuse to start a new run in a directory that already holds one; create it otherwise.
pub(crate) fn ensure_fresh(out_dir: &Path) -> Result<()> {
    for existing in [out_dir.join(CHECKPOINT_DIR), out_dir.join(OLD_DIR), out_dir.join(CONFIG_FILE)] {
        if existing.exists() {
            return Err(Error::RunExists { dir: out_dir.to_path_buf(), found: existing });
        }
    }
    std::fs::create_dir_all(out_dir).map_err(io_error("cannot create", out_dir))
}

/// The path of the verified tokenizer inside a checkpoint directory returned by [`read`].
pub(crate) fn tokenizer_path(dir: &Path) -> PathBuf {
    dir.join(TOKENIZER_FILE)
}
