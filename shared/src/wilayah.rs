//! The kelurahan of Kota Bekasi, from the project's own copy of the Kemendagri list
//! (`shared/data/bekasi_wilayah.csv`: 12 kecamatan, 56 kelurahan).
//!
//! Codes have gaps (Bantargebang starts at 1003), so they are only ever read from the list,
//! never generated. Names are matched ignoring case, spaces and punctuation, so "Bekasi Jaya"
//! finds Bekasijaya and "Jatibening baru" finds Jatibening Baru.

use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::Invalid;

const WILAYAH_CSV: &str = include_str!("../data/bekasi_wilayah.csv");

/// One kelurahan and the kecamatan it belongs to.
#[derive(Debug, PartialEq, Eq)]
pub struct Kelurahan {
    pub code: String,
    pub name: String,
    pub kecamatan_code: String,
    pub kecamatan_name: String,
}

fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn table() -> &'static [Kelurahan] {
    static TABLE: OnceLock<Vec<Kelurahan>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(WILAYAH_CSV.as_bytes());
        reader
            .records()
            .map(|r| {
                let r = r.expect("built-in wilayah CSV is well formed");
                Kelurahan {
                    kecamatan_code: r[0].to_string(),
                    kecamatan_name: r[1].to_string(),
                    code: r[2].to_string(),
                    name: r[3].to_string(),
                }
            })
            .collect()
    })
}

/// A Kemendagri kelurahan code that exists in the built-in list, e.g. `32.75.01.1001`.
#[derive(Clone, Copy)]
pub struct KelurahanCode(&'static Kelurahan);

impl KelurahanCode {
    /// Parses a code, dotted (`32.75.01.1001`) or not (`3275011001`).
    pub fn parse(raw: &str) -> Result<KelurahanCode, Invalid> {
        let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
        let plausible = raw.trim().chars().all(|c| c.is_ascii_digit() || c == '.');
        if plausible
            && digits.len() == 10
            && let Some(k) = table().iter().find(|k| k.code.replace('.', "") == digits)
        {
            return Ok(KelurahanCode(k));
        }
        Err(Invalid::new(
            "KELURAHAN_UNKNOWN",
            "Kode kelurahan tidak dikenal; gunakan kode Kemendagri, mis. 32.75.01.1001.",
            "Unknown kelurahan code; use the Kemendagri code, e.g. 32.75.01.1001.",
        ))
    }

    /// Finds a kelurahan by name, ignoring case, spaces and punctuation.
    pub fn find_by_name(name: &str) -> Option<KelurahanCode> {
        let wanted = squash(name);
        if wanted.is_empty() {
            return None;
        }
        table()
            .iter()
            .find(|k| squash(&k.name) == wanted)
            .map(KelurahanCode)
    }

    /// A code, or failing that a name (ignoring case, spaces and punctuation): what a person,
    /// an app or a spreadsheet may have typed. Every API field and parameter that takes a
    /// kelurahan reads it this way; the canonical dotted code is what is stored and answered.
    pub fn parse_code_or_name(raw: &str) -> Result<KelurahanCode, Invalid> {
        KelurahanCode::parse(raw)
            .ok()
            .or_else(|| KelurahanCode::find_by_name(raw))
            .ok_or_else(|| {
                Invalid::new(
                    "KELURAHAN_UNKNOWN",
                    "Kelurahan tidak dikenal; gunakan kode Kemendagri (mis. 32.75.01.1001) atau nama kelurahan di Kota Bekasi (mis. Bekasi Jaya); daftarnya di GET /v1/kelurahan.",
                    "Unknown kelurahan; use the Kemendagri code (e.g. 32.75.01.1001) or the name of a kelurahan of Kota Bekasi (e.g. Bekasi Jaya); see GET /v1/kelurahan.",
                )
            })
    }

    /// Every kelurahan, in code order.
    pub fn all() -> impl Iterator<Item = KelurahanCode> {
        table().iter().map(KelurahanCode)
    }

    pub fn as_str(&self) -> &'static str {
        &self.0.code
    }

    pub fn name(&self) -> &'static str {
        &self.0.name
    }

    pub fn kecamatan_code(&self) -> &'static str {
        &self.0.kecamatan_code
    }

    pub fn kecamatan_name(&self) -> &'static str {
        &self.0.kecamatan_name
    }
}

impl PartialEq for KelurahanCode {
    fn eq(&self, other: &Self) -> bool {
        self.0.code == other.0.code
    }
}
impl Eq for KelurahanCode {}

impl std::hash::Hash for KelurahanCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.code.hash(state)
    }
}

impl std::fmt::Debug for KelurahanCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0.code, self.0.name)
    }
}

impl std::fmt::Display for KelurahanCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.code)
    }
}

impl Serialize for KelurahanCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.code)
    }
}

impl<'de> Deserialize<'de> for KelurahanCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KelurahanCode::parse(&s).map_err(|e| serde::de::Error::custom(e.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_12_kecamatan_and_56_kelurahan() {
        assert_eq!(KelurahanCode::all().count(), 56);
        let mut kec: Vec<_> = KelurahanCode::all().map(|k| k.kecamatan_code()).collect();
        kec.dedup();
        assert_eq!(kec.len(), 12);
    }

    #[test]
    fn by_code_dotted_or_not() {
        let k = KelurahanCode::parse("32.75.01.1001").unwrap();
        assert_eq!(k.name(), "Bekasijaya");
        assert_eq!(k.kecamatan_name(), "Bekasi Timur");
        assert_eq!(KelurahanCode::parse("3275011001").unwrap(), k);
    }

    #[test]
    fn gaps_in_codes_are_not_invented() {
        assert!(KelurahanCode::parse("32.75.07.1003").is_ok()); // Bantargebang
        assert_eq!(
            KelurahanCode::parse("32.75.07.1001").unwrap_err().code,
            "KELURAHAN_UNKNOWN"
        );
        assert!(KelurahanCode::parse("32.75.08.1004").is_err());
        assert!(KelurahanCode::parse("32.75.13.1001").is_err());
        assert!(KelurahanCode::parse("").is_err());
    }

    #[test]
    fn by_name_ignoring_case_and_spaces() {
        let k = KelurahanCode::find_by_name("Bekasi Jaya").unwrap();
        assert_eq!(k.as_str(), "32.75.01.1001");
        assert_eq!(KelurahanCode::find_by_name("BEKASIJAYA").unwrap(), k);
        assert_eq!(
            KelurahanCode::find_by_name("jatibening baru")
                .unwrap()
                .as_str(),
            "32.75.08.1006"
        );
        assert_eq!(
            KelurahanCode::find_by_name("Teluk  Pucung")
                .unwrap()
                .as_str(),
            "32.75.03.1004"
        );
        assert!(KelurahanCode::find_by_name("Menteng").is_none());
        assert_eq!(
            KelurahanCode::parse_code_or_name("Kali Abang Tengah")
                .unwrap()
                .as_str(),
            "32.75.03.1001"
        );
        for typed in [
            "Bekasi Jaya",
            "bekasijaya",
            " BEKASI  JAYA ",
            "32.75.01.1001",
            "3275011001",
        ] {
            assert_eq!(
                KelurahanCode::parse_code_or_name(typed).unwrap().as_str(),
                "32.75.01.1001",
                "{typed}"
            );
        }
        for unknown in ["Menteng", "32.75.01.9999", "", "  "] {
            assert_eq!(
                KelurahanCode::parse_code_or_name(unknown).unwrap_err().code,
                "KELURAHAN_UNKNOWN",
                "{unknown}"
            );
        }
    }
}
