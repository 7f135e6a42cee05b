//! SVG charts of saved results (plotters, SVG backend only): a pure step from numbers to a
//! string, so rendering never touches a measurement.

use plotters::prelude::*;

/// A linear axis, or a base-10 logarithmic one (values must be > 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Linear,
    Log,
}

impl Axis {
    fn to_plot(self, v: f64) -> f64 {
        match self {
            Axis::Linear => v,
            Axis::Log => v.max(f64::MIN_POSITIVE).log10(),
        }
    }

    fn label(self, v: f64) -> String {
        let v = match self {
            Axis::Linear => v,
            Axis::Log => 10f64.powf(v),
        };
        let a = v.abs();
        if a >= 1e6 {
            format!("{:.1}M", v / 1e6)
        } else if a >= 1e4 {
            format!("{:.0}k", v / 1e3)
        } else if a >= 100.0 {
            format!("{v:.0}")
        } else if a >= 1.0 {
            format!("{v:.2}")
        } else {
            format!("{v:.3}")
        }
    }
}

/// Points of one colour; `line` joins them in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub line: bool,
}

/// One chart of a figure.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub x_axis: Axis,
    pub y_axis: Axis,
}

const COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    (lo - pad, hi + pad)
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Panel,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (x0, x1) = bounds(
        p.series
            .iter()
            .flat_map(|s| s.points.iter().map(|q| p.x_axis.to_plot(q.0))),
    );
    let (y0, y1) = bounds(
        p.series
            .iter()
            .flat_map(|s| s.points.iter().map(|q| p.y_axis.to_plot(q.1))),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    let (xa, ya) = (p.x_axis, p.y_axis);
    let x_fmt = move |v: &f64| xa.label(*v);
    let y_fmt = move |v: &f64| ya.label(*v);
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in p.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y)| (xa.to_plot(x), ya.to_plot(y)))
            .collect();
        if s.line {
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                .map_err(|e| err(&e))?;
        }
        chart
            .draw_series(
                pts.iter()
                    .map(|&c| Circle::new(c, if s.line { 4 } else { 3 }, colour.filled())),
            )
            .map_err(|e| err(&e))?
            .label(s.label.as_str())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}

/// One or more charts side by side, as an SVG document.
pub fn figure(panels: &[Panel]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let width = 760 * panels.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (width, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, panel) in areas.iter().zip(panels) {
            draw(area, panel)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One chart as an SVG document.
pub fn xy_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_axis: Axis,
    y_axis: Axis,
) -> Result<String, String> {
    figure(&[Panel {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        series: series.to_vec(),
        x_axis,
        y_axis,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_a_well_formed_svg_with_one_mark_per_point_and_its_labels() {
        let svg = xy_chart(
            "recall vs qps",
            "recall@10",
            "qps",
            &[
                Series {
                    label: "all".into(),
                    points: vec![(0.8, 5000.0), (0.9, 3000.0), (0.99, 800.0)],
                    line: false,
                },
                Series {
                    label: "frontier".into(),
                    points: vec![(0.8, 5000.0), (0.99, 800.0)],
                    line: true,
                },
            ],
            Axis::Linear,
            Axis::Log,
        )
        .unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        // 5 point marks + 2 legend marks.
        let circles = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count();
        assert_eq!(circles, 7, "{svg}");
        assert!(doc.descendants().any(|n| n.has_tag_name("polyline")));
        let text: String = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join("|");
        for needle in ["recall vs qps", "recall@10", "frontier", "all"] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
    }

    #[test]
    fn log_axes_label_in_original_units() {
        assert_eq!(Axis::Log.label(3.0), "1000");
        assert_eq!(Axis::Log.label(5.0), "100k");
        assert_eq!(Axis::Linear.label(0.95), "0.950");
        assert_eq!(Axis::Log.to_plot(100.0), 2.0);
    }
}
