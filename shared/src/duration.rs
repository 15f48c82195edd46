//! Durations as people write them, in registries, config files and flags alike: `200ms`,
//! `30s`, `15m`, `3h`, `1d`, `1h30m`, `2w`. Config files and flags hold them as [`Human`],
//! which serde and clap parse, so a duration is checked where it is read and never again.

use std::time::Duration;

const NOT_A_DURATION: &str = "is not a duration like 200ms, 30s, 15m, 3h or 1d";

/// Parses a duration. Units: ms, s, m, h, d, w; a bare number means seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total_ms: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("{text:?} {NOT_A_DURATION}"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is too long"))?;
        rest = &rest[digits..];
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let unit_ms: u64 = match rest[..unit_len].to_ascii_lowercase().as_str() {
            "" => {
                return Err(format!(
                    "{text:?} {NOT_A_DURATION}: each number needs a unit (ms, s, m, h, d or w)"
                ))
            }
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(format!("{text:?} {NOT_A_DURATION}")),
        };
        rest = &rest[unit_len..];
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(|| format!("{text:?} is too long"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Parses a duration into whole seconds (registry files: `update_frequency`).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    parse(text).map(|d| d.as_secs())
}

/// Writes a duration back in the largest exact unit, so `parse(&format(d)) == d` for whole
/// milliseconds.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    for (unit, size) in [
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    if ms == 0 {
        return "0s".into();
    }
    format!("{ms}ms")
}

/// Writes seconds back in the largest exact unit, so `parse_duration(format_duration(x)) == x`.
pub fn format_duration(secs: u64) -> String {
    format(Duration::from_secs(secs))
}

/// A duration read from a config file or a flag as text (`"15m"`), written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Human(pub Duration);

impl Human {
    pub const fn secs(secs: u64) -> Human {
        Human(Duration::from_secs(secs))
    }

    pub const fn millis(ms: u64) -> Human {
        Human(Duration::from_millis(ms))
    }

    /// Whole seconds.
    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    pub fn as_millis(self) -> u64 {
        self.0.as_millis() as u64
    }
}

impl From<Human> for Duration {
    fn from(h: Human) -> Duration {
        h.0
    }
}

impl std::str::FromStr for Human {
    type Err = String;
    fn from_str(s: &str) -> Result<Human, String> {
        parse(s).map(Human)
    }
}

impl std::fmt::Display for Human {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format(self.0))
    }
}

impl serde::Serialize for Human {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Human {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Human, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
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

/// (year, month 1-12, day) of a day counted from the epoch (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// An RFC 1123 date (`Sun, 22 Nov 2026 04:11:04 GMT`), as HTTP headers and metalinks use.
pub fn http_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let (year, month, day) = civil(days);
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

/// A UTC time as people read it on a status page: `2026-11-22 04:11 UTC`.
pub fn utc_minute(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil(unix.div_euclid(86_400));
    format!(
        "{year}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_read_as_on_a_calendar() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_795_320_664), "2026-11-22 04:11 UTC");
        assert_eq!(http_date(1_795_320_664), "Sun, 22 Nov 2026 04:11:04 GMT");
        assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
    }

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
        for bad in [
            "",
            "h",
            "3x",
            "3h5",
            "often",
            "99999999999999999999w",
            "5 minutes",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        for d in [
            Duration::from_millis(200),
            Duration::from_millis(1500),
            Duration::ZERO,
        ] {
            assert_eq!(parse(&format(d)), Ok(d));
        }
        let h: Human = toml::from_str::<std::collections::BTreeMap<String, Human>>("t = \"15m\"")
            .unwrap()["t"];
        assert_eq!(h, Human::secs(900));
        assert_eq!(h.to_string(), "15m");
        assert!(
            toml::from_str::<std::collections::BTreeMap<String, Human>>("t = \"15x\"")
                .unwrap_err()
                .to_string()
                .contains("not a duration")
        );
        assert_eq!(human_age(50_400), "14 h");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_795_320_664), "Sun, 22 Nov 2026 04:11:04 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
