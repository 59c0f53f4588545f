//! SMS texts (DESIGN §8): Bahasa Indonesia, one segment of at most 160 GSM-7 characters, the
//! request named by its code, times in WIB, and never a NIK, KK, name, reason or health detail
//! (reasons are free text and may hold health details, so they stay in the app).
//!
//! Every template is tested with worst-case values filled in.

use chrono::{DateTime, Utc};

use crate::time::wib;

/// The longest single-segment SMS in GSM-7.
pub const MAX_LEN: usize = 160;

/// The GSM 03.38 basic character set (no escape table: those count double and are avoided).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Whether every character of `text` is in the GSM-7 basic set.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| GSM7_BASIC.contains(c))
}

/// Replaces what would force UCS-2 (curly quotes, dashes, ellipsis) and drops anything else
/// outside GSM-7, so a value from the database can never break the one-segment rule.
pub fn to_gsm7(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '‘' | '’' | '`' | '´' => Some('\''),
            '“' | '”' => Some('"'),
            '–' | '—' => Some('-'),
            '…' => Some('.'),
            '\u{a0}' | '\t' => Some(' '),
            c if GSM7_BASIC.contains(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// A text ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsText(String);

impl SmsText {
    /// Cleans `text` to GSM-7 and shortens it to one segment (cutting at a word, with `..`).
    pub fn fit(text: &str) -> SmsText {
        let clean = to_gsm7(text);
        if clean.chars().count() <= MAX_LEN {
            return SmsText(clean);
        }
        let mut cut: String = clean.chars().take(MAX_LEN - 2).collect();
        if let Some(space) = cut.rfind(' ') {
            cut.truncate(space);
        }
        cut.push_str("..");
        SmsText(cut)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an SMS is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Submitted {
        code: &'a str,
        kelurahan: &'a str,
        darurat: bool,
        at: DateTime<Utc>,
    },
    SurveyAssigned {
        code: &'a str,
        kelurahan: &'a str,
        due: Option<DateTime<Utc>>,
    },
    Approved {
        code: &'a str,
        kelurahan: &'a str,
        packages: u32,
        at: DateTime<Utc>,
    },
    Rejected {
        code: &'a str,
        kelurahan: &'a str,
        at: DateTime<Utc>,
    },
    Waitlisted {
        code: &'a str,
        kelurahan: &'a str,
        at: DateTime<Utc>,
    },
    Allocated {
        code: &'a str,
        kelurahan: &'a str,
        at: DateTime<Utc>,
    },
    DispatchedToKelurahan {
        code: &'a str,
        kelurahan: &'a str,
        at: DateTime<Utc>,
    },
    /// To the kelurahan staff when the package goes straight to the household.
    DispatchedToHouseholdAddress {
        code: &'a str,
        kelurahan: &'a str,
        at: DateTime<Utc>,
    },
    DispatchedToHousehold {
        code: &'a str,
        at: DateTime<Utc>,
    },
    /// `at` is when the household received the package.
    Delivered {
        code: &'a str,
        kelurahan: &'a str,
        at: DateTime<Utc>,
    },
    Cancelled {
        code: &'a str,
        kelurahan: &'a str,
        at: DateTime<Utc>,
    },
    StockLow {
        sku: &'a str,
        warehouse: &'a str,
        available: u64,
        unit: &'a str,
        threshold: u64,
    },
}

/// The text of a message.
pub fn render(m: &Message<'_>) -> SmsText {
    let text = match m {
        Message::Submitted {
            code,
            kelurahan,
            darurat,
            at,
        } => format!(
            "BASOKA: Permohonan baru {code} dari Kel. {kelurahan}{}, {}. Mohon tugaskan survei di aplikasi.",
            if *darurat { " (DARURAT)" } else { "" },
            wib(at)
        ),
        Message::SurveyAssigned {
            code,
            kelurahan,
            due,
        } => format!(
            "BASOKA: Anda ditugaskan survei permohonan {code} di Kel. {kelurahan}. Batas: {}. Detail di aplikasi.",
            due.as_ref().map(wib).unwrap_or_else(|| "secepatnya".into())
        ),
        Message::Approved {
            code,
            kelurahan,
            packages,
            at,
        } => format!(
            "BASOKA: Permohonan {code} (Kel. {kelurahan}) DISETUJUI {}: {packages} paket sembako. Info pengiriman menyusul lewat SMS.",
            wib(at)
        ),
        Message::Rejected {
            code,
            kelurahan,
            at,
        } => format!(
            "BASOKA: Permohonan {code} (Kel. {kelurahan}) TIDAK DISETUJUI {}. Alasan dapat dilihat di aplikasi BASOKA.",
            wib(at)
        ),
        Message::Waitlisted {
            code,
            kelurahan,
            at,
        } => format!(
            "BASOKA: Permohonan {code} (Kel. {kelurahan}) disetujui tetapi stok gudang kurang; masuk daftar tunggu {}.",
            wib(at)
        ),
        Message::Allocated {
            code,
            kelurahan,
            at,
        } => format!(
            "BASOKA: Paket untuk permohonan {code} (Kel. {kelurahan}) disiapkan gudang {}. Mohon kirim.",
            wib(at)
        ),
        Message::DispatchedToKelurahan {
            code,
            kelurahan,
            at,
        } => format!(
            "BASOKA: Paket bantuan {code} dikirim ke kantor Kel. {kelurahan} {}. Mohon catat serah terima di aplikasi.",
            wib(at)
        ),
        Message::DispatchedToHouseholdAddress {
            code,
            kelurahan,
            at,
        } => format!(
            "BASOKA: Paket bantuan {code} (Kel. {kelurahan}) dikirim langsung ke alamat rumah penerima {}. Mohon catat serah terima di aplikasi.",
            wib(at)
        ),
        Message::DispatchedToHousehold { code, at } => format!(
            "BASOKA: Paket bantuan pangan dari Dinsos Kota Bekasi sedang dikirim ke rumah Anda ({code}), {}. Sebutkan kode ini saat menerima.",
            wib(at)
        ),
        Message::Delivered {
            code,
            kelurahan,
            at,
        } => format!(
            "BASOKA: Bantuan {code} telah diterima warga Kel. {kelurahan} pada {}. Terima kasih atas laporannya.",
            wib(at)
        ),
        Message::Cancelled {
            code,
            kelurahan,
            at,
        } => format!(
            "BASOKA: Permohonan {code} (Kel. {kelurahan}) dibatalkan {}. Detail di aplikasi BASOKA.",
            wib(at)
        ),
        Message::StockLow {
            sku,
            warehouse,
            available,
            unit,
            threshold,
        } => format!(
            "BASOKA: Stok {sku} di {warehouse} menipis: tersedia {available} {unit}, batas {threshold}. Mohon segera isi ulang."
        ),
    };
    SmsText::fit(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest kelurahan name of Kota Bekasi.
    fn longest_kelurahan() -> &'static str {
        crate::KelurahanCode::all()
            .map(|k| k.name())
            .max_by_key(|n| n.len())
            .unwrap()
    }

    fn worst_cases() -> Vec<Message<'static>> {
        let at: DateTime<Utc> = "2026-12-31T23:59:00Z".parse().unwrap();
        let code = "BSK-WWWWWW";
        let kel = longest_kelurahan();
        vec![
            Message::Submitted {
                code,
                kelurahan: kel,
                darurat: true,
                at,
            },
            Message::SurveyAssigned {
                code,
                kelurahan: kel,
                due: Some(at),
            },
            Message::SurveyAssigned {
                code,
                kelurahan: kel,
                due: None,
            },
            Message::Approved {
                code,
                kelurahan: kel,
                packages: 20,
                at,
            },
            Message::Rejected {
                code,
                kelurahan: kel,
                at,
            },
            Message::Waitlisted {
                code,
                kelurahan: kel,
                at,
            },
            Message::Allocated {
                code,
                kelurahan: kel,
                at,
            },
            Message::DispatchedToKelurahan {
                code,
                kelurahan: kel,
                at,
            },
            Message::DispatchedToHouseholdAddress {
                code,
                kelurahan: kel,
                at,
            },
            Message::DispatchedToHousehold { code, at },
            Message::Delivered {
                code,
                kelurahan: kel,
                at,
            },
            Message::Cancelled {
                code,
                kelurahan: kel,
                at,
            },
            Message::StockLow {
                sku: "MAKANAN-KALENG-SARDEN-425G-XXXXXXXXXXXXX",
                warehouse: "GUDANG-DINSOS-BKS",
                available: 99_999_999,
                unit: "kaleng",
                threshold: 99_999_999,
            },
        ]
    }

    #[test]
    fn every_template_fits_one_gsm7_segment_with_worst_case_values_and_is_not_cut() {
        for m in worst_cases() {
            let t = render(&m);
            let n = t.as_str().chars().count();
            assert!(n <= MAX_LEN, "{n} chars: {}", t.as_str());
            assert!(is_gsm7(t.as_str()), "not GSM-7: {}", t.as_str());
            assert!(
                !t.as_str().ends_with(".."),
                "template had to be cut: {}",
                t.as_str()
            );
            assert!(t.as_str().starts_with("BASOKA: "));
        }
    }

    #[test]
    fn request_texts_name_the_code_and_wib_time() {
        let at: DateTime<Utc> = "2026-12-03T03:00:00Z".parse().unwrap();
        let t = render(&Message::Approved {
            code: "BSK-7K3M9Q",
            kelurahan: "Bekasijaya",
            packages: 1,
            at,
        });
        assert!(t.as_str().contains("BSK-7K3M9Q"));
        assert!(t.as_str().contains("03-12-2026 10:00 WIB"));
    }

    #[test]
    fn non_gsm_characters_are_replaced_and_long_text_cut() {
        assert_eq!(to_gsm7("“Bu Siti’s” – ok…😀"), "\"Bu Siti's\" - ok.");
        let long = "kata ".repeat(60);
        let t = SmsText::fit(&long);
        assert!(t.as_str().chars().count() <= MAX_LEN);
        assert!(t.as_str().ends_with(".."));
    }
}
