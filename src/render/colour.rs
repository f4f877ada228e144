//! Colour maps: viridis for magnitudes, a blue-white-red diverging map for signed values.

use plotters::style::colors::colormaps::{ColorMap, DerivedColorMap, ViridisRGB};
use plotters::style::RGBColor;

use super::Values;

/// The colour of a cell whose value is not a number.
pub const NAN_COLOUR: RGBColor = RGBColor(204, 204, 204);

/// ColorBrewer's RdBu, reversed: negative values blue, zero near white, positive red.
const DIVERGING: [RGBColor; 7] = [
    RGBColor(33, 102, 172),
    RGBColor(103, 169, 207),
    RGBColor(209, 229, 240),
    RGBColor(247, 247, 247),
    RGBColor(253, 219, 199),
    RGBColor(239, 138, 98),
    RGBColor(178, 24, 43),
];

/// A colour map for one kind of values.
pub struct ColourMap {
    diverging: Option<DerivedColorMap<RGBColor>>,
}

impl ColourMap {
    /// Viridis for [`Values::Magnitude`] and [`Values::Unit`], blue-white-red for [`Values::Signed`].
    pub fn for_values(values: Values) -> Self {
        match values {
            Values::Signed => ColourMap { diverging: Some(DerivedColorMap::new(&DIVERGING)) },
            Values::Magnitude | Values::Unit => ColourMap { diverging: None },
        }
    }

    /// The colour of `v` on the scale `[lo, hi]` (clamped; grey for NaN; the middle colour when
    /// the scale is empty).
    pub fn colour(&self, v: f32, lo: f32, hi: f32) -> RGBColor {
        if v.is_nan() {
            return NAN_COLOUR;
        }
        let t = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
        match &self.diverging {
            Some(map) => map.get_color(t),
            None => ViridisRGB.get_color(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle_of_each_map() {
        let seq = ColourMap::for_values(Values::Magnitude);
        assert_eq!(seq.colour(0.0, 0.0, 1.0), RGBColor(68, 1, 84));
        assert_eq!(seq.colour(5.0, 0.0, 1.0), RGBColor(254, 232, 37), "clamped to the top");
        let div = ColourMap::for_values(Values::Signed);
        assert_eq!(div.colour(-2.0, -2.0, 2.0), DIVERGING[0]);
        assert_eq!(div.colour(0.0, -2.0, 2.0), DIVERGING[3], "zero is the light middle");
        assert_eq!(div.colour(2.0, -2.0, 2.0), DIVERGING[6]);
        assert_eq!(div.colour(f32::NAN, -2.0, 2.0), NAN_COLOUR);
        assert_eq!(div.colour(1.0, 1.0, 1.0), DIVERGING[3], "an empty scale does not panic");
    }
}
