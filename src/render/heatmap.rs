//! The heatmap figure: labelled cells, row notes, a colour bar with its scale.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{clean_label, round_ticks, ColourMap, Heatmap, RenderOptions, Style};
use crate::error::{Error, Result};

pub(super) const MARGIN: i32 = 12;
const BAR_WIDTH: i32 = 14;
const BAR_STRIPS: i32 = 64;
/// Longest row label, in characters, before it is cut with an ellipsis.
const ROW_LABEL_CHARS: usize = 48;

/// Width of `text` at font size `size`, estimated (about 0.6 em a character, as no font is read).
pub(super) fn text_width(text: &str, size: f64) -> i32 {
    (text.chars().count() as f64 * size * 0.6).ceil() as i32
}

pub(super) fn line_height(size: f64) -> i32 {
    (size * 1.45).ceil() as i32
}

/// plotters' SVG backend writes `font-size` as the size divided by 1.24; undo that, so that the
/// sizes here are the SVG's pixel sizes.
pub(super) const SVG_FONT_SCALE: f64 = 1.24;

/// The sizes and family of a figure's text, from its [`Style`].
pub(super) struct Fonts<'a> {
    pub family: &'a str,
    /// The title's size.
    pub title: f64,
    /// Row labels.
    pub label: f64,
    /// Everything else.
    pub small: f64,
}

impl<'a> Fonts<'a> {
    pub(super) fn new(style: &'a Style) -> Self {
        let size = style.font_size;
        Fonts { family: &style.font_family, title: size * 1.25, label: size, small: size * 11.0 / 12.0 }
    }

    pub(super) fn text(&self, size: f64, h: HPos, v: VPos) -> TextStyle<'a> {
        TextStyle::from((self.family, size * SVG_FONT_SCALE).into_font()).pos(Pos::new(h, v))
    }

    pub(super) fn bold(&self, size: f64, h: HPos, v: VPos) -> TextStyle<'a> {
        TextStyle::from(FontDesc::new(FontFamily::Name(self.family), size * SVG_FONT_SCALE, FontStyle::Bold))
            .pos(Pos::new(h, v))
    }
}

pub(super) fn draw_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Render { what: what.to_string(), message: e.to_string() }
}

/// Draw `map` as an SVG document.
///
/// Cells (and the bands of the colour bar) are drawn so that no renderer shows a seam between
/// them: each overlaps its right and lower neighbour by a pixel (which the neighbour covers),
/// and the document asks for `shape-rendering="crispEdges"`.
pub fn heatmap_svg(map: &Heatmap, options: &RenderOptions) -> Result<String> {
    map.check()?;
    let style = &options.style;
    style.check()?;
    let fonts = Fonts::new(style);
    let (lo, hi) = options.range.unwrap_or_else(|| map.auto_range());
    let (rows, cols) = (map.rows(), map.columns);
    let cell_h = options.row_height.max(4) as i32;

    let title = clean_label(style.title(&map.title), 160);
    let subtitle: Vec<String> = style.subtitle(&map.subtitle).iter().map(|s| clean_label(s, 160)).collect();
    let row_labels: Vec<String> = map.row_labels.iter().map(|s| clean_label(s, ROW_LABEL_CHARS)).collect();
    // Notes are short numbers or a class and a probability: never cut.
    let notes: Vec<String> = map.row_notes.iter().map(|s| clean_label(s, usize::MAX)).collect();
    let notes_title = clean_label(&map.notes_title, usize::MAX);
    let column_labels: Vec<String> = map.column_labels.iter().map(|s| clean_label(s, 12)).collect();
    let groups: Vec<(String, usize)> =
        map.column_groups.iter().map(|g| (clean_label(&g.name, 40), g.columns)).collect();
    let value_label = clean_label(&map.value_label, 60);
    let x_label = clean_label(&map.x_label, 80);
    let ticks = round_ticks(lo, hi);

    // Layout, left to right: labels | grid | notes | colour bar | ticks | caption.
    let label_w = row_labels.iter().map(|l| text_width(l, fonts.label)).max().unwrap_or(0) + 8;
    let title_h = if title.is_empty() { 0 } else { line_height(fonts.title) };
    let groups_h = if groups.is_empty() { 0 } else { line_height(fonts.small) + 2 };
    let header_h = title_h + subtitle.len() as i32 * line_height(fonts.small) + groups_h;
    let header_h = if header_h == 0 { 0 } else { header_h + 10 };
    let notes_w = if notes.is_empty() {
        0
    } else {
        notes.iter().chain([&notes_title]).map(|n| text_width(n, fonts.small)).max().unwrap_or(0) + 14
    };
    let tick_w = ticks.iter().map(|(_, t)| text_width(t, fonts.small)).max().unwrap_or(0) + 8;
    // Everything but the grid's columns.
    let fixed_w = MARGIN
        + label_w
        + 14
        + notes_w
        + BAR_WIDTH
        + tick_w
        + line_height(fonts.small) / 2
        + 4
        + line_height(fonts.small)
        + MARGIN;
    let cell_w = match (options.column_width, style.width) {
        (Some(w), _) => w,
        (None, Some(width)) => ((width as i32 - fixed_w).max(0) as u32 / cols as u32).clamp(2, 200),
        (None, None) => (600 / cols as u32).clamp(6, 60),
    }
    .max(2) as i32;
    let (grid_x, grid_y) = (MARGIN + label_w, MARGIN + header_h);
    let (grid_w, grid_h) = (cols as i32 * cell_w, rows as i32 * cell_h);
    let bar_x = grid_x + grid_w + 14 + notes_w;
    let bar_h = grid_h.max(120);
    let caption_x = bar_x + BAR_WIDTH + tick_w + line_height(fonts.small) / 2 + 4;
    let column_label_w = column_labels.iter().map(|l| text_width(l, fonts.small)).max().unwrap_or(0) + 4;
    let step = [1usize, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        .into_iter()
        .find(|&s| s as i32 * cell_w >= column_label_w + 14)
        .unwrap_or(cols.max(1));
    let axis_h = if column_labels.is_empty() { 0 } else { line_height(fonts.small) + 4 }
        + if x_label.is_empty() { 0 } else { line_height(fonts.small) };
    let width = (caption_x + line_height(fonts.small) + MARGIN)
        .max(MARGIN * 2 + text_width(&title, fonts.title))
        .max(subtitle.iter().map(|s| MARGIN * 2 + text_width(s, fonts.small)).max().unwrap_or(0));
    let body_h = grid_y + (grid_h + axis_h + 6).max(bar_h + 8);
    let caption = wrap(style.caption.as_deref().unwrap_or(""), width - 2 * MARGIN, fonts.small);
    let height = body_h + caption.len() as i32 * line_height(fonts.small) + MARGIN;

    let mut svg = String::with_capacity(rows * cols * 110 + 4096);
    {
        let root = SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        let what = format!("heatmap `{title}`");
        let e = |err| draw_error(&what, err);
        root.fill(&WHITE).map_err(e)?;
        draw_header(&root, &fonts, &title, &subtitle).map_err(e)?;

        // Cells, each overlapping its right and lower neighbours by a pixel (no seams).
        let colours = ColourMap::for_values(map.kind);
        for r in 0..rows {
            let y = grid_y + r as i32 * cell_h;
            let dy = i32::from(r + 1 < rows);
            for c in 0..cols {
                let x = grid_x + c as i32 * cell_w;
                let dx = i32::from(c + 1 < cols);
                let colour = colours.colour(map.values[r * cols + c], lo, hi);
                root.draw(&Rectangle::new([(x, y), (x + cell_w + dx, y + cell_h + dy)], colour.filled())).map_err(e)?;
            }
        }
        // Column groups: a line between them, their names over them.
        let mut first = 0;
        for (k, (name, span)) in groups.iter().enumerate() {
            let x0 = grid_x + first as i32 * cell_w;
            let x1 = x0 + *span as i32 * cell_w;
            if k > 0 {
                root.draw(&PathElement::new(vec![(x0, grid_y), (x0, grid_y + grid_h)], WHITE.stroke_width(3)))
                    .map_err(e)?;
                root.draw(&PathElement::new(vec![(x0, grid_y), (x0, grid_y + grid_h)], BLACK.stroke_width(1)))
                    .map_err(e)?;
            }
            let s = fonts.text(fonts.small, HPos::Center, VPos::Bottom);
            root.draw(&Text::new(name.as_str(), ((x0 + x1) / 2, grid_y - 3), s)).map_err(e)?;
            first += span;
        }
        root.draw(&Rectangle::new([(grid_x, grid_y), (grid_x + grid_w, grid_y + grid_h)], BLACK.stroke_width(1)))
            .map_err(e)?;

        // Row labels, centred on their rows; notes right of the rows.
        let grey = RGBColor(140, 140, 140);
        for (r, label) in row_labels.iter().enumerate() {
            let y = grid_y + r as i32 * cell_h + cell_h / 2;
            let muted = map.muted_rows.get(r).copied().unwrap_or(false);
            let s = fonts.text(fonts.label, HPos::Right, VPos::Center).color(if muted { &grey } else { &BLACK });
            root.draw(&Text::new(label.as_str(), (grid_x - 6, y), s)).map_err(e)?;
            if let Some(note) = notes.get(r) {
                let s = fonts.text(fonts.small, HPos::Left, VPos::Center);
                root.draw(&Text::new(note.as_str(), (grid_x + grid_w + 8, y), s)).map_err(e)?;
            }
        }
        if !notes.is_empty() && !notes_title.is_empty() {
            let s = fonts.text(fonts.small, HPos::Left, VPos::Bottom);
            root.draw(&Text::new(notes_title.as_str(), (grid_x + grid_w + 8, grid_y - 3), s)).map_err(e)?;
        }

        // Column labels, centred under their cells, every `step` columns.
        let label_y = grid_y + grid_h + 4;
        for (c, label) in column_labels.iter().enumerate().step_by(step) {
            let x = grid_x + c as i32 * cell_w + cell_w / 2;
            root.draw(&Text::new(label.as_str(), (x, label_y), fonts.text(fonts.small, HPos::Center, VPos::Top)))
                .map_err(e)?;
        }
        if !x_label.is_empty() {
            let y = label_y + if column_labels.is_empty() { 0 } else { line_height(fonts.small) };
            let s = fonts.text(fonts.small, HPos::Center, VPos::Top);
            root.draw(&Text::new(x_label.as_str(), (grid_x + grid_w / 2, y), s)).map_err(e)?;
        }

        // Colour bar: `hi` at the top, `lo` at the bottom; bands overlap like the cells.
        let bar_y = grid_y;
        for k in 0..BAR_STRIPS {
            let (y0, y1) = (bar_y + bar_h * k / BAR_STRIPS, bar_y + bar_h * (k + 1) / BAR_STRIPS);
            let y1 = y1 + i32::from(k + 1 < BAR_STRIPS);
            let v = hi - (hi - lo) * (k as f32 + 0.5) / BAR_STRIPS as f32;
            root.draw(&Rectangle::new([(bar_x, y0), (bar_x + BAR_WIDTH, y1)], colours.colour(v, lo, hi).filled()))
                .map_err(e)?;
        }
        root.draw(&Rectangle::new([(bar_x, bar_y), (bar_x + BAR_WIDTH, bar_y + bar_h)], BLACK.stroke_width(1)))
            .map_err(e)?;
        for (v, text) in &ticks {
            let t = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
            let y = bar_y + bar_h - (bar_h as f32 * t).round() as i32;
            root.draw(&PathElement::new(vec![(bar_x + BAR_WIDTH, y), (bar_x + BAR_WIDTH + 3, y)], BLACK)).map_err(e)?;
            let s = fonts.text(fonts.small, HPos::Left, VPos::Center);
            root.draw(&Text::new(text.as_str(), (bar_x + BAR_WIDTH + 5, y), s)).map_err(e)?;
        }
        if !value_label.is_empty() {
            let s = fonts.text(fonts.small, HPos::Center, VPos::Center).transform(FontTransform::Rotate90);
            root.draw(&Text::new(value_label.as_str(), (caption_x, bar_y + bar_h / 2), s)).map_err(e)?;
        }
        draw_caption(&root, &fonts, &caption, body_h).map_err(e)?;
        root.present().map_err(e)?;
    }
    finish(svg, (width, height), style.width, true)
}

pub(super) fn draw_header(
    root: &DrawingArea<SVGBackend, Shift>,
    fonts: &Fonts,
    title: &str,
    subtitle: &[String],
) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let mut y = MARGIN;
    if !title.is_empty() {
        root.draw(&Text::new(title, (MARGIN, y), fonts.bold(fonts.title, HPos::Left, VPos::Top)))?;
        y += line_height(fonts.title);
    }
    for line in subtitle {
        root.draw(&Text::new(line.as_str(), (MARGIN, y), fonts.text(fonts.small, HPos::Left, VPos::Top)))?;
        y += line_height(fonts.small);
    }
    Ok(())
}

/// The caption's lines, starting at `top`.
pub(super) fn draw_caption(
    root: &DrawingArea<SVGBackend, Shift>,
    fonts: &Fonts,
    lines: &[String],
    top: i32,
) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
    for (k, line) in lines.iter().enumerate() {
        let y = top + k as i32 * line_height(fonts.small);
        root.draw(&Text::new(line.as_str(), (MARGIN, y), fonts.text(fonts.small, HPos::Left, VPos::Top)))?;
    }
    Ok(())
}

/// `text` in lines of at most `width` pixels (by the width estimate), broken at spaces; a word
/// longer than a line gets a line of its own. Control characters are replaced.
pub(super) fn wrap(text: &str, width: i32, size: f64) -> Vec<String> {
    let per_line = ((width as f64 / (size * 0.6)).floor() as usize).max(20);
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > per_line {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.into_iter().map(|l| clean_label(&l, usize::MAX)).collect()
}

/// The document as written, given the `width` asked for (scaled to it through its view box
/// when its content is wider or narrower) and, for matrices, `shape-rendering="crispEdges"`
/// (no anti-aliased seams between cells).
pub(super) fn finish(svg: String, drawn: (i32, i32), width: Option<u32>, crisp: bool) -> Result<String> {
    let head = format!("<svg width=\"{}\" height=\"{}\" ", drawn.0, drawn.1);
    if !svg.starts_with(&head) {
        return Err(Error::Render {
            what: "SVG".into(),
            message: "the backend wrote an unexpected root element".into(),
        });
    }
    let (w, h) = match width {
        Some(w) if w as i32 != drawn.0 => (w as f64, (drawn.1 as f64 * w as f64 / drawn.0 as f64).round()),
        _ => (drawn.0 as f64, drawn.1 as f64),
    };
    let crisp = if crisp { "shape-rendering=\"crispEdges\" " } else { "" };
    Ok(format!("<svg width=\"{w}\" height=\"{h}\" {crisp}{}", &svg[head.len()..]))
}

/// The column width at which every column label of `labels` is drawn (none thinned out), for
/// figures whose columns are words, with labels of `style`'s size.
pub fn fitting_column_width(labels: &[String], style: &Style) -> u32 {
    let small = Fonts::new(style).small;
    let widest = labels.iter().map(|l| text_width(&clean_label(l, 12), small)).max().unwrap_or(0);
    (widest + 4 + 14).max(24) as u32
}
