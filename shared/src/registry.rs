//! The welfare registry (DTKS/DTSEN) as the Dinas exports it: a CSV with the columns
//! `nik,kk,nama,kelurahan_code,desil` (header names matched ignoring case and spaces).
//!
//! Files come from Excel: UTF-8 with or without a BOM, `,` or `;` separated, quoted fields,
//! CRLF line ends. Every bad row is reported with its line number and every reason it is bad;
//! the good rows are returned for loading.

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
            write!(f, "{col}: {}", p.message.id)?;
        }
        Ok(())
    }
}

/// The file as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryFileError {
    #[error(
        "kolom wajib tidak ada di header: {0} (header harus berisi nik, kk, nama, kelurahan_code, desil)"
    )]
    MissingColumns(String),
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
    let text = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    // The csv crate numbers every record of a CRLF file one line short (it notes where a
    // record starts before it counts the `\n` of the previous `\r\n`). Excel writes CRLF and
    // bad rows must be reported on the line people see, so `\r\n` is read as `\n`.
    let text: Vec<u8> = text
        .iter()
        .enumerate()
        .filter(|&(i, &b)| !(b == b'\r' && text.get(i + 1) == Some(&b'\n')))
        .map(|(_, &b)| b)
        .collect();
    let header_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let semis = header_line.iter().filter(|b| **b == b';').count();
    let commas = header_line.iter().filter(|b| **b == b',').count();
    let delimiter = if semis > commas { b';' } else { b',' };
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
    Ok(RegistryRows {
        records: reader.into_records(),
        index,
    })
}

/// The rows of a registry file, in order.
pub struct RegistryRows {
    records: csv::StringRecordsIntoIter<std::io::Cursor<Vec<u8>>>,
    index: [usize; 5],
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
    fn missing_columns_are_named() {
        let err = read_registry("nik;nama\n".as_bytes()).err().unwrap();
        assert!(
            err.to_string().contains("kk, kelurahan_code, desil"),
            "{err}"
        );
    }
}
