//! Human durations as registries and config files write them: `30m`, `3h`, `1d`, `1h30m`.

/// Parses a duration into seconds. Units: s, m, h, d, w. A bare number means seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            ' ' if number.is_empty() => continue,
            _ => return Err(format!("{text:?} is not a duration like 30m, 3h or 1d")),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 30m, 3h or 1d"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too long"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!(
            "{text:?} has a number without a unit (s, m, h, d or w)"
        ));
    }
    Ok(total)
}

/// Writes seconds back in the largest exact unit, so `parse_duration(format_duration(x)) == x`.
pub fn format_duration(secs: u64) -> String {
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs != 0 && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Seconds as a person reads an age: "14 h", "3 d 2 h", "45 s".
pub fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// An RFC 1123 date (`Sun, 22 Nov 2026 04:11:04 GMT`), as HTTP headers and metalinks use.
pub fn http_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {mon} {year} {:02}:{:02}:{:02} GMT",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_durations() {
        for (text, secs) in [
            ("30m", 1800),
            ("3h", 10_800),
            ("1d", 86_400),
            ("12h", 43_200),
            ("1h30m", 5400),
            ("90", 90),
            ("2W", 1_209_600),
        ] {
            assert_eq!(parse_duration(text), Ok(secs), "{text}");
            assert_eq!(parse_duration(&format_duration(secs)), Ok(secs));
        }
        for bad in ["", "h", "3x", "3h5", "often", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(human_age(50_400), "14 h");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_320_664), "Sun, 22 Nov 2026 04:11:04 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
