//! Figures as SVG, drawn with plotters from plain data: a [`Heatmap`] is a matrix with row and
//! column labels, a title, and the kind of its [`Values`]; a [`Scatter`] is labelled points in
//! classes (see [`scatter_svg`] for the label placement). Nothing here knows about models.
//!
//! ```
//! use salient::render::{heatmap_svg, Heatmap, RenderOptions, Values};
//!
//! let map = Heatmap {
//!     title: "toy".into(),
//!     row_labels: vec!["I".into(), "<hate>".into()],
//!     column_labels: vec!["0".into(), "1".into()],
//!     values: vec![0.1, -0.2, 0.3, 0.4],
//!     columns: 2,
//!     kind: Values::Signed,
//!     ..Heatmap::default()
//! };
//! let svg = heatmap_svg(&map, &RenderOptions::default()).unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("&lt;hate&gt;"));
//! ```
//!
//! Layout: row labels right-aligned and centred on their rows, column labels centred under
//! their cells (thinned so they never overlap), optional notes right of each row (per-token
//! scores), and a colour bar with its scale. Magnitudes use viridis from 0; signed values a
//! blue-white-red map symmetric about 0; [`Values::Unit`] (gate activations) a fixed 0-1 viridis
//! scale. A fixed or shared scale comes in through [`RenderOptions::range`]; see
//! [`shared_range`]. Text is escaped (plotters escapes `<`, `>`, `&`, quotes) and control
//! characters, which XML cannot hold, are replaced.

mod colour;
mod convert;
mod heatmap;
mod scatter;

pub use colour::ColourMap;
pub use convert::{Converter, SHIPPED_FONT};
pub use heatmap::{fitting_column_width, heatmap_svg};
pub use scatter::{class_colour, place_labels, scatter_svg, LabelRequest, Labels, Placement, Scatter, ScatterPoint};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the numbers of a figure are, which decides the colour map and the automatic scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Values {
    /// Non-negative sizes (|gradient|, variance): sequential map, scale `[0, max]`.
    #[default]
    Magnitude,
    /// Values of either sign (gradient x input, integrated gradients, hidden states): diverging
    /// map, scale `[-m, m]` with `m` the largest absolute value.
    Signed,
    /// Values in `[0, 1]` (gate activations): sequential map, scale `[0, 1]`.
    Unit,
}

/// A matrix to draw: `values` is row-major, `row_labels.len()` rows by `columns` columns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Heatmap {
    /// First line at the top (model, method, score, class).
    pub title: String,
    /// Further lines under the title (the sentence, a completeness error, ...).
    pub subtitle: Vec<String>,
    /// One label per row (tokens, phrases), drawn left of the row and centred on it.
    pub row_labels: Vec<String>,
    /// Rows whose label is drawn in grey (e.g. words the vocabulary does not know).
    pub muted_rows: Vec<bool>,
    /// Text right of each row (e.g. the per-token score); empty for none.
    pub row_notes: Vec<String>,
    /// Heading over the row notes.
    pub notes_title: String,
    /// One label per column; drawn under the cells, thinned when they would overlap.
    pub column_labels: Vec<String>,
    /// Caption under the column labels ("embedding dimension").
    pub x_label: String,
    /// Caption of the colour bar ("|∂S_c/∂e|").
    pub value_label: String,
    /// The numbers, row-major.
    pub values: Vec<f32>,
    /// Number of columns.
    pub columns: usize,
    /// What the numbers are.
    pub kind: Values,
    /// Named runs of columns, in order (a BiLSTM's forward and backward halves): a line
    /// between them and their names over the matrix. Empty for none.
    pub column_groups: Vec<ColumnGroup>,
}

/// A named run of consecutive columns of a [`Heatmap`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColumnGroup {
    /// Drawn centred over the group ("forward →").
    pub name: String,
    /// How many columns it spans.
    pub columns: usize,
}

impl Heatmap {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.row_labels.len()
    }

    /// The scale this figure gets on its own: `[0, max]`, `[-m, m]` or `[0, 1]` by [`Values`],
    /// ignoring NaN; a degenerate scale is widened to width 1.
    pub(crate) fn auto_range(&self) -> (f32, f32) {
        auto_range(self.kind, self.values.iter().copied())
    }

    fn check(&self) -> Result<()> {
        let what = || format!("heatmap `{}`", self.title);
        if self.columns == 0 || self.values.len() != self.rows() * self.columns {
            return Err(Error::Render {
                what: what(),
                message: format!(
                    "{} values do not fill {} rows x {} columns",
                    self.values.len(),
                    self.rows(),
                    self.columns
                ),
            });
        }
        let grouped: usize = self.column_groups.iter().map(|g| g.columns).sum();
        if !self.column_groups.is_empty() && grouped != self.columns {
            return Err(Error::Render {
                what: what(),
                message: format!("column groups span {grouped} columns of {}", self.columns),
            });
        }
        Ok(())
    }
}

fn auto_range(kind: Values, values: impl Iterator<Item = f32>) -> (f32, f32) {
    let finite = values.filter(|v| v.is_finite());
    match kind {
        Values::Unit => (0.0, 1.0),
        Values::Magnitude => {
            let (lo, hi) = finite.fold((0f32, 0f32), |(lo, hi), v| (lo.min(v), hi.max(v)));
            if hi > lo {
                (lo, hi)
            } else {
                (lo, lo + 1.0)
            }
        }
        Values::Signed => {
            let m = finite.fold(0f32, |m, v| m.max(v.abs()));
            if m > 0.0 {
                (-m, m)
            } else {
                (-1.0, 1.0)
            }
        }
    }
}

/// One scale for several figures, so that their colours compare: the automatic scale of all
/// their values together (by the first figure's [`Values`]).
pub fn shared_range<'a>(maps: impl IntoIterator<Item = &'a Heatmap>) -> Option<(f32, f32)> {
    let maps: Vec<&Heatmap> = maps.into_iter().collect();
    let kind = maps.first()?.kind;
    Some(auto_range(kind, maps.iter().flat_map(|m| m.values.iter().copied())))
}

/// How to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// A fixed colour scale `(vmin, vmax)`; `None` for each figure's own (see
    /// [`Heatmap::auto_range`]).
    pub range: Option<(f32, f32)>,
    /// Height of a row in pixels.
    pub row_height: u32,
    /// Width of a column in pixels; `None` picks one (about 600 pixels for the whole matrix,
    /// or what fills [`Style::width`]).
    pub column_width: Option<u32>,
    /// Titles, size and fonts.
    pub style: Style,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { range: None, row_height: 18, column_width: None, style: Style::default() }
    }
}

/// What a person chooses about every figure: its title and caption, its width and its fonts.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    /// Replaces the figure's own (descriptive) first line.
    pub title: Option<String>,
    /// Text under the figure, wrapped to its width.
    pub caption: Option<String>,
    /// Draw no title and no subtitle lines (for a figure whose caption is in the paper).
    pub no_title: bool,
    /// The figure's width in pixels: the matrix or the plot is sized to fill it, and a figure
    /// whose text alone is wider is scaled down to it. `None`: as wide as its content.
    pub width: Option<u32>,
    /// Size of labels in pixels; the title is 1.25 times as large, small text 11/12.
    pub font_size: f64,
    /// The CSS font family of every text.
    pub font_family: String,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            title: None,
            caption: None,
            no_title: false,
            width: None,
            font_size: 12.0,
            font_family: "sans-serif".into(),
        }
    }
}

impl Style {
    /// The first line: the one given, the figure's own, or none.
    pub(crate) fn title<'a>(&'a self, own: &'a str) -> &'a str {
        if self.no_title {
            ""
        } else {
            self.title.as_deref().unwrap_or(own)
        }
    }

    /// The lines under the title (none with `no_title`).
    pub(crate) fn subtitle<'a>(&self, own: &'a [String]) -> &'a [String] {
        if self.no_title {
            &[]
        } else {
            own
        }
    }

    /// Check the sizes and the family (which goes into an SVG attribute).
    pub fn check(&self) -> Result<()> {
        if !(self.font_size.is_finite() && (4.0..=72.0).contains(&self.font_size)) {
            return Err(Error::invalid(
                "font-size",
                format!("must be between 4 and 72 pixels, got {}", self.font_size),
            ));
        }
        if let Some(w) = self.width {
            if !(100..=20_000).contains(&w) {
                return Err(Error::invalid("width", format!("must be between 100 and 20000 pixels, got {w}")));
            }
        }
        let family_ok = !self.font_family.trim().is_empty()
            && self.font_family.chars().all(|c| c.is_alphanumeric() || " -_,'.".contains(c));
        if !family_ok {
            return Err(Error::invalid(
                "font-family",
                format!(
                    "must be font names separated by commas (letters, digits, spaces, `-`, `_`, `.`, single \
                     quotes), got `{}`",
                    self.font_family
                ),
            ));
        }
        Ok(())
    }
}

/// A colour scale from the user's `--vmin` / `--vmax`, either of which may be missing: the other
/// end comes from `auto` (or, for signed values with only one end given, mirrors it).
pub(crate) fn user_range(kind: Values, vmin: Option<f32>, vmax: Option<f32>, auto: (f32, f32)) -> Result<(f32, f32)> {
    for (name, v) in [("vmin", vmin), ("vmax", vmax)] {
        if let Some(v) = v {
            if !v.is_finite() {
                return Err(Error::invalid(name, format!("must be a finite number, got {v}")));
            }
        }
    }
    let (lo, hi) = match (kind, vmin, vmax) {
        (_, Some(lo), Some(hi)) => (lo, hi),
        (Values::Signed, None, Some(hi)) => (-hi, hi),
        (Values::Signed, Some(lo), None) => (lo, -lo),
        (_, lo, hi) => (lo.unwrap_or(auto.0), hi.unwrap_or(auto.1)),
    };
    if lo < hi {
        Ok((lo, hi))
    } else {
        Err(Error::invalid("vmin/vmax", format!("the scale needs vmin < vmax, got vmin {lo} and vmax {hi}")))
    }
}

/// How the colour scales of a set of figures are chosen (the CLI's `--vmin`, `--vmax`,
/// `--shared-scale`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScaleOptions {
    /// Fixed lower end.
    pub vmin: Option<f32>,
    /// Fixed upper end.
    pub vmax: Option<f32>,
    /// One scale for all figures (the missing ends from all their values together).
    pub shared: bool,
}

impl ScaleOptions {
    /// Check the fixed ends alone (before any work is done).
    pub fn check(&self) -> Result<()> {
        user_range(Values::Magnitude, self.vmin, self.vmax, (f32::MIN, f32::MAX)).map(|_| ())
    }

    /// The scale of each of `maps`.
    pub fn ranges(&self, maps: &[&Heatmap]) -> Result<Vec<(f32, f32)>> {
        let shared = if self.shared { shared_range(maps.iter().copied()) } else { None };
        maps.iter()
            .map(|m| user_range(m.kind, self.vmin, self.vmax, shared.unwrap_or_else(|| m.auto_range())))
            .collect()
    }
}

/// A number for a label: three significant digits, scientific notation when very small or large.
pub fn format_number(v: f32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if !(1e-3..1e4).contains(&a) {
        let s = format!("{v:.2e}");
        // 1.50e-4 -> 1.5e-4
        match s.split_once('e') {
            Some((m, e)) => {
                let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
                format!("{m}e{e}")
            }
            None => s,
        }
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Numbers that stand in one column (tick labels, per-token scores) in one format: as many
/// decimals as give the largest three significant digits, or scientific notation with two
/// decimals for all when the largest is below 0.001 or from 10000 on. Zero never has a sign.
pub(crate) fn format_column(values: &[f32]) -> Vec<String> {
    let largest = values.iter().filter(|v| v.is_finite()).fold(0f32, |m, v| m.max(v.abs()));
    let scientific = largest > 0.0 && !(1e-3..1e4).contains(&largest);
    let decimals = if largest > 0.0 { (2 - largest.log10().floor() as i32).max(0) as usize } else { 0 };
    values.iter().map(|&v| fixed(v, decimals, scientific)).collect()
}

fn fixed(v: f32, decimals: usize, scientific: bool) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let s = if scientific { format!("{v:.2e}") } else { format!("{v:.decimals$}") };
    // -0.00 is 0.00.
    if s.starts_with('-') && s.chars().all(|c| !c.is_ascii_digit() || c == '0' || c == 'e') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Colour-bar ticks for the scale `[lo, hi]`: multiples of a round step (1, 2, 2.5 or 5 times a
/// power of ten, the smallest giving at most five intervals), each with its label, all in one
/// format with as many decimals as the step needs.
pub(crate) fn round_ticks(lo: f32, hi: f32) -> Vec<(f32, String)> {
    let (lo, hi) = (lo as f64, hi as f64);
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![(lo as f32, format_number(lo as f32))];
    }
    let magnitude = 10f64.powf((span / 4.0).log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| span / s <= 5.0 + 1e-9)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let values: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
    let largest = values.iter().fold(0f64, |m, v| m.max(v.abs()));
    let scientific = largest >= 1e4 || (largest > 0.0 && largest < 1e-3);
    // Decimals the step needs: 2.5 x 10^-1 needs two.
    let decimals = (0..=12)
        .find(|&d| ((step * 10f64.powi(d)).round() - step * 10f64.powi(d)).abs() < 1e-6 * step * 10f64.powi(d))
        .unwrap_or(12) as usize;
    values
        .into_iter()
        .map(|v| {
            let text = if scientific {
                fixed(v as f32, 0, true)
            } else {
                fixed(if v.abs() < step * 1e-9 { 0.0 } else { v as f32 }, decimals, false)
            };
            (v as f32, text)
        })
        .collect()
}

/// Text made safe for an SVG text node: control characters (which XML 1.0 cannot hold) become
/// U+FFFD, and text longer than `max_chars` is cut with an ellipsis. Escaping of `<`, `&` and
/// quotes is left to the SVG backend.
pub(crate) fn clean_label(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' { '\u{FFFD}' } else { c })
        .collect();
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars.saturating_sub(1)).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(0.12345), "0.123");
        assert_eq!(format_number(-12.345), "-12.3");
        assert_eq!(format_number(0.00015), "1.5e-4");
        assert_eq!(format_number(123456.0), "1.23e5");
    }

    #[test]
    fn columns_share_one_format() {
        assert_eq!(format_column(&[0.5, 0.0123, -0.25]), ["0.500", "0.012", "-0.250"]);
        assert_eq!(format_column(&[12.345, 1.0, -0.0001]), ["12.3", "1.0", "0.0"], "no -0.0");
        assert_eq!(format_column(&[0.0002, 0.00001]), ["2.00e-4", "1.00e-5"]);
        assert_eq!(format_column(&[0.0, 0.0]), ["0", "0"]);
        assert_eq!(format_column(&[f32::NAN, 2.0]), ["NaN", "2.00"]);
    }

    #[test]
    fn ticks_are_round() {
        let labels = |lo, hi| round_ticks(lo, hi).into_iter().map(|(_, t)| t).collect::<Vec<_>>();
        assert_eq!(labels(0.0, 13.0), ["0", "5", "10"]);
        assert_eq!(labels(-10.0, 10.0), ["-10", "-5", "0", "5", "10"]);
        assert_eq!(labels(0.0, 1.0), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(labels(0.0, 2.5), ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"]);
        assert_eq!(labels(0.0, 1.1), ["0.00", "0.25", "0.50", "0.75", "1.00"]);
        assert_eq!(labels(0.0, 0.8374), ["0.0", "0.2", "0.4", "0.6", "0.8"]);
        assert_eq!(labels(-0.0613, 0.0613), ["-0.050", "-0.025", "0.000", "0.025", "0.050"]);
        assert_eq!(labels(0.0, 3.0e-4), ["0.00e0", "1.00e-4", "2.00e-4", "3.00e-4"]);
        for (lo, hi) in [(0.0, 13.0), (-0.0613, 0.0613), (0.0, 1.0), (-3.7, 123.0), (0.0, 0.8374)] {
            let ticks = round_ticks(lo, hi);
            assert!((3..=6).contains(&ticks.len()), "{lo}..{hi}: {ticks:?}");
            for (v, _) in &ticks {
                assert!(*v >= lo - 1e-6 && *v <= hi + 1e-6, "{v} outside {lo}..{hi}");
            }
        }
    }

    #[test]
    fn ranges() {
        let auto = (0.0, 2.0);
        assert_eq!(user_range(Values::Magnitude, None, None, auto).unwrap(), auto);
        assert_eq!(user_range(Values::Magnitude, None, Some(5.0), auto).unwrap(), (0.0, 5.0));
        assert_eq!(user_range(Values::Signed, None, Some(3.0), (-1.0, 1.0)).unwrap(), (-3.0, 3.0));
        assert!(user_range(Values::Magnitude, Some(2.0), Some(1.0), auto).unwrap_err().to_string().contains("vmin"));
        assert!(user_range(Values::Magnitude, Some(f32::NAN), None, auto).is_err());
        assert_eq!(auto_range(Values::Signed, [0.5, -2.0, f32::NAN].into_iter()), (-2.0, 2.0));
        assert_eq!(auto_range(Values::Magnitude, [0.0, 0.0].into_iter()), (0.0, 1.0));
        let a = Heatmap { values: vec![1.0], columns: 1, row_labels: vec!["a".into()], ..Default::default() };
        let b = Heatmap { values: vec![3.0], ..a.clone() };
        assert_eq!(shared_range([&a, &b]), Some((0.0, 3.0)));
    }

    #[test]
    fn shared_and_fixed_scales() {
        let a = Heatmap { values: vec![1.0], columns: 1, row_labels: vec!["a".into()], ..Default::default() };
        let b = Heatmap { values: vec![3.0], ..a.clone() };
        let maps = [&a, &b];
        assert_eq!(ScaleOptions::default().ranges(&maps).unwrap(), [(0.0, 1.0), (0.0, 3.0)]);
        let shared = ScaleOptions { shared: true, ..Default::default() };
        assert_eq!(shared.ranges(&maps).unwrap(), [(0.0, 3.0), (0.0, 3.0)]);
        let fixed = ScaleOptions { vmax: Some(2.0), shared: true, ..Default::default() };
        assert_eq!(fixed.ranges(&maps).unwrap(), [(0.0, 2.0), (0.0, 2.0)]);
    }

    #[test]
    fn labels_lose_control_characters_and_length() {
        assert_eq!(clean_label("a\u{1b}b\u{0}", 10), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(clean_label("abcdefgh", 5), "abcd…");
        assert_eq!(clean_label("<&>", 5), "<&>", "escaping is the backend's job");
    }
}
