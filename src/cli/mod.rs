//! Subcommands, one file each.

mod autoencoder;
mod autoencoder_saliency;
mod eval;
mod export;
mod faithfulness;
mod heatmap;
mod options;
mod saliency;
mod train;
mod tsne;

use anyhow::{bail, Result};
use candle_core::Device;
use clap::{Parser, Subcommand, ValueEnum};

/// salient: train sentiment models on the Stanford Sentiment Treebank and see inside them.
#[derive(Debug, Parser)]
#[command(name = "salient", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train an RNN, LSTM or BiLSTM classifier on SST (resumable; selects on dev).
    Train(train::Args),
    /// Score a trained model on an SST split (sentence and phrase accuracy).
    Eval(eval::Args),
    /// Explain predictions: saliency heatmaps (gradient, IG, SmoothGrad, erasure, ...) per sentence.
    Saliency(saliency::Args),
    /// Draw a model's insides: representations of phrases, per-step states, LSTM gates.
    Heatmap(heatmap::Args),
    /// Score attribution methods by comprehensiveness and sufficiency on an SST split.
    Faithfulness(faithfulness::Args),
    /// The LSTM sequence-to-sequence autoencoder: train, eval, reconstruct, saliency.
    Autoencoder(autoencoder::Args),
    /// Project phrase representations to 2-d with t-SNE or PCA (the paper's Figure 2).
    Tsne(tsne::Args),
    /// Make many figures from one TOML spec (t-SNE, saliency, heatmaps), with a manifest.
    Export(export::Args),
}

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DeviceArg {
    /// The CPU (default).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

impl DeviceArg {
    /// Open the device.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceArg::Cpu => Ok(Device::Cpu),
            DeviceArg::Cuda => {
                if !cfg!(feature = "cuda") {
                    bail!("--device cuda needs a build with the GPU feature: cargo build --release --features cuda");
                }
                Ok(Device::new_cuda(0)?)
            }
        }
    }
}

/// Parse the command line and run it.
pub fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Saliency(args) => saliency::run(args),
        Command::Heatmap(args) => heatmap::run(args),
        Command::Faithfulness(args) => faithfulness::run(args),
        Command::Autoencoder(args) => autoencoder::run(args),
        Command::Tsne(args) => tsne::run(args),
        Command::Export(args) => export::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
