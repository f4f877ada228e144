//! `--title`, `--caption`, `--no-title`, `--width`, `--font-size`, `--font-family`,
//! `--png-scale`: how every figure looks, one argument group that every figure kind flattens
//! (so the command line and specs both have them, with the same defaults).

use serde::{Deserialize, Serialize};

use super::clap_defaults;
use crate::error::Result;
use crate::render::Style;

/// Titles, size and fonts of a figure's drawings.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct StyleArgs {
    /// The first line of each drawing [default: a descriptive one (model, method, score)].
    #[arg(long, conflicts_with = "no_title")]
    pub title: Option<String>,
    /// Text under each drawing, wrapped to its width.
    #[arg(long)]
    pub caption: Option<String>,
    /// Draw no title and no subtitle lines (for figures whose caption is in the paper).
    #[arg(long)]
    pub no_title: bool,
    /// Width of each drawing in pixels (1/96 inch): the matrix or plot is sized to fill it, and
    /// text wider than it scales the whole drawing down [default: as wide as its content].
    #[arg(long, value_name = "PX")]
    pub width: Option<u32>,
    /// Size of labels in pixels; titles are 1.25 times as large.
    #[arg(long, value_name = "PX", default_value_t = 12.0)]
    pub font_size: f64,
    /// Font family of all text, a CSS list. PNG and PDF draw `sans-serif` with the DejaVu Sans
    /// that salient ships (the same on every machine); any other family must be installed.
    #[arg(long, value_name = "FAMILY", default_value = "sans-serif")]
    pub font_family: String,
    /// PNG pixels per drawing pixel (`--format png`).
    #[arg(long, value_name = "FACTOR", default_value_t = 2.0)]
    pub png_scale: f32,
}

impl Default for StyleArgs {
    fn default() -> Self {
        clap_defaults()
    }
}

impl StyleArgs {
    /// The renderer's style, checked.
    pub fn style(&self) -> Result<Style> {
        let style = Style {
            title: self.title.clone(),
            caption: self.caption.clone(),
            no_title: self.no_title,
            width: self.width,
            font_size: self.font_size,
            font_family: self.font_family.clone(),
        };
        style.check()?;
        Ok(style)
    }
}
