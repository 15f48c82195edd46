//! Small shared vocabulary: check outcomes, health states, address families, and the
//! versions of a directory's repomd.xml the master published.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Its name as stored (a store's rows decode through this).
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(text: String) -> Result<$name, String> {
                $name::parse(&text)
                    .ok_or_else(|| format!("{text:?} is not a known {}", stringify!($name)))
            }
        }
    };
}

text_enum! {
    /// What one repomd.xml check of a mirror found.
    CheckOutcome {
        Current = "current",
        Behind = "behind",
        Unknown = "unknown_content",
        Missing = "missing",
        Error = "error",
        Incomplete = "incomplete",
    }
}

text_enum! {
    /// A mirror's health for one capability, after hysteresis.
    HealthState {
        Up = "up",
        Down = "down",
        Unknown = "unknown",
    }
}

text_enum! {
    /// The address family a check went over; `any` when the checker did not pin one.
    Family {
        Any = "any",
        V4 = "ipv4",
        V6 = "ipv6",
    }
}

text_enum! {
    /// What a maintenance window takes out of the answers: the whole mirror, one protocol,
    /// or one address family.
    Scope {
        Mirror = "mirror",
        Http = "http",
        Https = "https",
        V4 = "ipv4",
        V6 = "ipv6",
    }
}

/// One published version of a directory's repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepomdVersion {
    pub size: u64,
    /// The largest `<timestamp>` inside the file.
    pub timestamp: i64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
    /// When the master was first seen publishing it.
    pub first_seen: i64,
}

/// A stable 64-bit hash of a text (FNV-1a): the same for a name on every machine and in
/// every version, to spread per-mirror work and seed per-name choices deterministically.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for o in CheckOutcome::ALL {
            assert_eq!(CheckOutcome::parse(o.as_str()), Some(*o));
        }
        for s in HealthState::ALL {
            assert_eq!(HealthState::parse(&s.to_string()), Some(*s));
        }
        assert_eq!(Family::parse("ipv6"), Some(Family::V6));
        assert_eq!(Family::parse("IPv6"), None);
    }
}
