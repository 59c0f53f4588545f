//! A stock receipt (one delivery note, *surat jalan*) as a CSV from Excel, for
//! `basoka stock receive`: the columns `sku`, `quantity` (or `jumlah`) and, optionally,
//! `expires_on` (or `kedaluwarsa` / `kadaluarsa`), dates `YYYY-MM-DD`. The file is read by
//! [`crate::csvfile`] like the registry (BOM, `,` or `;`, quotes, CRLF, header names ignoring
//! case and spaces, line numbers as people see them). Other columns (an item name, a unit, a
//! note a clerk keeps for themselves) are ignored: quantities are always in the item's unit in
//! the catalogue, whatever a unit column says.
//!
//! This module only turns the file into the body of `POST /v1/stock/receipts`
//! (`{warehouse, reference, lines: [{sku, quantity, expires_on?}]}`), one line per row, and
//! maps the use case's validation errors (`lines[3].quantity`) back to the rows they came
//! from: whether a line is good is decided by [`crate::fulfilment::receive`], exactly as for
//! the API. The reader itself refuses only what the API cannot see as written: a quantity
//! cell that is not a whole number (`2.5`, `1.000`, `3.275E+3`) is reported with what it
//! looks like, never rounded nor guessed (is `1.000` one or a thousand?), and a row of the
//! wrong width. Every row the reader refuses still goes to the use case, in a form the use
//! case refuses too (the quantity cell as text, an empty line for a row it could not read),
//! so a receipt with a bad row can never be received, and the use case still names the other
//! bad rows: all of them are reported at once. SKU cells are read in upper case (`beras` is
//! `BERAS`).

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{Map, Value, json};

use crate::csvfile::{Column, CsvFileError, RowError, read_csv};
use crate::i18n::Text;
use crate::validation::{FieldError, Invalid};

const SKU: usize = 0;
const QUANTITY: usize = 1;
const EXPIRES_ON: usize = 2;

const COLUMNS: [Column; 3] = [
    Column::required("sku", &[]),
    Column::required("quantity", &["jumlah"]),
    Column::optional("expires_on", &["kedaluwarsa", "kadaluarsa"]),
];

/// One row of the file, as a receipt line.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptCsvLine {
    /// Its line in the file.
    pub line: u64,
    /// `{sku, quantity, expires_on?}` as the API takes it.
    pub json: Value,
}

/// A receipt file, read.
#[derive(Debug, Clone)]
pub struct ReceiptCsv {
    /// Every row that could be read, in file order: line `i` of the receipt body is `lines[i]`.
    pub lines: Vec<ReceiptCsvLine>,
    /// What the reader itself refused (rows that are not CSV or of the wrong width, quantity
    /// cells that are not whole numbers), by line.
    pub problems: Vec<RowError>,
    /// The columns as the file's header names them, for messages.
    labels: [String; 3],
}

/// Reads a receipt CSV.
pub fn read_receipt_csv(input: impl Read) -> Result<ReceiptCsv, CsvFileError> {
    let mut rows = read_csv(input, &COLUMNS)?;
    let labels = [SKU, QUANTITY, EXPIRES_ON].map(|i| rows.label(i).to_string());
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for row in rows.by_ref() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                // An empty line in its place keeps the receipt's line numbers aligned with
                // the file's, and makes sure the use case refuses the receipt too.
                lines.push(ReceiptCsvLine {
                    line: e.line,
                    json: json!({}),
                });
                problems.push(e);
                continue;
            }
        };
        let mut line = Map::new();
        line.insert("sku".into(), json!(row.get(SKU).to_ascii_uppercase()));
        match quantity_cell(row.get(QUANTITY)) {
            Ok(Some(q)) => {
                line.insert("quantity".into(), q);
            }
            Ok(None) => {}
            Err(p) => {
                // Sent as written: the API refuses it too, whatever this reader says.
                line.insert("quantity".into(), json!(row.get(QUANTITY)));
                problems.push(RowError {
                    line: row.line,
                    problems: vec![(labels[QUANTITY].clone(), p)],
                });
            }
        }
        let exp = row.get(EXPIRES_ON);
        if !exp.is_empty() {
            line.insert("expires_on".into(), json!(exp));
        }
        lines.push(ReceiptCsvLine {
            line: row.line,
            json: Value::Object(line),
        });
    }
    Ok(ReceiptCsv {
        lines,
        problems,
        labels,
    })
}

/// A quantity cell as the JSON the API takes: a whole number as a number (of any size: the
/// API says when it is too large), nothing for an empty cell (the API says it is required).
fn quantity_cell(raw: &str) -> Result<Option<Value>, Invalid> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let v: i128 = t.parse().unwrap_or(if t.starts_with('-') {
            i128::MIN
        } else {
            i128::MAX
        });
        return Ok(Some(if let Ok(v) = i64::try_from(v) {
            json!(v)
        } else if let Ok(v) = u64::try_from(v) {
            json!(v)
        } else {
            // Beyond 64 bits: a whole float, which the API reads as "too large".
            json!(v as f64)
        }));
    }
    let shown: String = t.chars().take(24).collect();
    let number_like = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b'+' | b'-'))
    };
    let (code, id, en) = if t.contains(['e', 'E']) && number_like(&t.replace(['e', 'E'], "")) {
        (
            "QUANTITY_SCIENTIFIC_NOTATION",
            format!(
                "\"{shown}\" tertulis sebagai notasi ilmiah; format sel sebagai Number tanpa desimal (atau Text) dan tulis jumlahnya utuh"
            ),
            format!("\"{shown}\" is in scientific notation; write the whole number"),
        )
    } else if thousands(digits) {
        (
            "QUANTITY_SEPARATOR",
            format!(
                "\"{shown}\" memakai titik atau koma: tidak jelas pemisah ribuan atau desimal; tulis bilangan bulat tanpa pemisah (mis. 1000), tidak ditebak"
            ),
            format!(
                "\"{shown}\" has a dot or comma: thousands or decimals? write the whole number without separators"
            ),
        )
    } else if number_like(t) && digits.bytes().any(|b| b.is_ascii_digit()) {
        (
            "QUANTITY_NOT_WHOLE",
            format!(
                "\"{shown}\" bukan bilangan bulat; jumlah dalam satuan barang tanpa pecahan, tidak dibulatkan"
            ),
            format!("\"{shown}\" is not a whole number; it is not rounded"),
        )
    } else {
        (
            "QUANTITY_NOT_A_NUMBER",
            format!("\"{shown}\" bukan angka; isi bilangan bulat"),
            format!("\"{shown}\" is not a number; give a whole number"),
        )
    };
    Err(Invalid::dynamic(code, Text::new(id, en)))
}

/// `1.000`, `12,500`, `1.000.000`: groups of three digits after a dot or comma.
fn thousands(s: &str) -> bool {
    let groups: Vec<&str> = s.split(['.', ',']).collect();
    groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
        && groups[1..].iter().all(|g| g.len() == 3)
}

/// What is wrong with a receipt, for people: every bad row by its line, and what is wrong
/// with the receipt as a whole (`lines`, `warehouse`, `reference`).
#[derive(Debug, Clone, Default)]
pub struct ReceiptReport {
    /// One entry per bad line, in line order.
    pub rows: Vec<RowError>,
    /// `(field, problem)` of the receipt as a whole.
    pub whole: Vec<(String, Invalid)>,
}

impl ReceiptCsv {
    /// The body of `POST /v1/stock/receipts`.
    pub fn body(&self, warehouse: &str, reference: &str) -> Value {
        json!({
            "warehouse": warehouse,
            "reference": reference,
            "lines": self.lines.iter().map(|l| l.json.clone()).collect::<Vec<_>>(),
        })
    }

    /// The reader's own problems and the use case's validation errors (`errors`, empty when
    /// it accepted the receipt), merged by line; a cell the reader already refused is reported
    /// once, in the reader's words.
    pub fn report(&self, errors: &[FieldError]) -> ReceiptReport {
        let mut rows: BTreeMap<u64, Vec<(String, Invalid)>> = BTreeMap::new();
        for p in &self.problems {
            rows.entry(p.line).or_default().extend(p.problems.clone());
        }
        let mut whole = Vec::new();
        for e in errors {
            let problem = Invalid::dynamic(e.code, e.message.clone());
            let Some((n, field)) = line_field(&e.field) else {
                whole.push((e.field.clone(), problem));
                continue;
            };
            let Some(line) = self.lines.get(n) else {
                whole.push((e.field.clone(), problem));
                continue;
            };
            let label = match field {
                "sku" => self.labels[SKU].clone(),
                "quantity" => self.labels[QUANTITY].clone(),
                "expires_on" => self.labels[EXPIRES_ON].clone(),
                other => other.to_string(),
            };
            let problem = if e.code == "DATE_INVALID" {
                Invalid::dynamic(
                    e.code,
                    Text::new(
                        format!(
                            "{} (Excel mungkin mengubah format tanggal: format sel sebagai Text atau yyyy-mm-dd)",
                            e.message.id
                        ),
                        e.message.en.to_string(),
                    ),
                )
            } else {
                problem
            };
            let entry = rows.entry(line.line).or_default();
            // A row the reader could not read (no column) has nothing more to say.
            if !entry
                .iter()
                .any(|(col, _)| *col == label || col.is_empty() || col == "baris")
            {
                entry.push((label, problem));
            }
        }
        ReceiptReport {
            rows: rows
                .into_iter()
                .map(|(line, problems)| RowError { line, problems })
                .collect(),
            whole,
        }
    }
}

/// `lines[3].quantity` -> `(3, "quantity")`.
fn line_field(field: &str) -> Option<(usize, &str)> {
    let rest = field.strip_prefix("lines[")?;
    let (n, rest) = rest.split_once(']')?;
    Some((n.parse().ok()?, rest.strip_prefix('.').unwrap_or(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> ReceiptCsv {
        read_receipt_csv(text.as_bytes()).expect("readable")
    }

    #[test]
    fn an_excel_file_becomes_the_api_body_with_line_numbers() {
        let text = "\u{feff}SKU;Nama barang;Jumlah;Kedaluwarsa\r\n\
            BERAS;\"Beras; medium\";500;2027-12-01\r\n\
            ;;;\r\n\
            mie-instan;Mie;40;\r\n";
        let r = read(text);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.lines.iter().map(|l| l.line).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(
            r.body("GUDANG-DINSOS-BKS", "SJ-1"),
            json!({"warehouse": "GUDANG-DINSOS-BKS", "reference": "SJ-1", "lines": [
                {"sku": "BERAS", "quantity": 500, "expires_on": "2027-12-01"},
                {"sku": "MIE-INSTAN", "quantity": 40}]})
        );
    }

    #[test]
    fn quantities_that_are_not_whole_numbers_are_refused_as_written() {
        let text = "sku,quantity\n\
            BERAS,2.5\nBERAS,\"1.000\"\nBERAS,3.275E+3\nBERAS,\"12,500\"\nBERAS,abc\n\
            BERAS,-3\nBERAS,0\nBERAS,99999999999999999999999\nBERAS,\n";
        let r = read(text);
        let codes: Vec<_> = r
            .problems
            .iter()
            .map(|p| (p.line, p.problems[0].1.code))
            .collect();
        assert_eq!(
            codes,
            [
                (2, "QUANTITY_NOT_WHOLE"),
                (3, "QUANTITY_SEPARATOR"),
                (4, "QUANTITY_SCIENTIFIC_NOTATION"),
                (5, "QUANTITY_SEPARATOR"),
                (6, "QUANTITY_NOT_A_NUMBER"),
            ]
        );
        assert!(
            r.problems[0]
                .to_string()
                .starts_with("baris 2: quantity: \"2.5\" bukan bilangan bulat"),
            "{}",
            r.problems[0]
        );
        // Sent as written, so the API refuses them too; the rest go as numbers for the API
        // to judge (-3, 0, too large) or without a quantity (required).
        let q: Vec<_> = r.lines.iter().map(|l| l.json.get("quantity")).collect();
        assert_eq!(q[0], Some(&json!("2.5")));
        assert_eq!(q[5], Some(&json!(-3)));
        assert_eq!(q[6], Some(&json!(0)));
        assert!(q[7].and_then(Value::as_f64).is_some_and(|f| f > 1e22));
        assert_eq!(q[8], None);
    }

    #[test]
    fn the_use_case_errors_come_back_on_their_lines_once_per_cell() {
        let text = "sku;jumlah;expires_on\r\nBERAS;2.5;2027-01-01\r\nGULA;3;01/12/2027\r\n";
        let r = read(text);
        let errors = [
            FieldError::new(
                "lines[0].quantity",
                "FIELD_NOT_INTEGER",
                Text::new("Harus bilangan bulat.", "Must be a whole number."),
            ),
            FieldError::new(
                "lines[1].sku",
                "SKU_UNKNOWN",
                Text::new("Barang tidak ada.", "Unknown."),
            ),
            FieldError::new(
                "lines[1].expires_on",
                "DATE_INVALID",
                Text::new("Tanggal harus YYYY-MM-DD.", "Date."),
            ),
            FieldError::new(
                "lines",
                "LINES_TOO_MANY",
                Text::new("Terlalu banyak.", "Too many."),
            ),
        ];
        let rep = r.report(&errors);
        let shown: Vec<String> = rep.rows.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("baris 2: jumlah: \"2.5\" bukan bilangan bulat")
                && !shown[0].contains("Harus bilangan bulat"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with(
                "baris 3: sku: Barang tidak ada.; expires_on: Tanggal harus YYYY-MM-DD. (Excel"
            ),
            "{}",
            shown[1]
        );
        assert_eq!(rep.whole.len(), 1);
        assert_eq!(rep.whole[0].0, "lines");
    }

    #[test]
    fn a_row_of_the_wrong_width_keeps_its_place_and_cannot_be_received() {
        let r = read("sku,quantity\nBERAS,1,2\nMIE-INSTAN,4\n");
        assert_eq!(r.lines.len(), 2);
        assert_eq!(r.lines[0].json, json!({}));
        assert_eq!(r.lines[1].line, 3);
        // The use case's "required" errors on the placeholder are not repeated.
        let errors = [FieldError::new(
            "lines[0].sku",
            "FIELD_REQUIRED",
            Text::new("Wajib diisi.", "Required."),
        )];
        let rep = r.report(&errors);
        assert_eq!(rep.rows.len(), 1);
        assert_eq!(rep.rows[0].problems.len(), 1);
        assert_eq!(rep.rows[0].problems[0].1.code, "ROW_COLUMN_COUNT");
    }
}
