//! The welfare registry (DTKS/DTSEN) as the Dinas exports it: a CSV with the columns
//! `nik,kk,nama,kelurahan_code,desil` (header names matched ignoring case and spaces).
//!
//! Files come from Excel: UTF-8 with or without a BOM, `,` or `;` separated, quoted fields,
//! CRLF line ends (read by [`crate::csvfile`], which stock receipts share). Every bad row is
//! reported with its line number and every reason it is bad; the good rows are returned for
//! loading. A row with more or fewer cells than the header is
//! reported as such (not as whatever cell then looks wrong); a NIK that appeared on an earlier
//! row is reported and not loaded, so that loading a file twice changes nothing. A file that
//! is empty, has no rows, or is not UTF-8 (Excel's "CSV" is Windows-1252, its "Unicode Text"
//! UTF-16) is refused as a whole, saying how to save it as CSV UTF-8.

use std::collections::HashMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::csvfile::{Column, CsvFileError, CsvRows, read_csv};
use crate::household::Desil;
use crate::validation::Invalid;
use crate::{KelurahanCode, Kk, Nik};

/// One household head in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRecord {
    pub nik: Nik,
    pub kk: Kk,
    pub nama: String,
    pub kelurahan_code: KelurahanCode,
    pub desil: Desil,
}

pub use crate::csvfile::RowError;

/// The file as a whole cannot be read (see [`crate::csvfile`]).
pub type RegistryFileError = CsvFileError;

const COLUMNS: [Column; 5] = [
    Column::required("nik", &[]),
    Column::required("kk", &[]),
    Column::required("nama", &[]),
    Column::required("kelurahan_code", &[]),
    Column::required("desil", &[]),
];

/// Reads a registry CSV. Returns an iterator of rows, each loaded or refused.
pub fn read_registry(input: impl Read) -> Result<RegistryRows, RegistryFileError> {
    Ok(RegistryRows {
        rows: read_csv(input, &COLUMNS)?,
        seen: HashMap::new(),
    })
}

/// The rows of a registry file, in order.
pub struct RegistryRows {
    rows: CsvRows,
    /// The line of the first row of each NIK (as a number: 16 digits fit a `u64`).
    seen: HashMap<u64, u64>,
}

impl Iterator for RegistryRows {
    type Item = Result<RegistryRecord, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.rows.next()? {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let line = row.line;
        let get = |i: usize| row.get(i);
        let mut problems = Vec::new();
        let nik = take(&mut problems, "nik", Nik::parse(get(0)));
        let kk = take(&mut problems, "kk", Kk::parse(get(1)));
        let nama = get(2).to_string();
        let nama_ok = take(
            &mut problems,
            "nama",
            if nama.is_empty() {
                Err(Invalid::new(
                    "NAME_REQUIRED",
                    "nama wajib diisi",
                    "name is required",
                ))
            } else {
                Ok(())
            },
        );
        let kel = take(
            &mut problems,
            "kelurahan_code",
            KelurahanCode::parse_code_or_name(get(3)),
        );
        let desil = take(&mut problems, "desil", Desil::parse(get(4)));
        // A NIK seen on an earlier row: which row wins would depend on the order of
        // loading, and every load would "update" one with the other.
        if let Some(n) = &nik
            && let Ok(key) = n.as_str().parse::<u64>()
        {
            match self.seen.get(&key) {
                Some(&first) => {
                    return Some(Err(RowError::whole_row(
                        line,
                        Invalid {
                            code: "NIK_DUPLICATE",
                            message: crate::i18n::Text::new(
                                format!("NIK ganda (sama dengan baris {first})"),
                                format!("duplicate NIK (same as line {first})"),
                            ),
                        },
                    )));
                }
                None => {
                    self.seen.insert(key, line);
                }
            }
        }
        Some(match (nik, kk, nama_ok, kel, desil) {
            (Some(nik), Some(kk), Some(()), Some(kelurahan_code), Some(desil)) => {
                Ok(RegistryRecord {
                    nik,
                    kk,
                    nama,
                    kelurahan_code,
                    desil,
                })
            }
            _ => Err(RowError { line, problems }),
        })
    }
}

fn take<T>(problems: &mut Vec<(String, Invalid)>, col: &str, r: Result<T, Invalid>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push((col.to_string(), e));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Result<RegistryRecord, RowError>> {
        read_registry(text.as_bytes()).unwrap().collect()
    }

    #[test]
    fn comma_file_with_bom_and_crlf() {
        let text = "\u{feff}NIK,KK,Nama,Kelurahan_Code,Desil\r\n3275014101900003,3275010203040005,\"Siti, Aminah\",32.75.01.1001,1\r\n";
        let got = rows(text);
        assert_eq!(got.len(), 1);
        let r = got[0].as_ref().unwrap();
        assert_eq!(r.nama, "Siti, Aminah");
        assert_eq!(r.desil.get(), 1);
    }

    #[test]
    fn bad_rows_of_a_crlf_file_are_reported_on_their_own_line() {
        let text = "nik,kk,nama,kelurahan_code,desil\r\n\
            3275014101900003,3275010203040005,A,32.75.01.1001,1\r\n\
            3275014101900003,3275010203040005,B,32.75.01.1001,11\r\n";
        let got = rows(text);
        assert!(got[0].is_ok());
        assert_eq!(got[1].as_ref().unwrap_err().line, 3);
    }

    #[test]
    fn semicolon_file_with_reordered_columns() {
        let text = "desil;nama;nik;kk;kelurahan_code\n2;Budi;3275010101800001;3275010203040006;Bekasi Jaya\n";
        let r = rows(text).remove(0).unwrap();
        assert_eq!(r.kelurahan_code.as_str(), "32.75.01.1001");
        assert_eq!(r.nik.as_str(), "3275010101800001");
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_every_reason() {
        let text = "nik,kk,nama,kelurahan_code,desil\n\
            3.275E+15,3275010203040005,A,32.75.01.1001,1\n\
            327501410190003,3275010203040005,B,32.75.99.1001,11\n\
            3275014101900003,3275010203040005,C,32.75.01.1001,3\n";
        let got = rows(text);
        let e1 = got[0].as_ref().unwrap_err();
        assert_eq!(e1.line, 2);
        assert_eq!(e1.problems[0].1.code, "NIK_SCIENTIFIC_NOTATION");
        let e2 = got[1].as_ref().unwrap_err();
        assert_eq!(e2.line, 3);
        let codes: Vec<_> = e2.problems.iter().map(|(_, p)| p.code).collect();
        assert_eq!(
            codes,
            ["NIK_LENGTH", "KELURAHAN_UNKNOWN", "DESIL_OUT_OF_RANGE"]
        );
        assert!(e2.to_string().starts_with("baris 3: "));
        assert!(got[2].is_ok());
    }

    #[test]
    fn a_nik_seen_before_is_reported_on_its_later_row_and_not_loaded() {
        let text = "nik,kk,nama,kelurahan_code,desil\n\
            3275014101900003,3275010203040005,A,32.75.01.1001,1\n\
            3275010101800001,3275010203040006,B,32.75.01.1001,2\n\
            3275014101900003,3275010203040007,C,32.75.01.1002,3\n";
        let got = rows(text);
        assert_eq!(got[0].as_ref().unwrap().nama, "A");
        assert!(got[1].is_ok());
        let e = got[2].as_ref().unwrap_err();
        assert_eq!(e.problems[0].1.code, "NIK_DUPLICATE");
        assert_eq!(e.to_string(), "baris 4: NIK ganda (sama dengan baris 2)");
    }

    #[test]
    fn a_row_with_more_or_fewer_cells_than_the_header_says_so() {
        let text = "nik,kk,nama,kelurahan_code,desil\n\
            3275014101900003,3275010203040005,Siti, Aminah,32.75.01.1001,1\n\
            3275010101800001,3275010203040006,B,32.75.01.1001\n\
            3275010101800002,3275010203040008,D,32.75.01.1001,2\n";
        let got = rows(text);
        let more = got[0].as_ref().unwrap_err();
        assert_eq!(more.problems[0].1.code, "ROW_COLUMN_COUNT");
        assert!(
            more.to_string()
                .starts_with("baris 2: 6 kolom, padahal header 5 kolom"),
            "{more}"
        );
        let fewer = got[1].as_ref().unwrap_err();
        assert_eq!(
            fewer.to_string(),
            "baris 3: hanya 4 kolom, padahal header 5 kolom"
        );
        assert!(got[2].is_ok());
    }

    #[test]
    fn empty_header_only_and_non_utf8_files_are_refused_with_advice() {
        let err = |bytes: &[u8]| read_registry(bytes).err().expect("refused").to_string();
        for empty in [&b""[..], b"\xEF\xBB\xBF", b"\r\n\r\n"] {
            assert!(err(empty).starts_with("berkas kosong"), "{}", err(empty));
        }
        for header_only in [
            &b"nik,kk,nama,kelurahan_code,desil"[..],
            b"\xEF\xBB\xBFnik;kk;nama;kelurahan_code;desil\r\n;;;;\r\n",
        ] {
            assert!(
                err(header_only).contains("hanya berisi header"),
                "{}",
                err(header_only)
            );
        }
        // Excel's plain "CSV": Windows-1252 (\xE9 is e-acute) on line 3.
        let cp1252 = b"nik,kk,nama,kelurahan_code,desil\r\n\
            3275014101900003,3275010203040005,A,32.75.01.1001,1\r\n\
            3275010101800001,3275010203040006,Ren\xE9,32.75.01.1001,2\r\n";
        let e = err(cp1252);
        assert!(e.contains("bukan UTF-8 (mulai baris 3)"), "{e}");
        assert!(e.contains("CSV UTF-8"), "{e}");
        // Excel's "Unicode Text": UTF-16 with and without its byte-order mark.
        let utf16: Vec<u8> = "nik\tkk\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let with_bom = [&b"\xFF\xFE"[..], &utf16].concat();
        for f in [&with_bom[..], &utf16[..]] {
            let e = err(f);
            assert!(e.contains("UTF-16") && e.contains("CSV UTF-8"), "{e}");
        }
        assert!(err(b"PK\x03\x04rest").contains(".xlsx"));
    }

    #[test]
    fn missing_columns_are_named() {
        let err = read_registry("nik;nama\n".as_bytes()).err().unwrap();
        assert!(
            err.to_string().contains("kk, kelurahan_code, desil"),
            "{err}"
        );
    }
}
