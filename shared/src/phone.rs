//! Indonesian mobile numbers, stored in E.164 (`+628…`).
//!
//! Accepts what people and spreadsheets write: `0812…`, `+62 812-…`, `62812…`, `812…` (Excel
//! dropped the 0), `0062 812…` (international prefix) and `+620812…` (a doubled trunk 0).
//! Only mobiles can receive SMS, so a landline is refused with its own code. The mobile rule is
//! libphonenumber's `8[1-35-9]\d{7,10}` after the country code.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::Invalid;

/// A mobile number that can receive SMS, in E.164.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, Invalid> {
        let trimmed = raw.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.contains('e') && lower.chars().any(|c| c.is_ascii_digit()) {
            return Err(Invalid::new(
                "PHONE_SCIENTIFIC_NOTATION",
                "Nomor HP tertulis sebagai notasi ilmiah (mis. 8.12346E+10); ketik ulang sebagai teks.",
                "The phone number is in scientific notation (e.g. 8.12346E+10); re-enter it as text.",
            ));
        }
        let cleaned: String = trimmed
            .trim_start_matches('\'')
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}' | '\t'))
            .collect();
        if cleaned.is_empty() {
            return Err(Invalid::new(
                "PHONE_REQUIRED",
                "Nomor HP wajib diisi.",
                "A phone number is required.",
            ));
        }
        let (plus, digits) = match cleaned.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, cleaned.as_str()),
        };
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(Invalid::new(
                "PHONE_INVALID",
                "Nomor HP hanya boleh berisi angka, spasi, tanda hubung dan + di depan.",
                "A phone number may contain digits, spaces, dashes and a leading + only.",
            ));
        }
        let national = if plus {
            match digits.strip_prefix("62") {
                Some(rest) => rest,
                None => {
                    return Err(Invalid::new(
                        "PHONE_NOT_INDONESIAN",
                        "Nomor HP harus nomor Indonesia (+62).",
                        "The phone number must be an Indonesian number (+62).",
                    ));
                }
            }
        } else if let Some(rest) = digits.strip_prefix("0062") {
            rest
        } else if let Some(rest) = digits.strip_prefix("62") {
            rest
        } else if let Some(rest) = digits.strip_prefix('0') {
            rest
        } else {
            digits
        };
        // +62 0812…: a trunk 0 kept after the country code.
        let national = national.strip_prefix('0').unwrap_or(national);
        let bytes = national.as_bytes();
        let is_mobile = bytes.len() >= 9
            && bytes.len() <= 12
            && bytes[0] == b'8'
            && matches!(bytes[1], b'1'..=b'3' | b'5'..=b'9');
        if is_mobile {
            return Ok(Phone(format!("+62{national}")));
        }
        if !national.is_empty() && !national.starts_with('8') && (7..=11).contains(&national.len())
        {
            return Err(Invalid::new(
                "PHONE_LANDLINE",
                "Nomor ini nomor telepon rumah/kantor dan tidak bisa menerima SMS; isi nomor HP (08…).",
                "This is a landline number and cannot receive SMS; give a mobile number (08…).",
            ));
        }
        Err(Invalid::new(
            "PHONE_INVALID",
            "Nomor HP tidak sah; contoh yang benar: 081234567890.",
            "Not a valid mobile number; for example 081234567890.",
        ))
    }

    /// E.164, e.g. `+6281234567890`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+62812****7890`: for lists and logs.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{}****{}", &self.0[..6], &self.0[n - 4..])
    }
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Phone::parse(&s).map_err(|e| serde::de::Error::custom(e.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_way_of_writing_a_mobile_gives_one_e164_value() {
        for raw in [
            "081234567890",
            "+62 812-3456-7890",
            "6281234567890",
            "81234567890",
            "0062 812 3456 7890",
            "+62 0812 3456 7890",
            "(0812) 3456.7890",
            "'081234567890",
        ] {
            assert_eq!(
                Phone::parse(raw).unwrap().as_str(),
                "+6281234567890",
                "{raw}"
            );
        }
    }

    #[test]
    fn reparsing_is_stable() {
        let p = Phone::parse("0812-3456-7890").unwrap();
        assert_eq!(Phone::parse(p.as_str()).unwrap(), p);
    }

    #[test]
    fn landlines_are_refused_for_sms() {
        for raw in ["0213456789", "+62 21 345 6789", "021-88955123"] {
            assert_eq!(
                Phone::parse(raw).unwrap_err().code,
                "PHONE_LANDLINE",
                "{raw}"
            );
        }
    }

    #[test]
    fn lengths_outside_the_mobile_range_are_refused() {
        assert_eq!(Phone::parse("0812345").unwrap_err().code, "PHONE_INVALID");
        assert_eq!(
            Phone::parse("08123456789012").unwrap_err().code,
            "PHONE_INVALID"
        );
        // 84x is not a mobile range.
        assert_eq!(
            Phone::parse("08412345678").unwrap_err().code,
            "PHONE_INVALID"
        );
    }

    #[test]
    fn other_countries_and_garbage_are_refused() {
        assert_eq!(
            Phone::parse("+65 9123 4567").unwrap_err().code,
            "PHONE_NOT_INDONESIAN"
        );
        assert_eq!(
            Phone::parse("nomor saya").unwrap_err().code,
            "PHONE_INVALID"
        );
        assert_eq!(
            Phone::parse("8.12346E+10").unwrap_err().code,
            "PHONE_SCIENTIFIC_NOTATION"
        );
        assert_eq!(Phone::parse("  ").unwrap_err().code, "PHONE_REQUIRED");
    }

    #[test]
    fn masked_hides_the_middle() {
        assert_eq!(
            Phone::parse("081234567890").unwrap().masked(),
            "+62812****7890"
        );
    }
}
