//! The report page: the verdict per checker, the operation counts, and the
//! picture Jepsen draws — every operation's latency over time, coloured by
//! outcome, with the fault intervals shaded — plus throughput over time.
//! Plain HTML with inline SVG: it opens from disk, no scripts, no network.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use ingressoja_checkers::{Report, Validity};

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 30.0;

/// One completed client operation, for the plots.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// When it was invoked, seconds since the start.
    pub at_s: f64,
    /// Invocation to completion.
    pub latency_ms: f64,
    /// `ok`, `fail` or `info`.
    pub outcome: String,
    /// The operation (`hold`, `read`, ...).
    pub f: String,
}

/// Pairs each client invocation with its process's next completion.
pub fn points(records: &[Value]) -> Vec<Point> {
    let mut open: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut points = Vec::new();
    for r in records {
        let process = r["process"].to_string();
        if process == "\"nemesis\"" {
            continue;
        }
        let at = r["time_ns"].as_f64().unwrap_or(0.0) / 1e9;
        let f = r["f"].as_str().unwrap_or("").to_string();
        match r["type"].as_str() {
            Some("invoke") => {
                open.insert(process, (at, f));
            }
            Some(outcome) => {
                if let Some((start, f)) = open.remove(&process) {
                    points.push(Point {
                        at_s: start,
                        latency_ms: (at - start) * 1e3,
                        outcome: outcome.to_string(),
                        f,
                    });
                }
            }
            None => {}
        }
    }
    points
}

fn colour(outcome: &str) -> &'static str {
    match outcome {
        "ok" => "#2e7d32",
        "fail" => "#ef6c00",
        _ => "#c62828",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The whole page.
pub fn html(records: &[Value], faults: &[(f64, f64, String, String)], report: &Report) -> String {
    let points = points(records);
    let end = points
        .iter()
        .map(|p| p.at_s + p.latency_ms / 1e3)
        .chain(faults.iter().map(|f| f.1))
        .fold(1.0_f64, f64::max);
    let mut page = String::from(
        "<!doctype html><meta charset=utf-8><title>IngressoJá chaos run</title>\
         <style>body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
         .valid{color:#2e7d32}.invalid{color:#c62828}.unknown{color:#ef6c00}pre{white-space:pre-wrap;background:#f6f6f6;padding:8px}</style>",
    );
    let verdict = match report.valid {
        Validity::Valid => ("valid", "valid"),
        Validity::Invalid => ("invalid", "INVALID"),
        Validity::Unknown => ("unknown", "unknown"),
    };
    let _ = write!(
        page,
        "<h1>Chaos run: <span class={}>{}</span></h1>",
        verdict.0, verdict.1
    );
    page.push_str("<h2>Checkers</h2><table><tr><th>checker</th><th>verdict</th><th>counts</th><th>anomalies</th></tr>");
    for check in &report.checks {
        let class = match check.valid {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        };
        let counts: Vec<String> = check
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let mut anomalies = String::new();
        for a in &check.anomalies {
            let _ = write!(anomalies, "<pre>{:?}: {}</pre>", a.kind, escape(&a.detail));
        }
        for n in &check.notes {
            let _ = write!(anomalies, "<div>note: {}</div>", escape(n));
        }
        let _ = write!(
            page,
            "<tr><td>{}</td><td class={class}>{class}</td><td>{}</td><td>{anomalies}</td></tr>",
            check.name,
            counts.join(", ")
        );
    }
    page.push_str("</table><h2>Operations</h2><table><tr><th>f</th><th>ok</th><th>fail</th><th>unknown</th></tr>");
    let mut by_f: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    for p in &points {
        let slot = match p.outcome.as_str() {
            "ok" => 0,
            "fail" => 1,
            _ => 2,
        };
        by_f.entry(&p.f).or_default()[slot] += 1;
    }
    for (f, [ok, fail, info]) in &by_f {
        let _ = write!(
            page,
            "<tr><td>{f}</td><td>{ok}</td><td>{fail}</td><td>{info}</td></tr>"
        );
    }
    page.push_str("</table>");
    page.push_str("<h2>Latency over time</h2><p>Each dot is one operation at its invocation time; green ok, orange fail, red unknown. Shaded: faults.</p>");
    page.push_str(&latency_svg(&points, faults, end));
    page.push_str("<h2>Throughput over time</h2><p>Completed operations per second (all outcomes) and ok operations per second.</p>");
    page.push_str(&throughput_svg(&points, faults, end));
    page.push_str("<h2>Faults</h2><table><tr><th>from (s)</th><th>to (s)</th><th>fault</th><th>what</th></tr>");
    for (from, to, kind, what) in faults {
        let _ = write!(
            page,
            "<tr><td>{from:.1}</td><td>{to:.1}</td><td>{kind}</td><td>{}</td></tr>",
            escape(what)
        );
    }
    page.push_str("</table>");
    page
}

fn x_of(t: f64, end: f64) -> f64 {
    LEFT + t / end * (WIDTH - LEFT - 10.0)
}

fn shade_faults(svg: &mut String, faults: &[(f64, f64, String, String)], end: f64) {
    for (from, to, kind, _) in faults {
        let (x0, x1) = (x_of(*from, end), x_of(*to, end));
        let _ = write!(
            svg,
            "<rect x='{x0:.1}' y='0' width='{:.1}' height='{:.1}' fill='#90a4ae' opacity='0.25'><title>{kind}</title></rect>\
             <text x='{x0:.1}' y='12' font-size='10' fill='#455a64'>{kind}</text>",
            (x1 - x0).max(1.0),
            HEIGHT - BOTTOM
        );
    }
}

fn axes(svg: &mut String, end: f64, y_label: &str) {
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        svg,
        "<line x1='{LEFT}' y1='{base}' x2='{WIDTH}' y2='{base}' stroke='#333'/>\
         <line x1='{LEFT}' y1='0' x2='{LEFT}' y2='{base}' stroke='#333'/>\
         <text x='4' y='14' font-size='11'>{y_label}</text>"
    );
    let step = (end / 10.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= end {
        let x = x_of(t, end);
        let _ = write!(
            svg,
            "<text x='{x:.1}' y='{:.1}' font-size='10' text-anchor='middle'>{t:.0}s</text>",
            base + 14.0
        );
        t += step;
    }
}

/// Latency (log scale, 0.1 ms to 10 s) against invocation time.
pub fn latency_svg(points: &[Point], faults: &[(f64, f64, String, String)], end: f64) -> String {
    let mut svg =
        format!("<svg width='{WIDTH}' height='{HEIGHT}' xmlns='http://www.w3.org/2000/svg'>");
    shade_faults(&mut svg, faults, end);
    axes(&mut svg, end, "latency (ms, log)");
    let (lo, hi) = (0.1_f64.log10(), 10_000_f64.log10());
    let y_of = |ms: f64| {
        let v = ms.clamp(0.1, 10_000.0).log10();
        (HEIGHT - BOTTOM) - (v - lo) / (hi - lo) * (HEIGHT - BOTTOM - 4.0)
    };
    for ms in [1.0, 10.0, 100.0, 1000.0] {
        let y = y_of(ms);
        let _ = write!(
            svg,
            "<line x1='{LEFT}' y1='{y:.1}' x2='{WIDTH}' y2='{y:.1}' stroke='#eee'/>\
             <text x='{:.1}' y='{y:.1}' font-size='10' text-anchor='end'>{ms}</text>",
            LEFT - 4.0
        );
    }
    for p in points {
        let _ = write!(
            svg,
            "<circle cx='{:.1}' cy='{:.1}' r='1.6' fill='{}'/>",
            x_of(p.at_s, end),
            y_of(p.latency_ms),
            colour(&p.outcome)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Operations completed per second, all and ok.
pub fn throughput_svg(points: &[Point], faults: &[(f64, f64, String, String)], end: f64) -> String {
    let seconds = end.ceil() as usize + 1;
    let mut all = vec![0u64; seconds];
    let mut ok = vec![0u64; seconds];
    for p in points {
        let s = ((p.at_s + p.latency_ms / 1e3) as usize).min(seconds - 1);
        all[s] += 1;
        if p.outcome == "ok" {
            ok[s] += 1;
        }
    }
    let max = all.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg =
        format!("<svg width='{WIDTH}' height='{HEIGHT}' xmlns='http://www.w3.org/2000/svg'>");
    shade_faults(&mut svg, faults, end);
    axes(&mut svg, end, &format!("ops/s (max {max})"));
    for (series, colour) in [(&all, "#1565c0"), (&ok, "#2e7d32")] {
        let path: Vec<String> = series
            .iter()
            .enumerate()
            .map(|(s, &n)| {
                let y = (HEIGHT - BOTTOM) - n as f64 / max * (HEIGHT - BOTTOM - 20.0);
                format!("{:.1},{y:.1}", x_of(s as f64 + 0.5, end))
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{}'/>",
            path.join(" ")
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_pair_per_process_and_skip_the_nemesis() {
        let records = vec![
            json!({"type":"invoke","process":1,"time_ns":1_000_000_000u64,"f":"hold"}),
            json!({"type":"invoke","process":"nemesis","time_ns":1_100_000_000u64,"f":"start-kill"}),
            json!({"type":"invoke","process":2,"time_ns":1_200_000_000u64,"f":"read"}),
            json!({"type":"info","process":1,"time_ns":1_500_000_000u64,"f":"hold"}),
            json!({"type":"ok","process":"nemesis","time_ns":1_600_000_000u64,"f":"start-kill"}),
            json!({"type":"ok","process":2,"time_ns":1_210_000_000u64,"f":"read"}),
        ];
        let p = points(&records);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].f, "hold");
        assert_eq!(p[0].outcome, "info");
        assert!((p[0].latency_ms - 500.0).abs() < 1e-6);
        assert_eq!(p[1].outcome, "ok");
        assert!((p[1].latency_ms - 10.0).abs() < 1e-6);
    }

    #[test]
    fn the_plots_draw_every_point_and_shade_every_fault() {
        let points = vec![
            Point {
                at_s: 1.0,
                latency_ms: 5.0,
                outcome: "ok".into(),
                f: "hold".into(),
            },
            Point {
                at_s: 2.0,
                latency_ms: 900.0,
                outcome: "info".into(),
                f: "hold".into(),
            },
        ];
        let faults = vec![(1.5, 3.0, "kill".to_string(), "killed n2".to_string())];
        let svg = latency_svg(&points, &faults, 4.0);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(svg.contains("#c62828"), "unknown outcomes are red");
        let svg = throughput_svg(&points, &faults, 4.0);
        assert_eq!(svg.matches("<polyline").count(), 2);
    }
}
