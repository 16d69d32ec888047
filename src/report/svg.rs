//! Small inline SVG charts for the HTML report: a line chart over time and a bar chart. Plain
//! strings, no script, nothing fetched — the report opens offline and prints as it looks.

use std::fmt::Write;

/// Width and height of a chart, in pixels.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
/// Room for the axis labels.
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;
const RIGHT: f64 = 12.0;

/// Colours of the series, in order (readable on white, distinct in grey print).
pub const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// One named line.
pub struct Series<'a> {
    pub name: &'a str,
    /// (x, y) points in x order; a `y` that is not finite (NaN) breaks the line there (a
    /// second without responses has no latency).
    pub points: Vec<(f64, f64)>,
}

/// A round number at or above `v` (1, 2, 5 × 10ⁿ), so the axis reads well.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let exponent = v.log10().floor();
    let base = 10f64.powf(exponent);
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * base >= v {
            return step * base;
        }
    }
    10.0 * base
}

fn axis_number(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart of `series` over `x_label` (seconds) with a y axis in `y_unit`.
pub fn line_chart(title: &str, x_label: &str, y_unit: &str, series: &[Series<'_>]) -> String {
    // The x axis ends at the first round tick after the last point.
    let last_x = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let x_step = nice_ceiling(last_x / 4.0);
    let max_x = (last_x / x_step).ceil() * x_step;
    let max_y = nice_ceiling(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite())
            .fold(0.0f64, f64::max),
    );
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let x = |v: f64| LEFT + v / max_x * plot_w;
    let y = |v: f64| TOP + plot_h - v / max_y * plot_h;
    let mut svg = open(title);
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            axis_number(v),
            y = y(v),
        );
    }
    for i in 0..=((max_x / x_step).round() as u32) {
        let v = x_step * f64::from(i);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"#,
            x(v),
            HEIGHT - 10.0,
            axis_number(v)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text><text x="4" y="{TOP}" font-size="11" dominant-baseline="hanging">{}</text>"#,
        WIDTH - RIGHT,
        HEIGHT - 10.0,
        super::html::escape(x_label),
        super::html::escape(y_unit)
    );
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        for run in s.points.split(|p| !p.1.is_finite()) {
            if run.is_empty() {
                continue;
            }
            let points: Vec<String> = run
                .iter()
                .map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"><title>{}</title></polyline>"#,
                points.join(" "),
                super::html::escape(s.name)
            );
        }
    }
    svg.push_str("</svg>");
    svg.push_str(&legend(series.iter().map(|s| s.name)));
    svg
}

/// A bar chart: one bar per `(label, value)`, labels under every few bars.
pub fn bar_chart(title: &str, y_unit: &str, bars: &[(String, f64)]) -> String {
    let max_y = nice_ceiling(bars.iter().map(|b| b.1).fold(0.0f64, f64::max));
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let width = plot_w / bars.len().max(1) as f64;
    let mut svg = open(title);
    let _ = write!(
        svg,
        r#"<text x="4" y="{TOP}" font-size="11" dominant-baseline="hanging">{}</text><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"#,
        super::html::escape(y_unit),
        LEFT - 6.0,
        TOP + 4.0,
        axis_number(max_y)
    );
    let every = (bars.len() / 8).max(1);
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = value / max_y * plot_h;
        let bx = LEFT + i as f64 * width;
        let _ = write!(
            svg,
            r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {value}</title></rect>"#,
            TOP + plot_h - h,
            (width - 1.0).max(1.0),
            COLOURS[0],
            super::html::escape(label)
        );
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
                bx + width / 2.0,
                HEIGHT - 10.0,
                super::html::escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn open(title: &str) -> String {
    format!(
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img"><title>{}</title>"#,
        super::html::escape(title)
    )
}

fn legend<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from(r#"<p class="legend">"#);
    for (i, name) in names.enumerate() {
        let _ = write!(
            out,
            r#"<span style="color:{}">■</span> {} "#,
            COLOURS[i % COLOURS.len()],
            super::html::escape(name)
        );
    }
    out.push_str("</p>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round_and_text_is_escaped() {
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(0.42), 0.5);
        assert_eq!(nice_ceiling(0.0), 1.0);
        let svg = line_chart(
            "p95 <for GET>",
            "s",
            "ms",
            &[Series {
                name: "a&b",
                points: vec![(0.0, 1.0), (1.0, 2.0)],
            }],
        );
        assert!(
            svg.contains("p95 &lt;for GET&gt;") && svg.contains("a&amp;b"),
            "{svg}"
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        let broken = line_chart(
            "t",
            "s",
            "ms",
            &[Series {
                name: "p95",
                points: vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 2.0)],
            }],
        );
        assert_eq!(broken.matches("<polyline").count(), 2, "a gap, not a zero");
    }
}
