//! The rules for a maintenance window as people ask for one: its times as written
//! (`2026-12-03T18:00Z`, `2026-12-03 18:00`, `now`, or a length from its start, `6h`), its
//! scope, and what is refused, each with a reason an operator can act on.

use crate::duration::{format_duration, human_age, parse_duration, utc_minute};
use crate::model::Scope;

/// How far in the past a new window may start (a form filled in a minute ago).
pub const START_SLACK_SECS: i64 = 300;
/// The longest note kept.
pub const MAX_NOTE: usize = 500;

/// A time as written: `now`, or a UTC date and time (`2026-12-03T18:00:00Z`,
/// `2026-12-03T18:00Z`, `2026-12-03 18:00`), or one with an offset (`2026-12-03T19:00+01:00`).
pub fn parse_time(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let bad = || {
        format!(
            "{t:?} is not a time: write it as 2026-12-03T18:00Z (UTC), 2026-12-03T19:00+01:00, or now"
        )
    };
    let (date, rest) = t.split_at_checked(10).ok_or_else(bad)?;
    let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(bad)?;
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(at) => (&rest[..at], offset_secs(&rest[at..]).ok_or_else(bad)?),
        None => (rest, 0),
    };
    let num = |s: &str| {
        s.parse::<i64>()
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
    };
    let d: Vec<Option<i64>> = date.split('-').map(num).collect();
    let c: Vec<Option<i64>> = clock.split(':').map(num).collect();
    let (Some(year), Some(month), Some(day)) = (
        d.first().copied().flatten(),
        d.get(1).copied().flatten(),
        d.get(2).copied().flatten(),
    ) else {
        return Err(bad());
    };
    if d.len() != 3 || !(2..=3).contains(&c.len()) || c.iter().any(Option::is_none) {
        return Err(bad());
    }
    let (hour, minute, second) = (
        c[0].unwrap(),
        c[1].unwrap(),
        c.get(2).map_or(0, |s| s.unwrap()),
    );
    let days_in_month = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => 0,
    };
    if !(1970..=9999).contains(&year)
        || !(1..=days_in_month).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `Z`, `+HH:MM`, `-HH:MM` as seconds east of UTC.
fn offset_secs(text: &str) -> Option<i64> {
    if text.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let (h, m) = text[1..].split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m <= 59 && text.len() == 6).then_some(sign * (h * 3600 + m * 60))
}

/// Days since the epoch of a calendar date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A window's end as written: a time, or a length from its start (`6h`, `2d`).
pub fn parse_until(text: &str, from: i64, now: i64) -> Result<i64, String> {
    match parse_duration(text.trim()) {
        Ok(secs) => Ok(from.saturating_add(secs as i64)),
        Err(_) => parse_time(text, now).map_err(|e| format!("{e}, or a length such as 6h")),
    }
}

/// A scope as written: empty or `mirror` (the whole mirror), `http`, `https`, `ipv4`, `ipv6`.
pub fn parse_scope(text: &str) -> Result<Scope, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Scope::Mirror);
    }
    Scope::parse(t).ok_or_else(|| {
        format!("{t:?} is not a scope: mirror (all of it), http, https, ipv4 or ipv6")
    })
}

/// Whether a window `[from, until)` may be declared at `now`: it ends after it starts and
/// after now, starts no earlier than a few minutes ago (unless `started` says it already
/// holds, when it is changed), and lasts no longer than `max_secs`.
pub fn judge(from: i64, until: i64, now: i64, max_secs: i64, started: bool) -> Result<(), String> {
    if until <= from {
        return Err(format!(
            "the window ends ({}) before it starts ({})",
            utc_minute(until),
            utc_minute(from)
        ));
    }
    if until <= now {
        return Err(format!(
            "the window ends in the past ({}); it is {} now",
            utc_minute(until),
            utc_minute(now)
        ));
    }
    if !started && from < now - START_SLACK_SECS {
        return Err(format!(
            "the window starts in the past ({}); start it now, or later",
            utc_minute(from)
        ));
    }
    if until - from > max_secs {
        return Err(format!(
            "the window lasts {}, longer than the longest allowed (maintenance_max, {}): \
             disable the mirror instead for longer work",
            human_age((until - from) as u64),
            format_duration(max_secs as u64)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_320_664; // 2026-11-22 04:11:04 UTC

    #[test]
    fn times_read_as_written_in_utc_or_with_an_offset() {
        let at = parse_time("2026-11-22T04:11:04Z", NOW).unwrap();
        assert_eq!(at, NOW);
        assert_eq!(utc_minute(at), "2026-11-22 04:11 UTC");
        assert_eq!(parse_time("2026-11-22 04:11", NOW), Ok(NOW - 4));
        assert_eq!(parse_time("2026-11-22T05:11+01:00", NOW), Ok(NOW - 4));
        assert_eq!(parse_time("2026-11-22T00:11-04:00", NOW), Ok(NOW - 4));
        assert_eq!(parse_time("now", NOW), Ok(NOW));
        assert_eq!(parse_time("2000-02-29T00:00Z", NOW), Ok(951_782_400));
        for bad in [
            "",
            "tomorrow",
            "2026-13-01T00:00Z",
            "2026-02-29T00:00Z",
            "2026-11-22T24:00Z",
            "2026-11-22",
            "2026-11-22T04Z",
            "2026-11-22T04:11+1",
            "2026-11-22T+4:11",
            "२०२६-11-22T04:11Z",
        ] {
            let e = parse_time(bad, NOW).unwrap_err();
            assert!(e.contains("is not a time"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_end_is_a_time_or_a_length_from_the_start() {
        assert_eq!(parse_until("6h", NOW, NOW), Ok(NOW + 6 * 3600));
        assert_eq!(
            parse_until("2026-11-22T05:11:04Z", NOW, NOW),
            Ok(NOW + 3600)
        );
        assert!(parse_until("soon", NOW, NOW)
            .unwrap_err()
            .contains("a length such as 6h"));
    }

    #[test]
    fn windows_backwards_past_or_too_long_are_refused_with_a_reason() {
        let max = 14 * 86_400;
        assert_eq!(judge(NOW, NOW + 3600, NOW, max, false), Ok(()));
        assert_eq!(
            judge(NOW + 86_400, NOW + 2 * 86_400, NOW, max, false),
            Ok(())
        );
        let e = judge(NOW + 7200, NOW + 3600, NOW, max, false).unwrap_err();
        assert!(
            e.contains("ends (2026-11-22 05:11 UTC) before it starts"),
            "{e}"
        );
        let e = judge(NOW - 7200, NOW - 3600, NOW, max, false).unwrap_err();
        assert!(e.contains("ends in the past"), "{e}");
        let e = judge(NOW - 7200, NOW + 3600, NOW, max, false).unwrap_err();
        assert!(e.contains("starts in the past"), "{e}");
        assert_eq!(
            judge(NOW - 7200, NOW + 3600, NOW, max, true),
            Ok(()),
            "holding"
        );
        let e = judge(NOW, NOW + max + 1, NOW, max, false).unwrap_err();
        assert!(
            e.contains("lasts 14 d 0 h, longer than the longest allowed (maintenance_max, 2w)"),
            "{e}"
        );
        assert_eq!(parse_scope(""), Ok(Scope::Mirror));
        assert_eq!(parse_scope("ipv6"), Ok(Scope::V6));
        assert!(parse_scope("ftp").unwrap_err().contains("not a scope"));
    }
}
