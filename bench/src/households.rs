//! Unique, valid households from a counter, so that every benchmark submission is a real 201
//! (no `DUPLICATE_ACTIVE_REQUEST`, no validation error).
//!
//! NIK: region `327501`, then a birth date DDMMYY (day 01–28 or, for women, 41–68, so that the
//! date exists in every month; month 01–12; year 00–99), then a serial 0001–9999. That is
//! 56 × 12 × 100 × 9999 ≈ 6.7 × 10⁸ distinct numbers before the counter wraps. KK: `3275`
//! followed by the counter in 12 digits.

use serde_json::{Value, json};

/// The kelurahan every benchmark household lives in (the token's own).
pub const KELURAHAN: &str = "32.75.01.1001";

/// The `n`-th benchmark NIK (valid, distinct for distinct `n` below ≈ 6.7 × 10⁸).
pub fn nik(n: u64) -> String {
    let serial = n % 9999 + 1;
    let rest = n / 9999;
    let day_index = rest % 56;
    let rest = rest / 56;
    let month = rest % 12 + 1;
    let year = (rest / 12) % 100;
    let day = if day_index < 28 {
        day_index + 1
    } else {
        day_index - 28 + 41
    };
    format!("327501{day:02}{month:02}{year:02}{serial:04}")
}

/// The `n`-th benchmark KK (distinct for distinct `n` below 10¹²).
pub fn kk(n: u64) -> String {
    format!("3275{:012}", n % 1_000_000_000_000)
}

/// A valid `POST /v1/requests` body (DESIGN §6) for the `n`-th household.
pub fn submit_body(n: u64) -> Value {
    json!({
        "household": {
            "head_nik": nik(n),
            "kk": kk(n),
            "head_name": format!("Warga Uji {n}"),
            "members": 4,
            "phone": "081234567890",
            "address": {
                "street": "Jl. Ir. H. Juanda No. 100",
                "rt": "003",
                "rw": "011",
                "kelurahan_code": KELURAHAN
            }
        },
        "category": "miskin_ekstrem",
        "urgency": "darurat",
        "situation": "Kepala keluarga kehilangan pekerjaan; persediaan beras habis sejak dua hari.",
        "reported_by": {"name": "Ibu Sari (PSM)", "phone": "081298765432"}
    })
}

/// The same body as bytes, ready for the wire.
pub fn submit_body_bytes(n: u64) -> Vec<u8> {
    serde_json::to_vec(&submit_body(n)).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn households_are_valid_and_distinct() {
        let mut niks = HashSet::new();
        let mut kks = HashSet::new();
        // Across the serial wrap and a few day/month/year steps.
        let ns = (0..30_000u64).chain([9_998 * 56 * 12, 6_000_000, 600_000_000]);
        for n in ns {
            let (a, b) = (nik(n), kk(n));
            shared::Nik::parse(&a).unwrap_or_else(|e| panic!("NIK #{n} {a}: {:?}", e.code));
            shared::Kk::parse(&b).unwrap_or_else(|e| panic!("KK #{n} {b}: {:?}", e.code));
            assert!(niks.insert(a), "NIK #{n} repeats");
            assert!(kks.insert(b), "KK #{n} repeats");
        }
    }
}
