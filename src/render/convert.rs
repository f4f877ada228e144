//! PNG and PDF from a figure's SVG text, in-process: `resvg` draws the PNG, `svg2pdf` writes
//! the PDF (vector, text as glyph outlines). Both read the SVG through `usvg`, so the two agree
//! with each other.
//!
//! Fonts are found deterministically. salient ships DejaVu Sans (regular and bold, under
//! `data/fonts/`, compiled into the program) and uses it for the default family `sans-serif`
//! and for `DejaVu Sans`, whatever fonts the machine has: the PNG and PDF of a figure are the
//! same everywhere. Any other family (`--font-family "Liberation Serif"`) is looked up among the
//! machine's fonts; a list (`"Helvetica, Arial, sans-serif"`) uses its first installed family,
//! and a list none of whose families can be found is an [`Error::Font`] before anything is drawn.

use std::sync::{Arc, OnceLock};

use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};

use crate::error::{Error, Result};

/// The family salient ships and uses for `sans-serif`.
pub const SHIPPED_FONT: &str = "DejaVu Sans";

const SANS: &[u8] = include_bytes!("../../data/fonts/DejaVuSans.ttf");
const SANS_BOLD: &[u8] = include_bytes!("../../data/fonts/DejaVuSans-Bold.ttf");

/// The shipped fonts alone.
fn shipped() -> Arc<fontdb::Database> {
    static DB: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_data(SANS.to_vec());
        db.load_font_data(SANS_BOLD.to_vec());
        db.set_sans_serif_family(SHIPPED_FONT);
        Arc::new(db)
    })
    .clone()
}

/// The shipped fonts and the machine's (`sans-serif` stays the shipped one).
fn with_system() -> Arc<fontdb::Database> {
    static DB: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_system_fonts();
        db.load_font_data(SANS.to_vec());
        db.load_font_data(SANS_BOLD.to_vec());
        db.set_sans_serif_family(SHIPPED_FONT);
        Arc::new(db)
    })
    .clone()
}

/// The families of a CSS `font-family` list, unquoted.
fn families(list: &str) -> Vec<String> {
    list.split(',').map(|f| f.trim().trim_matches(|c| c == '"' || c == '\'').trim().to_string()).collect()
}

fn generic(name: &str) -> Option<fontdb::Family<'_>> {
    Some(match name.to_ascii_lowercase().as_str() {
        "sans-serif" => fontdb::Family::SansSerif,
        "serif" => fontdb::Family::Serif,
        "monospace" => fontdb::Family::Monospace,
        "cursive" => fontdb::Family::Cursive,
        "fantasy" => fontdb::Family::Fantasy,
        _ => return None,
    })
}

/// Turns figure SVGs into PNG and PDF with one set of fonts.
#[derive(Debug, Clone)]
pub struct Converter {
    fonts: Arc<fontdb::Database>,
    png_scale: f32,
}

impl Converter {
    /// A converter for figures whose text is in `font_family` (a CSS list), drawing PNGs at
    /// `png_scale` pixels per SVG pixel. The family is checked here: an [`Error::Font`] when
    /// none of the list can be found.
    pub fn new(font_family: &str, png_scale: f32) -> Result<Self> {
        if !(png_scale.is_finite() && png_scale > 0.0 && png_scale <= 16.0) {
            return Err(Error::invalid("png-scale", format!("must be a number in (0, 16], got {png_scale}")));
        }
        let names = families(font_family);
        let shipped_first = names.first().is_some_and(|f| f == SHIPPED_FONT || f.eq_ignore_ascii_case("sans-serif"));
        let fonts = if shipped_first { shipped() } else { with_system() };
        let found = names.iter().any(|name| {
            let family = generic(name).unwrap_or(fontdb::Family::Name(name));
            fonts.query(&fontdb::Query { families: &[family], ..Default::default() }).is_some()
        });
        if !found {
            return Err(Error::Font {
                family: font_family.to_string(),
                message: format!(
                    "no font of this family is installed; PNG and PDF need one (salient ships {SHIPPED_FONT}, \
                     used for `sans-serif`)"
                ),
            });
        }
        Ok(Converter { fonts, png_scale })
    }

    fn tree(&self, svg: &str) -> Result<usvg::Tree> {
        let options = usvg::Options {
            fontdb: self.fonts.clone(),
            font_family: SHIPPED_FONT.to_string(),
            ..usvg::Options::default()
        };
        usvg::Tree::from_str(svg, &options).map_err(|e| Error::Encode { format: "SVG", message: e.to_string() })
    }

    /// The figure as a PNG: white where the SVG paints nothing, `png_scale` pixels per SVG pixel.
    pub fn png(&self, svg: &str) -> Result<Vec<u8>> {
        let tree = self.tree(svg)?;
        let size = tree.size().to_int_size().scale_by(self.png_scale).ok_or_else(|| Error::Encode {
            format: "PNG",
            message: format!("a figure of {} x {} pixels cannot be drawn", tree.size().width(), tree.size().height()),
        })?;
        let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| Error::Encode {
            format: "PNG",
            message: format!("no room for {} x {} pixels", size.width(), size.height()),
        })?;
        pixmap.fill(tiny_skia::Color::WHITE);
        let transform = tiny_skia::Transform::from_scale(
            size.width() as f32 / tree.size().width(),
            size.height() as f32 / tree.size().height(),
        );
        resvg::render(&tree, transform, &mut pixmap.as_mut());
        pixmap.encode_png().map_err(|e| Error::Encode { format: "PNG", message: e.to_string() })
    }

    /// The figure as a one-page PDF, one SVG pixel a CSS pixel (1/96 inch), its text as
    /// outlines (the glyphs of the PNG, no font needed to show it, and the same bytes every
    /// time: svg2pdf writes embedded fonts in a random order).
    pub fn pdf(&self, svg: &str) -> Result<Vec<u8>> {
        let tree = self.tree(svg)?;
        let page = svg2pdf::PageOptions { dpi: 96.0 };
        let options = svg2pdf::ConversionOptions { embed_text: false, ..svg2pdf::ConversionOptions::default() };
        svg2pdf::to_pdf(&tree, options, page).map_err(|e| Error::Encode { format: "PDF", message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_lists_resolve_or_fail_clearly() {
        assert!(Converter::new("sans-serif", 1.0).is_ok());
        assert!(Converter::new("DejaVu Sans", 1.0).is_ok());
        assert!(Converter::new("'No Such Font 7', sans-serif", 1.0).is_ok(), "the generic family catches it");
        let err = Converter::new("No Such Font 7", 1.0).unwrap_err();
        assert!(matches!(&err, Error::Font { family, .. } if family == "No Such Font 7"), "{err}");
        assert!(Converter::new("sans-serif", 0.0).is_err());
        assert_eq!(families(" \"A B\", 'C' ,sans-serif"), ["A B", "C", "sans-serif"]);
    }
}
