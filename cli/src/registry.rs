//! `basoka registry import FILE.csv`: loads the DTKS/DTSEN export into the store (the
//! embedded one, or the DynamoDB table with `--backend aws`).
//!
//! Every bad row is reported with its line number and reason; good rows load; loading the
//! same file again changes nothing. On a terminal a progress bar shows how far it got.

use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use shared::ports::ImportCounts;
use shared::registry::read_registry;

/// Rows written per transaction.
const BATCH: usize = 2_000;

/// Exit code when some rows were refused (the good ones are loaded).
const SOME_ROWS_REFUSED: u8 = 3;

pub fn import(
    file: &Path,
    dir: &Path,
    backend: &crate::backend::BackendArgs,
) -> Result<ExitCode, String> {
    let f = File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let rows = read_registry(f).map_err(|e| format!("{}: {e}", file.display()))?;
    let rows: Vec<_> = rows.collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let store = rt.block_on(backend.open(dir))?.registry();

    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} baris ({per_sec}, sisa {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let mut good = Vec::with_capacity(BATCH);
    let mut refused = 0u64;
    let mut totals = ImportCounts::default();
    let flush = |good: &mut Vec<_>, totals: &mut ImportCounts| -> Result<(), String> {
        if good.is_empty() {
            return Ok(());
        }
        let c = rt.block_on(store.upsert(good)).map_err(|e| e.to_string())?;
        totals.inserted += c.inserted;
        totals.updated += c.updated;
        totals.unchanged += c.unchanged;
        good.clear();
        Ok(())
    };
    for row in rows {
        match row {
            Ok(r) => {
                good.push(r);
                if good.len() == BATCH {
                    flush(&mut good, &mut totals)?;
                }
            }
            Err(e) => {
                refused += 1;
                bar.suspend(|| eprintln!("{e}"));
            }
        }
        bar.inc(1);
    }
    flush(&mut good, &mut totals)?;
    bar.finish_and_clear();
    println!(
        "Registri dimuat dari {}: {} baru, {} diperbarui, {} tidak berubah, {} baris ditolak.",
        file.display(),
        totals.inserted,
        totals.updated,
        totals.unchanged,
        refused
    );
    Ok(if refused > 0 {
        ExitCode::from(SOME_ROWS_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}
