//! The welfare registry (DTKS/DTSEN) as the Dinas exports it: a CSV with the columns
//! `nik,kk,nama,kelurahan_code,desil` (header names matched ignoring case and spaces).
//!
//! Files come from Excel: UTF-8 with or without a BOM, `,` or `;` separated, quoted fields,
//! CRLF line ends. Every bad row is reported with its line number and every reason it is bad;
//! the good rows are returned for loading. A row with more or fewer cells than the header is
//! reported as such (not as whatever cell then looks wrong); a NIK that appeared on an earlier
//! row is reported and not loaded, so that loading a file twice changes nothing. A file that
//! is empty, has no rows, or is not UTF-8 (Excel's "CSV" is Windows-1252, its "Unicode Text"
//! UTF-16) is refused as a whole, saying how to save it as CSV UTF-8.

use std::collections::HashMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

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

/// A row that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// `(column, problem)` for every bad value of the row.
    pub problems: Vec<(String, Invalid)>,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "baris {}: ", self.line)?;
        for (i, (col, p)) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            // A problem of the whole row (its cell count, a NIK seen before) has no column.
            if col.is_empty() {
                write!(f, "{}", p.message.id)?;
            } else {
                write!(f, "{col}: {}", p.message.id)?;
            }
        }
        Ok(())
    }
}

impl RowError {
    fn whole_row(line: u64, problem: Invalid) -> RowError {
        RowError {
            line,
            problems: vec![(String::new(), problem)],
        }
    }
}

/// How to get a CSV file the importer reads, from Excel.
const SAVE_AS_UTF8: &str = "di Excel pilih File > Save As (Simpan Sebagai) > \"CSV UTF-8 (Comma delimited) (*.csv)\", lalu impor berkas itu";

/// The file as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryFileError {
    #[error(
        "kolom wajib tidak ada di header: {0} (header harus berisi nik, kk, nama, kelurahan_code, desil)"
    )]
    MissingColumns(String),
    #[error(
        "berkas kosong: tidak ada header maupun baris data (baris pertama harus header nik, kk, nama, kelurahan_code, desil)"
    )]
    Empty,
    #[error("berkas hanya berisi header, tanpa baris data: tidak ada yang dimuat")]
    NoRows,
    #[error(
        "berkas bukan UTF-8 (mulai baris {line}): kemungkinan disimpan sebagai CSV biasa Windows-1252/ANSI; {SAVE_AS_UTF8}"
    )]
    NotUtf8 { line: u64 },
    #[error("berkas ini UTF-16 (\"Unicode Text\" dari Excel), bukan UTF-8; {SAVE_AS_UTF8}")]
    Utf16,
    #[error("berkas ini buku kerja Excel (.xlsx), bukan CSV; {SAVE_AS_UTF8}")]
    Workbook,
    #[error("berkas tidak bisa dibaca: {0}")]
    Io(#[from] std::io::Error),
    #[error("berkas bukan CSV yang sah: {0}")]
    Csv(#[from] csv::Error),
}

const COLUMNS: [&str; 5] = ["nik", "kk", "nama", "kelurahan_code", "desil"];

/// Reads a registry CSV. Returns an iterator of rows, each loaded or refused.
pub fn read_registry(mut input: impl Read) -> Result<RegistryRows, RegistryFileError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(RegistryFileError::Utf16);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(RegistryFileError::Workbook);
    }
    let text = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    if let Err(e) = std::str::from_utf8(&text) {
        let valid = &text[..e.valid_up_to()];
        // UTF-16 without its byte-order mark: every other byte of ASCII text is zero.
        if valid.contains(&0) {
            return Err(RegistryFileError::Utf16);
        }
        let line = 1 + valid.iter().filter(|b| **b == b'\n').count() as u64;
        return Err(RegistryFileError::NotUtf8 { line });
    }
    if text.contains(&0) {
        return Err(RegistryFileError::Utf16);
    }
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(RegistryFileError::Empty);
    }
    // The csv crate numbers every record of a CRLF file one line short (it notes where a
    // record starts before it counts the `\n` of the previous `\r\n`). Excel writes CRLF and
    // bad rows must be reported on the line people see, so `\r\n` is read as `\n`.
    let text: Vec<u8> = text
        .iter()
        .enumerate()
        .filter(|&(i, &b)| !(b == b'\r' && text.get(i + 1) == Some(&b'\n')))
        .map(|(_, &b)| b)
        .collect();
    // Blank lines before the header are skipped (the csv reader skips them too).
    let mut header_start = 0;
    for line in text.split(|b| *b == b'\n') {
        if !line.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        header_start += line.len() + 1;
    }
    let header_len = text[header_start..]
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(text.len() - header_start);
    let header_line = &text[header_start..header_start + header_len];
    let semis = header_line.iter().filter(|b| **b == b';').count();
    let commas = header_line.iter().filter(|b| **b == b',').count();
    let delimiter = if semis > commas { b';' } else { b',' };
    let has_rows = text[header_start + header_len..]
        .iter()
        .any(|b| !(b.is_ascii_whitespace() || *b == delimiter || *b == b'"'));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(std::io::Cursor::new(text));
    let headers = reader.headers()?.clone();
    let norm = |h: &str| -> String {
        h.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let mut index = [0usize; 5];
    let mut missing = Vec::new();
    for (i, col) in COLUMNS.iter().enumerate() {
        match headers.iter().position(|h| norm(h) == *col) {
            Some(p) => index[i] = p,
            None => missing.push(*col),
        }
    }
    if !missing.is_empty() {
        return Err(RegistryFileError::MissingColumns(missing.join(", ")));
    }
    if !has_rows {
        return Err(RegistryFileError::NoRows);
    }
    Ok(RegistryRows {
        columns: headers.len(),
        records: reader.into_records(),
        index,
        seen: HashMap::new(),
    })
}

/// The rows of a registry file, in order.
pub struct RegistryRows {
    records: csv::StringRecordsIntoIter<std::io::Cursor<Vec<u8>>>,
    index: [usize; 5],
    /// Cells in the header: every row must have as many.
    columns: usize,
    /// The line of the first row of each NIK (as a number: 16 digits fit a `u64`).
    seen: HashMap<u64, u64>,
}

impl Iterator for RegistryRows {
    type Item = Result<RegistryRecord, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let record = self.records.next()?;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    return Some(Err(RowError {
                        line,
                        problems: vec![(
                            "baris".into(),
                            Invalid::new(
                                "ROW_UNREADABLE",
                                "baris tidak bisa dibaca sebagai CSV",
                                "row is not valid CSV",
                            ),
                        )],
                    }));
                }
            };
            // Excel leaves rows of empty cells at the end of a sheet.
            if record.iter().all(|f| f.is_empty()) {
                continue;
            }
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            if record.len() != self.columns {
                let (n, h) = (record.len(), self.columns);
                let (id, en) = if n > h {
                    (
                        format!(
                            "{n} kolom, padahal header {h} kolom (nilai yang memuat koma atau titik koma harus diapit tanda kutip)"
                        ),
                        format!(
                            "{n} cells but the header has {h} (a value holding the separator must be quoted)"
                        ),
                    )
                } else {
                    (
                        format!("hanya {n} kolom, padahal header {h} kolom"),
                        format!("only {n} cells but the header has {h}"),
                    )
                };
                return Some(Err(RowError::whole_row(
                    line,
                    Invalid {
                        code: "ROW_COLUMN_COUNT",
                        message: crate::i18n::Text::new(id, en),
                    },
                )));
            }
            let get = |i: usize| record.get(self.index[i]).unwrap_or("");
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
            return Some(match (nik, kk, nama_ok, kel, desil) {
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
            });
        }
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
