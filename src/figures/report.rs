//! The interactive report: one self-contained HTML page (inline SVG, CSS and JavaScript; no
//! network, no server) for an output directory or a whole export spec.
//!
//! The page is built from [`Section`]s, one per figure: the kind's plain results as JSON (the
//! same data as its JSON document) and its SVG figures. The script (`report.js`) draws the
//! interactive views from the data:
//!
//! - classifier saliency: each sentence as text with its tokens shaded by their score, one row
//!   per model that explained it (models side by side), the predicted class and probabilities;
//!   hovering a token shows its value and its row of per-dimension values; a switch between the
//!   methods and scores that were computed;
//! - t-SNE and PCA: the scatter with hover labels, zoom, search for a phrase, colour by gold or
//!   predicted class;
//! - autoencoder saliency: the output x input matrix, with each output step's tokens x
//!   dimensions map on hover;
//! - every kind: its SVG figures, inline.
//!
//! Every token and label reaches the page as text, never as markup: the data sits in a
//! `<script type="application/json">` block with `<`, `>` and `&` escaped as JSON `\u` escapes,
//! and the script only ever sets `textContent` and attributes, so hostile input such as
//! `<img src=x onerror=...>` stays inert.

use serde::{Deserialize, Serialize};

use crate::data::Failure;
use crate::error::{Error, Result};
use crate::export::escape_html;

/// The page's stylesheet.
const STYLE: &str = include_str!("report.css");
/// The page's script.
const SCRIPT: &str = include_str!("report.js");

/// One figure of the page: its results and its drawings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The figure's name (its directory in an export), or empty for a lone figure.
    pub name: String,
    /// The figure kind (`saliency`, `tsne`, ...), which says what `data` holds.
    pub kind: String,
    /// The figure's title.
    pub title: String,
    /// The kind's results: a list of attributions (`saliency`), a projection (`tsne`), a list
    /// of reconstruction saliencies (`autoencoder-saliency`), or anything else (drawn as
    /// figures only).
    pub data: serde_json::Value,
    /// The SVG figures, each a complete document from salient's renderer (its text escaped).
    #[serde(skip)]
    pub figures: Vec<String>,
    /// Inputs that could not be used.
    pub failures: Vec<Failure>,
}

/// A kind's results as the JSON data of a [`Section`].
pub(crate) fn data<T: Serialize + ?Sized>(results: &T) -> Result<serde_json::Value> {
    serde_json::to_value(results).map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })
}

/// The page for `sections` under `title`.
pub fn page(title: &str, sections: &[Section]) -> Result<String> {
    let data = serde_json::json!({ "title": title, "sections": sections });
    let json = serde_json::to_string(&data).map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })?;
    let mut html = String::with_capacity(json.len() + sections.iter().map(|s| s.figures.len() * 20_000).sum::<usize>());
    html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    html += &format!("<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n", escape_html(title));
    html += &format!("<header><h1>{}</h1></header>\n<main id=\"report\">\n", escape_html(title));
    for (k, section) in sections.iter().enumerate() {
        html += &format!(
            "<section class=\"figure kind-{}\" id=\"section-{k}\" data-section=\"{k}\">\n<h2>{}</h2>\n",
            escape_html(&section.kind),
            escape_html(&section.title)
        );
        if !section.failures.is_empty() {
            html += "<ul class=\"failures\">\n";
            for f in &section.failures {
                html += &format!("<li>{}: {}</li>\n", escape_html(&f.at), escape_html(&f.message));
            }
            html += "</ul>\n";
        }
        html += "<div class=\"view\"></div>\n";
        if !section.figures.is_empty() {
            let open = if interactive(&section.kind) { "" } else { " open" };
            html += &format!(
                "<details class=\"static\"{open}>\n<summary>{} figure(s) as drawn in the SVG files</summary>\n",
                section.figures.len()
            );
            for svg in &section.figures {
                html += strip_xml_declaration(svg).trim();
                html += "\n";
            }
            html += "</details>\n";
        }
        html += "</section>\n";
    }
    html += "</main>\n<div id=\"tooltip\" role=\"tooltip\" hidden></div>\n";
    html += &format!("<script type=\"application/json\" id=\"salient-data\">{}</script>\n", script_safe(&json));
    html += &format!("<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    Ok(html)
}

/// Whether the script draws an interactive view of `kind` (its SVGs are then folded away).
fn interactive(kind: &str) -> bool {
    matches!(kind, "saliency" | "tsne" | "autoencoder-saliency")
}

/// JSON that cannot end its `<script>` element or open markup: `<`, `>`, `&` and the two line
/// separators JavaScript once treated as line ends become `\u` escapes (still the same JSON).
fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, body)| body),
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Section {
        Section {
            name: "fig</script>".into(),
            kind: "saliency".into(),
            title: format!("title {text}"),
            data: serde_json::json!([{ "text": text, "words": [text] }]),
            figures: vec!["<?xml version=\"1.0\"?>\n<svg width=\"1\"></svg>".into()],
            failures: vec![Failure { at: "line 2".into(), message: format!("bad {text}") }],
        }
    }

    #[test]
    fn hostile_text_is_never_markup() {
        let hostile = "<img src=x onerror=alert(1)></script><script>alert(2)</script>\u{2028}&amp;";
        let html = page(&format!("run {hostile}"), &[section(hostile)]).unwrap();
        assert!(!html.contains("<img"), "{html}");
        assert_eq!(html.matches("<script").count(), 2, "only the data block and the script");
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(!html.contains('\u{2028}'));
        // The data block is still the same JSON.
        let start = html.find("id=\"salient-data\">").unwrap() + "id=\"salient-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(data["sections"][0]["data"][0]["text"], hostile);
        assert_eq!(data["title"], format!("run {hostile}"));
    }

    #[test]
    fn figures_are_inline_and_failures_listed() {
        let html = page("t", &[section("ok")]).unwrap();
        assert!(html.contains("<svg width=\"1\"></svg>") && !html.contains("<?xml"));
        assert!(html.contains("<li>line 2: bad ok</li>"));
        assert!(html.contains("<section class=\"figure kind-saliency\" id=\"section-0\""));
    }
}
