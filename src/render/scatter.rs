//! The labelled scatter plot of a projection: points coloured by class, a legend, labels placed
//! so that they do not cover each other, leader lines to labels that had to move, and
//! highlighted points drawn larger, ringed and labelled in bold.
//!
//! Label placement ([`place_labels`]) is greedy and deterministic: highlighted labels first, then
//! the others in input order; each takes the first free spot among 8 positions around its point,
//! then rings of 16 positions farther out (with a leader line back to the point). A spot is free
//! when its box (estimated from the font size and the number of characters) stays inside the
//! plot and overlaps no label placed before it and no other point's marker. A label with no free
//! spot is left out, unless highlighted (then it goes where it overlaps least); the figure says
//! how many were left out.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};

use super::clean_label;
use super::heatmap::{
    draw_error, draw_header, line_height, style, text_width, FONT, MARGIN, SMALL_SIZE, SVG_FONT_SCALE,
};
use crate::error::{Error, Result};

/// One point of a scatter plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScatterPoint {
    /// Coordinates (any units; the plot fits them).
    pub x: f64,
    /// Coordinates.
    pub y: f64,
    /// Its text label.
    pub label: String,
    /// Its class, an index into [`Scatter::classes`].
    pub class: usize,
    /// Drawn larger, ringed, with a bold label that is never left out.
    pub highlighted: bool,
}

/// Which labels to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Labels {
    /// Every point's when there are at most 200 points, else the highlighted ones.
    #[default]
    Auto,
    /// Every point's (where there is room).
    All,
    /// The highlighted points' only.
    Highlighted,
    /// None.
    None,
}

/// A scatter plot to draw.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Scatter {
    /// First line.
    pub title: String,
    /// Lines under the title.
    pub subtitle: Vec<String>,
    /// The points.
    pub points: Vec<ScatterPoint>,
    /// Class names, in order (ordered sentiment classes: the first is coloured red, the last
    /// blue, the middle grey).
    pub classes: Vec<String>,
    /// What the colours mean ("gold label", "predicted class").
    pub legend_title: String,
    /// Axis captions.
    pub x_label: String,
    /// Axis captions.
    pub y_label: String,
    /// Which labels to draw.
    pub labels: Labels,
}

/// A label's place: its box's top-left corner, and whether it moved away from its point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
    /// Placed on an outer ring: draw a leader line.
    pub moved: bool,
}

impl Placement {
    fn overlaps(&self, o: &Placement) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    fn overlap_area(&self, o: &Placement) -> f64 {
        let w = (self.x + self.w).min(o.x + o.w) - self.x.max(o.x);
        let h = (self.y + self.h).min(o.y + o.h) - self.y.max(o.y);
        w.max(0.0) * h.max(0.0)
    }
}

/// A label to place: its point (pixels), its box size, and whether it must be drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelRequest {
    /// The point, in pixels.
    pub anchor: (f64, f64),
    /// The point's marker radius, in pixels (the label keeps clear of it).
    pub radius: f64,
    /// Box width and height, in pixels.
    pub size: (f64, f64),
    /// Never left out.
    pub required: bool,
}

/// Place labels inside `bounds` (`x0, y0, x1, y1`, pixels) without overlaps where possible;
/// `markers` are all points as `(x, y, radius)`, which labels keep clear of. `None` for a label
/// left out. Requests are handled required ones first, then in order.
pub fn place_labels(
    requests: &[LabelRequest],
    markers: &[(f64, f64, f64)],
    bounds: (f64, f64, f64, f64),
) -> Vec<Option<Placement>> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| !requests[i].required);
    let mut placed: Vec<Placement> = Vec::new();
    let mut out = vec![None; requests.len()];
    let marker_boxes: Vec<Placement> = markers
        .iter()
        .map(|&(x, y, r)| Placement { x: x - r, y: y - r, w: 2.0 * r, h: 2.0 * r, moved: false })
        .collect();
    for i in order {
        let r = requests[i];
        let (w, h) = r.size;
        let (ax, ay) = r.anchor;
        let gap = r.radius + 2.0;
        let mut candidates: Vec<Placement> = Vec::new();
        // Right, left, above, below, then the corners.
        for (dx, dy) in [
            (gap, -h / 2.0),
            (-gap - w, -h / 2.0),
            (-w / 2.0, -gap - h),
            (-w / 2.0, gap),
            (gap, -gap - h),
            (-gap - w, -gap - h),
            (gap, gap),
            (-gap - w, gap),
        ] {
            candidates.push(Placement { x: ax + dx, y: ay + dy, w, h, moved: false });
        }
        for ring in 1..=8 {
            let radius = gap + ring as f64 * (h + 4.0);
            for k in 0..16 {
                let angle = std::f64::consts::TAU * k as f64 / 16.0;
                let (cx, cy) = (ax + radius * angle.cos(), ay - radius * angle.sin());
                // The box sits on the side of its centre away from the point.
                let x = if angle.cos() >= 0.0 { cx } else { cx - w };
                candidates.push(Placement { x, y: cy - h / 2.0, w, h, moved: true });
            }
        }
        let inside =
            |p: &Placement| p.x >= bounds.0 && p.y >= bounds.1 && p.x + p.w <= bounds.2 && p.y + p.h <= bounds.3;
        let hits_marker =
            |p: &Placement| marker_boxes.iter().zip(markers).any(|(m, &(x, y, _))| (x, y) != r.anchor && p.overlaps(m));
        let free = candidates.iter().find(|p| inside(p) && !hits_marker(p) && !placed.iter().any(|q| p.overlaps(q)));
        let chosen = match free {
            Some(p) => Some(*p),
            None if r.required => candidates
                .iter()
                .filter(|p| inside(p))
                .min_by(|a, b| {
                    let cost = |p: &Placement| placed.iter().map(|q| p.overlap_area(q)).sum::<f64>();
                    cost(a).total_cmp(&cost(b))
                })
                .or(candidates.first())
                .copied(),
            None => None,
        };
        if let Some(p) = chosen {
            placed.push(p);
        }
        out[i] = chosen;
    }
    out
}

/// The colour of class `k` of `n`: red through grey to blue.
pub fn class_colour(k: usize, n: usize) -> RGBColor {
    const RED: (f64, f64, f64) = (202.0, 0.0, 32.0);
    const GREY: (f64, f64, f64) = (130.0, 130.0, 130.0);
    const BLUE: (f64, f64, f64) = (5.0, 113.0, 176.0);
    if n <= 1 {
        return RGBColor(GREY.0 as u8, GREY.1 as u8, GREY.2 as u8);
    }
    let t = k.min(n - 1) as f64 / (n - 1) as f64;
    let (a, b, u) = if t <= 0.5 { (RED, GREY, t * 2.0) } else { (GREY, BLUE, (t - 0.5) * 2.0) };
    let mix = |p: f64, q: f64| (p + (q - p) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

const PLOT_W: f64 = 820.0;
const PLOT_H: f64 = 640.0;
const POINT_R: f64 = 3.5;
const HIGHLIGHT_R: f64 = 5.5;
const POINT_LABEL_SIZE: f64 = 10.0;

/// Draw `scatter` as an SVG document.
///
/// ```
/// use salient::render::{scatter_svg, Scatter, ScatterPoint};
///
/// let p = |x, y, label: &str, class| ScatterPoint { x, y, label: label.into(), class, highlighted: false };
/// let s = Scatter {
///     title: "toy".into(),
///     points: vec![p(0.0, 0.0, "bad", 0), p(1.0, 1.0, "<good>", 1)],
///     classes: vec!["negative".into(), "positive".into()],
///     ..Scatter::default()
/// };
/// let svg = scatter_svg(&s).unwrap();
/// assert!(svg.contains("&lt;good&gt;") && svg.contains("negative"));
/// ```
pub fn scatter_svg(scatter: &Scatter) -> Result<String> {
    let what = format!("scatter `{}`", scatter.title);
    if scatter.points.is_empty() {
        return Err(Error::Render { what, message: "no points to draw".into() });
    }
    if let Some(p) = scatter.points.iter().find(|p| !p.x.is_finite() || !p.y.is_finite()) {
        return Err(Error::Render { what, message: format!("point `{}` has no finite coordinates", p.label) });
    }
    if let Some(p) = scatter.points.iter().find(|p| p.class >= scatter.classes.len()) {
        return Err(Error::Render {
            what,
            message: format!("point `{}` has class {} of {}", p.label, p.class, scatter.classes.len()),
        });
    }
    let title = clean_label(&scatter.title, 160);
    let labels: Vec<String> = scatter.points.iter().map(|p| clean_label(&p.label, 40)).collect();
    let classes: Vec<String> = scatter.classes.iter().map(|c| clean_label(c, 24)).collect();
    let legend_title = clean_label(&scatter.legend_title, 24);
    let show = |p: &ScatterPoint| match scatter.labels {
        Labels::All => true,
        Labels::Auto => p.highlighted || scatter.points.len() <= 200,
        Labels::Highlighted => p.highlighted,
        Labels::None => false,
    };

    // Layout: header | plot (PLOT_W x PLOT_H) with the legend on its right.
    let mut subtitle: Vec<String> = scatter.subtitle.iter().map(|s| clean_label(s, 160)).collect();
    let header_h = line_height(15.0) + (subtitle.len() as i32 + 1) * line_height(SMALL_SIZE) + 10;
    let (px, py) = (MARGIN as f64 + 8.0, (MARGIN + header_h) as f64);
    let legend_w = classes.iter().chain([&legend_title]).map(|c| text_width(c, SMALL_SIZE)).max().unwrap_or(0) + 40;
    let width = (px + PLOT_W) as i32 + 16 + legend_w + MARGIN;
    let height = (py + PLOT_H) as i32 + line_height(SMALL_SIZE) + 8 + MARGIN;

    // Data to pixels, keeping the aspect ratio (distances mean the same in x and y).
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for p in &scatter.points {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.y);
        y1 = y1.max(p.y);
    }
    let pad = 60.0;
    let span = ((x1 - x0) / (PLOT_W - 2.0 * pad)).max((y1 - y0) / (PLOT_H - 2.0 * pad)).max(1e-12);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let to_px = |x: f64, y: f64| (px + PLOT_W / 2.0 + (x - cx) / span, py + PLOT_H / 2.0 - (y - cy) / span);
    let centres: Vec<(f64, f64)> = scatter.points.iter().map(|p| to_px(p.x, p.y)).collect();
    let radius = |p: &ScatterPoint| if p.highlighted { HIGHLIGHT_R + 3.0 } else { POINT_R + 1.0 };
    let markers: Vec<(f64, f64, f64)> =
        scatter.points.iter().zip(&centres).map(|(p, &(x, y))| (x, y, radius(p))).collect();

    let char_h = line_height(POINT_LABEL_SIZE) as f64;
    let wanted: Vec<usize> = (0..scatter.points.len()).filter(|&i| show(&scatter.points[i])).collect();
    let requests: Vec<LabelRequest> = wanted
        .iter()
        .map(|&i| {
            let p = &scatter.points[i];
            // Bold text runs about a tenth wider.
            let width = if p.highlighted {
                text_width(&labels[i], POINT_LABEL_SIZE * 1.15) as f64 * 1.1
            } else {
                text_width(&labels[i], POINT_LABEL_SIZE) as f64
            };
            LabelRequest {
                anchor: centres[i],
                radius: radius(p),
                size: (width, char_h),
                required: scatter.points[i].highlighted,
            }
        })
        .collect();
    let placements = place_labels(&requests, &markers, (px + 2.0, py + 2.0, px + PLOT_W - 2.0, py + PLOT_H - 2.0));
    let left_out = placements.iter().filter(|p| p.is_none()).count();
    let mut note = format!("{} points", scatter.points.len());
    if left_out > 0 {
        note.push_str(&format!("; {left_out} labels left out for lack of room"));
    }
    subtitle.push(note);

    let mut svg = String::with_capacity(scatter.points.len() * 400 + 4096);
    {
        let root = SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        let e = |err| draw_error(&what, err);
        root.fill(&WHITE).map_err(e)?;
        draw_header(&root, &title, &subtitle).map_err(e)?;
        let ipx = |v: (f64, f64)| (v.0.round() as i32, v.1.round() as i32);
        let frame = [ipx((px, py)), ipx((px + PLOT_W, py + PLOT_H))];
        root.draw(&Rectangle::new(frame, RGBColor(120, 120, 120).stroke_width(1))).map_err(e)?;
        let axis = style(SMALL_SIZE, HPos::Center, VPos::Top);
        root.draw(&Text::new(clean_label(&scatter.x_label, 60), ipx((px + PLOT_W / 2.0, py + PLOT_H + 4.0)), axis))
            .map_err(e)?;
        let yaxis = style(SMALL_SIZE, HPos::Center, VPos::Bottom).transform(FontTransform::Rotate270);
        root.draw(&Text::new(clean_label(&scatter.y_label, 60), ipx((px - 2.0, py + PLOT_H / 2.0)), yaxis))
            .map_err(e)?;

        // Leader lines under everything else.
        for (&i, place) in wanted.iter().zip(&placements) {
            if let Some(p) = place.filter(|p| p.moved) {
                let (ax, ay) = centres[i];
                let tx = ax.clamp(p.x, p.x + p.w);
                let ty = ay.clamp(p.y, p.y + p.h);
                root.draw(&PathElement::new(
                    vec![ipx((ax, ay)), ipx((tx, ty))],
                    RGBColor(160, 160, 160).stroke_width(1),
                ))
                .map_err(e)?;
            }
        }
        // Points: plain ones first, highlighted ones on top.
        let n = classes.len();
        for pass in [false, true] {
            for (p, &c) in scatter.points.iter().zip(&centres).filter(|(p, _)| p.highlighted == pass) {
                let colour = class_colour(p.class, n);
                let r = if p.highlighted { HIGHLIGHT_R } else { POINT_R };
                root.draw(&Circle::new(ipx(c), r.round() as i32, colour.mix(0.85).filled())).map_err(e)?;
                if p.highlighted {
                    root.draw(&Circle::new(ipx(c), (r + 2.5).round() as i32, BLACK.stroke_width(1))).map_err(e)?;
                }
            }
        }
        // Labels.
        for (&i, place) in wanted.iter().zip(&placements) {
            let Some(p) = place else { continue };
            let point = &scatter.points[i];
            let s = if point.highlighted {
                TextStyle::from(FontDesc::new(
                    FontFamily::Name(FONT),
                    POINT_LABEL_SIZE * 1.15 * SVG_FONT_SCALE,
                    FontStyle::Bold,
                ))
                .pos(plotters::style::text_anchor::Pos::new(HPos::Left, VPos::Center))
            } else {
                style(POINT_LABEL_SIZE, HPos::Left, VPos::Center).color(&RGBColor(50, 50, 50))
            };
            root.draw(&Text::new(labels[i].as_str(), ipx((p.x, p.y + p.h / 2.0)), s)).map_err(e)?;
        }
        // Legend.
        let lx = (px + PLOT_W) as i32 + 16;
        let mut ly = py as i32;
        if !legend_title.is_empty() {
            root.draw(&Text::new(legend_title.as_str(), (lx, ly), style(SMALL_SIZE, HPos::Left, VPos::Top)))
                .map_err(e)?;
            ly += line_height(SMALL_SIZE) + 2;
        }
        for (k, name) in classes.iter().enumerate() {
            let y = ly + line_height(SMALL_SIZE) / 2;
            root.draw(&Circle::new((lx + 6, y), POINT_R as i32 + 1, class_colour(k, n).filled())).map_err(e)?;
            root.draw(&Text::new(name.as_str(), (lx + 16, y), style(SMALL_SIZE, HPos::Left, VPos::Center)))
                .map_err(e)?;
            ly += line_height(SMALL_SIZE) + 2;
        }
        if scatter.points.iter().any(|p| p.highlighted) {
            let y = ly + line_height(SMALL_SIZE) / 2 + 4;
            root.draw(&Circle::new((lx + 6, y), (HIGHLIGHT_R + 2.5) as i32, BLACK.stroke_width(1))).map_err(e)?;
            let s = style(SMALL_SIZE, HPos::Left, VPos::Center);
            root.draw(&Text::new("highlighted", (lx + 18, y), s)).map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowded_labels_do_not_overlap() {
        // 30 points in a tight 5 x 6 grid, 12 px apart, with labels 60 px wide: plenty of room
        // around the cluster, none between the points.
        let markers: Vec<(f64, f64, f64)> =
            (0..30).map(|k| (400.0 + 12.0 * (k % 5) as f64, 300.0 + 12.0 * (k / 5) as f64, 4.0)).collect();
        let requests: Vec<LabelRequest> = markers
            .iter()
            .enumerate()
            .map(|(k, &(x, y, radius))| LabelRequest {
                anchor: (x, y),
                radius,
                size: (60.0, 14.0),
                required: k % 7 == 0,
            })
            .collect();
        let placed = place_labels(&requests, &markers, (0.0, 0.0, 800.0, 600.0));
        assert!(placed.iter().all(Option::is_some), "every label finds room");
        let boxes: Vec<Placement> = placed.into_iter().flatten().collect();
        for (a, p) in boxes.iter().enumerate() {
            assert!(p.x >= 0.0 && p.y >= 0.0 && p.x + p.w <= 800.0 && p.y + p.h <= 600.0);
            for q in &boxes[a + 1..] {
                assert!(!p.overlaps(q), "{p:?} overlaps {q:?}");
            }
        }
        assert!(boxes.iter().any(|b| b.moved), "some labels needed leader lines");
    }

    #[test]
    fn class_colours_run_red_grey_blue() {
        assert_eq!(class_colour(0, 5), RGBColor(202, 0, 32));
        assert_eq!(class_colour(2, 5), RGBColor(130, 130, 130));
        assert_eq!(class_colour(1, 2), RGBColor(5, 113, 176));
    }
}
