//! NIK (Nomor Induk Kependudukan) and KK (Kartu Keluarga) numbers.
//!
//! Both are 16-digit strings, never numbers. Input from forms and Excel is normalised
//! (spaces, dots, dashes, NBSP and a leading apostrophe are stripped) and scientific notation
//! such as `3.275E+15` (what Excel shows after it has already destroyed the last digit) is
//! refused with its own message. A NIK's digits 7–12 are a birth date DDMMYY with 40 added to
//! the day for women, and its serial (digits 13–16) starts at 0001. The region prefix is not
//! required to be 3275: a NIK keeps the region where it was first registered.
//!
//! `Debug` prints the masked form, so a NIK never reaches a log by accident; the full number is
//! only available through [`Nik::as_str`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validation::Invalid;

/// Strips the separators people and spreadsheets put into long numbers.
fn normalise(raw: &str) -> String {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_prefix('\'').unwrap_or(trimmed);
    trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}' | '\t'))
        .collect()
}

/// `3.275E+15`, `3,275e15`: a number a spreadsheet turned into floating point.
fn looks_scientific(raw: &str) -> bool {
    let t = raw.trim();
    let lower = t.to_ascii_lowercase();
    match lower.find('e') {
        Some(pos) => {
            let (mantissa, exp) = lower.split_at(pos);
            let exp = exp[1..].trim_start_matches(['+', '-']);
            !mantissa.is_empty()
                && mantissa
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
                && !exp.is_empty()
                && exp.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Checks the shape common to NIK and KK: 16 digits and a province code 11–96.
fn parse_16(raw: &str, what: &'static str) -> Result<String, Invalid> {
    let (code_sci, code_digits, code_len, code_region) = match what {
        "NIK" => (
            "NIK_SCIENTIFIC_NOTATION",
            "NIK_NOT_DIGITS",
            "NIK_LENGTH",
            "NIK_REGION",
        ),
        _ => (
            "KK_SCIENTIFIC_NOTATION",
            "KK_NOT_DIGITS",
            "KK_LENGTH",
            "KK_REGION",
        ),
    };
    if looks_scientific(raw) {
        return Err(Invalid::dynamic(
            code_sci,
            crate::i18n::Text::new(
                format!(
                    "{what} tertulis sebagai notasi ilmiah (mis. 3.275E+15): Excel sudah mengubah digit terakhirnya. Ketik ulang {what} dari dokumen aslinya sebagai teks."
                ),
                format!(
                    "{what} is in scientific notation (e.g. 3.275E+15): Excel has already changed its last digits. Re-enter the {what} from the original document as text."
                ),
            ),
        ));
    }
    let digits = normalise(raw);
    if digits.is_empty() {
        return Err(Invalid::dynamic(
            code_len,
            crate::i18n::Text::new(
                format!("{what} wajib diisi."),
                format!("{what} is required."),
            ),
        ));
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(Invalid::dynamic(
            code_digits,
            crate::i18n::Text::new(
                format!("{what} hanya boleh berisi angka."),
                format!("{what} may contain digits only."),
            ),
        ));
    }
    if digits.len() != 16 {
        return Err(Invalid::dynamic(
            code_len,
            crate::i18n::Text::new(
                format!("{what} harus 16 digit, bukan {} digit.", digits.len()),
                format!("{what} must have 16 digits, not {}.", digits.len()),
            ),
        ));
    }
    let province: u8 = digits[0..2].parse().unwrap_or(0);
    if !(11..=96).contains(&province) {
        return Err(Invalid::dynamic(
            code_region,
            crate::i18n::Text::new(
                format!("Dua digit pertama {what} bukan kode provinsi yang sah (11-96)."),
                format!(
                    "The first two digits of the {what} are not a valid province code (11-96)."
                ),
            ),
        ));
    }
    Ok(digits)
}

fn mask(digits: &str) -> String {
    format!("{}********{}", &digits[..4], &digits[12..])
}

/// A valid NIK: 16 digits with a plausible birth date and a non-zero serial.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nik(String);

impl Nik {
    /// Parses a NIK as typed or exported, stripping separators.
    pub fn parse(raw: &str) -> Result<Nik, Invalid> {
        let digits = parse_16(raw, "NIK")?;
        let day: u32 = digits[6..8].parse().unwrap_or(0);
        let month: u32 = digits[8..10].parse().unwrap_or(0);
        let year: i32 = digits[10..12].parse().unwrap_or(0);
        let real_day = if day > 40 { day - 40 } else { day };
        let day_ok = (1..=31).contains(&day) || (41..=71).contains(&day);
        let month_ok = (1..=12).contains(&month);
        let date_exists = [1900 + year, 2000 + year]
            .iter()
            .any(|y| chrono::NaiveDate::from_ymd_opt(*y, month, real_day).is_some());
        if !day_ok || !month_ok || !date_exists {
            return Err(Invalid::new(
                "NIK_BIRTH_DATE",
                "Digit 7-12 NIK harus tanggal lahir DDMMYY (tanggal 01-31, atau 41-71 untuk perempuan; bulan 01-12).",
                "NIK digits 7-12 must be a birth date DDMMYY (day 01-31, or 41-71 for women; month 01-12).",
            ));
        }
        if &digits[12..] == "0000" {
            return Err(Invalid::new(
                "NIK_SERIAL",
                "Nomor urut NIK (4 digit terakhir) tidak boleh 0000.",
                "The NIK serial (last 4 digits) cannot be 0000.",
            ));
        }
        Ok(Nik(digits))
    }

    /// The full 16 digits. Only for storage, keyed hashing and the detail view.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `3275********0003`: the form for lists, logs, events and reports.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// Whether the NIK marks its holder as a woman (day + 40).
    pub fn is_female(&self) -> bool {
        self.0[6..8].parse::<u32>().unwrap_or(0) > 40
    }
}

impl std::fmt::Debug for Nik {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nik({})", self.masked())
    }
}

/// A valid KK (family card) number: 16 digits with a province prefix.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kk(String);

impl Kk {
    pub fn parse(raw: &str) -> Result<Kk, Invalid> {
        parse_16(raw, "KK").map(Kk)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl std::fmt::Debug for Kk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kk({})", self.masked())
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(|e| serde::de::Error::custom(e.code))
            }
        }
    };
}
string_serde!(Nik);
string_serde!(Kk);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_nik_parses() {
        let nik = Nik::parse("3275014101900003").unwrap();
        assert_eq!(nik.as_str(), "3275014101900003");
        assert!(nik.is_female());
        assert_eq!(nik.masked(), "3275********0003");
    }

    #[test]
    fn women_day_plus_forty_is_accepted_and_men_too() {
        assert!(Nik::parse("3275017112990001").is_ok()); // 31 + 40 = 71
        assert!(Nik::parse("3275013112990001").is_ok()); // man, 31 Dec
        assert!(!Nik::parse("3275013112990001").unwrap().is_female());
    }

    #[test]
    fn impossible_days_are_refused() {
        for bad in [
            "3275013212990001",
            "3275017212990001",
            "3275010012990001",
            "3275014012990001",
        ] {
            assert_eq!(Nik::parse(bad).unwrap_err().code, "NIK_BIRTH_DATE", "{bad}");
        }
        // 30 February does not exist, for men or women.
        assert_eq!(
            Nik::parse("3275013002990001").unwrap_err().code,
            "NIK_BIRTH_DATE"
        );
        assert_eq!(
            Nik::parse("3275017002990001").unwrap_err().code,
            "NIK_BIRTH_DATE"
        );
        // 29 February exists in 2000 (or 1900? no, but 2000 yes).
        assert!(Nik::parse("3275012902000001").is_ok());
    }

    #[test]
    fn month_thirteen_is_refused() {
        assert_eq!(
            Nik::parse("3275011013900001").unwrap_err().code,
            "NIK_BIRTH_DATE"
        );
        assert_eq!(
            Nik::parse("3275011000900001").unwrap_err().code,
            "NIK_BIRTH_DATE"
        );
    }

    #[test]
    fn serial_0000_is_refused() {
        assert_eq!(
            Nik::parse("3275014101900000").unwrap_err().code,
            "NIK_SERIAL"
        );
    }

    #[test]
    fn fifteen_digits_is_refused_with_the_count() {
        let err = Nik::parse("327501410190003").unwrap_err();
        assert_eq!(err.code, "NIK_LENGTH");
        assert!(err.message.id.contains("15"), "{}", err.message.id);
        assert!(err.message.en.contains("15"));
    }

    #[test]
    fn scientific_notation_is_refused_with_its_own_message() {
        for raw in [
            "3.275E+15",
            "3,275E+15",
            "3.27501E+15",
            "3275014101900000e0",
        ] {
            let err = Nik::parse(raw).unwrap_err();
            assert_eq!(err.code, "NIK_SCIENTIFIC_NOTATION", "{raw}");
            assert!(err.message.id.contains("Excel"));
        }
        assert_eq!(
            Kk::parse("3.275E+15").unwrap_err().code,
            "KK_SCIENTIFIC_NOTATION"
        );
    }

    #[test]
    fn separators_and_excel_apostrophe_are_stripped() {
        for raw in [
            "3275.0141.0190.0003",
            "3275 0141 0190 0003",
            "3275-0141-0190-0003",
            "'3275014101900003",
            "  3275014101900003 ",
            "3275\u{a0}014101900003",
        ] {
            assert_eq!(
                Nik::parse(raw).unwrap().as_str(),
                "3275014101900003",
                "{raw}"
            );
        }
    }

    #[test]
    fn letters_are_refused() {
        assert_eq!(
            Nik::parse("3275O14101900003").unwrap_err().code,
            "NIK_NOT_DIGITS"
        );
    }

    #[test]
    fn nik_from_outside_bekasi_is_accepted() {
        // First registered in Kota Bandung (3273) or in Papua (91): still a valid NIK.
        assert!(Nik::parse("3273015505850002").is_ok());
        assert!(Nik::parse("9171010101010001").is_ok());
        assert_eq!(
            Nik::parse("0975014101900003").unwrap_err().code,
            "NIK_REGION"
        );
    }

    #[test]
    fn kk_checks_shape_only() {
        assert_eq!(
            Kk::parse("3275.0102.0304.0005").unwrap().as_str(),
            "3275010203040005"
        );
        assert_eq!(
            Kk::parse("3275010203040005").unwrap().masked(),
            "3275********0005"
        );
        assert_eq!(Kk::parse("32750102030400").unwrap_err().code, "KK_LENGTH");
    }

    #[test]
    fn debug_never_prints_the_full_number() {
        let nik = Nik::parse("3275014101900003").unwrap();
        assert_eq!(format!("{nik:?}"), "Nik(3275********0003)");
        let kk = Kk::parse("3275010203040005").unwrap();
        assert!(!format!("{kk:?}").contains("3275010203040005"));
    }

    #[test]
    fn serde_is_a_string() {
        let nik = Nik::parse("3275014101900003").unwrap();
        assert_eq!(serde_json::to_string(&nik).unwrap(), "\"3275014101900003\"");
        let back: Nik = serde_json::from_str("\"3275014101900003\"").unwrap();
        assert_eq!(back, nik);
    }
}
