//! SVG figures: well-formed XML, escaped text, labels centred on their rows, a colour bar with
//! its scale, and the colour map chosen by the kind of values.

use salient::render::{heatmap_svg, Heatmap, RenderOptions, Values};

fn map(labels: &[&str], kind: Values) -> Heatmap {
    let cols = 7;
    Heatmap {
        title: "model <m> & co · grad · score exp(z_c) · class positive".into(),
        subtitle: vec!["#1: I <3 \"films\" & 'plots'".into()],
        row_labels: labels.iter().map(|s| s.to_string()).collect(),
        muted_rows: vec![false; labels.len()],
        row_notes: labels.iter().map(|_| "0.5".to_string()).collect(),
        notes_title: "token".into(),
        column_labels: (0..cols).map(|j| j.to_string()).collect(),
        x_label: "embedding dimension".into(),
        value_label: "|dS/de|".into(),
        values: (0..labels.len() * cols).map(|k| k as f32 - if kind == Values::Signed { 10.0 } else { 0.0 }).collect(),
        columns: cols,
        kind,
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
        "model <m> & co · grad · score exp(z_c) · class positive",
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
    // The cells: 20 pixels high; their left column's y values.
    let rects: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.has_tag_name("rect")).collect();
    let cell_ys: Vec<f64> = rects.iter().filter(|r| r.attribute("height") == Some("20")).map(|r| num(r, "y")).collect();
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
    for tick in ["0", "3.25", "6.5", "9.75", "13"] {
        assert!(t.iter().any(|x| x == tick), "tick {tick} missing: {t:?}");
    }
    assert!(t.iter().any(|x| x == "|dS/de|"), "the colour bar is labelled");
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
    assert!(t.iter().any(|x| x == "100") && t.iter().any(|x| x == "50"), "{t:?}");
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
