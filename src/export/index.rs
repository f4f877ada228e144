//! `index.html`: every figure of a run on one page, with the inputs that failed.

use serde::{Deserialize, Serialize};

/// One line of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// What it is ("#3: I hate the movie .").
    pub caption: String,
    /// Its figure files, relative to the index.
    pub files: Vec<String>,
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

/// An HTML page listing `entries` under `title`, figures inline.
pub fn index_html(title: &str, entries: &[IndexEntry]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 2em; }}\nfigure {{ margin: 0 0 2em 0; }}\nfigcaption {{ font-weight: bold; margin-bottom: 0.3em; }}\n.error {{ color: #b2182b; }}\n</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape_html(title)
    );
    let failed = entries.iter().filter(|e| e.error.is_some()).count();
    if failed > 0 {
        html += &format!("<p class=\"error\">{failed} input(s) failed; see below.</p>\n");
    }
    for e in entries {
        html += &format!("<figure>\n<figcaption>{}</figcaption>\n", escape_html(&e.caption));
        if let Some(err) = &e.error {
            html += &format!("<p class=\"error\">{}</p>\n", escape_html(err));
        }
        for f in &e.files {
            let f = escape_html(f);
            html += &format!("<a href=\"{f}\"><img src=\"{f}\" alt=\"{f}\"></a>\n");
        }
        html += "</figure>\n";
    }
    html + "</body>\n</html>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_and_names_are_escaped() {
        let html = index_html(
            "run <1>",
            &[IndexEntry {
                caption: "#1: <script>alert(1)</script> & co".into(),
                files: vec!["a\".svg".into()],
                error: None,
            }],
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
        assert!(html.contains("a&quot;.svg"));
    }
}
