//! `basoka stock receive FILE.csv --reference REF [--warehouse CODE]`: a delivery note
//! (*surat jalan*) from a CSV file into the store (the embedded one, or the DynamoDB table
//! with `--backend aws`), through the same use case as `POST /v1/stock/receipts`.
//!
//! The file is read like the registry (see `shared::receipt_csv`); the receipt is then
//! judged by `shared::fulfilment::receive` as a `gudang` caller, so the rules are exactly the
//! API's (unknown or retired sku, quantity 0, negative, fractional or over the maximum,
//! expired or malformed dates, at most 25 lines, lines of the same sku and date adding up).
//!
//! **All or nothing**, unlike the registry: a receipt is one delivery note, and its lines are
//! one fact ("this lorry brought this"). Loading the good lines of a half-wrong note would put
//! a stock on the books that matches no paper, and the clerk would then have to work out
//! which lines are in and which not before loading the corrected file, which would add the
//! good lines a second time. So every bad line is reported (`baris N: kolom: alasan`, on
//! stderr, all at once), nothing is received, and the exit code is [`REFUSED`]; the corrected
//! file is then loaded with the same command.
//!
//! **At most 25 lines** (one stock write must fit one DynamoDB transaction, see
//! `shared::stock::MAX_LINES`). A longer file is refused as a whole, saying to split it into
//! several files with their own references, rather than split here: parts received in separate
//! transactions would break the all-or-nothing above (part 1 in, part 2 refused), and the
//! parts' references are better chosen by the clerk (the supplier's note numbers) than made
//! up. With seven items in the catalogue a note of more than 25 lines is rare.
//!
//! **Once per reference.** The receipt is sent with `Idempotency-Key: csv:<reference>` from one
//! fixed CLI user (`cli:stock-receive`; the person running the command is the actor's name, from
//! `$USER`), so the same file with the same reference again changes nothing and says so,
//! whoever runs it; the same reference with other content is refused ([`REFERENCE_REUSED`]).
//! Stored answers expire on AWS (`BASOKA_IDEMPOTENCY_TTL_HOURS`) and a receipt may have come
//! in through the API: the store also keeps every delivery note a warehouse received (the
//! receipt's reference, compared ignoring case and spacing), so such a reference is refused
//! too ([`REFERENCE_REUSED`]) and nothing is received.
//!
//! **Events.** The receipt writes its `StockReceived` event to the outbox in the same
//! transaction. A running `basoka serve` on the same data folder (or table) polls the outbox
//! (see `delivery`), so it serves the waitlist within moments; when none runs, the next
//! `serve` delivers it. On AWS the table's stream carries it to `allocate-stock` as for any
//! receipt.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use shared::fulfilment::{self, FulfilDeps};
use shared::receipt_csv::{ReceiptCsv, ReceiptReport, read_receipt_csv};
use shared::stock::WarehouseCode;
use shared::time::wib_offset;
use shared::{AppError, Caller, Role};

/// Exit code when the receipt was refused for its content: nothing was received.
pub const REFUSED: u8 = 3;
/// Exit code when the reference was already used for another receipt: nothing was received.
pub const REFERENCE_REUSED: u8 = 4;

/// The CLI user receipts are made as (see the module doc).
const CLI_SUB: &str = "cli:stock-receive";

/// The person running the command, for the ledger.
fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "ops".into())
}

pub fn receive(
    file: &Path,
    reference: &str,
    warehouse: Option<&str>,
    dir: &Path,
    backend: &crate::backend::BackendArgs,
) -> Result<ExitCode, String> {
    let f = File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let csv = read_receipt_csv(f).map_err(|e| format!("{}: {e}", file.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let store = rt.block_on(backend.open(dir))?;
    let deps = store.fulfil_deps();
    rt.block_on(run(&deps, &csv, file, reference, warehouse))
}

async fn run(
    deps: &FulfilDeps,
    csv: &ReceiptCsv,
    file: &Path,
    reference: &str,
    warehouse: Option<&str>,
) -> Result<ExitCode, String> {
    let reference = reference.trim();
    // The warehouse is always named in the body, so that leaving --warehouse out and naming
    // the default one are the same receipt.
    let warehouse = match warehouse.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => w.to_string(),
        None => deps
            .warehouses
            .first()
            .cloned()
            .unwrap_or_else(WarehouseCode::default_warehouse)
            .as_str()
            .to_string(),
    };
    let caller = Caller {
        sub: CLI_SUB.into(),
        name: operator(),
        role: Role::Gudang,
        kelurahan: None,
        phone: None,
    };
    let key = format!("csv:{reference}");
    let body = csv.body(&warehouse, reference);
    let err = |e: AppError| e.to_string();

    match fulfilment::receive(deps, &caller, Some(&key), &body).await {
        Ok(answer) => {
            // The reader refuses nothing the use case accepts (see shared::receipt_csv).
            if !csv.problems.is_empty() {
                return Err("internal error: a receipt with unreadable rows was accepted".into());
            }
            let view: serde_json::Value =
                serde_json::from_str(&answer.body).map_err(|e| e.to_string())?;
            let levels = fulfilment::stock_levels(deps, &caller, Some(&warehouse))
                .await
                .map_err(err)?;
            let unit = |sku: &str| {
                levels
                    .iter()
                    .find(|l| l.sku.as_str() == sku)
                    .map(|l| l.unit.clone())
                    .unwrap_or_default()
            };
            let lines = view["lines"].as_array().cloned().unwrap_or_default();
            let at = view["received_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| wib(&t.to_utc()))
                .unwrap_or_default();
            if answer.replayed {
                println!(
                    "Surat jalan {reference} sudah diterima sebelumnya pada {at} dari berkas yang sama: tidak ada yang berubah."
                );
            } else {
                println!(
                    "Diterima di {warehouse}, surat jalan {reference} ({}, {} baris, {at}):",
                    file.display(),
                    csv.lines.len()
                );
            }
            for l in &lines {
                let sku = l["sku"].as_str().unwrap_or_default();
                let exp = l["expires_on"]
                    .as_str()
                    .map(|d| format!("kedaluwarsa {d}"))
                    .unwrap_or_else(|| "tanpa tanggal kedaluwarsa".into());
                println!(
                    "  {sku:<16} {:>8} {:<8} {exp}",
                    l["quantity"].as_u64().unwrap_or_default(),
                    unit(sku)
                );
            }
            let skus: BTreeSet<&str> = lines.iter().filter_map(|l| l["sku"].as_str()).collect();
            println!("Stok tersedia sekarang:");
            for level in levels.iter().filter(|l| skus.contains(l.sku.as_str())) {
                println!(
                    "  {:<16} {:>8} {:<8} (di gudang {}, dialokasikan {})",
                    level.sku, level.available, level.unit, level.on_hand, level.allocated
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::Validation(errors)) => {
            let report = csv.report(&errors);
            let rows = print_rows(&report);
            for (field, p) in &report.whole {
                let hint = if p.code == "LINES_TOO_MANY" {
                    format!(
                        " Berkas ini berisi {} baris barang: pecah menjadi beberapa berkas berisi paling banyak {} baris, masing-masing dengan --reference sendiri (mis. {reference}-1, {reference}-2).",
                        csv.lines.len(),
                        shared::stock::MAX_LINES
                    )
                } else {
                    String::new()
                };
                let what = match field.as_str() {
                    "lines" => "berkas".to_string(),
                    other => format!("--{other}"),
                };
                eprintln!("{what}: {}{hint}", p.message.id);
            }
            eprintln!(
                "Tidak ada yang diterima dari {}: {} baris bermasalah{}. Satu surat jalan diterima utuh atau tidak sama sekali; perbaiki berkas lalu jalankan perintah yang sama lagi.",
                file.display(),
                rows,
                if report.whole.is_empty() {
                    ""
                } else {
                    ", dan lihat di atas"
                },
            );
            Ok(ExitCode::from(REFUSED))
        }
        Err(AppError::ReceiptReferenceTaken {
            warehouse,
            received_at,
            ..
        }) => {
            print_rows(&csv.report(&[]));
            let when = received_at
                .map(|t| format!(" pada {}", wib(&t)))
                .unwrap_or_default();
            eprintln!(
                "Referensi {reference} sudah tercatat sebagai penerimaan di {warehouse}{when} \
                 (lewat aplikasi, atau berkas lain). Tidak ada yang diterima. Jika ini surat jalan \
                 lain, pakai --reference lain; jika penerimaan sebelumnya salah, koreksi dengan \
                 penyesuaian stok (POST /v1/stock/adjustments)."
            );
            Ok(ExitCode::from(REFERENCE_REUSED))
        }
        Err(AppError::IdempotencyKeyReused) => {
            print_rows(&csv.report(&[]));
            eprintln!(
                "Referensi {reference} sudah dipakai untuk penerimaan dengan isi lain (berkas, jumlah atau gudang berbeda). \
                 Tidak ada yang diterima. Jika ini surat jalan lain, pakai --reference lain; jika penerimaan \
                 sebelumnya salah, koreksi dengan penyesuaian stok (POST /v1/stock/adjustments)."
            );
            Ok(ExitCode::from(REFERENCE_REUSED))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Prints every bad row (`baris N: …`) on stderr; returns how many.
fn print_rows(report: &ReceiptReport) -> usize {
    for row in &report.rows {
        eprintln!("{row}");
    }
    report.rows.len()
}

/// A time in WIB, for people.
fn wib(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&wib_offset())
        .format("%Y-%m-%d %H:%M WIB")
        .to_string()
}
