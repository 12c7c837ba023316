//! Reading an RFC 3339 timestamp (`2025-06-01T12:00:00-03:00`) as
//! milliseconds since the Unix epoch, with no date library.

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`T` may be `t` or a
/// space, `Z` may be `z`). Fractions beyond milliseconds are dropped.
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let shape = || format!("expected RFC 3339 like 2025-06-01T12:00:00Z, found {text:?}");
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !bytes.is_ascii() {
        return Err(shape());
    }
    let (date, rest) = text.split_at(10);
    let (separator, rest) = rest.split_at(1);
    if !matches!(separator, "T" | "t" | " ") {
        return Err(shape());
    }
    let (time, rest) = rest.split_at(8);
    let [year, month, day] = fields::<3>(date, '-', &[4, 2, 2]).ok_or_else(shape)?;
    let [hour, minute, second] = fields::<3>(time, ':', &[2, 2, 2]).ok_or_else(shape)?;
    let (millis, zone) = fraction(rest).ok_or_else(shape)?;
    let offset_secs = zone_offset(zone).ok_or_else(shape)?;

    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(format!("{text:?} is not a valid date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("{text:?} is not a valid time of day"));
    }
    let local_secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    let utc_secs = local_secs - offset_secs;
    let utc_ms = utc_secs
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(millis))
        .ok_or_else(|| format!("{text:?} is out of range"))?;
    u64::try_from(utc_ms).map_err(|_| format!("{text:?} is before 1970-01-01"))
}

/// `N` unsigned numbers of the given digit counts separated by `separator`.
fn fields<const N: usize>(text: &str, separator: char, digits: &[usize; N]) -> Option<[u32; N]> {
    let mut out = [0u32; N];
    let mut parts = text.split(separator);
    for (slot, width) in out.iter_mut().zip(digits) {
        let part = parts.next()?;
        if part.len() != *width || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// An optional `.digits` fraction as milliseconds, and the rest (the zone).
fn fraction(rest: &str) -> Option<(i64, &str)> {
    let Some(after_dot) = rest.strip_prefix('.') else {
        return Some((0, rest));
    };
    let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (fraction, zone) = after_dot.split_at(digits);
    let millis: String = fraction.chars().chain("000".chars()).take(3).collect();
    Some((millis.parse().ok()?, zone))
}

/// `Z` or `±HH:MM` as seconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    if zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, hh_mm) = match zone.split_at_checked(1)? {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let [hours, minutes] = fields::<2>(hh_mm, ':', &[2, 2])?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (i64::from(hours) * 3600 + i64::from(minutes) * 60))
}

fn is_leap(year: u32) -> bool {
    // Remainders, not `is_multiple_of`, which is newer than the MSRV.
    let (by_4, by_100, by_400) = (year % 4, year % 100, year % 400);
    by_4 == 0 && (by_100 != 0 || by_400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`); negative before 1970.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_parse() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339("2025-06-01T12:34:56.789Z"),
            Ok(1_748_781_296_789)
        );
        assert_eq!(parse_rfc3339("2000-02-29 00:00:00z"), Ok(951_782_400_000));
        assert_eq!(
            parse_rfc3339("2025-06-01t12:34:56.7891234Z"),
            Ok(1_748_781_296_789)
        );
    }

    #[test]
    fn offsets_are_applied() {
        assert_eq!(
            parse_rfc3339("2025-06-01T09:34:56.789-03:00"),
            Ok(1_748_781_296_789)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T14:04:56.789+01:30"),
            Ok(1_748_781_296_789)
        );
    }

    #[test]
    fn bad_text_is_refused_with_a_reason() {
        for bad in [
            "",
            "tomorrow",
            "2025-06-01",
            "2025-06-01T12:00:00",
            "2025-6-01T12:00:00Z",
            "2025-06-01X12:00:00Z",
            "2025-06-01T12:00:00.Z",
            "2025-06-01T12:00:00+3",
            "2025-06-01T12:00:00+03:00x",
            "2025-06-01T12:00:00Zjunk",
            "２０２５-06-01T12:00:00Z",
        ] {
            let error = parse_rfc3339(bad).unwrap_err();
            assert!(error.contains("RFC 3339"), "{bad:?}: {error}");
        }
        assert!(parse_rfc3339("2025-02-29T00:00:00Z")
            .unwrap_err()
            .contains("not a valid date"));
        assert!(parse_rfc3339("2025-13-01T00:00:00Z")
            .unwrap_err()
            .contains("not a valid date"));
        assert!(parse_rfc3339("2025-06-01T24:00:00Z")
            .unwrap_err()
            .contains("not a valid time"));
        assert!(parse_rfc3339("1969-12-31T23:59:59Z")
            .unwrap_err()
            .contains("before 1970"));
    }
}
