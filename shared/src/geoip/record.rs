//! The records of both schemas, as decoded.

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct Names<'a> {
    #[serde(borrow, default)]
    pub(super) iso_code: Option<&'a str>,
    #[serde(borrow, default)]
    pub(super) code: Option<&'a str>,
}

/// A coordinate stored as a double (MaxMind) or a float (DB-IP).
#[derive(Debug, Clone, Copy)]
pub(super) struct Degrees(pub(super) f64);

impl<'de> Deserialize<'de> for Degrees {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Degrees;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of degrees")
            }
            fn visit_f32<E>(self, v: f32) -> Result<Degrees, E> {
                Ok(Degrees(f64::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Degrees, E> {
                Ok(Degrees(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Degrees, E> {
                Ok(Degrees(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Degrees, E> {
                Ok(Degrees(v as f64))
            }
        }
        d.deserialize_any(Visit)
    }
}

#[derive(Deserialize)]
pub(super) struct Coordinates {
    pub(super) latitude: Option<Degrees>,
    pub(super) longitude: Option<Degrees>,
}

/// Both schemas at once: whichever fields a record has are read.
#[derive(Deserialize)]
pub(super) struct Record<'a> {
    #[serde(borrow, default)]
    pub(super) country: Option<Names<'a>>,
    #[serde(borrow, default)]
    pub(super) continent: Option<Names<'a>>,
    #[serde(default)]
    pub(super) location: Option<Coordinates>,
    #[serde(borrow, default)]
    pub(super) country_code: Option<&'a str>,
    #[serde(default)]
    pub(super) latitude: Option<Degrees>,
    #[serde(default)]
    pub(super) longitude: Option<Degrees>,
}

#[derive(Deserialize)]
pub(super) struct AsnRecord {
    pub(super) autonomous_system_number: Option<u32>,
}
