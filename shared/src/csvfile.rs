//! Reading the CSV files ops load (the DTKS/DTSEN registry, stock receipts): files that come
//! from Excel, read with the same tolerance whatever they hold.
//!
//! * UTF-8 with or without a BOM; a file that is empty, has no rows, or is not UTF-8 (Excel's
//!   "CSV" is Windows-1252, its "Unicode Text" UTF-16, a workbook is a zip) is refused as a
//!   whole, saying how to save it as CSV UTF-8.
//! * `,` or `;` separated (whichever the header line has more of), quoted fields, CRLF line
//!   ends; cells are trimmed; blank lines before the header and rows of empty cells (Excel
//!   leaves them at the end of a sheet) are skipped.
//! * Header names are matched ignoring case and spaces, each column by its name or one of its
//!   aliases; columns the reader was not asked for are ignored.
//! * Every row carries its 1-based line number in the file (the header is line 1), counted as
//!   people see the file, also in a CRLF file. A row with more or fewer cells than the header
//!   is reported as such (not as whatever cell then looks wrong).
//!
//! What the cells mean is the caller's business ([`crate::registry`], [`crate::receipt_csv`]).

use std::io::Read;

use crate::validation::Invalid;

/// A row that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// `(column, problem)` for every bad value of the row; an empty column for a problem of
    /// the whole row.
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
    /// A problem of the row as a whole (no column).
    pub fn whole_row(line: u64, problem: Invalid) -> RowError {
        RowError {
            line,
            problems: vec![(String::new(), problem)],
        }
    }
}

/// How to get a CSV file the importer reads, from Excel.
const SAVE_AS_UTF8: &str = "di Excel pilih File > Save As (Simpan Sebagai) > \"CSV UTF-8 (Comma delimited) (*.csv)\", lalu impor berkas itu";

/// The file as a whole cannot be read. `expected` is the header the file should have, for
/// people (e.g. `nik, kk, nama, kelurahan_code, desil`).
#[derive(Debug, thiserror::Error)]
pub enum CsvFileError {
    #[error("kolom wajib tidak ada di header: {missing} (header harus berisi {expected})")]
    MissingColumns { missing: String, expected: String },
    #[error(
        "berkas kosong: tidak ada header maupun baris data (baris pertama harus header {expected})"
    )]
    Empty { expected: String },
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

/// A column the caller wants: its name, other names it may go by, and whether the file must
/// have it.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

impl Column {
    pub const fn required(name: &'static str, aliases: &'static [&'static str]) -> Column {
        Column {
            name,
            aliases,
            required: true,
        }
    }

    pub const fn optional(name: &'static str, aliases: &'static [&'static str]) -> Column {
        Column {
            name,
            aliases,
            required: false,
        }
    }
}

/// A header name as compared: lower case, no spaces.
fn norm(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Reads a CSV file from Excel and finds `columns` in its header. Returns its rows, in order.
pub fn read_csv(mut input: impl Read, columns: &[Column]) -> Result<CsvRows, CsvFileError> {
    let expected = columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ");
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(CsvFileError::Utf16);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(CsvFileError::Workbook);
    }
    let text = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    if let Err(e) = std::str::from_utf8(&text) {
        let valid = &text[..e.valid_up_to()];
        // UTF-16 without its byte-order mark: every other byte of ASCII text is zero.
        if valid.contains(&0) {
            return Err(CsvFileError::Utf16);
        }
        let line = 1 + valid.iter().filter(|b| **b == b'\n').count() as u64;
        return Err(CsvFileError::NotUtf8 { line });
    }
    if text.contains(&0) {
        return Err(CsvFileError::Utf16);
    }
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(CsvFileError::Empty { expected });
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
    let mut index = Vec::with_capacity(columns.len());
    let mut labels = Vec::with_capacity(columns.len());
    let mut missing = Vec::new();
    for col in columns {
        let found = headers.iter().position(|h| {
            let h = norm(h);
            h == col.name || col.aliases.contains(&h.as_str())
        });
        if found.is_none() && col.required {
            missing.push(col.name);
        }
        labels.push(
            found
                .and_then(|p| headers.get(p))
                .filter(|h| !h.is_empty())
                .unwrap_or(col.name)
                .to_string(),
        );
        index.push(found);
    }
    if !missing.is_empty() {
        return Err(CsvFileError::MissingColumns {
            missing: missing.join(", "),
            expected,
        });
    }
    if !has_rows {
        return Err(CsvFileError::NoRows);
    }
    Ok(CsvRows {
        columns: headers.len(),
        records: reader.into_records(),
        index,
        labels,
    })
}

/// One row: its line and the cells of the columns asked for, in that order (`""` for an
/// optional column the file does not have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    pub line: u64,
    pub cells: Vec<String>,
}

impl CsvRow {
    /// The cell of the `i`-th column asked for.
    pub fn get(&self, i: usize) -> &str {
        self.cells.get(i).map(String::as_str).unwrap_or("")
    }
}

/// The rows of a file, in order: each a [`CsvRow`], or a [`RowError`] when it cannot be read
/// as CSV or has more or fewer cells than the header.
pub struct CsvRows {
    records: csv::StringRecordsIntoIter<std::io::Cursor<Vec<u8>>>,
    /// Where each column asked for is in the file.
    index: Vec<Option<usize>>,
    /// Each column asked for as the file's header names it (its name when absent).
    labels: Vec<String>,
    /// Cells in the header: every row must have as many.
    columns: usize,
}

impl CsvRows {
    /// Whether the file has the `i`-th column asked for.
    pub fn has(&self, i: usize) -> bool {
        self.index.get(i).is_some_and(Option::is_some)
    }

    /// The `i`-th column asked for as the file's header writes it (e.g. `Jumlah` for
    /// `quantity`), for messages.
    pub fn label(&self, i: usize) -> &str {
        self.labels.get(i).map(String::as_str).unwrap_or("")
    }
}

impl Iterator for CsvRows {
    type Item = Result<CsvRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let record = match self.records.next()? {
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
                    Invalid::dynamic("ROW_COLUMN_COUNT", crate::i18n::Text::new(id, en)),
                )));
            }
            let cells = self
                .index
                .iter()
                .map(|i| i.and_then(|i| record.get(i)).unwrap_or("").to_string())
                .collect();
            return Some(Ok(CsvRow { line, cells }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Column; 3] = [
        Column::required("sku", &[]),
        Column::required("quantity", &["jumlah"]),
        Column::optional("expires_on", &[]),
    ];

    fn rows(text: &[u8]) -> Vec<Result<CsvRow, RowError>> {
        read_csv(text, &COLS).unwrap().collect()
    }

    #[test]
    fn bom_semicolons_quotes_and_crlf_with_lines_as_people_see_them() {
        let text = "\u{feff}\r\n Jumlah ;SKU;Catatan\r\n5;BERAS;\"a; b\"\r\n;;\r\n\"1\r\n0\";MIE;x\r\n7;KECAP;y\r\n";
        let got = rows(text.as_bytes());
        assert_eq!(got.len(), 3, "{got:?}");
        let first = got[0].as_ref().unwrap();
        assert_eq!(first.line, 3);
        assert_eq!(first.cells, ["BERAS", "5", ""]);
        // A quoted cell over two lines: the row starts on line 5, the next is on line 7.
        assert_eq!(got[1].as_ref().unwrap().line, 5);
        assert_eq!(got[2].as_ref().unwrap().line, 7);
    }

    #[test]
    fn aliases_optional_columns_and_labels() {
        let r = read_csv("sku,JUMLAH\nBERAS,3\n".as_bytes(), &COLS).unwrap();
        assert!(r.has(1) && !r.has(2));
        assert_eq!(r.label(1), "JUMLAH");
        assert_eq!(r.label(2), "expires_on");
    }

    #[test]
    fn wrong_widths_and_missing_columns_are_named() {
        let got = rows(b"sku,quantity\nBERAS,3,4\nMIE\n");
        assert_eq!(
            got[0].as_ref().unwrap_err().to_string(),
            "baris 2: 3 kolom, padahal header 2 kolom (nilai yang memuat koma atau titik koma harus diapit tanda kutip)"
        );
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "baris 3: hanya 1 kolom, padahal header 2 kolom"
        );
        let e = read_csv("sku;expires_on\n".as_bytes(), &COLS)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "kolom wajib tidak ada di header: quantity (header harus berisi sku, quantity, expires_on)"
        );
    }
}
