//! The site's plots, drawn with plotters as SVG: series with their change
//! points, sparklines, strip plots of two runs, a bisect's visits.

use super::*;

pub(super) const BLUE: RGBColor = RGBColor(31, 119, 180);

pub(super) const RED: RGBColor = RGBColor(214, 39, 40);

pub(super) const GREEN: RGBColor = RGBColor(44, 160, 44);

pub(super) const GREY: RGBColor = RGBColor(150, 150, 150);

pub(super) const ORANGE: RGBColor = RGBColor(230, 120, 0);

pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

pub(super) type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// An SVG of `w` × `h` pixels drawn by `f`.
pub(super) fn draw(w: u32, h: u32, f: impl FnOnce(&Area) -> DrawResult) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("cannot draw: {e}"))?;
        f(&root).map_err(|e| anyhow!("cannot draw a plot: {e}"))?;
        root.present().map_err(|e| anyhow!("cannot draw: {e}"))?;
    }
    Ok(svg)
}

/// A y range around `values` with a little room, at least `min_span` of
/// their middle high (an exact series that moves 0.1 % looks flat).
pub(super) fn y_range(values: impl Iterator<Item = f64>, min_span: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let mid = (lo + hi) / 2.0;
    let span = (hi - lo).max(mid.abs() * min_span).max(1e-9);
    let extra = (span - (hi - lo)) / 2.0 + span * 0.08;
    (lo - extra, hi + extra)
}

pub(super) fn tick(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Time => fmt_ns(v),
        Kind::Instructions if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Kind::Instructions if v >= 1e4 => format!("{:.1}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

pub(super) struct SeriesPlot<'a> {
    pub(super) title: &'a str,
    pub(super) x_desc: &'a str,
    pub(super) kind: Kind,
    pub(super) values: &'a [Option<f64>],
    /// The x axis's labels, one per value.
    pub(super) labels: &'a [String],
    /// Change points: (first index after, improvement).
    pub(super) changes: &'a [(usize, bool)],
    pub(super) budget: Option<f64>,
}

pub(super) fn series_svg(p: &SeriesPlot) -> Result<String> {
    let n = p.values.len().max(1);
    let points: Vec<(f64, f64)> = p
        .values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
        .collect();
    let (lo, hi) = y_range(
        points.iter().map(|(_, v)| *v).chain(p.budget),
        if p.kind.exact() { 0.02 } else { 0.1 },
    );
    let labels = p.labels;
    let kind = p.kind;
    draw(860, 320, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(p.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        let x_label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        let y_label = |y: &f64| tick(kind, *y);
        chart
            .configure_mesh()
            .x_labels(n.min(10))
            .x_label_formatter(&x_label)
            .y_labels(6)
            .y_label_formatter(&y_label)
            .x_desc(p.x_desc)
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        for (at, improvement) in p.changes {
            let color = if *improvement { GREEN } else { RED };
            let x = *at as f64 - 0.5;
            chart.draw_series(LineSeries::new([(x, lo), (x, hi)], color.stroke_width(2)))?;
        }
        if let Some(b) = p.budget {
            chart.draw_series(DashedLineSeries::new(
                [(-0.5, b), (n as f64 - 0.5, b)],
                6,
                4,
                ORANGE.stroke_width(2),
            ))?;
        }
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(2),
        ))?;
        chart.draw_series(
            points
                .iter()
                .map(|(x, y)| Circle::new((*x, *y), 3, BLUE.filled())),
        )?;
        Ok(())
    })
}

pub(super) fn sparkline_svg(values: &[Option<f64>], changes: &[(usize, bool)]) -> Result<String> {
    let n = values.len().max(1);
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
        .collect();
    let (lo, hi) = y_range(points.iter().map(|(_, v)| *v), 0.02);
    draw(160, 34, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(4)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(1),
        ))?;
        for (at, improvement) in changes {
            if let Some(p) = points.iter().find(|(x, _)| *x as usize == *at) {
                let color = if *improvement { GREEN } else { RED };
                chart.draw_series([Circle::new(*p, 3, color.filled())])?;
            }
        }
        Ok(())
    })
}

pub(super) fn strip_svg(
    old: &[f64],
    new: &[f64],
    old_label: &str,
    new_label: &str,
) -> Result<String> {
    let (lo, hi) = y_range(old.iter().chain(new).copied(), 0.02);
    let labels = [old_label.to_string(), new_label.to_string()];
    draw(520, 300, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("round medians", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..1.5f64, lo..hi)?;
        let x_label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && (0.0..=1.0).contains(&i) {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        let y_label = |y: &f64| fmt_ns(*y);
        chart
            .configure_mesh()
            .x_labels(3)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        for (side, values, color) in [(0.0, old, GREY), (1.0, new, BLUE)] {
            // Spread the dots sideways, reproducibly (golden-ratio steps).
            let dots = values.iter().enumerate().map(move |(k, v)| {
                let jitter = ((k as f64 * 0.618_034) % 1.0 - 0.5) * 0.3;
                Circle::new((side + jitter, *v), 4, color.filled())
            });
            chart.draw_series(dots)?;
            if !values.is_empty() {
                let m = median(values);
                chart.draw_series(LineSeries::new(
                    [(side - 0.25, m), (side + 0.25, m)],
                    BLACK.stroke_width(2),
                ))?;
            }
        }
        Ok(())
    })
}

pub(super) fn bisect_svg(r: &Report) -> Result<String> {
    let n = r.commits.len().max(1);
    let good_like = |c: Class| {
        matches!(
            c,
            Class::Good | Class::BetweenGoodLike | Class::UncertainGoodLike
        )
    };
    let measured: Vec<(f64, f64, Class)> = r
        .answer
        .outcome
        .visits
        .iter()
        .filter(|v| !v.samples.is_empty())
        .map(|v| (v.index as f64, median(&v.samples), v.class))
        .collect();
    let (lo, hi) = y_range(
        measured.iter().map(|(_, v, _)| *v),
        if r.answer.metric == crate::model::search::Metric::Instructions {
            0.02
        } else {
            0.1
        },
    );
    let metric = r.answer.metric;
    let step = match &r.answer.outcome.finding {
        Finding::Culprit { step, .. } => Some(step.culprit),
        _ => None,
    };
    let skipped: Vec<usize> = r
        .answer
        .outcome
        .visits
        .iter()
        .filter(|v| v.class == Class::Skipped)
        .map(|v| v.index)
        .collect();
    draw(860, 320, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("bisect path", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        let y_label = |y: &f64| match metric {
            crate::model::search::Metric::Instructions => tick(Kind::Instructions, *y),
            crate::model::search::Metric::Time => fmt_ns(*y),
        };
        let x_label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < r.commits.len() {
                short(&r.commits[i as usize].id).chars().take(7).collect()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(n.min(10))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc("candidate commit, good → bad")
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        if let Some(c) = step {
            let x = c as f64 - 0.5;
            chart.draw_series(DashedLineSeries::new(
                [(x, lo), (x, hi)],
                6,
                4,
                ORANGE.stroke_width(2),
            ))?;
        }
        chart.draw_series(measured.iter().map(|(x, y, c)| {
            let color = if good_like(*c) { GREEN } else { RED };
            Circle::new((*x, *y), 5, color.filled())
        }))?;
        chart.draw_series(
            skipped
                .iter()
                .map(|i| Cross::new((*i as f64, lo + (hi - lo) * 0.04), 5, GREY.stroke_width(2))),
        )?;
        Ok(())
    })
}
