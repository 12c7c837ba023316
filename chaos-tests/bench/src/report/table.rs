//! The report as plain-text tables for stdout: per system, latency per
//! operation, throughput, errors and the sale's outcome; then, with
//! `--compare`, the side-by-side table with the ratios to ours.

use std::fmt::Write;

use super::model::{BenchReport, SystemReport};
use crate::festival::report::FestivalReport;
use crate::stats::OpKind;

/// The whole report as text.
pub fn render(report: &BenchReport) -> String {
    let mut out = String::new();
    let w = &report.workload;
    let _ = writeln!(
        out,
        "ingressoja-bench: {} customers, {} concurrent ({} joining at once), {} x {} tickets, \
         think 0-{} ms, {}% declined, {}% released, {}% abandoned (holds last {} s)",
        w.customers,
        w.concurrency,
        w.burst_concurrency,
        w.categories,
        w.capacity_per_category,
        w.think_ms,
        w.decline_pct,
        w.release_pct,
        w.abandon_pct,
        w.hold_ttl_secs,
    );
    let m = &report.machine;
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}, Linux {}",
        m.cpus, m.cpu_model, m.kernel
    );
    for system in &report.systems {
        out.push('\n');
        render_system(&mut out, system);
    }
    if !report.comparison.is_empty() {
        out.push('\n');
        render_comparison(&mut out, report);
    }
    out
}

fn render_system(out: &mut String, s: &SystemReport) {
    let _ = writeln!(out, "== {} — {}", s.system, s.durability);
    let _ = writeln!(
        out,
        "{:<13}{:>9}{:>9}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "operation", "count", "ok", "failed", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for kind in OpKind::ALL {
        if let Some(l) = s.ops.get(kind.name()) {
            let _ = writeln!(
                out,
                "{:<13}{:>9}{:>9}{:>8}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>10.2}",
                kind.name(),
                l.count,
                l.ok,
                l.failed,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms
            );
        }
    }
    let t = &s.throughput;
    let _ = writeln!(
        out,
        "throughput: {:.0} committed holds+purchases/s (best interval {:.0}/s; {:.0} holds/s, {:.0} purchases/s) \
         over {:.2} s (ended: {}); queue joins {:.0}/s over a {:.2} s burst",
        t.holds_purchases_per_sec,
        t.peak_holds_purchases_per_sec,
        t.holds_per_sec,
        t.purchases_per_sec,
        s.sale_secs,
        s.stopped_by,
        t.queue_joins_per_sec,
        s.burst_secs
    );
    let errors: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "refusals and errors: {}; CAS retries: {}; abandoned holds: {} (expired by the benchmark: {})",
        if errors.is_empty() { "none".to_string() } else { errors.join(", ") },
        s.retries,
        s.abandoned_holds,
        s.expired_by_bench
    );
    let o = &s.outcome;
    let verdict = match (o.oversold == 0, o.sold_out, o.consistent) {
        (false, _, _) => "OVERSOLD",
        (true, true, true) => "sold out, no oversell",
        (true, false, true) => "not sold out, no oversell",
        (true, _, false) => "no oversell, but sold differs from acknowledged",
    };
    let _ = writeln!(
        out,
        "outcome: capacity {}, sold {}, held {}, acknowledged {}, oversold {} -> {}",
        o.capacity, o.sold, o.held, o.acknowledged_sold, o.oversold, verdict
    );
    if let Some(f) = &s.festival {
        render_festival(out, f);
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn render_festival(out: &mut String, f: &FestivalReport) {
    let _ = writeln!(
        out,
        "festival: registration {:.1} s ({:.0}/s); nodes sampled every {} ms",
        f.registration_secs, f.registrations_per_sec, f.sample_period_ms
    );
    let _ = writeln!(
        out,
        "{:<6}{:>14}{:>18}{:>16}{:>18}{:>15}",
        "node",
        "peak RSS MiB",
        "after reg. MiB",
        "after sale MiB",
        "longest stall ms",
        "data dir MiB"
    );
    for n in &f.nodes {
        let _ = writeln!(
            out,
            "{:<6}{:>14.0}{:>18.0}{:>16.0}{:>18}{:>15.0}",
            n.node,
            mib(n.peak_rss_bytes),
            mib(n.rss_after_registration_bytes),
            mib(n.rss_after_sale_bytes),
            n.longest_apply_stall_ms,
            mib(n.data_dir_bytes)
        );
    }
    match &f.snapshot {
        Some(s) => {
            let _ = writeln!(
                out,
                "snapshot forced on node {} at {:.0}% sold: index {}, built in {} ms{}, {:.1} MiB (answered in {} ms)",
                s.node,
                s.at_sold_pct,
                s.index,
                s.build_ms,
                if s.builds > 1 { format!(" (mean of {} builds)", s.builds) } else { String::new() },
                mib(s.bytes),
                s.answered_ms
            );
        }
        None => {
            let _ = writeln!(out, "snapshot: not forced (the sale ended first)");
        }
    }
    match &f.restart {
        Some(r) => {
            let caught_up = r.caught_up_ms.map_or("never caught up".to_string(), |ms| {
                format!("caught up in {ms} ms")
            });
            let _ = writeln!(
                out,
                "follower node {} killed at {:.0}% sold, down {} ms, {} entries behind at restart, {}",
                r.node, r.killed_at_sold_pct, r.down_ms, r.behind_at_restart, caught_up
            );
        }
        None => {
            let _ = writeln!(out, "follower restart: not made (the sale ended first)");
        }
    }
    for p in &f.problems {
        let _ = writeln!(out, "festival problem: {p}");
    }
}

fn render_comparison(out: &mut String, report: &BenchReport) {
    let _ = writeln!(out, "== side by side (ratios: ours ÷ theirs for rates, theirs ÷ ours for p99; > 1 means ours is better)");
    let _ = writeln!(
        out,
        "{:<16}{:>14}{:>11}{:>10}{:>10}{:>13}{:>14}{:>12}{:>12}{:>11}",
        "system",
        "holds+purch/s",
        "peak/s",
        "holds/s",
        "joins/s",
        "hold p99 ms",
        "purch p99 ms",
        "rate ratio",
        "peak ratio",
        "p99 ratio"
    );
    for (i, s) in report.systems.iter().enumerate() {
        let ratios = if i == 0 {
            ["1.00".to_string(), "1.00".to_string(), "1.00".to_string()]
        } else {
            report
                .comparison
                .iter()
                .find(|c| c.system == s.system)
                .map(|c| {
                    [
                        format!("{:.2}", c.holds_purchases_per_sec_ratio),
                        format!("{:.2}", c.peak_holds_purchases_per_sec_ratio),
                        format!("{:.2}", c.hold_p99_ratio),
                    ]
                })
                .unwrap_or_default()
        };
        let [rate, peak, p99] = ratios;
        let _ = writeln!(
            out,
            "{:<16}{:>14.0}{:>11.0}{:>10.0}{:>10.0}{:>13.2}{:>14.2}{:>12}{:>12}{:>11}",
            s.system,
            s.throughput.holds_purchases_per_sec,
            s.throughput.peak_holds_purchases_per_sec,
            s.throughput.holds_per_sec,
            s.throughput.queue_joins_per_sec,
            s.p99(OpKind::Hold),
            s.p99(OpKind::Purchase),
            rate,
            peak,
            p99
        );
    }
}
