//! The heatmap figure: labelled cells, row notes, a colour bar with its scale.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{clean_label, format_number, ColourMap, Heatmap, RenderOptions};
use crate::error::{Error, Result};

pub(super) const MARGIN: i32 = 12;
pub(super) const TITLE_SIZE: f64 = 15.0;
pub(super) const LABEL_SIZE: f64 = 12.0;
pub(super) const SMALL_SIZE: f64 = 11.0;
pub(super) const FONT: &str = "sans-serif";
const BAR_WIDTH: i32 = 14;
const BAR_STRIPS: i32 = 64;
const TICKS: usize = 5;

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

pub(super) fn style(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size * SVG_FONT_SCALE).into_font()).pos(Pos::new(h, v))
}

pub(super) fn draw_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Render { what: what.to_string(), message: e.to_string() }
}

/// Draw `map` as an SVG document.
pub fn heatmap_svg(map: &Heatmap, options: &RenderOptions) -> Result<String> {
    map.check()?;
    let (lo, hi) = options.range.unwrap_or_else(|| map.auto_range());
    let (rows, cols) = (map.rows(), map.columns);
    let cell_h = options.row_height.max(4) as i32;
    let cell_w = options.column_width.unwrap_or((600 / cols as u32).clamp(6, 60)).max(2) as i32;

    let title = clean_label(&map.title, 160);
    let subtitle: Vec<String> = map.subtitle.iter().map(|s| clean_label(s, 160)).collect();
    let row_labels: Vec<String> = map.row_labels.iter().map(|s| clean_label(s, 48)).collect();
    let notes: Vec<String> = map.row_notes.iter().map(|s| clean_label(s, 16)).collect();
    let notes_title = clean_label(&map.notes_title, 16);
    let column_labels: Vec<String> = map.column_labels.iter().map(|s| clean_label(s, 12)).collect();
    let value_label = clean_label(&map.value_label, 60);
    let x_label = clean_label(&map.x_label, 80);
    let ticks: Vec<(f32, String)> = (0..TICKS)
        .map(|k| {
            let v = lo + (hi - lo) * k as f32 / (TICKS - 1) as f32;
            (v, format_number(if v.abs() < (hi - lo).abs() * 1e-6 { 0.0 } else { v }))
        })
        .collect();

    // Layout, left to right: labels | grid | notes | colour bar | ticks | caption.
    let label_w = row_labels.iter().map(|l| text_width(l, LABEL_SIZE)).max().unwrap_or(0) + 8;
    let header_h = line_height(TITLE_SIZE) + subtitle.len() as i32 * line_height(SMALL_SIZE) + 10;
    let (grid_x, grid_y) = (MARGIN + label_w, MARGIN + header_h);
    let (grid_w, grid_h) = (cols as i32 * cell_w, rows as i32 * cell_h);
    let notes_w = if notes.is_empty() {
        0
    } else {
        notes.iter().chain([&notes_title]).map(|n| text_width(n, SMALL_SIZE)).max().unwrap_or(0) + 14
    };
    let bar_x = grid_x + grid_w + 14 + notes_w;
    let bar_h = grid_h.max(120);
    let tick_w = ticks.iter().map(|(_, t)| text_width(t, SMALL_SIZE)).max().unwrap_or(0) + 8;
    let caption_x = bar_x + BAR_WIDTH + tick_w + line_height(SMALL_SIZE) / 2 + 4;
    let column_label_w = column_labels.iter().map(|l| text_width(l, SMALL_SIZE)).max().unwrap_or(0) + 4;
    let step = [1usize, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        .into_iter()
        .find(|&s| s as i32 * cell_w >= column_label_w + 14)
        .unwrap_or(cols.max(1));
    let axis_h = if column_labels.is_empty() { 0 } else { line_height(SMALL_SIZE) + 4 }
        + if x_label.is_empty() { 0 } else { line_height(SMALL_SIZE) };
    let width = (caption_x + line_height(SMALL_SIZE) + MARGIN)
        .max(MARGIN * 2 + text_width(&title, TITLE_SIZE))
        .max(subtitle.iter().map(|s| MARGIN * 2 + text_width(s, SMALL_SIZE)).max().unwrap_or(0));
    let height = grid_y + (grid_h + axis_h + 6).max(bar_h + 8) + MARGIN;

    let mut svg = String::with_capacity(rows * cols * 110 + 4096);
    {
        let root = SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        let what = format!("heatmap `{title}`");
        let e = |err| draw_error(&what, err);
        root.fill(&WHITE).map_err(e)?;
        draw_header(&root, &title, &subtitle).map_err(e)?;

        // Cells.
        let colours = ColourMap::for_values(map.kind);
        for r in 0..rows {
            let y = grid_y + r as i32 * cell_h;
            for c in 0..cols {
                let x = grid_x + c as i32 * cell_w;
                let colour = colours.colour(map.values[r * cols + c], lo, hi);
                root.draw(&Rectangle::new([(x, y), (x + cell_w, y + cell_h)], colour.filled())).map_err(e)?;
            }
        }
        root.draw(&Rectangle::new([(grid_x, grid_y), (grid_x + grid_w, grid_y + grid_h)], BLACK.stroke_width(1)))
            .map_err(e)?;

        // Row labels, centred on their rows; notes right of the rows.
        let grey = RGBColor(140, 140, 140);
        for (r, label) in row_labels.iter().enumerate() {
            let y = grid_y + r as i32 * cell_h + cell_h / 2;
            let muted = map.muted_rows.get(r).copied().unwrap_or(false);
            let s = style(LABEL_SIZE, HPos::Right, VPos::Center).color(if muted { &grey } else { &BLACK });
            root.draw(&Text::new(label.as_str(), (grid_x - 6, y), s)).map_err(e)?;
            if let Some(note) = notes.get(r) {
                let s = style(SMALL_SIZE, HPos::Left, VPos::Center);
                root.draw(&Text::new(note.as_str(), (grid_x + grid_w + 8, y), s)).map_err(e)?;
            }
        }
        if !notes.is_empty() && !notes_title.is_empty() {
            let s = style(SMALL_SIZE, HPos::Left, VPos::Bottom);
            root.draw(&Text::new(notes_title.as_str(), (grid_x + grid_w + 8, grid_y - 3), s)).map_err(e)?;
        }

        // Column labels, centred under their cells, every `step` columns.
        let label_y = grid_y + grid_h + 4;
        for (c, label) in column_labels.iter().enumerate().step_by(step) {
            let x = grid_x + c as i32 * cell_w + cell_w / 2;
            root.draw(&Text::new(label.as_str(), (x, label_y), style(SMALL_SIZE, HPos::Center, VPos::Top)))
                .map_err(e)?;
        }
        if !x_label.is_empty() {
            let y = label_y + if column_labels.is_empty() { 0 } else { line_height(SMALL_SIZE) };
            let s = style(SMALL_SIZE, HPos::Center, VPos::Top);
            root.draw(&Text::new(x_label.as_str(), (grid_x + grid_w / 2, y), s)).map_err(e)?;
        }

        // Colour bar: `hi` at the top, `lo` at the bottom.
        let bar_y = grid_y;
        for k in 0..BAR_STRIPS {
            let (y0, y1) = (bar_y + bar_h * k / BAR_STRIPS, bar_y + bar_h * (k + 1) / BAR_STRIPS);
            let v = hi - (hi - lo) * (k as f32 + 0.5) / BAR_STRIPS as f32;
            root.draw(&Rectangle::new([(bar_x, y0), (bar_x + BAR_WIDTH, y1)], colours.colour(v, lo, hi).filled()))
                .map_err(e)?;
        }
        root.draw(&Rectangle::new([(bar_x, bar_y), (bar_x + BAR_WIDTH, bar_y + bar_h)], BLACK.stroke_width(1)))
            .map_err(e)?;
        for (k, (_, text)) in ticks.iter().enumerate() {
            let y = bar_y + bar_h - bar_h * k as i32 / (TICKS as i32 - 1);
            root.draw(&PathElement::new(vec![(bar_x + BAR_WIDTH, y), (bar_x + BAR_WIDTH + 3, y)], BLACK)).map_err(e)?;
            let s = style(SMALL_SIZE, HPos::Left, VPos::Center);
            root.draw(&Text::new(text.as_str(), (bar_x + BAR_WIDTH + 5, y), s)).map_err(e)?;
        }
        if !value_label.is_empty() {
            let s = style(SMALL_SIZE, HPos::Center, VPos::Center).transform(FontTransform::Rotate90);
            root.draw(&Text::new(value_label.as_str(), (caption_x, bar_y + bar_h / 2), s)).map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

pub(super) fn draw_header(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    subtitle: &[String],
) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let bold = TextStyle::from(FontDesc::new(FontFamily::Name(FONT), TITLE_SIZE * SVG_FONT_SCALE, FontStyle::Bold))
        .pos(Pos::new(HPos::Left, VPos::Top));
    root.draw(&Text::new(title, (MARGIN, MARGIN), bold))?;
    let mut y = MARGIN + line_height(TITLE_SIZE);
    for line in subtitle {
        root.draw(&Text::new(line.as_str(), (MARGIN, y), style(SMALL_SIZE, HPos::Left, VPos::Top)))?;
        y += line_height(SMALL_SIZE);
    }
    Ok(())
}

/// The column width at which every column label of `labels` is drawn (none thinned out), for
/// figures whose columns are words.
pub fn fitting_column_width(labels: &[String]) -> u32 {
    let widest = labels.iter().map(|l| text_width(&clean_label(l, 12), SMALL_SIZE)).max().unwrap_or(0);
    (widest + 4 + 14).max(24) as u32
}
