//! An SVG plot of the run, drawn by hand: committed holds + purchases per
//! second (top panel) and p99 latency of holds and purchases (bottom panel)
//! over time, one line per system, with axes, ticks and a legend.

use std::fmt::Write;

use super::report::SystemReport;
use super::stats::TimelinePoint;

const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 260.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 160.0;
const TOP: f64 = 40.0;
const GAP: f64 = 70.0;
const COLORS: [&str; 6] = [
    "#1b7837", "#2166ac", "#b2182b", "#762a83", "#e08214", "#4d4d4d",
];

/// A "nice" upper bound for an axis (1, 2 or 5 times a power of ten).
fn nice_max(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if value <= step * magnitude {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// How a panel maps values to heights.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// From 0 to `max`, five ticks.
    Linear { max: f64 },
    /// From 10^`lo` to 10^`hi`, a tick per power of ten: when systems
    /// differ by more than ten times, so the fastest is still readable.
    Log { lo: i32, hi: i32 },
}

impl Scale {
    /// The scale for these series (one per system); `allow_log` for latency panels.
    fn choose(series: &[Vec<f64>], allow_log: bool) -> Scale {
        let peaks: Vec<f64> = series
            .iter()
            .map(|s| s.iter().copied().fold(0.0, f64::max))
            .collect();
        let max = peaks.iter().copied().fold(0.0, f64::max);
        let min_peak = peaks
            .iter()
            .copied()
            .filter(|p| *p > 0.0)
            .fold(f64::INFINITY, f64::min);
        if allow_log && max > 0.0 && max / min_peak > 10.0 {
            let smallest = series
                .iter()
                .flatten()
                .copied()
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            Scale::Log {
                lo: smallest.log10().floor() as i32,
                hi: (max.log10().ceil() as i32).max(smallest.log10().floor() as i32 + 1),
            }
        } else {
            Scale::Linear { max: nice_max(max) }
        }
    }

    /// Where `v` lies, from 0 (bottom) to 1 (top).
    fn fraction(self, v: f64) -> f64 {
        match self {
            Scale::Linear { max } => v / max,
            Scale::Log { lo, hi } => {
                let v = v.max(10f64.powi(lo));
                (v.log10() - f64::from(lo)) / f64::from(hi - lo)
            }
        }
    }

    /// The values that get a grid line and a label.
    fn ticks(self) -> Vec<f64> {
        match self {
            Scale::Linear { max } => (0..=4).map(|i| max * f64::from(i) / 4.0).collect(),
            Scale::Log { lo, hi } => (lo..=hi).map(|e| 10f64.powi(e)).collect(),
        }
    }
}

/// One panel: axes, ticks, a line per system of `value(point)`.
#[allow(clippy::too_many_arguments)]
fn panel(
    svg: &mut String,
    top: f64,
    title: &str,
    unit: &str,
    systems: &[SystemReport],
    x_max: f64,
    value: fn(&TimelinePoint) -> f64,
    allow_log: bool,
) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let series: Vec<Vec<f64>> = systems
        .iter()
        .map(|s| s.timeline.iter().map(value).collect())
        .collect();
    let scale = Scale::choose(&series, allow_log);
    let x = |t: f64| LEFT + t / x_max * plot_w;
    let y = |v: f64| top + PANEL_HEIGHT - scale.fraction(v) * PANEL_HEIGHT;
    let title = match scale {
        Scale::Log { .. } => format!("{title} (log scale)"),
        Scale::Linear { .. } => title.to_string(),
    };
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        top - 10.0,
        escape(&title)
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_HEIGHT}" fill="none" stroke="#888"/>"##
    );
    for v in scale.ticks() {
        let yy = y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{} {unit}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0,
            format_value(v)
        );
    }
    for i in 0..=5 {
        let t = x_max * f64::from(i) / 5.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{:.1} s</text>"#,
            x(t),
            top + PANEL_HEIGHT + 16.0,
            t
        );
    }
    for (i, s) in systems.iter().enumerate() {
        let points: Vec<String> = s
            .timeline
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.t_secs), y(value(p))))
            .collect();
        if !points.is_empty() {
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                COLORS[i % COLORS.len()],
                points.join(" ")
            );
        }
    }
}

/// Short numbers for tick labels (12k, 1.5M).
fn format_value(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if v >= 10_000.0 {
        format!("{:.0}k", v / 1_000.0)
    } else if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 && v.fract() != 0.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// The SVG document for `systems`.
pub fn render(systems: &[SystemReport]) -> String {
    let height = TOP + 2.0 * PANEL_HEIGHT + GAP + 40.0;
    let x_max = systems
        .iter()
        .flat_map(|s| s.timeline.iter().map(|p| p.t_secs))
        .fold(0.0, f64::max)
        .max(0.001);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    panel(
        &mut svg,
        TOP,
        "Committed holds + purchases per second",
        "/s",
        systems,
        x_max,
        |p| p.holds_purchases_per_sec,
        false,
    );
    panel(
        &mut svg,
        TOP + PANEL_HEIGHT + GAP,
        "p99 latency of holds and purchases",
        "ms",
        systems,
        x_max,
        |p| p.p99_ms,
        true,
    );
    for (i, s) in systems.iter().enumerate() {
        let ly = TOP + 20.0 + 22.0 * i as f64;
        let lx = WIDTH - RIGHT + 20.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="3"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            lx + 24.0,
            COLORS[i % COLORS.len()],
            lx + 30.0,
            ly + 4.0,
            escape(&s.system)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axis_bounds() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(1_200.0), 2_000.0);
        assert_eq!(nice_max(45.0), 50.0);
        assert_eq!(format_value(12_000.0), "12k");
        assert_eq!(format_value(2.5), "2.5");
    }

    #[test]
    fn latency_goes_logarithmic_when_systems_differ_tenfold() {
        let fast = vec![0.5, 120.0, 200.0];
        let slow = vec![3_000.0, 14_000.0];
        assert_eq!(
            Scale::choose(&[fast.clone(), slow.clone()], true),
            Scale::Log { lo: -1, hi: 5 }
        );
        assert!(matches!(
            Scale::choose(&[fast.clone(), slow], false),
            Scale::Linear { .. }
        ));
        assert_eq!(Scale::choose(&[fast], true), Scale::Linear { max: 200.0 });
        let log = Scale::Log { lo: 0, hi: 4 };
        assert_eq!(log.fraction(100.0), 0.5);
        assert_eq!(log.fraction(0.0), 0.0);
        assert_eq!(log.ticks(), vec![1.0, 10.0, 100.0, 1_000.0, 10_000.0]);
    }

    #[test]
    fn an_empty_run_still_draws_a_valid_frame() {
        let svg = render(&[]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("polyline"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
