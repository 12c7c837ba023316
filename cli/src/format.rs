//! Small text formatting helpers: aligned tables, money, times.

use std::time::{SystemTime, UNIX_EPOCH};

/// Lays out rows under a header, columns padded to their widest cell;
/// columns listed in `right` are right-aligned (numbers).
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        // The last cell of a short row (e.g. "unreachable: ...") runs on
        // past the columns and does not widen them.
        let aligned = if row.len() < columns {
            row.len().saturating_sub(1)
        } else {
            columns
        };
        for (i, cell) in row.iter().enumerate().take(aligned) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let width = if i + 1 == row.len() && row.len() < columns {
                0
            } else {
                widths.get(i).copied().unwrap_or(0)
            };
            if right.contains(&i) {
                line.push_str(&format!("{cell:>width$}"));
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `25000` cents as `250.00`.
pub fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch as `2025-06-01 12:34:56 UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How far `at_ms` is from `now_ms`: `in 4m 59s`, `12s ago`, `now`.
pub fn relative(at_ms: u64, now_ms: u64) -> String {
    if at_ms >= now_ms {
        let secs = (at_ms - now_ms) / 1000;
        if secs == 0 {
            "now".to_string()
        } else {
            format!("in {}", span(secs))
        }
    } else {
        format!("{} ago", span((now_ms - at_ms).div_ceil(1000)))
    }
}

/// `299` seconds as `4m 59s`.
fn span(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(0), "0.00");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(25000), "250.00");
        assert_eq!(money(12345), "123.45");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_748_781_296_789), "2025-06-01 12:34:56 UTC");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(10_000 + 299_000, 10_000), "in 4m 59s");
        assert_eq!(relative(10_000, 10_000), "now");
        assert_eq!(relative(10_000, 22_000), "12s ago");
        assert_eq!(relative(3_700_000, 0), "in 1h 1m 40s");
    }

    #[test]
    fn tables_align_and_let_short_rows_run_on() {
        let rows = vec![
            vec!["1".into(), "a:1".into(), "leader".into(), "7".into()],
            vec!["-".into(), "b:22".into(), "unreachable: refused".into()],
            vec!["10".into(), "c:3".into(), "follower".into(), "12".into()],
        ];
        let out = table(&["ID", "ADDR", "ROLE", "TERM"], &rows, &[0, 3]);
        assert_eq!(
            out,
            "ID  ADDR  ROLE      TERM\n 1  a:1   leader       7\n -  b:22  unreachable: refused\n10  c:3   follower    12\n"
        );
    }
}
