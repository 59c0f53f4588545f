//! What a first run puts in an empty store (DESIGN §9): the warehouse "Gudang Dinsos Kota
//! Bekasi" with the items of the 2020 Bekasi package, the package `PAKET-SEMBAKO` itself, and
//! an opening stock of 50 packages received through the ordinary receipt path (so it is in
//! the ledger like any delivery). The 56 kelurahan are built into the domain crate.
//!
//! Each part is done once, judged from the data itself, so the same code seeds the embedded
//! store and a DynamoDB table (`basoka seed --backend aws`): the catalogue when the package
//! does not exist yet, the opening stock when the warehouse has no lot at all (a warehouse
//! that has received anything, even if it is empty now, is never topped up). The opening
//! stock is the delivery note `STOK-AWAL`, which a warehouse receives once: a second first
//! run racing the first finds it received and seeds nothing more.

use chrono::Duration;
use shared::Caller;
use shared::Role;
use shared::fulfilment::{self, FulfilDeps};
use shared::stock::{self, DEFAULT_WAREHOUSE, DEFAULT_WAREHOUSE_NAME, WarehouseCode};

/// Packages' worth of opening stock.
pub const OPENING_PACKAGES: u64 = 50;

/// Seeds what is missing; says what it did on stderr.
pub async fn run(deps: &FulfilDeps, opening_stock: bool) -> Result<(), String> {
    let store = &deps.stock;
    let now = deps.clock.now();
    let package = stock::seed_package(now);
    let err = |e: shared::ports::StoreError| e.to_string();
    if store.package(&package.code).await.map_err(err)?.is_none() {
        for item in stock::seed_items() {
            store.put_item(&item).await.map_err(err)?;
        }
        store.put_package(&package).await.map_err(err)?;
        eprintln!(
            "First run: {} kelurahan of Kota Bekasi (12 kecamatan), warehouse {DEFAULT_WAREHOUSE} ({DEFAULT_WAREHOUSE_NAME}), {} items, package {}.",
            shared::KelurahanCode::all().count(),
            stock::seed_items().len(),
            package.code
        );
    }
    let warehouse = WarehouseCode::default_warehouse();
    if opening_stock && store.lots(&warehouse, None).await.map_err(err)?.is_empty() {
        let today = now.date_naive();
        let lines: Vec<_> = package
            .lines
            .iter()
            .map(|l| {
                // Rice keeps a year, the rest about eight months: far enough for the walk-through.
                let days = if l.sku.as_str() == "BERAS" { 365 } else { 240 };
                serde_json::json!({
                    "sku": l.sku.as_str(),
                    "quantity": l.quantity.get() * OPENING_PACKAGES,
                    "expires_on": (today + Duration::days(days)).to_string(),
                })
            })
            .collect();
        let seeder = Caller {
            sub: "seed".into(),
            name: "BASOKA (data awal)".into(),
            role: Role::Gudang,
            kelurahan: None,
            phone: None,
        };
        let body = serde_json::json!({
            "warehouse": DEFAULT_WAREHOUSE,
            "reference": "STOK-AWAL",
            "lines": lines,
        });
        match fulfilment::receive(deps, &seeder, Some("seed-opening-stock"), &body).await {
            Ok(_) => eprintln!(
                "Opening stock of {OPENING_PACKAGES} x {} received (reference STOK-AWAL): the warehouse had never received stock. (--no-opening-stock leaves it out, on every run.)",
                package.code
            ),
            // Another first run got there first (or the warehouse once received STOK-AWAL):
            // a delivery note is received once, so there is nothing left to seed.
            Err(shared::AppError::ReceiptReferenceTaken { .. }) => {}
            Err(e) => return Err(format!("cannot receive the opening stock: {e:?}")),
        }
    }
    Ok(())
}

/// `basoka seed`: [`run`] on the store the flags name.
pub fn command(
    dir: &std::path::Path,
    backend: &crate::backend::BackendArgs,
    opening_stock: bool,
) -> Result<std::process::ExitCode, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let store = backend.open(dir).await?;
        run(&store.fulfil_deps(), opening_stock).await?;
        println!("Seeded {} (what was missing).", backend.describe(dir));
        Ok(std::process::ExitCode::SUCCESS)
    })
}
