//! Argument groups shared by several subcommands.

use salient::explain::{Baseline, MethodParams};
use salient::export::Format;
use salient::render::ScaleOptions;

/// Options of the attribution methods that take any (integrated gradients, SmoothGrad).
#[derive(Debug, clap::Args)]
pub struct MethodArgs {
    /// Integrated gradients: interpolation steps.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Integrated gradients: the baseline.
    #[arg(long, value_enum, default_value_t = Baseline::Zero)]
    pub baseline: Baseline,
    /// SmoothGrad: noisy samples per sentence.
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    /// SmoothGrad: noise level, a fraction of the sentence's embedding range.
    #[arg(long, default_value_t = 0.15)]
    pub noise: f32,
    /// Seed of random numbers (SmoothGrad's noise, faithfulness's random baseline).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl MethodArgs {
    /// The library's method parameters.
    pub fn params(&self) -> MethodParams {
        MethodParams {
            steps: self.steps,
            baseline: self.baseline,
            samples: self.samples,
            noise: self.noise,
            seed: self.seed,
        }
    }
}

/// Which files to write and how to scale the figures' colours.
#[derive(Debug, clap::Args)]
pub struct FigureArgs {
    /// What to write, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "svg,csv,json")]
    pub format: Vec<Format>,
    /// Lower end of the colour scale (default: 0 for magnitudes, -vmax for signed values).
    #[arg(long, allow_hyphen_values = true)]
    pub vmin: Option<f32>,
    /// Upper end of the colour scale (default: the largest value).
    #[arg(long, allow_hyphen_values = true)]
    pub vmax: Option<f32>,
    /// One colour scale for all figures of the run, so that they compare.
    #[arg(long)]
    pub shared_scale: bool,
}

impl FigureArgs {
    /// Whether files of this format were asked for.
    pub fn wants(&self, format: Format) -> bool {
        self.format.contains(&format)
    }

    /// The colour-scale options.
    pub fn scale(&self) -> ScaleOptions {
        ScaleOptions { vmin: self.vmin, vmax: self.vmax, shared: self.shared_scale }
    }
}
