//! `index.html`: every figure of an output directory on one self-contained page (the SVG inline,
//! no other file needed), with the inputs that failed.

use serde::{Deserialize, Serialize};

/// One entry of the page: a caption and its figures, or the reason it has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// What it is ("#3: I hate the movie .").
    pub caption: String,
    /// Its figures as SVG documents, drawn inline.
    pub figures: Vec<String>,
    /// Why it has no figure, if it failed.
    pub error: Option<String>,
}

/// Escape text for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An HTML page listing `entries` under `title`. Figures are SVG documents written by salient's
/// renderer (their text already escaped); they are placed inline without their XML declaration.
pub fn index_html(title: &str, entries: &[IndexEntry]) -> String {
    let failed = entries.iter().filter(|e| e.error.is_some()).count();
    let mut html = index_head(title, failed);
    for e in entries {
        html += &index_entry(e);
    }
    html + INDEX_TAIL
}

/// The start of the page: its title, and how many inputs failed.
pub(crate) fn index_head(title: &str, failed: usize) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 2em; }}\nfigure {{ margin: 0 0 2em 0; }}\nfigcaption {{ font-weight: bold; margin-bottom: 0.3em; }}\nfigure svg {{ max-width: 100%; height: auto; display: block; margin-bottom: 0.5em; }}\n.error {{ color: #b2182b; }}\n</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape_html(title)
    );
    if failed > 0 {
        html += &format!("<p class=\"error\">{failed} input(s) failed; see below.</p>\n");
    }
    html
}

/// One entry of the page, its figures inline.
pub(crate) fn index_entry(e: &IndexEntry) -> String {
    let mut html = entry_start(&e.caption, e.error.as_deref());
    for svg in &e.figures {
        html += strip_xml_declaration(svg).trim();
        html += "\n";
    }
    html + "</figure>\n"
}

/// One entry of the page whose figures are shown from their SVG files next to the page
/// (`files`, relative names), loaded by the browser only when scrolled to.
pub(crate) fn index_entry_linked(caption: &str, files: &[String]) -> String {
    let mut html = entry_start(caption, None);
    for file in files {
        html += &format!("<img src=\"{}\" alt=\"{}\" loading=\"lazy\" style=\"max-width: 100%; display: block; margin-bottom: 0.5em;\">\n", escape_html(file), escape_html(caption));
    }
    html + "</figure>\n"
}

fn entry_start(caption: &str, error: Option<&str>) -> String {
    let mut html = format!("<figure>\n<figcaption>{}</figcaption>\n", escape_html(caption));
    if let Some(err) = error {
        html += &format!("<p class=\"error\">{}</p>\n", escape_html(err));
    }
    html
}

/// The end of the page.
pub(crate) const INDEX_TAIL: &str = "</body>\n</html>\n";

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, body)| body),
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_are_escaped_and_figures_inline() {
        let html = index_html(
            "run <1>",
            &[IndexEntry {
                caption: "#1: <script>alert(1)</script> & co".into(),
                figures: vec!["<?xml version=\"1.0\"?>\n<svg width=\"1\"></svg>".into()],
                error: None,
            }],
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
        assert!(html.contains("<svg width=\"1\"></svg>") && !html.contains("<?xml"));
    }
}
