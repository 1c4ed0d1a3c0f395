//! A hand-written SVG line chart: hit ratio against capacity, one panel per workload.

use std::fmt::Write;

/// One line of a panel.
pub struct Series {
    pub name: String,
    /// Hit ratio in percent at each of the panel's capacities.
    pub points: Vec<f64>,
}

/// One workload's chart.
pub struct Panel {
    pub title: String,
    pub capacities: Vec<u64>,
    pub series: Vec<Series>,
}

const COLORS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Renders the panels one above the other.
pub fn render(panels: &[Panel]) -> String {
    const W: f64 = 760.0;
    const H: f64 = 300.0;
    const LEFT: f64 = 60.0;
    const RIGHT: f64 = 170.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 50.0;
    let total_h = H * panels.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{total_h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (p, panel) in panels.iter().enumerate() {
        let y0 = H * p as f64;
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let caps = &panel.capacities;
        let (cmin, cmax) =
            (*caps.iter().min().unwrap_or(&1) as f64, *caps.iter().max().unwrap_or(&1) as f64);
        let log = cmin > 0.0 && cmax / cmin >= 10.0;
        let x_of = |c: f64| -> f64 {
            let t = if cmax <= cmin {
                0.5
            } else if log {
                (c.ln() - cmin.ln()) / (cmax.ln() - cmin.ln())
            } else {
                (c - cmin) / (cmax - cmin)
            };
            LEFT + t * pw
        };
        let ymax = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1.0);
        // Round gridlines: the smallest step that needs at most six of them.
        let step = [1.0, 2.0, 5.0, 10.0, 20.0]
            .into_iter()
            .find(|s| (ymax / s).ceil() <= 6.0)
            .unwrap_or(20.0);
        let ticks = (ymax / step).ceil().min(100.0 / step) as u32;
        let ymax = f64::from(ticks) * step;
        let y_of = |r: f64| y0 + TOP + ph - r / ymax * ph;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            LEFT,
            y0 + 22.0,
            escape(&panel.title)
        );
        // Axes, grid and labels.
        for i in 0..=ticks {
            let r = step * f64::from(i);
            let y = y_of(r);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{r:.0}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0
            );
        }
        for &c in caps {
            let x = x_of(c as f64);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{c}</text>"##,
                y0 + TOP,
                y0 + TOP + ph,
                y0 + TOP + ph + 16.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">capacity (entries{})</text>"#,
            LEFT + pw / 2.0,
            y0 + TOP + ph + 34.0,
            if log { ", log scale" } else { "" }
        );
        let _ = writeln!(
            svg,
            r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">hit ratio (%)</text>"#,
            y0 + TOP + ph / 2.0,
            y0 + TOP + ph / 2.0
        );
        for (i, s) in panel.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points: Vec<String> = caps
                .iter()
                .zip(&s.points)
                .map(|(&c, &r)| format!("{:.1},{:.1}", x_of(c as f64), y_of(r)))
                .collect();
            let dash = if s.name.starts_with("belady") { r#" stroke-dasharray="6 4""# } else { "" };
            // The first series is weakling's default policy: drawn heavier.
            let width = if i == 0 { 3.5 } else { 2.0 };
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="{width}"{dash} points="{}"/>"#,
                points.join(" ")
            );
            for pt in &points {
                let (x, y) = pt.split_once(',').unwrap();
                let _ = writeln!(svg, r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>"#);
            }
            let ly = y0 + TOP + 14.0 * i as f64;
            let _ = writeln!(
                svg,
                r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
                W - RIGHT + 12.0,
                W - RIGHT + 30.0,
                W - RIGHT + 36.0,
                ly + 4.0,
                escape(&s.name)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}
