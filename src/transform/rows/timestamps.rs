//! Jira timestamps and dates → epoch microseconds and days, fast. Every row builder reads
//! several timestamps per row, so Jira's one fixed layout takes a hand-rolled path; anything
//! else goes to chrono, and the tests below hold the two to the same answers.

use chrono::Datelike as _;

/// A Jira timestamp as epoch microseconds (UTC), exactly as
/// [`crate::time::parse_jira_time`] reads it, but without chrono's format interpreter for the
/// usual `YYYY-MM-DDTHH:MM:SS.fff±hhmm` layout.
pub(super) fn parse_ts_micros(s: &str) -> Option<i64> {
    fast_ts_micros(s).or_else(|| crate::time::parse_jira_time(s).and_then(|t| checked_micros(&t)))
}

fn checked_micros(t: &chrono::DateTime<chrono::Utc>) -> Option<i64> {
    t.timestamp()
        .checked_mul(1_000_000)?
        .checked_add(i64::from(t.timestamp_subsec_micros()))
}

/// The fast path: only the exact 28-byte layout with every part in range; `None` sends the
/// string to chrono (which then decides, so both paths agree by construction).
fn fast_ts_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 28
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
    {
        return None;
    }
    let sign = match b[23] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let millis = digits(&b[20..23])?;
    let off_h = digits(&b[24..26])?;
    let off_m = digits(&b[26..28])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || off_h > 23
        || off_m > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - sign * (off_h * 3_600 + off_m * 60);
    Some(secs * 1_000_000 + millis * 1_000)
}

/// A `YYYY-MM-DD` date (or the date part of a `YYYY-MM-DDT…` timestamp, as written) as days
/// since 1970-01-01.
pub(super) fn parse_date_days(s: &str) -> Option<i32> {
    let date = match s.as_bytes().get(10) {
        Some(b'T') => &s[..10],
        _ => s,
    };
    fast_date_days(date)
        .or_else(|| {
            let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
            Some(i64::from(d.num_days_from_ce()) - 719_163)
        })
        .and_then(|d| i32::try_from(d).ok())
}

fn fast_date_days(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// ASCII digits → number; `None` on anything else.
#[inline]
fn digits(b: &[u8]) -> Option<i64> {
    let mut n = 0i64;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + i64::from(d);
    }
    Some(n)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn chrono_micros(s: &str) -> Option<i64> {
        crate::time::parse_jira_time(s).map(|t| t.timestamp_micros())
    }

    #[test]
    fn timestamp_fast_path_examples() {
        for s in [
            "2024-03-05T10:15:30.123-0500",
            "1970-01-01T00:00:00.000+0000",
            "1969-12-31T23:59:59.999+0000",
            "2000-02-29T12:00:00.000+1400",
            "0001-01-01T00:00:00.000-2359",
            "9999-12-31T23:59:59.999+2359",
        ] {
            assert!(fast_ts_micros(s).is_some(), "{s}");
            assert_eq!(parse_ts_micros(s), chrono_micros(s), "{s}");
        }
        assert_eq!(
            parse_ts_micros("2024-03-05T10:15:30.123-0500"),
            Some(1_709_651_730_123_000)
        );
        // Not the fast layout: chrono decides.
        for s in [
            "2024-03-05T15:15:30Z",
            "2024-03-05T16:15:30.123+01:00",
            "2024-03-05T10:15:30.123456-0500",
            " 2024-03-05T10:15:30.123-0500",
            "2023-02-29T10:15:30.123-0500",
            "2024-03-05T24:00:00.000-0500",
            "2016-12-31T23:59:60.000+0000",
            "2024-03-05T10:15:30.123-2400",
            "garbage",
            "",
        ] {
            assert_eq!(fast_ts_micros(s), None, "{s}");
            assert_eq!(parse_ts_micros(s), chrono_micros(s), "{s}");
        }
        assert_eq!(parse_date_days("1970-01-01"), Some(0));
        assert_eq!(parse_date_days("2024-06-22"), Some(19_896));
        assert_eq!(parse_date_days("1969-12-31"), Some(-1));
        assert_eq!(
            parse_date_days("2024-06-22T10:00:00.000+0000"),
            Some(19_896)
        );
        assert_eq!(parse_date_days("2023-02-29"), None);
        assert_eq!(parse_date_days("tomorrow"), None);
    }

    fn chrono_days(s: &str) -> Option<i32> {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Some((d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Every instant of years 1–9999 in every whole-minute offset, as Jira writes it.
        #[test]
        fn fast_timestamps_equal_chrono(
            ms in -62_135_596_800_000_i64..253_402_300_799_999,
            offset_min in -1439_i32..=1439,
        ) {
            let tz = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&tz);
            let s = t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
            prop_assume!(s.len() == 28);
            prop_assert_eq!(fast_ts_micros(&s), Some(ms * 1000), "{}", s);
            prop_assert_eq!(chrono_micros(&s), Some(ms * 1000), "{}", s);
        }

        /// Any string of the fast layout, valid or not, parses exactly as chrono parses it.
        #[test]
        fn layout_strings_parse_like_chrono(
            s in "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9]\\.[0-9]{3}[+-][0-2][0-9][0-6][0-9]"
        ) {
            prop_assert_eq!(parse_ts_micros(&s), chrono_micros(&s), "{}", s);
            if &s[17..19] != "60" {
                // The fast path takes every string chrono accepts (leap seconds aside).
                prop_assert_eq!(fast_ts_micros(&s), chrono_micros(&s), "{}", s);
            }
        }

        #[test]
        fn dates_parse_like_chrono(s in "[0-9]{4}-[01][0-9]-[0-3][0-9]") {
            prop_assert_eq!(parse_date_days(&s), chrono_days(&s), "{}", s);
        }
    }
}
