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

use super::INDEX;
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
    /// Figures shown from their SVG files (relative to the page) rather than inline.
    #[serde(skip)]
    pub linked: Vec<String>,
    /// Results left out of `data` (a long input keeps its first ones; the CSV and JSON files
    /// hold them all).
    pub omitted: usize,
    /// Inputs that could not be used.
    pub failures: Vec<Failure>,
}

impl Section {
    /// An empty section under `title`.
    pub fn new(title: &str) -> Self {
        Section {
            name: String::new(),
            kind: String::new(),
            title: title.to_string(),
            data: serde_json::Value::Null,
            figures: Vec::new(),
            linked: Vec::new(),
            omitted: 0,
            failures: Vec::new(),
        }
    }

    /// Add a part of the results: a list, or an object whose `results` is a list, continues the
    /// list of the parts before; at most `limit` results are kept, the others counted in
    /// `omitted`.
    pub fn add(&mut self, part: serde_json::Value, limit: usize) {
        use serde_json::Value;
        fn list(value: &mut Value) -> Option<&mut Vec<Value>> {
            match value {
                Value::Array(items) => Some(items),
                Value::Object(map) => map.get_mut("results").and_then(Value::as_array_mut),
                _ => None,
            }
        }
        let mut part = part;
        if self.data.is_null() {
            self.data = std::mem::take(&mut part);
            if let Some(items) = list(&mut self.data) {
                if items.len() > limit {
                    self.omitted += items.len() - limit;
                    items.truncate(limit);
                }
            }
            return;
        }
        let (Some(items), Some(more)) = (list(&mut self.data), list(&mut part)) else { return };
        let room = limit.saturating_sub(items.len());
        self.omitted += more.len().saturating_sub(room);
        items.extend(more.drain(..).take(room));
    }
}

/// A kind's results as the JSON data of a [`Section`].
pub(crate) fn data<T: Serialize + ?Sized>(results: &T) -> Result<serde_json::Value> {
    serde_json::to_value(results).map_err(|e| Error::Encode { format: "JSON", message: e.to_string() })
}

/// The page for `sections` under `title`.
pub fn page(title: &str, sections: &[Section]) -> Result<String> {
    // The class colours of the SVG figures, so that the page's scatter plots match them.
    let palettes: serde_json::Map<String, serde_json::Value> = (1..=8)
        .map(|n| {
            let colours = (0..n)
                .map(|k| {
                    let c = crate::render::class_colour(k, n);
                    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
                })
                .collect::<Vec<_>>();
            (n.to_string(), serde_json::json!(colours))
        })
        .collect();
    let data = serde_json::json!({ "title": title, "sections": sections, "palettes": palettes });
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
            html += &format!("<p class=\"failures\">{} input(s) failed:</p>\n", section.failures.len());
            html += "<ul class=\"failures\">\n";
            for f in &section.failures {
                html += &format!("<li>{}: {}</li>\n", escape_html(&f.at), escape_html(&f.message));
            }
            html += "</ul>\n";
        }
        if section.omitted > 0 {
            html += &format!(
                "<p class=\"note omitted\">The page shows the first results only: {} more are in the figure's CSV and \
                 JSON files.</p>\n",
                section.omitted
            );
        }
        html += "<div class=\"view\"></div>\n";
        if !section.name.is_empty() {
            html += &format!(
                "<p class=\"note\">Files: <a href=\"{dir}/\">{dir}/</a> (its own page: <a href=\"{dir}/{INDEX}\">{dir}/{INDEX}</a>)</p>\n",
                dir = escape_html(&section.name)
            );
        }
        let count = section.figures.len() + section.linked.len();
        if count > 0 {
            let open = if interactive(&section.kind) { "" } else { " open" };
            html += &format!(
                "<details class=\"static\"{open}>\n<summary>{count} figure(s) as drawn in the SVG files</summary>\n"
            );
            for svg in &section.figures {
                html += FIGURE_MARK;
                html += strip_xml_declaration(svg).trim();
                html += "\n";
            }
            for file in &section.linked {
                html += LINKED_MARK;
                html += &format!(
                    "<img src=\"{f}\" alt=\"{f}\" loading=\"lazy\" style=\"max-width: 100%; display: block;\">\n",
                    f = escape_html(file)
                );
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

/// Marks each inline figure of a section, so that [`read_section`] finds it again.
const FIGURE_MARK: &str = "<!--figure-->\n";
/// Marks each figure shown from its file.
const LINKED_MARK: &str = "<!--linked-->\n";

/// The section of a one-figure page that [`page`] wrote, read back (for a page of many figures
/// when a resumed export does not make that figure again); `None` if the page is not one.
pub(crate) fn read_section(html: &str) -> Option<Section> {
    let start = html.find("id=\"salient-data\">")? + "id=\"salient-data\">".len();
    let end = start + html[start..].find("</script>")?;
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).ok()?;
    let mut sections: Vec<Section> = serde_json::from_value(data.get("sections")?.clone()).ok()?;
    if sections.len() != 1 {
        return None;
    }
    let mut section = sections.remove(0);
    if let Some(open) = html.find("<details class=\"static\"") {
        let block = &html[open..open + html[open..].find("</details>")?];
        let marks: Vec<(usize, bool)> = block
            .match_indices("<!--")
            .filter_map(|(i, _)| {
                let rest = &block[i..];
                (rest.starts_with(FIGURE_MARK) || rest.starts_with(LINKED_MARK))
                    .then(|| (i, rest.starts_with(LINKED_MARK)))
            })
            .collect();
        for (k, &(at, linked)) in marks.iter().enumerate() {
            let from = at + if linked { LINKED_MARK.len() } else { FIGURE_MARK.len() };
            let to = marks.get(k + 1).map_or(block.len(), |m| m.0);
            let text = block[from..to].trim();
            if linked {
                section.linked.push(linked_file(text)?);
            } else {
                section.figures.push(text.to_string());
            }
        }
    }
    Some(section)
}

/// The file an `<img src="...">` line written by [`page`] shows.
fn linked_file(img: &str) -> Option<String> {
    let src = img.split_once("src=\"")?.1.split_once('"')?.0;
    Some(
        src.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// Whether the script draws an interactive view of `kind` (its SVGs are then folded away).
pub(crate) fn interactive(kind: &str) -> bool {
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
            linked: Vec::new(),
            omitted: 0,
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
        // The data block is still the same JSON, with no raw line separator.
        let start = html.find("id=\"salient-data\">").unwrap() + "id=\"salient-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        assert!(!html[start..end].contains('\u{2028}'));
        let data: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(data["sections"][0]["data"][0]["text"], hostile);
        assert_eq!(data["title"], format!("run {hostile}"));
    }

    #[test]
    fn a_one_figure_page_reads_back_as_its_section() {
        let mut section = section("<b>x</b>");
        section.figures.push("<svg id=\"two\"></svg>".into());
        section.linked = vec!["sentence-0501.svg".into(), "a&b.svg".into()];
        section.omitted = 3;
        let html = page("t", std::slice::from_ref(&section)).unwrap();
        let back = read_section(&html).unwrap();
        assert_eq!(back.figures, vec!["<svg width=\"1\"></svg>".to_string(), "<svg id=\"two\"></svg>".into()]);
        assert_eq!(back.linked, section.linked);
        assert_eq!((back.data, back.omitted, back.failures), (section.data, 3, section.failures));
        assert!(read_section("<html></html>").is_none());
    }

    #[test]
    fn parts_continue_the_results_up_to_the_limit() {
        let mut s = Section::new("t");
        s.add(serde_json::json!({ "classes": ["a"], "results": [1, 2] }), 3);
        s.add(serde_json::json!({ "classes": ["a"], "results": [3, 4] }), 3);
        s.add(serde_json::json!({ "classes": ["a"], "results": [5] }), 3);
        assert_eq!(s.data, serde_json::json!({ "classes": ["a"], "results": [1, 2, 3] }));
        assert_eq!(s.omitted, 2);
        let mut list = Section::new("t");
        list.add(serde_json::json!([1, 2, 3, 4]), 2);
        assert_eq!((list.data, list.omitted), (serde_json::json!([1, 2]), 2));
    }

    #[test]
    fn figures_are_inline_and_failures_listed() {
        let html = page("t", &[section("ok")]).unwrap();
        assert!(html.contains("<svg width=\"1\"></svg>") && !html.contains("<?xml"));
        assert!(html.contains("<li>line 2: bad ok</li>"));
        assert!(html.contains("<section class=\"figure kind-saliency\" id=\"section-0\""));
    }
}
