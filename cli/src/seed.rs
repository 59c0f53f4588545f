//! What a first run puts in an empty data folder (DESIGN §9): the 56 kelurahan (built in),
//! the warehouse "Gudang Dinsos Kota Bekasi" with the items of the 2020 Bekasi package, the
//! package `PAKET-SEMBAKO` itself, and an opening stock of 50 packages received through the
//! ordinary receipt path (so it is in the ledger like any delivery). Each part is done once,
//! remembered in the store's settings.

use basoka_embedded::EmbeddedStore;
use chrono::Duration;
use shared::Caller;
use shared::Role;
use shared::fulfilment::{self, FulfilDeps};
use shared::fulfilment_ports::StockStore;
use shared::stock::{self, DEFAULT_WAREHOUSE, DEFAULT_WAREHOUSE_NAME};

/// Packages' worth of opening stock.
pub const OPENING_PACKAGES: u64 = 50;

async fn once(store: &EmbeddedStore, key: &str) -> Result<bool, String> {
    Ok(store
        .kv_get(key)
        .await
        .map_err(|e| e.to_string())?
        .is_none())
}

async fn done(store: &EmbeddedStore, key: &str, value: &str) -> Result<(), String> {
    store.kv_set(key, value).await.map_err(|e| e.to_string())
}

pub async fn run(
    store: &EmbeddedStore,
    deps: &FulfilDeps,
    opening_stock: bool,
) -> Result<(), String> {
    if once(store, "seed.kelurahan").await? {
        let n = shared::KelurahanCode::all().count();
        done(store, "seed.kelurahan", &n.to_string()).await?;
        eprintln!(
            "First run: {n} kelurahan of Kota Bekasi (12 kecamatan) from shared/data/bekasi_wilayah.csv."
        );
    }
    if once(store, "seed.catalogue").await? {
        for item in stock::seed_items() {
            store.put_item(&item).await.map_err(|e| e.to_string())?;
        }
        let package = stock::seed_package(deps.clock.now());
        store
            .put_package(&package)
            .await
            .map_err(|e| e.to_string())?;
        done(store, "seed.catalogue", "1").await?;
        eprintln!(
            "First run: warehouse {DEFAULT_WAREHOUSE} ({DEFAULT_WAREHOUSE_NAME}), {} items, package {}.",
            stock::seed_items().len(),
            package.code
        );
    }
    if opening_stock && once(store, "seed.opening_stock").await? {
        let package = stock::seed_package(deps.clock.now());
        let today = deps.clock.now().date_naive();
        let lines: Vec<_> = package
            .lines
            .iter()
            .map(|l| {
                // Rice keeps a year, the rest about eight months: far enough for the walk-through.
                let days = if l.sku.as_str() == "BERAS" { 365 } else { 240 };
                serde_json::json!({
                    "sku": l.sku.as_str(),
                    "quantity": l.quantity * OPENING_PACKAGES,
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
        fulfilment::receive(deps, &seeder, Some("seed-opening-stock"), &body)
            .await
            .map_err(|e| format!("cannot receive the opening stock: {e:?}"))?;
        done(store, "seed.opening_stock", &OPENING_PACKAGES.to_string()).await?;
        eprintln!(
            "First run: opening stock of {OPENING_PACKAGES} x {} received (reference STOK-AWAL).",
            package.code
        );
    }
    Ok(())
}
