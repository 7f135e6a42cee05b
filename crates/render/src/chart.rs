//! The one chart module of qdrant-perf (plotters, SVG backend only): a pure step from numbers to
//! a string, so rendering never touches a measurement. [`figure`] writes a
//! standalone SVG document with its legend drawn inside (sweep's and scale's `.svg` files);
//! [`html_chart`] and [`html_bars`] write a `<figure>` for a page: the SVG inline, each series'
//! marks tagged `data-series="<label>"` (so a browser test counts series and points in the
//! DOM), and the legend as HTML below it.

use std::fmt::Write as _;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::html::escape;

/// A linear axis, a base-10 logarithmic one (values must be > 0), or the percentile axis of
/// a latency spectrum: values are quantiles `q` in [0, 1), drawn at `log10(1 / (1 - q))` and
/// labelled 50 %, 90 %, 99 %, 99.9 %, ... (HdrHistogram's picture).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Linear,
    Log,
    Percentile,
}

impl Axis {
    fn to_plot(self, v: f64) -> f64 {
        match self {
            Axis::Linear => v,
            Axis::Log => v.max(f64::MIN_POSITIVE).log10(),
            Axis::Percentile => (1.0 / (1.0 - v).max(1e-12)).log10(),
        }
    }

    /// The label of a tick at `v` on an axis spanning `span`: on a linear axis with as many
    /// decimals as the ticks' spacing needs (about a tenth of the span, as 8 labels are
    /// asked for), so neighbouring ticks never read the same (`199.5`, `200.0`, `200.5`).
    fn tick_label(self, v: f64, span: f64) -> String {
        if self == Axis::Linear && v.abs() < 1e4 && span.is_finite() && span > 0.0 {
            let decimals = (-(span / 8.0).log10().floor()).clamp(0.0, 4.0) as usize;
            return format!("{v:.decimals$}");
        }
        self.label(v)
    }

    fn label(self, v: f64) -> String {
        match self {
            Axis::Percentile => return percentile_label(v),
            Axis::Log => return log_label(10f64.powf(v)),
            Axis::Linear => {}
        }
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

/// The label of a tick of a logarithmic axis at `v` (in the axis' own units): at most three
/// significant digits, no trailing zeros (`0.05`, `2`, `500`, `20k`, `1.5M`), so the 1-2-5
/// ticks of [`log_ticks`] read as they are.
fn log_label(v: f64) -> String {
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a > 0.0 {
        let decimals = (2.0 - a.log10().floor()).clamp(0.0, 9.0) as usize;
        trim(format!("{v:.decimals$}"))
    } else {
        "0".into()
    }
}

/// Where a logarithmic axis spanning `lo..hi` (base-10 logarithms) has its ticks: at 1, 2, 5
/// times a power of ten, denser (every digit) on a short span, sparser (every decade, then
/// every few) on a long one, at most 10; `None` when not even two digits fall in the span (a
/// span under a factor of two), for evenly spaced ticks instead.
fn log_ticks(lo: f64, hi: f64) -> Option<Vec<f64>> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return None;
    }
    let at = |multipliers: &[f64], every: i64| -> Vec<f64> {
        let (first, last) = (lo.floor() as i64 - 1, hi.ceil() as i64 + 1);
        (first..=last)
            .filter(|d| d.rem_euclid(every) == 0)
            .flat_map(|d| multipliers.iter().map(move |m| d as f64 + m.log10()))
            .filter(|v| *v >= lo - 1e-9 && *v <= hi + 1e-9)
            .collect()
    };
    let digits: Vec<f64> = (1..10).map(f64::from).collect();
    let dense = at(&digits, 1);
    if dense.len() < 2 {
        return None;
    }
    for candidate in [dense, at(&[1.0, 2.0, 5.0], 1), at(&[1.0], 1)] {
        if candidate.len() <= 10 {
            return Some(candidate);
        }
    }
    let every = ((hi - lo) / 8.0).ceil().max(1.0) as i64;
    Some(at(&[1.0], every))
}

/// The label of the percentile axis at `v = log10(1 / (1 - q))`: `50 %`, `90 %`, `99.9 %`.
fn percentile_label(v: f64) -> String {
    let pct = (1.0 - 10f64.powf(-v)) * 100.0;
    // As many decimals as the nines need (99.99 % at v = 4), none below 99 %.
    let decimals = (v.round() as i64 - 2).clamp(0, 6) as usize;
    format!("{pct:.decimals$} %")
}

/// Where the percentile axis has its ticks: 50 %, 90 %, 99 %, 99.9 %, ... up to `hi`.
fn percentile_ticks(hi: f64) -> Vec<f64> {
    let nines = (1..).map(f64::from).take_while(|v| *v <= hi + 1e-9);
    std::iter::once(2f64.log10()).chain(nines).collect()
}

/// The quantiles a latency spectrum of `samples` values is drawn at: `1 / (1 - q)` steps by a
/// quarter decade (q = 0, 43.8 %, 68.4 %, 82.2 %, 90 %, ...) as long as it stays within the
/// sample size (a quantile beyond `1 - 1/n` says nothing more than the maximum).
pub fn spectrum_quantiles(samples: u64) -> Vec<f64> {
    (0..)
        .map(|i| 10f64.powf(i as f64 / 4.0))
        .take_while(|x| *x <= samples as f64)
        .map(|x| 1.0 - 1.0 / x)
        .collect()
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

impl Panel {
    /// Each series' label and its number of points.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let count = |s: &Series| (s.label.clone(), s.points.len());
        self.series.iter().map(count).collect()
    }
}

/// A grouped bar chart: one group per entry of `groups` (a collection, an operation), one bar
/// per series in each group; a series' `None` draws no bar there.
#[derive(Clone, Debug)]
pub struct Bars {
    pub title: String,
    pub y_label: String,
    pub groups: Vec<String>,
    /// (label, one value per group).
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

impl Bars {
    /// Each series' label and its number of bars (values present).
    pub fn counts(&self) -> Vec<(String, usize)> {
        let count = |(l, v): &(String, Vec<Option<f64>>)| (l.clone(), v.iter().flatten().count());
        self.series.iter().map(count).collect()
    }
}

/// How [`html_chart_with`] draws a panel, beyond what the panel holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style<'a> {
    /// Text beside points: `labels[i][j]` beside point `j` of series `i` (an empty or missing
    /// one: none), in the series' colour, where it covers no point nor another label (else
    /// left out).
    pub labels: &'a [Vec<String>],
    /// A linear y axis from zero however close together the values are: a rate that held
    /// reads as a level line, not as swings of a fraction of a percent.
    pub y_from_zero: bool,
}

const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of series `i` of a chart, distinct for every `i` (marks are told apart by it).
fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    let shift = (i / PALETTE.len()) as u8;
    RGBColor(r.wrapping_sub(shift), g, b)
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// The span an axis shows of `values` (on a log axis, their logarithms): theirs with 5 %
/// on either side. A span of one value is given room around it instead of an invisible
/// sliver: `0..1` when that value is 0 (a series of zeros, an error count that stayed at
/// none), ±10 % of it otherwise, ± half a decade on a log axis; nothing to show is `0..1`.
fn bounds(values: impl Iterator<Item = f64>, axis: Axis) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-12 * lo.abs().max(hi.abs()) {
        return match axis {
            Axis::Log | Axis::Percentile => (lo - 0.5, hi + 0.5),
            Axis::Linear if lo == 0.0 && hi == 0.0 => (0.0, 1.0),
            Axis::Linear => {
                let pad = lo.abs().max(hi.abs()) * 0.1;
                (lo - pad, hi + pad)
            }
        };
    }
    let pad = span * 0.05;
    (lo - pad, hi + pad)
}

/// A linear axis from `lo` to `hi` (a logarithmic or percentile axis is linear in its
/// transformed values) with its ticks where the caller says (the percentile axis' nines, a log
/// axis' 1-2-5, a bar chart's group centres), or where plotters puts them (`None`).
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Option<Vec<f64>>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.lo..self.hi).map(v, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match &self.ticks {
            Some(ticks) => ticks.clone(),
            None => RangedCoordf64::from(self.lo..self.hi).key_points(hint),
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// The coordinate of `axis` over `lo..hi` (transformed values), with its ticks.
fn coord(axis: Axis, lo: f64, hi: f64) -> Ticked {
    let ticks = match axis {
        Axis::Linear => None,
        Axis::Log => log_ticks(lo, hi),
        Axis::Percentile => Some(percentile_ticks(hi)),
    };
    Ticked { lo, hi, ticks }
}

fn draw(area: &Area, p: &Panel, legend: bool, style: Style) -> Result<(), String> {
    let (x0, x1) = bounds(
        p.series
            .iter()
            .flat_map(|s| s.points.iter().map(|q| p.x_axis.to_plot(q.0))),
        p.x_axis,
    );
    let (y0, y1) = bounds(
        p.series
            .iter()
            .flat_map(|s| s.points.iter().map(|q| p.y_axis.to_plot(q.1))),
        p.y_axis,
    );
    // A time series or bar chart starting near zero reads better from zero.
    let y0 = if p.y_axis == Axis::Linear && y0 > 0.0 && (style.y_from_zero || y0 < (y1 - y0)) {
        0.0
    } else {
        y0
    };
    let x0 = if p.x_axis == Axis::Percentile {
        x0.min(0.0)
    } else {
        x0
    };
    let (x, y) = (coord(p.x_axis, x0, x1), coord(p.y_axis, y0, y1));
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (x_span, y_span) = (x.hi - x.lo, y.hi - y.lo);
    // On a page the figure's caption says the title; a standalone SVG draws it.
    let mut builder = ChartBuilder::on(area);
    if legend {
        builder.caption(&p.title, ("sans-serif", 18));
    }
    let mut chart = builder
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(|e| err(&e))?;
    let (xa, ya) = (p.x_axis, p.y_axis);
    let x_fmt = move |v: &f64| xa.tick_label(*v, x_span);
    let y_fmt = move |v: &f64| ya.tick_label(*v, y_span);
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_labels(8)
        .y_labels(8)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in p.series.iter().enumerate() {
        let c = colour(i);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y)| (xa.to_plot(x), ya.to_plot(y)))
            .collect();
        if s.line {
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(|e| err(&e))?;
        }
        let r = if s.line { 3 } else { 4 };
        let drawn = chart
            .draw_series(pts.iter().map(|&q| Circle::new(q, r, c.filled())))
            .map_err(|e| err(&e))?;
        if legend {
            drawn
                .label(s.label.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()));
        }
    }
    if style.labels.iter().any(|l| !l.is_empty()) {
        point_labels(&chart, p, style.labels)?;
    }
    if legend {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

/// Writes `labels[i][j]` beside point `j` of series `i` in the series' colour: above and to
/// the right of the point, or else below it, or to its left, wherever it covers no point and
/// no label already written and stays inside the plot; a label with no such place is left
/// out (the table beside the chart has every figure).
fn point_labels(
    chart: &ChartContext<SVGBackend, Cartesian2d<Ticked, Ticked>>,
    p: &Panel,
    labels: &[Vec<String>],
) -> Result<(), String> {
    let area = chart.plotting_area();
    let (xr, yr) = area.get_pixel_range();
    let (width, height) = (xr.end - xr.start, yr.end - yr.start);
    let plain = area.strip_coord_spec();
    let pixel = |x: f64, y: f64| {
        let (px, py) = chart.backend_coord(&(p.x_axis.to_plot(x), p.y_axis.to_plot(y)));
        (px - xr.start, py - yr.start)
    };
    // Boxes (left, top, right, bottom) nothing may cover: the points, then each label written.
    let mut taken: Vec<(i32, i32, i32, i32)> = p
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .map(|&(x, y)| {
            let (px, py) = pixel(x, y);
            (px - 4, py - 4, px + 4, py + 4)
        })
        .collect();
    let overlaps = |a: &(i32, i32, i32, i32), b: &(i32, i32, i32, i32)| {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    };
    const SIZE: f64 = 15.0; // plotters writes font-size 15 / 1.24: 12 px
    let h = 13;
    for (i, s) in p.series.iter().enumerate() {
        for (j, &(x, y)) in s.points.iter().enumerate() {
            let Some(text) = labels
                .get(i)
                .and_then(|l| l.get(j))
                .filter(|t| !t.is_empty())
            else {
                continue;
            };
            let w = (text.chars().count() as f64 * 6.8).ceil() as i32;
            let (px, py) = pixel(x, y);
            let place = [(6, -h - 4), (6, 4), (-w - 6, -h - 4), (-w - 6, 4)]
                .into_iter()
                .map(|(dx, dy)| (px + dx, py + dy, px + dx + w, py + dy + h))
                .find(|b| {
                    b.0 >= 0
                        && b.1 >= 0
                        && b.2 <= width
                        && b.3 <= height
                        && !taken.iter().any(|t| overlaps(b, t))
                });
            if let Some(b) = place {
                plain
                    .draw(&Text::new(
                        text.clone(),
                        (b.0, b.1),
                        ("sans-serif", SIZE).into_font().color(&colour(i)),
                    ))
                    .map_err(|e| e.to_string())?;
                taken.push(b);
            }
        }
    }
    Ok(())
}

/// Renders `paint` on an SVG of `width` x `height`.
fn svg(
    width: u32,
    height: u32,
    paint: impl FnOnce(&Area) -> Result<(), String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        paint(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One or more charts side by side, as an SVG document with each chart's legend inside it.
pub fn figure(panels: &[Panel]) -> Result<String, String> {
    let n = panels.len().max(1);
    svg(760 * n as u32, 520, |root| {
        for (area, panel) in root.split_evenly((1, n)).iter().zip(panels) {
            draw(area, panel, true, Style::default())?;
        }
        Ok(())
    })
}

/// Tags every mark (circle, rect, line, polyline, polygon) drawn in series `i`'s colour with
/// `data-series="<label>"`. Plotters writes one element per line, and the axes, grid and text
/// are never in a series colour.
fn tag_series(svg: &str, labels: &[&str]) -> String {
    let colours: Vec<String> = (0..labels.len())
        .map(|i| format!("\"{}\"", hex(colour(i))))
        .collect();
    let mut out = String::with_capacity(svg.len() + 64 * labels.len());
    for line in svg.lines() {
        let mark = ["<circle", "<rect", "<polyline", "<polygon", "<line"]
            .into_iter()
            .find(|t| line.trim_start().starts_with(&format!("{t} ")));
        match mark.and_then(|t| {
            colours
                .iter()
                .position(|c| line.contains(c.as_str()))
                .map(|i| (t, i))
        }) {
            Some((tag, i)) => {
                let at = line.find(tag).expect("found above") + tag.len();
                out.push_str(&line[..at]);
                let _ = write!(out, " data-series=\"{}\"", escape(labels[i]));
                out.push_str(&line[at..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The `<figure>` of an inline SVG: its caption, the chart, and an HTML legend of `labels`.
fn html_figure(caption: &str, svg: &str, labels: &[&str]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure class=\"chart\"><figcaption>{}</figcaption>\n{}<div class=\"legend\">",
        escape(caption),
        tag_series(svg, labels)
    );
    for (i, l) in labels.iter().enumerate() {
        let _ = write!(
            s,
            "<span><i style=\"background:{}\"></i>{}</span>",
            hex(colour(i)),
            escape(l)
        );
    }
    s.push_str("</div></figure>\n");
    s
}

/// One chart as a page's `<figure>`: the SVG inline (marks tagged with their series), the
/// legend in HTML.
pub fn html_chart(p: &Panel) -> Result<String, String> {
    html_chart_with(p, Style::default())
}

/// [`html_chart`] drawn in `style`: with labels beside points, a y axis from zero.
pub fn html_chart_with(p: &Panel, style: Style) -> Result<String, String> {
    let svg = svg(1100, 420, |root| draw(root, p, false, style))?;
    let labels: Vec<&str> = p.series.iter().map(|s| s.label.as_str()).collect();
    Ok(html_figure(&p.title, &svg, &labels))
}

/// A grouped bar chart as a page's `<figure>` (bars tagged with their series).
pub fn html_bars(b: &Bars) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let n = b.groups.len().max(1);
    let k = b.series.len().max(1);
    let top = b
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let groups = b.groups.clone();
    let svg = svg(1100, 380, |root| {
        let centres: Vec<f64> = (0..n).map(|g| g as f64 + 0.5).collect();
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(
                Ticked {
                    lo: 0.0,
                    hi: n as f64,
                    ticks: Some(centres),
                },
                0.0..top,
            )
            .map_err(|e| err(&e))?;
        let x_fmt = move |v: &f64| {
            let g = (v - 0.5).round();
            if g >= 0.0 && (v - 0.5 - g).abs() < 1e-6 {
                groups.get(g as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let y_fmt = move |v: &f64| Axis::Linear.tick_label(*v, top);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(b.y_label.as_str())
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()
            .map_err(|e| err(&e))?;
        let width = 0.8 / k as f64;
        for (j, (_, values)) in b.series.iter().enumerate() {
            let c = colour(j);
            let bars = values.iter().enumerate().filter_map(|(g, v)| {
                let left = g as f64 + 0.1 + j as f64 * width;
                v.map(|v| Rectangle::new([(left, 0.0), (left + width * 0.92, v)], c.filled()))
            });
            chart.draw_series(bars).map_err(|e| err(&e))?;
        }
        Ok(())
    })?;
    let labels: Vec<&str> = b.series.iter().map(|(l, _)| l.as_str()).collect();
    Ok(html_figure(&b.title, &svg, &labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One chart as an SVG document.
    fn xy_chart(
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

    fn two_series() -> Vec<Series> {
        vec![
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
        ]
    }

    fn texts(doc: &roxmltree::Document) -> String {
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn a_chart_is_a_well_formed_svg_with_one_mark_per_point_and_its_labels() {
        let svg = xy_chart(
            "recall vs qps",
            "recall@10",
            "qps",
            &two_series(),
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
        let text = texts(&doc);
        for needle in ["recall vs qps", "recall@10", "frontier", "all"] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
    }

    #[test]
    fn log_axes_label_in_original_units() {
        assert_eq!(Axis::Log.label(3.0), "1000");
        assert_eq!(Axis::Log.label(5.0), "100k");
        assert_eq!(Axis::Linear.label(0.95), "0.950");
        // Ticks 0.5 apart around 200 (a run holding its rate) stay apart.
        let ticks: Vec<String> = [199.5, 200.0, 200.5]
            .iter()
            .map(|&v| Axis::Linear.tick_label(v, 2.0))
            .collect();
        assert_eq!(ticks, ["199.5", "200.0", "200.5"]);
        assert_eq!(Axis::Linear.tick_label(400.0, 600.0), "400");
        assert_eq!(Axis::Linear.tick_label(0.95, 0.06), "0.950");
        assert_eq!(Axis::Log.to_plot(100.0), 2.0);
    }

    /// The `<svg>` of a page figure, parsed.
    fn inline_svg(html: &str) -> String {
        let from = html.find("<svg").expect("an inline svg");
        let to = html.find("</svg>").expect("its end") + "</svg>".len();
        html[from..to].to_string()
    }

    #[test]
    fn a_page_chart_tags_each_series_marks_and_has_an_html_legend_instead_of_one_inside() {
        let html = html_chart(&Panel {
            title: "recall vs qps".into(),
            x_label: "recall@10".into(),
            y_label: "qps".into(),
            series: two_series(),
            x_axis: Axis::Linear,
            y_axis: Axis::Log,
        })
        .unwrap();
        let svg = inline_svg(&html);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let marks = |label: &str, tag: &str| {
            doc.descendants()
                .filter(|n| n.has_tag_name(tag) && n.attribute("data-series") == Some(label))
                .count()
        };
        assert_eq!(marks("all", "circle"), 3, "{svg}");
        assert_eq!(marks("frontier", "circle"), 2, "{svg}");
        assert_eq!(marks("frontier", "polyline"), 1, "{svg}");
        // No legend inside the SVG: every circle is a point.
        let circles = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count();
        assert_eq!(circles, 5, "{svg}");
        assert!(!texts(&doc).contains("frontier"));
        assert!(html.contains("<div class=\"legend\">"), "{html}");
        assert!(html.contains("</i>frontier</span>") && html.contains("</i>all</span>"));
        assert!(html.contains("<figcaption>recall vs qps</figcaption>"));
    }

    #[test]
    fn the_percentile_axis_is_labelled_in_nines() {
        assert_eq!(percentile_label(2f64.log10()), "50 %");
        assert_eq!(percentile_label(1.0), "90 %");
        assert_eq!(percentile_label(2.0), "99 %");
        assert_eq!(percentile_label(3.0), "99.9 %");
        assert_eq!(percentile_label(4.0), "99.99 %");
        assert!((Axis::Percentile.to_plot(0.99) - 2.0).abs() < 1e-9);
        let html = html_chart(&Panel {
            title: "spectrum".into(),
            x_label: "percentile".into(),
            y_label: "ms".into(),
            series: vec![Series {
                label: "client".into(),
                points: spectrum_quantiles(20_000)
                    .into_iter()
                    .map(|q| (q, 1.0 + q))
                    .collect(),
                line: true,
            }],
            x_axis: Axis::Percentile,
            y_axis: Axis::Linear,
        })
        .unwrap();
        let svg = inline_svg(&html);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let text = texts(&doc);
        for tick in ["50 %", "90 %", "99 %", "99.9 %", "99.99 %"] {
            assert!(text.split('|').any(|t| t == tick), "{tick} not in {text}");
        }
    }

    #[test]
    fn spectrum_quantiles_stay_within_the_sample_size() {
        assert_eq!(spectrum_quantiles(0), Vec::<f64>::new());
        assert_eq!(spectrum_quantiles(1), vec![0.0]);
        // 1, 1.78, 3.16, 5.62, 10: five steps up to n = 10, the last at 90 %.
        let q = spectrum_quantiles(10);
        assert_eq!(q.len(), 5, "{q:?}");
        assert!((q[4] - 0.9).abs() < 1e-9);
        assert!(q.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn grouped_bars_draw_one_bar_per_present_value_tagged_with_its_series() {
        let html = html_bars(&Bars {
            title: "latency per collection".into(),
            y_label: "ms".into(),
            groups: vec!["alpha".into(), "beta".into(), "gamma".into()],
            series: vec![
                ("mean".into(), vec![Some(1.0), Some(2.0), Some(3.0)]),
                ("p99".into(), vec![Some(4.0), None, Some(6.0)]),
            ],
        })
        .unwrap();
        let svg = inline_svg(&html);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let bars = |label: &str| {
            doc.descendants()
                .filter(|n| n.has_tag_name("rect") && n.attribute("data-series") == Some(label))
                .count()
        };
        assert_eq!(bars("mean"), 3, "{svg}");
        assert_eq!(bars("p99"), 2, "{svg}");
        let text = texts(&doc);
        for g in ["alpha", "beta", "gamma", "ms"] {
            assert!(text.contains(g), "{g} not in {text}");
        }
    }

    #[test]
    fn series_colours_are_distinct_beyond_the_palette() {
        let all: Vec<String> = (0..40).map(|i| hex(colour(i))).collect();
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), all.len());
    }

    #[test]
    fn a_series_of_one_value_gets_an_axis_around_it_and_zeros_get_zero_to_one() {
        let zeros = [0.0, 0.0, 0.0];
        assert_eq!(bounds(zeros.into_iter(), Axis::Linear), (0.0, 1.0));
        assert_eq!(bounds(std::iter::empty(), Axis::Linear), (0.0, 1.0));
        let (lo, hi) = bounds([200.0, 200.0].into_iter(), Axis::Linear);
        assert!(
            (lo - 180.0).abs() < 1e-9 && (hi - 220.0).abs() < 1e-9,
            "{lo}..{hi}"
        );
        // Log values (1 ms): half a decade either way.
        assert_eq!(bounds([0.0].into_iter(), Axis::Log), (-0.5, 0.5));
        // Spread values: theirs with 5 % either side, as before.
        assert_eq!(bounds([0.0, 10.0].into_iter(), Axis::Linear), (-0.5, 10.5));

        // A page chart of zeros (no error in the whole run) reads 0 to 1, not ±0.001.
        let html = html_chart(&Panel {
            title: "errors per second".into(),
            x_label: "s".into(),
            y_label: "errors per second".into(),
            series: vec![Series {
                label: "errors".into(),
                points: (1..=10).map(|t| (t as f64, 0.0)).collect(),
                line: true,
            }],
            x_axis: Axis::Linear,
            y_axis: Axis::Linear,
        })
        .unwrap();
        let svg = inline_svg(&html);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let text = texts(&doc);
        let ticks: Vec<&str> = text.split('|').collect();
        assert!(ticks.contains(&"0.0") && ticks.contains(&"1.0"), "{text}");
        assert!(!text.contains("0.001"), "{text}");

        // A rate that held within a percent: around its level, or from zero when asked.
        let rate = Panel {
            title: "rate".into(),
            x_label: "s".into(),
            y_label: "ops/s".into(),
            series: vec![Series {
                label: "achieved".into(),
                points: (1..=10)
                    .map(|t| (t as f64, 398.0 + (t % 3) as f64))
                    .collect(),
                line: true,
            }],
            x_axis: Axis::Linear,
            y_axis: Axis::Linear,
        };
        let y_ticks = |html: &str| {
            let svg = inline_svg(html);
            let doc = roxmltree::Document::parse(&svg).unwrap();
            texts(&doc)
        };
        let around = y_ticks(&html_chart(&rate).unwrap());
        assert!(!around.split('|').any(|t| t == "0"), "{around}");
        let from_zero = html_chart_with(
            &rate,
            Style {
                y_from_zero: true,
                ..Style::default()
            },
        )
        .unwrap();
        assert!(
            y_ticks(&from_zero).split('|').any(|t| t == "0"),
            "{from_zero}"
        );
    }

    #[test]
    fn a_log_axis_has_its_ticks_at_one_two_five_and_labels_them_plainly() {
        let ticks = |lo: f64, hi: f64| -> Vec<String> {
            log_ticks(lo.log10(), hi.log10())
                .unwrap()
                .into_iter()
                .map(|t| log_label(10f64.powf(t)))
                .collect()
        };
        // Batch sizes 1..1024: every 1, 2, 5.
        assert_eq!(
            ticks(0.9, 1100.0),
            ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"]
        );
        // A short span: every digit.
        assert_eq!(
            ticks(0.25, 0.9),
            ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]
        );
        // Many decades: one tick a decade, in k and M past 10,000.
        assert_eq!(
            ticks(1.0, 2e6),
            ["1", "10", "100", "1000", "10k", "100k", "1M"]
        );
        // Under a factor of two with no two digits in it: plotters' own ticks.
        assert_eq!(log_ticks(0.31f64.log10(), 0.39f64.log10()), None);
        assert_eq!(log_label(0.05), "0.05");
        assert_eq!(log_label(3.162), "3.16");
        assert_eq!(log_label(15_000.0), "15k");
        assert_eq!(log_label(1_500_000.0), "1.5M");
    }

    #[test]
    fn point_labels_are_written_beside_their_points_and_never_over_one_another() {
        // Two points apart, then six at one place in the plot's top right corner, where of the
        // four places around a point only the two to its left are inside the plot.
        let mut points = vec![(0.8, 0.1), (0.95, 0.2)];
        points.extend((0..6).map(|i| (0.999 + i as f64 * 1e-6, 0.4)));
        let p = Panel {
            title: "recall vs time".into(),
            x_label: "recall".into(),
            y_label: "ms".into(),
            series: vec![Series {
                label: "hnsw".into(),
                points,
                line: true,
            }],
            x_axis: Axis::Linear,
            y_axis: Axis::Linear,
        };
        let labels = vec![
            (0..8)
                .map(|i| format!("ef={}", 16 << i))
                .collect::<Vec<_>>(),
        ];
        let html = html_chart_with(
            &p,
            Style {
                labels: &labels,
                ..Style::default()
            },
        )
        .unwrap();
        let svg = inline_svg(&html);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let label_nodes: Vec<roxmltree::Node> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter(|n| n.text().is_some_and(|t| t.trim().starts_with("ef=")))
            .collect();
        let written: Vec<&str> = label_nodes
            .iter()
            .map(|n| n.text().unwrap().trim())
            .collect();
        assert_eq!(written, ["ef=16", "ef=32", "ef=64", "ef=128"]);
        // No two overlap (12 px high, about 7 px a character wide).
        let boxes: Vec<(f64, f64, f64, f64)> = label_nodes
            .iter()
            .map(|n| {
                let x: f64 = n.attribute("x").unwrap().parse().unwrap();
                let y: f64 = n.attribute("y").unwrap().parse().unwrap();
                let w = n.text().unwrap().trim().len() as f64 * 6.8;
                (x, y, x + w, y + 13.0)
            })
            .collect();
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let overlap = a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
                assert!(!overlap, "{a:?} over {b:?}: {written:?}");
            }
        }
        // In the series' colour, and not a mark: the browser test's counts stay the points'.
        for n in &label_nodes {
            assert_eq!(n.attribute("fill"), Some("#1F77B4"));
            assert_eq!(n.attribute("data-series"), None);
        }
        let circles = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.attribute("data-series") == Some("hnsw"))
            .count();
        assert_eq!(circles, 8);
        // Without labels the chart is html_chart's.
        assert_eq!(
            html_chart_with(&p, Style::default()).unwrap(),
            html_chart(&p).unwrap()
        );
    }
}
