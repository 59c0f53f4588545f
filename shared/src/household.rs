//! The household an aid request is for, and the small closed vocabularies around it:
//! welfare decile, category and urgency.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::Invalid;
use crate::{KelurahanCode, Kk, Nik, Phone};

/// DTKS/DTSEN welfare decile, 1 (poorest) to 10.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(try_from = "u8", into = "u8")]
#[schema(value_type = u8, minimum = 1, maximum = 10)]
pub struct Desil(u8);

impl Desil {
    pub fn new(value: i64) -> Result<Desil, Invalid> {
        if (1..=10).contains(&value) {
            Ok(Desil(value as u8))
        } else {
            Err(Invalid::new(
                "DESIL_OUT_OF_RANGE",
                "Desil harus bilangan bulat 1 sampai 10.",
                "Desil must be a whole number from 1 to 10.",
            ))
        }
    }

    pub fn parse(raw: &str) -> Result<Desil, Invalid> {
        raw.trim()
            .parse::<i64>()
            .map_err(|_| {
                Invalid::new(
                    "DESIL_OUT_OF_RANGE",
                    "Desil harus bilangan bulat 1 sampai 10.",
                    "Desil must be a whole number from 1 to 10.",
                )
            })
            .and_then(Desil::new)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Desil {
    type Error = Invalid;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Desil::new(v.into())
    }
}

impl From<Desil> for u8 {
    fn from(d: Desil) -> u8 {
        d.0
    }
}

/// Which poverty group the household belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Extreme poverty (below US$2.15 PPP a day).
    MiskinEkstrem,
    /// Vulnerable to poverty.
    RentanMiskin,
}

impl Category {
    pub fn parse(raw: &str) -> Result<Category, Invalid> {
        match raw.trim() {
            "miskin_ekstrem" => Ok(Category::MiskinEkstrem),
            "rentan_miskin" => Ok(Category::RentanMiskin),
            _ => Err(Invalid::new(
                "CATEGORY_INVALID",
                "Kategori harus miskin_ekstrem atau rentan_miskin.",
                "Category must be miskin_ekstrem or rentan_miskin.",
            )),
        }
    }
}

/// How fast the household needs food.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Emergency: served first when stock is short.
    Darurat,
    /// Ordinary.
    Biasa,
}

impl Urgency {
    pub fn parse(raw: &str) -> Result<Urgency, Invalid> {
        match raw.trim() {
            "darurat" => Ok(Urgency::Darurat),
            "biasa" => Ok(Urgency::Biasa),
            _ => Err(Invalid::new(
                "URGENCY_INVALID",
                "Urgensi harus darurat atau biasa.",
                "Urgency must be darurat or biasa.",
            )),
        }
    }
}

/// Where the household lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub rt: String,
    pub rw: String,
    pub kelurahan_code: KelurahanCode,
}

/// The household as the kelurahan submitted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    pub head_nik: Nik,
    pub kk: Kk,
    pub head_name: String,
    pub members: u32,
    pub phone: Option<Phone>,
    pub address: Address,
}

/// The person (usually the PSM) who reported the household; told by SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reporter {
    pub name: String,
    #[schema(value_type = Option<String>, example = "+6281234567890")]
    pub phone: Option<Phone>,
}

/// Formats an RT or RW number as the three digits written on letters (`3` → `003`).
pub fn parse_rt_rw(raw: &str, what: &'static str) -> Result<String, Invalid> {
    let t = raw.trim();
    match t.parse::<u16>() {
        Ok(n) if (1..=999).contains(&n) && t.chars().all(|c| c.is_ascii_digit()) => {
            Ok(format!("{n:03}"))
        }
        _ => Err(Invalid::dynamic(
            if what == "RT" {
                "RT_INVALID"
            } else {
                "RW_INVALID"
            },
            crate::i18n::Text::new(
                format!("{what} harus angka 1 sampai 999, mis. 003."),
                format!("{what} must be a number from 1 to 999, e.g. 003."),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desil_is_one_to_ten() {
        assert!(Desil::new(0).is_err());
        assert!(Desil::new(11).is_err());
        assert_eq!(Desil::parse(" 4 ").unwrap().get(), 4);
        assert!(Desil::parse("4.5").is_err());
        assert!(serde_json::from_str::<Desil>("11").is_err());
    }

    #[test]
    fn rt_rw_are_three_digits() {
        assert_eq!(parse_rt_rw("3", "RT").unwrap(), "003");
        assert_eq!(parse_rt_rw("011", "RW").unwrap(), "011");
        assert_eq!(parse_rt_rw("0", "RT").unwrap_err().code, "RT_INVALID");
        assert_eq!(parse_rt_rw("3a", "RW").unwrap_err().code, "RW_INVALID");
    }

    #[test]
    fn vocabularies_are_closed() {
        assert_eq!(
            Category::parse("miskin_ekstrem").unwrap(),
            Category::MiskinEkstrem
        );
        assert!(Category::parse("miskin").is_err());
        assert_eq!(Urgency::parse("darurat").unwrap(), Urgency::Darurat);
        assert!(Urgency::parse("urgent").is_err());
    }
}
