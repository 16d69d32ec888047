//! Small inline SVG charts for the HTML report: lines over time and bars. Plain strings, no
//! script, nothing fetched — the report opens offline and prints as it looks.
//!
//! Every axis says its unit (the y label turned along the axis, the x label under the tick
//! numbers, apart from them); a line chart can be scaled below its highest line, whose points
//! above the scale are then drawn on the top edge as ▲ and named with their peak; labels are
//! placed so they do not overlap (tick labels thinned to fit, markers' labels on rows).

use std::fmt::Write;

/// Width and height of a chart, in pixels.
pub const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 260.0;
/// Room for the axis labels: the turned y label and the tick numbers on the left, a note
/// above, the tick numbers and the x label below.
const LEFT: f64 = 76.0;
const BOTTOM: f64 = 46.0;
const TOP: f64 = 24.0;
const RIGHT: f64 = 16.0;
/// The font size of every label.
const FONT: f64 = 11.0;

/// Colours, readable on white and distinct in grey print.
pub const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];
/// A quiet colour for what frames a line (the max, a target).
pub const GREY: &str = "#888888";

/// One named line.
pub struct Series<'a> {
    pub name: &'a str,
    /// (x, y) points in x order; a `y` that is not finite (NaN) breaks the line there (a
    /// second without responses has no latency).
    pub points: Vec<(f64, f64)>,
    pub colour: &'a str,
    /// Stroke width: a wider line drawn first stays visible under a thinner one on top.
    pub width: f64,
    /// Dashed (a target, the max).
    pub dashed: bool,
}

impl<'a> Series<'a> {
    /// A solid line of width 1.5 in `colour`.
    pub fn new(name: &'a str, colour: &'a str, points: Vec<(f64, f64)>) -> Series<'a> {
        Series {
            name,
            points,
            colour,
            width: 1.5,
            dashed: false,
        }
    }

    pub fn width(mut self, width: f64) -> Series<'a> {
        self.width = width;
        self
    }

    pub fn dashed(mut self) -> Series<'a> {
        self.dashed = true;
        self
    }
}

/// A line chart over time.
pub struct LineChart<'a> {
    /// For screen readers and a tooltip.
    pub title: &'a str,
    /// With its unit: `time since the load started (s)`.
    pub x_label: &'a str,
    /// With its unit: `latency (ms)`.
    pub y_label: &'a str,
    /// The end of the x axis (the run's length).
    pub x_max: f64,
    /// The top of the y axis before rounding up; `None`: the highest point. Points above it
    /// are drawn on the top edge and named.
    pub y_scale: Option<f64>,
    pub series: Vec<Series<'a>>,
    /// A shaded span of x with its label (the window a rule judged).
    pub band: Option<(f64, f64, String)>,
}

/// A round number at or above `v` (1, 2, 2.5, 5 × 10ⁿ), so the axis reads well.
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let exponent = v.log10().floor();
    let base = 10f64.powf(exponent);
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * base >= v * (1.0 - 1e-9) {
            return step * base;
        }
    }
    10.0 * base
}

/// A number as an axis or a label shows it.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// About how wide `text` is at `size` px (an average glyph of 0.6 em).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// A label: `<text>` at (x, y), anchored `start`, `middle` or `end`.
fn text(out: &mut String, x: f64, y: f64, anchor: &str, label: &str) {
    let _ = write!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" font-size="{FONT}" text-anchor="{anchor}">{}</text>"#,
        escape(label)
    );
}

/// The axes' labels and the y grid: the y label turned along the axis left of the tick
/// numbers, the x label centred under the x tick numbers.
fn frame(out: &mut String, x_label: &str, y_label: &str) {
    let plot_mid = TOP + (HEIGHT - TOP - BOTTOM) / 2.0;
    let _ = write!(
        out,
        r#"<text x="14" y="{plot_mid:.1}" font-size="{FONT}" text-anchor="middle" transform="rotate(-90 14 {plot_mid:.1})">{}</text>"#,
        escape(y_label)
    );
    text(
        out,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        HEIGHT - 8.0,
        "middle",
        x_label,
    );
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#999"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#999"/>"##,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        HEIGHT - BOTTOM
    );
}

/// Horizontal grid lines with their numbers, 0 to `max_y` in four steps.
fn y_ticks(out: &mut String, max_y: f64) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        let y = TOP + plot_h - v / max_y * plot_h;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/>"##,
            WIDTH - RIGHT
        );
        text(out, LEFT - 6.0, y + 4.0, "end", &number(v));
    }
}

/// The x tick step for an axis to `max_x`: round, and wide enough for its numbers.
fn x_step(max_x: f64) -> f64 {
    let plot_w = WIDTH - LEFT - RIGHT;
    let mut step = nice_ceiling(max_x / 10.0);
    loop {
        let label = text_width(&number(max_x.ceil()), FONT) + 10.0;
        if step / max_x * plot_w >= label {
            return step;
        }
        step = nice_ceiling(step * 1.5);
    }
}

/// A line chart (see [`LineChart`]).
pub fn line_chart(c: &LineChart<'_>) -> String {
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let max_x = c.x_max.max(1e-3);
    let highest = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max);
    let max_y = nice_ceiling(c.y_scale.unwrap_or(highest).min(highest.max(1e-9)));
    let x = |v: f64| LEFT + v / max_x * plot_w;
    let y = |v: f64| TOP + plot_h - v.min(max_y) / max_y * plot_h;
    let mut svg = open(c.title, HEIGHT);
    if let Some((from, to, label)) = &c.band {
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{plot_h:.1}" fill="#f3f0e0"><title>{}</title></rect>"##,
            x(*from),
            (x(*to) - x(*from)).max(0.0),
            escape(label)
        );
    }
    y_ticks(&mut svg, max_y);
    let step = x_step(max_x);
    let mut v = 0.0;
    while v <= max_x + 1e-9 {
        text(&mut svg, x(v), HEIGHT - BOTTOM + 16.0, "middle", &number(v));
        v += step;
    }
    frame(&mut svg, c.x_label, c.y_label);
    let mut above: Vec<String> = Vec::new();
    for s in &c.series {
        let dash = if s.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
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
                r#"<polyline fill="none" stroke="{}" stroke-width="{}"{dash} stroke-linejoin="round" points="{}"><title>{}</title></polyline>"#,
                s.colour,
                s.width,
                points.join(" "),
                escape(s.name)
            );
        }
        // Points above the scale: ▲ on the top edge, and the peak named above the plot.
        let over: Vec<&(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite() && p.1 > max_y)
            .collect();
        for (px, py) in &over {
            let _ = write!(
                svg,
                r#"<path d="M{:.1},{:.1} l-4,7 h8 z" fill="{}"><title>{}: {} at {}</title></path>"#,
                x(*px),
                TOP,
                s.colour,
                escape(s.name),
                number(*py),
                number(*px)
            );
        }
        if let Some(peak) = over.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            above.push(format!(
                "▲ {} above the scale: peak {} at {} s",
                s.name,
                number(peak.1),
                number(peak.0)
            ));
        }
    }
    if !above.is_empty() {
        text(
            &mut svg,
            WIDTH - RIGHT,
            TOP - 8.0,
            "end",
            &above.join(" · "),
        );
    }
    svg.push_str("</svg>");
    svg.push_str(&legend(
        c.series.iter().map(|s| (s.name, s.colour, s.dashed)),
    ));
    svg
}

/// A vertical marker on a bar chart: at `x` (in bars, fractional), labelled.
pub struct Marker {
    pub at: f64,
    pub label: String,
}

/// A bar chart: one bar per `(label, value)`; labels under as many bars as fit, `markers`
/// drawn as dashed lines with their labels on rows above the plot, so none overlap.
pub fn bar_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    bars: &[(String, f64)],
    markers: &[Marker],
) -> String {
    let max_y = nice_ceiling(bars.iter().map(|b| b.1).fold(0.0f64, f64::max));
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let width = plot_w / bars.len().max(1) as f64;
    let height = HEIGHT;
    let mut svg = open(title, height);
    y_ticks(&mut svg, max_y);
    frame(&mut svg, x_label, y_label);
    let widest = bars
        .iter()
        .map(|b| text_width(&b.0, FONT))
        .fold(0.0f64, f64::max);
    let every = ((widest + 8.0) / width).ceil().max(1.0) as usize;
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = value / max_y * plot_h;
        let bx = LEFT + i as f64 * width;
        let _ = write!(
            svg,
            r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {value}</title></rect>"#,
            TOP + plot_h - h,
            (width - 1.0).max(1.0),
            COLOURS[0],
            escape(label)
        );
        if i % every == 0 {
            text(
                &mut svg,
                bx + width / 2.0,
                HEIGHT - BOTTOM + 16.0,
                "middle",
                label,
            );
        }
    }
    // Marker labels: each on the first row where it does not touch an earlier one.
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    for m in markers {
        let mx = LEFT + m.at * width;
        let w = text_width(&m.label, FONT);
        // Right of the line, or left of it where the plot ends.
        let span = if mx + 3.0 + w > WIDTH - RIGHT {
            (mx - 3.0 - w, mx - 3.0)
        } else {
            (mx + 3.0, mx + 3.0 + w)
        };
        let row = rows
            .iter()
            .position(|r| r.iter().all(|(a, b)| span.1 + 4.0 < *a || span.0 > b + 4.0))
            .unwrap_or_else(|| {
                rows.push(Vec::new());
                rows.len() - 1
            });
        rows[row].push(span);
        let label_y = TOP + 10.0 + row as f64 * 13.0;
        let _ = write!(
            svg,
            r##"<line x1="{mx:.1}" x2="{mx:.1}" y1="{:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="3 3"/>"##,
            label_y + 2.0,
            TOP + plot_h
        );
        text(&mut svg, span.0, label_y, "start", &m.label);
    }
    svg.push_str("</svg>");
    svg
}

/// One group of a paired bar chart: a label under it, the two values, and the heading of the
/// run of groups it belongs to (an operation), written once under its first group.
pub struct Pair {
    pub label: String,
    pub heading: String,
    pub values: [f64; 2],
}

/// Paired bars (`names`: what the first and the second bar of each pair show), each with its
/// value on top; `limits` as dashed horizontal lines labelled at the right (one above the scale
/// is named above the plot instead).
pub fn paired_bars(
    title: &str,
    y_label: &str,
    names: [&str; 2],
    pairs: &[Pair],
    limits: &[(f64, String)],
) -> String {
    let highest = pairs
        .iter()
        .flat_map(|p| p.values)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    // The scale reaches a limit near the bars, not one far above them.
    let reach = limits
        .iter()
        .map(|l| l.0)
        .filter(|l| *l <= highest * 4.0)
        .fold(highest, f64::max);
    let max_y = nice_ceiling(reach * 1.1);
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let group = plot_w / pairs.len().max(1) as f64;
    let bar = (group - 10.0) / 2.0;
    let colours = [COLOURS[0], COLOURS[1]];
    let y = |v: f64| TOP + plot_h - v.min(max_y) / max_y * plot_h;
    let mut svg = open(title, HEIGHT);
    y_ticks(&mut svg, max_y);
    let mid = TOP + plot_h / 2.0;
    let _ = write!(
        svg,
        r#"<text x="14" y="{mid:.1}" font-size="{FONT}" text-anchor="middle" transform="rotate(-90 14 {mid:.1})">{}</text>"#,
        escape(y_label)
    );
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#999"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#999"/>"##,
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h
    );
    let mut heading: Option<&str> = None;
    for (i, p) in pairs.iter().enumerate() {
        let gx = LEFT + i as f64 * group + 5.0;
        for (k, v) in p.values.iter().enumerate() {
            let bx = gx + k as f64 * bar;
            let top = y(*v);
            let _ = write!(
                svg,
                r#"<rect x="{bx:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {} ms</title></rect>"#,
                (bar - 1.0).max(1.0),
                TOP + plot_h - top,
                colours[k],
                escape(&p.label),
                escape(names[k]),
                number(*v)
            );
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="middle">{}</text>"#,
                bx + bar / 2.0,
                top - 3.0,
                number(*v)
            );
        }
        text(&mut svg, gx + bar, TOP + plot_h + 14.0, "middle", &p.label);
        if heading != Some(p.heading.as_str()) {
            heading = Some(&p.heading);
            text(&mut svg, gx, TOP + plot_h + 30.0, "start", &p.heading);
        }
    }
    // Limits: a dashed line each, named in the legend (a label on the plot would cross bars).
    let mut named = Vec::new();
    for (limit, label) in limits {
        if *limit > max_y {
            named.push(format!(
                "{label}: limit {} ms, above the scale",
                number(*limit)
            ));
            continue;
        }
        let ly = y(*limit);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{GREY}" stroke-dasharray="6 3"><title>{}</title></line>"##,
            WIDTH - RIGHT,
            escape(label)
        );
        named.push(format!("{label}: limit {} ms", number(*limit)));
    }
    svg.push_str("</svg>");
    svg.push_str(&legend(
        names
            .iter()
            .zip(colours)
            .map(|(n, c)| (*n, c, false))
            .chain(named.iter().map(|n| (n.as_str(), GREY, true))),
    ));
    svg
}

fn open(title: &str, height: f64) -> String {
    format!(
        r#"<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" font-family="system-ui,sans-serif"><title>{}</title>"#,
        escape(title)
    )
}

fn legend<'a>(names: impl Iterator<Item = (&'a str, &'a str, bool)>) -> String {
    let mut out = String::from(r#"<p class="legend">"#);
    for (name, colour, dashed) in names {
        let _ = write!(
            out,
            r#"<span style="color:{colour}">{}</span> {} "#,
            if dashed { "┅" } else { "■" },
            escape(name)
        );
    }
    out.push_str("</p>");
    out
}

/// Text made safe for HTML (element content and quoted attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(series: Vec<Series<'a>>, y_scale: Option<f64>) -> String {
        line_chart(&LineChart {
            title: "p95 <for GET>",
            x_label: "time (s)",
            y_label: "latency (ms)",
            x_max: 4.0,
            y_scale,
            series,
            band: None,
        })
    }

    #[test]
    fn axes_are_round_and_text_is_escaped() {
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(0.42), 0.5);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(2.1), 2.5);
        let svg = chart(
            vec![Series::new("a&b", COLOURS[0], vec![(0.0, 1.0), (1.0, 2.0)])],
            None,
        );
        assert!(
            svg.contains("p95 &lt;for GET&gt;") && svg.contains("a&amp;b"),
            "{svg}"
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        let broken = chart(
            vec![Series::new(
                "p95",
                COLOURS[0],
                vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 2.0)],
            )],
            None,
        );
        assert_eq!(broken.matches("<polyline").count(), 2, "a gap, not a zero");
    }

    #[test]
    fn a_line_above_the_scale_is_clipped_and_named() {
        let svg = chart(
            vec![
                Series::new("p99", COLOURS[0], vec![(0.0, 4.0), (1.0, 9.0)]),
                Series::new("max", GREY, vec![(0.0, 5.0), (1.0, 2000.0)]).dashed(),
            ],
            Some(9.0),
        );
        assert!(svg.contains(">10</text>"), "scaled to p99: {svg}");
        assert!(
            svg.contains("▲ max above the scale: peak 2000 at 1 s"),
            "{svg}"
        );
        assert!(!svg.contains(">2000</text>"), "{svg}");
    }

    #[test]
    fn bar_labels_thin_out_and_marker_labels_take_rows() {
        let bars: Vec<(String, f64)> = (0..60).map(|i| (format!("{i}.25"), 1.0)).collect();
        let svg = bar_chart(
            "h",
            "latency (ms)",
            "responses",
            &bars,
            &[
                Marker {
                    at: 10.0,
                    label: "p95 1.00 ms".into(),
                },
                Marker {
                    at: 10.5,
                    label: "p99 1.20 ms".into(),
                },
            ],
        );
        let under = svg.matches(r#"text-anchor="middle">"#).count();
        assert!(under < 60, "labels thinned: {under}");
        assert!(svg.contains("p95 1.00 ms") && svg.contains("p99 1.20 ms"));
    }
}
