//! SVG figures: well-formed XML, escaped text, labels centred on their rows, a colour bar with
//! its scale at round ticks, the colour map chosen by the kind of values; and the PNG and PDF
//! made from them: no seams between cells, text drawn, well-formed files.

use resvg::tiny_skia::Pixmap;
use salient::render::{heatmap_svg, ColumnGroup, Converter, Heatmap, RenderOptions, Style, Values};

fn map(labels: &[&str], kind: Values) -> Heatmap {
    let cols = 7;
    Heatmap {
        title: "model <m> & co · grad · S_c = exp(z_c) · class positive".into(),
        subtitle: vec!["#1: I <3 \"films\" & 'plots'".into()],
        row_labels: labels.iter().map(|s| s.to_string()).collect(),
        muted_rows: vec![false; labels.len()],
        row_notes: labels.iter().map(|_| "0.5".to_string()).collect(),
        notes_title: "token".into(),
        column_labels: (0..cols).map(|j| j.to_string()).collect(),
        x_label: "embedding dimension".into(),
        value_label: "|∂S_c/∂e|".into(),
        values: (0..labels.len() * cols).map(|k| k as f32 - if kind == Values::Signed { 10.0 } else { 0.0 }).collect(),
        columns: cols,
        kind,
        column_groups: Vec::new(),
    }
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants().filter(|n| n.has_tag_name("text")).map(|n| n.text().unwrap_or("").trim().to_string()).collect()
}

#[test]
fn text_is_escaped_and_the_document_is_well_formed() {
    let labels = ["<script>alert(1)</script>", "&", "a\u{0}b\u{1b}", "\"q\"", "ok"];
    let svg = heatmap_svg(&map(&labels, Values::Magnitude), &RenderOptions::default()).unwrap();
    assert!(!svg.contains("<script>"), "a token must not become markup");
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(svg.contains(">\n&amp;\n<") || svg.contains(">&amp;<"), "a lone & is escaped");
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let t = texts(&doc);
    for want in [
        "<script>alert(1)</script>",
        "&",
        "a\u{FFFD}b\u{FFFD}",
        "\"q\"",
        "model <m> & co · grad · S_c = exp(z_c) · class positive",
    ] {
        assert!(t.iter().any(|x| x == want), "no text node reads {want:?}: {t:?}");
    }
}

#[test]
fn row_labels_are_centred_on_their_rows() {
    let labels = ["I", "hate", "the", "movie", "."];
    let options = RenderOptions { row_height: 20, ..RenderOptions::default() };
    let svg = heatmap_svg(&map(&labels, Values::Magnitude), &options).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let num = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    // The cells: 20 pixels high (21 with the pixel that overlaps the next row, but the last);
    // their y values.
    let rects: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.has_tag_name("rect")).collect();
    let cell_ys: Vec<f64> = rects
        .iter()
        .filter(|r| matches!(r.attribute("height"), Some("20" | "21")) && r.attribute("width") != Some("14"))
        .map(|r| num(r, "y"))
        .collect();
    for (i, label) in labels.iter().enumerate() {
        let node = doc
            .descendants()
            .find(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(label))
            .unwrap_or_else(|| panic!("no label {label}"));
        assert_eq!(node.attribute("text-anchor"), Some("end"));
        assert_eq!(node.attribute("dy"), Some("0.5ex"), "vertically centred on its anchor");
        let y = num(&node, "y");
        let top = cell_ys.iter().cloned().fold(f64::INFINITY, f64::min) + 20.0 * i as f64;
        assert!(cell_ys.contains(&top), "row {i} has cells at y {top}");
        assert_eq!(y, top + 10.0, "label {label} sits at the middle of its row");
    }
}

#[test]
fn colour_bar_shows_the_scale_and_the_map_fits_the_values() {
    let labels = ["a", "b"];
    // Magnitudes: viridis from 0 to the largest value (13).
    let svg = heatmap_svg(&map(&labels, Values::Magnitude), &RenderOptions::default()).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let t = texts(&doc);
    for tick in ["0", "5", "10"] {
        assert!(t.iter().any(|x| x == tick), "tick {tick} missing: {t:?}");
    }
    assert!(!t.iter().any(|x| x == "3.25" || x == "13"), "ticks at round values only: {t:?}");
    assert!(t.iter().any(|x| x == "|∂S_c/∂e|"), "the colour bar is labelled");
    assert!(svg.contains("#440154"), "viridis' dark end");
    assert!(svg.contains("#FEE825"), "viridis' bright end");
    // Signed: symmetric about zero, blue-white-red.
    let svg = heatmap_svg(&map(&labels, Values::Signed), &RenderOptions::default()).unwrap();
    let t = texts(&roxmltree::Document::parse(&svg).unwrap());
    for tick in ["-10", "-5", "0", "5", "10"] {
        assert!(t.iter().any(|x| x == tick), "tick {tick} missing: {t:?}");
    }
    assert!(svg.contains("#2166AC") && svg.contains("#F7F7F7"), "diverging map");
    // A fixed scale.
    let svg = heatmap_svg(
        &map(&labels, Values::Magnitude),
        &RenderOptions { range: Some((0.0, 100.0)), ..Default::default() },
    )
    .unwrap();
    let t = texts(&roxmltree::Document::parse(&svg).unwrap());
    for tick in ["0", "20", "40", "60", "80", "100"] {
        assert!(t.iter().any(|x| x == tick), "tick {tick} missing: {t:?}");
    }
}

#[test]
fn a_malformed_matrix_is_an_error_not_a_panic() {
    let mut m = map(&["a"], Values::Magnitude);
    m.values.pop();
    let err = heatmap_svg(&m, &RenderOptions::default()).unwrap_err().to_string();
    assert!(err.contains("do not fill"), "{err}");
    let nan = Heatmap { values: vec![f32::NAN; 7], ..map(&["a"], Values::Signed) };
    assert!(heatmap_svg(&nan, &RenderOptions::default()).is_ok());
}

fn pixels(png: &[u8]) -> Pixmap {
    Pixmap::decode_png(png).expect("a well-formed PNG")
}

fn rgb(p: &Pixmap, x: u32, y: u32) -> [u8; 3] {
    let c = p.pixel(x, y).unwrap().demultiply();
    [c.red(), c.green(), c.blue()]
}

/// The box `(x0, y0, x1, y1)` of the rects that `keep` selects, in SVG pixels.
fn bounds(svg: &str, keep: impl Fn(&roxmltree::Node) -> bool) -> (f64, f64, f64, f64) {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let num = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    let mut b = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for r in doc.descendants().filter(|n| n.has_tag_name("rect") && keep(n)) {
        let (x, y) = (num(&r, "x"), num(&r, "y"));
        b = (b.0.min(x), b.1.min(y), b.2.max(x + num(&r, "width")), b.3.max(y + num(&r, "height")));
    }
    b
}

#[test]
fn cells_and_colour_bands_show_no_seams_in_a_png() {
    // One value everywhere: every pixel inside the matrix must be the cell colour, at a scale
    // that puts cell edges between pixels (where anti-aliased edges let the white through).
    let labels = ["a", "b", "c", "d", "e", "f"];
    let uniform = Heatmap { values: vec![0.5; labels.len() * 7], ..map(&labels, Values::Magnitude) };
    let options = RenderOptions { range: Some((0.0, 1.0)), ..RenderOptions::default() };
    let svg = heatmap_svg(&uniform, &options).unwrap();
    let scale = 1.37;
    let png = Converter::new("sans-serif", scale).unwrap().png(&svg).unwrap();
    let p = pixels(&png);
    // The cells' colour: the first rect after the white background.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let cell = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter_map(|n| n.attribute("fill"))
        .find(|f| *f != "#FFFFFF" && *f != "none")
        .unwrap()
        .to_string();
    let hex = |k: usize| u8::from_str_radix(&cell[1 + 2 * k..3 + 2 * k], 16).unwrap();
    let want = [hex(0), hex(1), hex(2)];
    let (x0, y0, x1, y1) =
        bounds(&svg, |r| r.attribute("fill") == Some(cell.as_str()) && r.attribute("width") != Some("14"));
    let inside = |v0: f64, v1: f64| ((v0 * scale as f64).ceil() as u32 + 2)..((v1 * scale as f64).floor() as u32 - 2);
    let mut checked = 0;
    for y in inside(y0, y1) {
        for x in inside(x0, x1) {
            assert_eq!(rgb(&p, x, y), want, "a seam at pixel ({x}, {y})");
            checked += 1;
        }
    }
    assert!(checked > 20_000, "{checked} pixels checked");

    // The colour bar: viridis grows lighter from bottom to top, so down its middle no pixel may
    // be lighter than the one above it (a seam would be a light line).
    let (bx0, by0, bx1, by1) =
        bounds(&svg, |r| r.attribute("width") == Some("14") && r.attribute("fill") != Some("none"));
    let x = ((bx0 + bx1) / 2.0 * scale as f64) as u32;
    let light = |y| rgb(&p, x, y).iter().map(|&c| c as u32).sum::<u32>();
    let rows: Vec<u32> = inside(by0, by1).collect();
    for pair in rows.windows(2) {
        assert!(light(pair[1]) <= light(pair[0]), "a light line in the colour bar at pixel row {}", pair[1]);
    }
}

#[test]
fn png_and_pdf_are_well_formed_with_their_text_drawn() {
    let svg = heatmap_svg(&map(&["I", "hate", "it"], Values::Signed), &RenderOptions::default()).unwrap();
    let converter = Converter::new("sans-serif", 2.0).unwrap();
    let png = converter.png(&svg).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let p = pixels(&png);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    let size = |a: &str| root.attribute(a).unwrap().parse::<u32>().unwrap();
    assert_eq!((p.width(), p.height()), (2 * size("width"), 2 * size("height")), "two PNG pixels a figure pixel");
    // The title is drawn: dark pixels in its line (none if no font had been found).
    let dark = (24..50).flat_map(|y| (24..400).map(move |x| (x, y))).filter(|&(x, y)| rgb(&p, x, y)[0] < 80).count();
    assert!(dark > 100, "the title's glyphs: {dark} dark pixels");
    assert!(converter.png(&svg).unwrap() == png, "the same PNG every time");

    let pdf = converter.pdf(&svg).unwrap();
    assert!(pdf.starts_with(b"%PDF-1."), "a PDF header");
    let tail = String::from_utf8_lossy(&pdf[pdf.len() - 32..]).into_owned();
    assert!(tail.trim_end().ends_with("%%EOF"), "a PDF trailer: {tail:?}");
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/MediaBox") && text.contains("/Count 1"), "one page");
    assert!(!text.contains("/FontFile"), "text as outlines: no font to embed");
    assert!(converter.pdf(&svg).unwrap() == pdf, "the same PDF every time");
    // The text is there: the same figure without its text makes a much smaller page.
    let bare = heatmap_svg(
        &Heatmap { title: String::new(), subtitle: Vec::new(), ..map(&["", "", ""], Values::Signed) },
        &RenderOptions::default(),
    )
    .unwrap();
    let bare_pdf = converter.pdf(&bare).unwrap();
    assert!(pdf.len() > bare_pdf.len() + 2_000, "glyphs drawn: {} vs {} bytes", pdf.len(), bare_pdf.len());
}

#[test]
fn notes_are_never_cut_and_numbers_keep_one_format() {
    let mut m = map(&["good", "not good"], Values::Signed);
    m.row_notes = vec!["very negative 0.931".into(), "very positive 0.402".into()];
    let svg = heatmap_svg(&m, &RenderOptions::default()).unwrap();
    let t = texts(&roxmltree::Document::parse(&svg).unwrap());
    assert!(t.iter().any(|x| x == "very negative 0.931"), "{t:?}");
    assert!(!t.iter().any(|x| x.ends_with('…')), "nothing cut: {t:?}");
}

#[test]
fn titles_captions_sizes_and_halves_follow_the_style() {
    let mut m = map(&["a", "b"], Values::Signed);
    m.columns = 8;
    m.column_labels = ["f0", "f1", "f2", "f3", "b0", "b1", "b2", "b3"].map(String::from).to_vec();
    m.values = (0..16).map(|k| k as f32 - 8.0).collect();
    m.column_groups = vec![
        ColumnGroup { name: "forward →".into(), columns: 4 },
        ColumnGroup { name: "← backward".into(), columns: 4 },
    ];
    let style = Style {
        title: Some("Figure 1. Negation".into()),
        caption: Some("Hidden states of a BiLSTM, forward half first. ".repeat(6)),
        width: Some(640),
        font_size: 14.0,
        font_family: "DejaVu Sans, sans-serif".into(),
        ..Style::default()
    };
    let svg = heatmap_svg(&m, &RenderOptions { style: style.clone(), ..RenderOptions::default() }).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let t = texts(&doc);
    assert_eq!(t[0], "Figure 1. Negation", "the title written replaces the descriptive one");
    assert!(t.iter().any(|x| x == "#1: I <3 \"films\" & 'plots'"), "the subtitle stays");
    let caption_lines = t.iter().filter(|x| x.starts_with("Hidden states") || x.contains("forward half")).count();
    assert!(caption_lines >= 3, "the caption wraps: {t:?}");
    assert!(t.iter().any(|x| x == "forward →") && t.iter().any(|x| x == "← backward"), "halves named: {t:?}");
    assert_eq!(doc.root_element().attribute("width"), Some("640"), "--width");
    let sizes: Vec<f64> =
        doc.descendants().filter_map(|n| n.attribute("font-size")).map(|v| v.parse().unwrap()).collect();
    assert!(
        sizes.iter().any(|v| (v - 14.0).abs() < 1e-6) && sizes.iter().any(|v| (v - 17.5).abs() < 1e-6),
        "{sizes:?}"
    );
    assert!(svg.contains("font-family=\"DejaVu Sans, sans-serif\""));
    // A line splits the halves: a vertical path at the fifth column's left edge.
    let cells = bounds(&svg, |r| {
        r.attribute("width") != Some("14")
            && r.attribute("fill") != Some("none")
            && r.attribute("fill") != Some("#FFFFFF")
    });
    let doc_paths: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter_map(|n| n.attribute("points").map(str::to_string))
        .collect();
    let mid = cells.0 + (cells.2 - cells.0) / 2.0;
    assert!(
        doc_paths.iter().any(|p| p.starts_with(&format!("{},", mid.round() as i64))
            || p.starts_with(&format!("{} ", mid.round() as i64))),
        "a separator at x = {mid}: {doc_paths:?}"
    );

    let untitled = Style { no_title: true, title: None, caption: None, ..style };
    let svg = heatmap_svg(&m, &RenderOptions { style: untitled, ..RenderOptions::default() }).unwrap();
    let t = texts(&roxmltree::Document::parse(&svg).unwrap());
    assert!(!t.iter().any(|x| x.contains("grad") || x.starts_with("#1")), "no title or subtitle: {t:?}");

    let bad = Style { font_family: "x\" onload=\"alert(1)".into(), ..Style::default() };
    let err = heatmap_svg(&m, &RenderOptions { style: bad, ..RenderOptions::default() }).unwrap_err();
    assert!(err.to_string().contains("font-family"), "{err}");
}
