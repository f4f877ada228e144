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

use super::heatmap::{draw_caption, draw_error, draw_header, finish, line_height, text_width, wrap, Fonts, MARGIN};
use super::{clean_label, Style};
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

// Okabe and Ito's colour-blind safe colours (https://jfly.uni-koeln.de/color/; the orange a little
// yellower, which keeps it apart from vermillion for deuteranopes), and a grey.
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const ORANGE: RGBColor = RGBColor(240, 180, 0);
const GREY: RGBColor = RGBColor(120, 120, 120);
const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
const BLUE: RGBColor = RGBColor(0, 114, 178);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const YELLOW: RGBColor = RGBColor(240, 228, 66);

/// The colour of class `k` of `n` ordered classes (negative first): warm to grey to blue, from
/// Okabe and Ito's colour-blind safe set, so that neighbouring classes stay apart for readers
/// with any of the three kinds of colour blindness. Two classes are vermillion and blue, three
/// add grey in the middle, five are vermillion, orange, grey, sky blue, blue. More than five
/// (unordered) classes take the eight colours in turn.
pub fn class_colour(k: usize, n: usize) -> RGBColor {
    let palette: &[RGBColor] = match n {
        0 | 1 => &[GREY],
        2 => &[VERMILLION, BLUE],
        3 => &[VERMILLION, GREY, BLUE],
        4 => &[VERMILLION, ORANGE, SKY_BLUE, BLUE],
        5 => &[VERMILLION, ORANGE, GREY, SKY_BLUE, BLUE],
        _ => &[VERMILLION, BLUE, ORANGE, SKY_BLUE, GREEN, PURPLE, YELLOW, GREY],
    };
    palette[k % palette.len()]
}

const PLOT_W: f64 = 820.0;
const PLOT_H: f64 = 640.0;
const POINT_R: f64 = 3.5;
const HIGHLIGHT_R: f64 = 5.5;

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
/// let svg = scatter_svg(&s, &Default::default()).unwrap();
/// assert!(svg.contains("&lt;good&gt;") && svg.contains("negative"));
/// ```
pub fn scatter_svg(scatter: &Scatter, style: &Style) -> Result<String> {
    style.check()?;
    let fonts = Fonts::new(style);
    let point_label_size = style.font_size * 10.0 / 12.0;
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
    let title = clean_label(style.title(&scatter.title), 160);
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
    let mut subtitle: Vec<String> = style.subtitle(&scatter.subtitle).iter().map(|s| clean_label(s, 160)).collect();
    // The subtitle gets one more line below (the number of points), unless there is none.
    let header_lines = if style.no_title { 0 } else { subtitle.len() as i32 + 1 };
    let title_h = if title.is_empty() { 0 } else { line_height(fonts.title) };
    let header_h = title_h + header_lines * line_height(fonts.small);
    let header_h = if header_h == 0 { 0 } else { header_h + 10 };
    let (px, py) = (MARGIN as f64 + fonts.small + 8.0, (MARGIN + header_h) as f64);
    let legend_w = classes.iter().chain([&legend_title]).map(|c| text_width(c, fonts.small)).max().unwrap_or(0) + 40;
    // The plot fills the width asked for (keeping its shape), but not below 200 pixels.
    let plot_w = match style.width {
        Some(w) => (w as f64 - px - 16.0 - legend_w as f64 - MARGIN as f64).max(200.0),
        None => PLOT_W,
    };
    let plot_h = plot_w * PLOT_H / PLOT_W;
    let width = (px + plot_w) as i32 + 16 + legend_w + MARGIN;
    let body_h = (py + plot_h) as i32 + line_height(fonts.small) + 8;
    let caption = wrap(style.caption.as_deref().unwrap_or(""), width - 2 * MARGIN, fonts.small);
    let height = body_h + caption.len() as i32 * line_height(fonts.small) + MARGIN;

    // Data to pixels, keeping the aspect ratio (distances mean the same in x and y).
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for p in &scatter.points {
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.y);
        y1 = y1.max(p.y);
    }
    let pad = 60.0;
    let span = ((x1 - x0) / (plot_w - 2.0 * pad)).max((y1 - y0) / (plot_h - 2.0 * pad)).max(1e-12);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let to_px = |x: f64, y: f64| (px + plot_w / 2.0 + (x - cx) / span, py + plot_h / 2.0 - (y - cy) / span);
    let centres: Vec<(f64, f64)> = scatter.points.iter().map(|p| to_px(p.x, p.y)).collect();
    let radius = |p: &ScatterPoint| if p.highlighted { HIGHLIGHT_R + 3.0 } else { POINT_R + 1.0 };
    let markers: Vec<(f64, f64, f64)> =
        scatter.points.iter().zip(&centres).map(|(p, &(x, y))| (x, y, radius(p))).collect();

    let char_h = line_height(point_label_size) as f64;
    let wanted: Vec<usize> = (0..scatter.points.len()).filter(|&i| show(&scatter.points[i])).collect();
    let requests: Vec<LabelRequest> = wanted
        .iter()
        .map(|&i| {
            let p = &scatter.points[i];
            // Bold text runs about a tenth wider.
            let width = if p.highlighted {
                text_width(&labels[i], point_label_size * 1.15) as f64 * 1.1
            } else {
                text_width(&labels[i], point_label_size) as f64
            };
            LabelRequest {
                anchor: centres[i],
                radius: radius(p),
                size: (width, char_h),
                required: scatter.points[i].highlighted,
            }
        })
        .collect();
    let placements = place_labels(&requests, &markers, (px + 2.0, py + 2.0, px + plot_w - 2.0, py + plot_h - 2.0));
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
        draw_header(&root, &fonts, &title, if style.no_title { &[] } else { &subtitle[..] }).map_err(e)?;
        let ipx = |v: (f64, f64)| (v.0.round() as i32, v.1.round() as i32);
        let frame = [ipx((px, py)), ipx((px + plot_w, py + plot_h))];
        root.draw(&Rectangle::new(frame, RGBColor(120, 120, 120).stroke_width(1))).map_err(e)?;
        let axis = fonts.text(fonts.small, HPos::Center, VPos::Top);
        root.draw(&Text::new(clean_label(&scatter.x_label, 60), ipx((px + plot_w / 2.0, py + plot_h + 4.0)), axis))
            .map_err(e)?;
        let yaxis = fonts.text(fonts.small, HPos::Center, VPos::Bottom).transform(FontTransform::Rotate270);
        root.draw(&Text::new(clean_label(&scatter.y_label, 60), ipx((px - 2.0, py + plot_h / 2.0)), yaxis))
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
                fonts.bold(point_label_size * 1.15, HPos::Left, VPos::Center)
            } else {
                fonts.text(point_label_size, HPos::Left, VPos::Center).color(&RGBColor(50, 50, 50))
            };
            root.draw(&Text::new(labels[i].as_str(), ipx((p.x, p.y + p.h / 2.0)), s)).map_err(e)?;
        }
        // Legend.
        let lx = (px + plot_w) as i32 + 16;
        let mut ly = py as i32;
        if !legend_title.is_empty() {
            root.draw(&Text::new(legend_title.as_str(), (lx, ly), fonts.text(fonts.small, HPos::Left, VPos::Top)))
                .map_err(e)?;
            ly += line_height(fonts.small) + 2;
        }
        for (k, name) in classes.iter().enumerate() {
            let y = ly + line_height(fonts.small) / 2;
            root.draw(&Circle::new((lx + 6, y), POINT_R as i32 + 1, class_colour(k, n).filled())).map_err(e)?;
            root.draw(&Text::new(name.as_str(), (lx + 16, y), fonts.text(fonts.small, HPos::Left, VPos::Center)))
                .map_err(e)?;
            ly += line_height(fonts.small) + 2;
        }
        if scatter.points.iter().any(|p| p.highlighted) {
            let y = ly + line_height(fonts.small) / 2 + 4;
            root.draw(&Circle::new((lx + 6, y), (HIGHLIGHT_R + 2.5) as i32, BLACK.stroke_width(1))).map_err(e)?;
            let s = fonts.text(fonts.small, HPos::Left, VPos::Center);
            root.draw(&Text::new("highlighted", (lx + 18, y), s)).map_err(e)?;
        }
        draw_caption(&root, &fonts, &caption, body_h).map_err(e)?;
        root.present().map_err(e)?;
    }
    finish(svg, (width, height), style.width, false)
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

    /// CIELAB of an sRGB colour as a reader with `deficiency` sees it (Machado, Oliveira and
    /// Fernandes 2009, severity 1, applied in linear RGB; `None` for normal vision).
    fn seen(c: RGBColor, deficiency: Option<[[f64; 3]; 3]>) -> [f64; 3] {
        let lin = |u: u8| {
            let u = u as f64 / 255.0;
            if u <= 0.04045 {
                u / 12.92
            } else {
                ((u + 0.055) / 1.055).powf(2.4)
            }
        };
        let mut rgb = [lin(c.0), lin(c.1), lin(c.2)];
        if let Some(m) = deficiency {
            let v = rgb;
            for (i, row) in m.iter().enumerate() {
                rgb[i] = (row[0] * v[0] + row[1] * v[1] + row[2] * v[2]).clamp(0.0, 1.0);
            }
        }
        let [r, g, b] = rgb;
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 };
        [116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))]
    }

    const PROTANOPIA: [[f64; 3]; 3] =
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]];
    const DEUTERANOPIA: [[f64; 3]; 3] =
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]];
    const TRITANOPIA: [[f64; 3]; 3] =
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]];

    /// The smallest CIELAB distance between two classes of `n` (neighbours or not), for normal
    /// vision and each colour blindness.
    fn closest_pair(colour: impl Fn(usize, usize) -> RGBColor, n: usize) -> f64 {
        let mut least = f64::INFINITY;
        for vision in [None, Some(PROTANOPIA), Some(DEUTERANOPIA), Some(TRITANOPIA)] {
            for a in 0..n {
                for b in a + 1..n {
                    let (p, q) = (seen(colour(a, n), vision), seen(colour(b, n), vision));
                    let d = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
                    least = least.min(d);
                }
            }
        }
        least
    }

    #[test]
    fn five_classes_stay_apart_for_colour_blind_readers() {
        for n in 2..=5 {
            let d = closest_pair(class_colour, n);
            assert!(d >= 20.0, "{n} classes: two colours only {d:.1} apart (CIELAB)");
        }
        // The former red-grey-blue blend fails the same test: its neighbours merge.
        let blend = |k: usize, n: usize| {
            let t = k as f64 / (n - 1) as f64;
            let (a, b, u) = if t <= 0.5 {
                ((202.0, 0.0, 32.0), (130.0, 130.0, 130.0), t * 2.0)
            } else {
                ((130.0, 130.0, 130.0), (5.0, 113.0, 176.0), (t - 0.5) * 2.0)
            };
            let mix = |p: f64, q: f64| (p + (q - p) * u).round() as u8;
            RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
        };
        assert!(closest_pair(blend, 5) < 20.0, "{}", closest_pair(blend, 5));
        assert_eq!(class_colour(0, 5), VERMILLION);
        assert_eq!(class_colour(2, 5), GREY, "neutral is grey");
        assert_eq!(class_colour(1, 2), BLUE);
    }
}
