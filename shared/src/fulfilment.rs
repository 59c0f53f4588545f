//! The fulfilment use cases behind `allocate-stock`: the catalogue (items, packages), stock
//! receipts and adjustments, allocation on approval (all package lines or none, earliest
//! expiry first), the waitlist, release on cancellation, shipments, dispatch and handover.
//!
//! Every operation reads what it needs, decides with the pure rules of [`crate::stock`], and
//! writes one [`StockWrite`] that the store applies all or nothing under conditions (lots never
//! below zero, states and versions as read). When a condition fails because someone else got
//! there first, the operation reads again and decides again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::error::AppError;
use crate::events::{Event, EventKind, RequestRef, ShortItem, SkuQuantity};
use crate::fulfilment_ports::{
    Allocation, AllocationFacts, AllocationReads, AllocationStatus, Expect, LedgerEntry,
    LowStockWatch, Receipt, ReceiptRef, Shipment, ShipmentLine, ShipmentStatus, StockStore,
    StockWrite,
};
use crate::household::Urgency;
use crate::i18n::Text;
use crate::ids::RequestId;
use crate::input::Input;
use crate::lifecycle::{Action, Status};
use crate::ports::{
    Clock, IdempotencyRecord, IdempotencyStore, Ids, ListQuery, RequestStore, StoreError,
};
use crate::reported_time;
use crate::request::{ActorRef, AidRequest, Disclosure, RequestView};
use crate::stock::{
    self, Delta, Item, Lot, Movement, OutOfRange, Package, PackageLine, Quantity, Sku, StockLevel,
    WarehouseCode, plan_allocation,
};
use crate::time::wib_offset;
use crate::usecases::fingerprint;
use crate::validation::{FieldError, Invalid};

/// How often an operation re-reads and retries when another writer got there first.
const RETRIES: usize = 20;

/// What the fulfilment use cases need, wired once at start-up.
#[derive(Clone)]
pub struct FulfilDeps {
    pub requests: Arc<dyn RequestStore>,
    pub stock: Arc<dyn StockStore>,
    /// The allocator's reads, at once (the same store as `requests` and `stock`).
    pub allocation_reads: Arc<dyn AllocationReads>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    /// The warehouses that exist (the first is the default).
    pub warehouses: Vec<WarehouseCode>,
}

impl FulfilDeps {
    fn today(&self) -> NaiveDate {
        // Dates on food are local dates: a lot "expires on" a day in Bekasi.
        self.clock.now().with_timezone(&wib_offset()).date_naive()
    }

    fn default_warehouse(&self) -> WarehouseCode {
        self.warehouses
            .first()
            .cloned()
            .unwrap_or_else(WarehouseCode::default_warehouse)
    }
}

fn require(caller: &Caller, roles: &[Role]) -> Result<(), AppError> {
    if caller.is_one_of(roles) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn validation(field: &str, code: &'static str, id: &str, en: &str) -> AppError {
    AppError::Validation(vec![FieldError::new(field, code, Text::new(id, en))])
}

fn request_event(
    deps: &FulfilDeps,
    r: &AidRequest,
    at: DateTime<Utc>,
    actor: &ActorRef,
    kind: EventKind,
) -> Event {
    Event {
        id: deps.ids.event_id(),
        occurred_at: at,
        actor: actor.clone(),
        request: Some(RequestRef::of(r)),
        kind,
    }
}

fn warehouse_event(
    deps: &FulfilDeps,
    at: DateTime<Utc>,
    actor: &ActorRef,
    kind: EventKind,
) -> Event {
    Event {
        id: deps.ids.event_id(),
        occurred_at: at,
        actor: actor.clone(),
        request: None,
        kind,
    }
}

// ---------------------------------------------------------------------------------------------
// Stock levels and low-stock alerts
// ---------------------------------------------------------------------------------------------

/// Stock of every item in a warehouse, from its lots. The sums are checked: lots the use
/// cases wrote never come near the limit, so [`OutOfRange`] means data written around them.
pub fn levels_of(
    warehouse: &WarehouseCode,
    items: &[Item],
    lots: &[Lot],
    today: NaiveDate,
) -> Result<Vec<StockLevel>, OutOfRange> {
    items
        .iter()
        .map(|item| {
            let mine: Vec<&Lot> = lots.iter().filter(|l| l.sku == item.sku).collect();
            let on_hand = stock::sum(mine.iter().map(|l| l.on_hand))?;
            let allocated = stock::sum(mine.iter().map(|l| l.allocated))?;
            let available = stock::sum(
                mine.iter()
                    .filter(|l| l.usable_on(today))
                    .map(|l| l.available()),
            )?;
            let expired = stock::sum(
                mine.iter()
                    .filter(|l| !l.usable_on(today))
                    .map(|l| l.available()),
            )?;
            Ok(StockLevel {
                warehouse: warehouse.as_str().to_string(),
                sku: item.sku.as_str().to_string(),
                name: item.name.clone(),
                unit: item.unit.clone(),
                on_hand,
                allocated,
                available,
                expired,
                low_threshold: item.low_threshold,
                low: available < item.low_threshold,
            })
        })
        .collect()
}

/// The low-stock bookkeeping for a write that changes the stock of `skus`: whether it
/// alerts is decided by the store from what is committed (the stock, the item's threshold),
/// not from what this writer read (see [`LowStockWatch`]).
fn low_stock_watches<'a>(
    deps: &FulfilDeps,
    warehouse: &WarehouseCode,
    skus: impl IntoIterator<Item = &'a Sku>,
    at: DateTime<Utc>,
    actor: &ActorRef,
) -> Vec<LowStockWatch> {
    let today = deps.today();
    let skus: BTreeSet<&Sku> = skus.into_iter().collect();
    skus.into_iter()
        .map(|sku| LowStockWatch {
            warehouse: warehouse.clone(),
            sku: sku.clone(),
            today,
            alert: warehouse_event(
                deps,
                at,
                actor,
                EventKind::StockLow {
                    warehouse: warehouse.as_str().to_string(),
                    sku: sku.as_str().to_string(),
                    // Set by the store from what it reads.
                    unit: String::new(),
                    available: 0,
                    threshold: 0,
                },
            ),
        })
        .collect()
}

/// The scheduled look at every item's stock (`allocate-stock`'s daily task; hourly in the
/// local runner). Stock also falls as lots pass their date, which no movement records: this
/// tells the warehouse about such a fall within a day even when the item does not move. The
/// store decides as after any movement (see [`LowStockWatch`]): an item already told about
/// is not told again. Retired items and items without a threshold are not looked at.
/// Returns how many (warehouse, item) pairs were looked at.
pub async fn check_low_stock(deps: &FulfilDeps) -> Result<usize, AppError> {
    let items = deps.stock.items().await?;
    let (now, actor) = (deps.clock.now(), ActorRef::system());
    let watched: Vec<&Sku> = items
        .iter()
        .filter(|i| i.low_threshold > 0 && !i.retired)
        .map(|i| &i.sku)
        .collect();
    judge_low_stock(deps, &watched, now, &actor).await?;
    Ok(watched.len() * deps.warehouses.len())
}

/// Low-stock bookkeeping alone, with no movement (a write of watches only), for `skus` in
/// every warehouse: what a threshold change and the scheduled check write.
async fn judge_low_stock(
    deps: &FulfilDeps,
    skus: &[&Sku],
    at: DateTime<Utc>,
    actor: &ActorRef,
) -> Result<(), AppError> {
    for warehouse in &deps.warehouses {
        let low_stock = low_stock_watches(deps, warehouse, skus.iter().copied(), at, actor);
        deps.stock
            .apply(StockWrite {
                low_stock,
                ..StockWrite::default()
            })
            .await?;
    }
    Ok(())
}

/// `GET /v1/stock?warehouse=` — gudang, dinas.
pub async fn stock_levels(
    deps: &FulfilDeps,
    caller: &Caller,
    warehouse: Option<&str>,
) -> Result<Vec<StockLevel>, AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let warehouse = parse_warehouse(deps, warehouse, "warehouse")?;
    let items = deps.stock.items().await?;
    let lots = deps.stock.lots(&warehouse, None).await?;
    Ok(levels_of(&warehouse, &items, &lots, deps.today())?)
}

/// A page of an item's ledger, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerEntry>,
    /// For the next page (`cursor=`); absent on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/stock/ledger?warehouse=&sku=&limit=&cursor=` — gudang, dinas: every movement of
/// an item, oldest first, a page at a time (an item's ledger grows with every allocation).
pub async fn ledger(
    deps: &FulfilDeps,
    caller: &Caller,
    warehouse: Option<&str>,
    sku: Option<&str>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<LedgerPage, AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let mut errors = Vec::new();
    let warehouse = match parse_warehouse(deps, warehouse, "warehouse") {
        Ok(w) => Some(w),
        Err(AppError::Validation(v)) => {
            errors.extend(v);
            None
        }
        Err(e) => return Err(e),
    };
    let sku = match sku.map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            errors.push(FieldError::new(
                "sku",
                "FIELD_REQUIRED",
                Text::fixed("Wajib diisi.", "Required."),
            ));
            None
        }
        Some(s) => match Sku::parse(s) {
            Ok(sku) => Some(sku),
            Err(e) => {
                errors.push(e.at("sku"));
                None
            }
        },
    };
    let limit = page_limit(limit, &mut errors);
    // An item that was never in the catalogue has no ledger: say so, as the adjustments and
    // receipts do, rather than answer an empty history. (A retired item keeps its ledger.)
    if let Some(s) = &sku
        && !deps.stock.items().await?.iter().any(|it| &it.sku == s)
    {
        errors.push(sku_unknown().at("sku"));
    }
    let (Some(warehouse), Some(sku), true) = (warehouse, sku, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let page = deps
        .stock
        .ledger(
            &warehouse,
            &sku,
            limit,
            cursor.map(str::to_string).filter(|c| !c.is_empty()),
        )
        .await?;
    Ok(LedgerPage {
        items: page.items,
        next_cursor: page.next_cursor,
    })
}

/// A list's `limit=`: [`crate::usecases::PAGE_DEFAULT`] when absent, else 1 to
/// [`crate::usecases::PAGE_MAX`] (a problem pushed onto `errors` otherwise).
fn page_limit(raw: Option<&str>, errors: &mut Vec<FieldError>) -> u32 {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => crate::usecases::PAGE_DEFAULT,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=crate::usecases::PAGE_MAX).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    "limit",
                    "LIMIT_OUT_OF_RANGE",
                    Text::fixed("limit harus 1 sampai 100.", "limit must be 1 to 100."),
                ));
                0
            }
        },
    }
}

fn sku_unknown() -> Invalid {
    Invalid::new(
        "SKU_UNKNOWN",
        "Barang dengan sku ini tidak ada di katalog.",
        "No item with this sku in the catalogue.",
    )
}

fn parse_warehouse(
    deps: &FulfilDeps,
    raw: Option<&str>,
    field: &str,
) -> Result<WarehouseCode, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(deps.default_warehouse()),
        Some(w) => match WarehouseCode::parse(w) {
            Ok(code) if deps.warehouses.contains(&code) => Ok(code),
            _ => Err(validation(
                field,
                "WAREHOUSE_UNKNOWN",
                &format!(
                    "Gudang tidak dikenal; gudang yang ada: {}.",
                    list_codes(&deps.warehouses)
                ),
                &format!(
                    "Unknown warehouse; known warehouses: {}.",
                    list_codes(&deps.warehouses)
                ),
            )),
        },
    }
}

fn list_codes(w: &[WarehouseCode]) -> String {
    w.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// Catalogue: items and packages
// ---------------------------------------------------------------------------------------------

/// `GET /v1/items` — everyone.
pub async fn items(deps: &FulfilDeps) -> Result<Vec<Item>, AppError> {
    Ok(deps.stock.items().await?)
}

/// `PUT /v1/items/{sku}` — gudang, dinas: `{name, unit, low_threshold}`.
pub async fn put_item(
    deps: &FulfilDeps,
    caller: &Caller,
    sku: &str,
    body: &Value,
) -> Result<Item, AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let mut i = Input::new(body)?;
    let sku = match Sku::parse(sku) {
        // Sixteen digits is the shape of a NIK or KK pasted into the wrong field; an item
        // code travels in SMS, logs and reports, where a NIK may never appear.
        Ok(s) if s.as_str().len() == 16 && s.as_str().bytes().all(|b| b.is_ascii_digit()) => {
            i.push(FieldError::new(
                "sku",
                "SKU_LOOKS_LIKE_NIK",
                Text::fixed(
                    "Kode barang ini berbentuk NIK/KK (16 angka); pakai kode barang.",
                    "This item code has the shape of a NIK/KK (16 digits); use an item code.",
                ),
            ));
            None
        }
        Ok(s) => Some(s),
        Err(e) => {
            i.push(e.at("sku"));
            None
        }
    };
    let name = i.text("name", 200, true);
    let unit = i.text("unit", 20, true);
    let low = i.integer("low_threshold", 0, 1_000_000_000, false);
    i.finish()?;
    let sku = sku.expect("checked");
    let existing = deps
        .stock
        .items()
        .await?
        .into_iter()
        .find(|it| it.sku == sku);
    let unit = unit.expect("checked");
    // Stock, the ledger and packages count the item in its unit: another unit would turn
    // 500 kg into "500 karung" and change what every package holds.
    if let Some(e) = &existing
        && !e.unit.eq_ignore_ascii_case(&unit)
        && item_in_use(deps, &sku).await?
    {
        return Err(AppError::Validation(vec![FieldError::new(
            "unit",
            "UNIT_LOCKED",
            Text::new(
                format!(
                    "Satuan tidak bisa diubah dari {}: barang ini sudah punya stok atau dipakai paket, yang dihitung dalam satuan itu. Buat barang baru dengan kode lain.",
                    e.unit
                ),
                format!(
                    "The unit cannot change from {}: the item has stock or is in a package, counted in that unit. Create a new item with another code.",
                    e.unit
                ),
            ),
        )]));
    }
    let item = Item {
        sku,
        name: name.expect("checked"),
        unit,
        low_threshold: low
            .map(|v| v as u64)
            .or(existing.as_ref().map(|e| e.low_threshold))
            .unwrap_or(0),
        retired: false,
    };
    deps.stock.put_item(&item).await?;
    // The stock against the threshold as now committed: a new threshold is judged at once
    // (raised above the stock, it alerts), an alert about an old one is forgotten.
    judge_low_stock(deps, &[&item.sku], deps.clock.now(), &ActorRef::of(caller)).await?;
    Ok(item)
}

/// Whether stock of `sku` was ever received (a lot, even an empty one, in any warehouse) or
/// a package uses it.
async fn item_in_use(deps: &FulfilDeps, sku: &Sku) -> Result<bool, AppError> {
    for warehouse in &deps.warehouses {
        if !deps
            .stock
            .lots(warehouse, Some(std::slice::from_ref(sku)))
            .await?
            .is_empty()
        {
            return Ok(true);
        }
    }
    Ok(deps
        .stock
        .packages()
        .await?
        .iter()
        .any(|p| p.lines.iter().any(|l| &l.sku == sku)))
}

/// `POST /v1/items/{sku}/retire` — gudang, dinas. A retired item stays in the ledger but can
/// no longer be received or put in a package.
pub async fn retire_item(deps: &FulfilDeps, caller: &Caller, sku: &str) -> Result<Item, AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let sku = Sku::parse(sku).map_err(|_| AppError::NotFound)?;
    let mut item = deps
        .stock
        .items()
        .await?
        .into_iter()
        .find(|it| it.sku == sku)
        .ok_or(AppError::NotFound)?;
    item.retired = true;
    deps.stock.put_item(&item).await?;
    Ok(item)
}

/// `DELETE /v1/items/{sku}` — gudang, dinas. Refused (409 `ITEM_IN_USE`) when a package or a
/// past movement uses the item: retire it instead.
pub async fn delete_item(deps: &FulfilDeps, caller: &Caller, sku: &str) -> Result<(), AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let sku = Sku::parse(sku).map_err(|_| AppError::NotFound)?;
    if !deps.stock.items().await?.iter().any(|it| it.sku == sku) {
        return Err(AppError::NotFound);
    }
    match deps.stock.delete_item(&sku).await {
        Ok(()) => Ok(()),
        Err(StoreError::InUse) => Err(AppError::ItemInUse),
        Err(e) => Err(e.into()),
    }
}

/// `GET /v1/packages` — everyone.
pub async fn packages(deps: &FulfilDeps) -> Result<Vec<Package>, AppError> {
    Ok(deps.stock.packages().await?)
}

/// `PUT /v1/packages/{code}` — dinas: `{name, lines: [{sku, quantity}]}`. Lines of the same
/// item add up; every item must exist and not be retired.
pub async fn put_package(
    deps: &FulfilDeps,
    caller: &Caller,
    code: &str,
    body: &Value,
) -> Result<Package, AppError> {
    require(caller, &[Role::Dinas])?;
    let mut i = Input::new(body)?;
    let code = match stock::parse_package_code(code) {
        Ok(c) => Some(c),
        Err(e) => {
            i.push(e.at("code"));
            None
        }
    };
    let name = i.text("name", 200, true);
    let items = deps.stock.items().await?;
    let lines = read_lines(&mut i, body, &items, LineRules::Package);
    // Lines of the same item add up into one package line, which is a quantity too.
    let merged = merge_lines(&mut i, lines, |l| l.sku.clone());
    i.finish()?;
    let package = Package {
        code: code.expect("checked"),
        name: name.expect("checked"),
        lines: merged
            .into_iter()
            .map(|(sku, quantity)| PackageLine { sku, quantity })
            .collect(),
        updated_at: deps.clock.now(),
    };
    deps.stock.put_package(&package).await?;
    Ok(package)
}

#[derive(PartialEq)]
enum LineRules {
    Package,
    /// Receipt lines may carry `expires_on`, which may not be before `today`.
    Receipt {
        today: NaiveDate,
    },
}

/// One good line of a body, with its index in the request's `lines`.
struct Line {
    index: usize,
    sku: Sku,
    quantity: Quantity,
    expires_on: Option<NaiveDate>,
}

/// Reads `lines: [{sku, quantity, expires_on?}]`, naming every bad line by its index in the
/// request (`lines[2].quantity`), and returns the good ones.
fn read_lines(i: &mut Input<'_>, body: &Value, items: &[Item], rules: LineRules) -> Vec<Line> {
    i.known("lines");
    let Some(arr) = body.get("lines").and_then(Value::as_array) else {
        i.push(
            Invalid::new(
                "LINES_REQUIRED",
                "Isi minimal satu baris barang (lines).",
                "Give at least one item line (lines).",
            )
            .at("lines"),
        );
        return Vec::new();
    };
    if arr.is_empty() {
        i.push(
            Invalid::new(
                "LINES_REQUIRED",
                "Isi minimal satu baris barang (lines).",
                "Give at least one item line (lines).",
            )
            .at("lines"),
        );
    }
    // Every stock write must fit one transaction of the most restrictive store
    // (stock::MAX_LINES says why 25).
    if arr.len() > stock::MAX_LINES {
        i.push(stock::too_many_lines().at("lines"));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, _) in arr.iter().enumerate() {
        let base = format!("lines[{n}]");
        let sku = i.parsed(&format!("{base}.sku"), true, |s| {
            let sku = Sku::parse(s)?;
            match items.iter().find(|it| it.sku == sku) {
                None => Err(sku_unknown()),
                Some(it) if it.retired => Err(Invalid::new(
                    "ITEM_RETIRED",
                    "Barang ini sudah tidak dipakai (retired).",
                    "This item is retired.",
                )),
                Some(_) => Ok(sku),
            }
        });
        let quantity = match i.whole(&format!("{base}.quantity"), true) {
            Some(v) => match Quantity::parse(v) {
                Ok(q) => Some(q),
                Err(e) => {
                    i.push(e.at(format!("{base}.quantity")));
                    None
                }
            },
            None => None,
        };
        let expires_on = match rules {
            LineRules::Receipt { today } => {
                let path = format!("{base}.expires_on");
                let date = i.parsed(&path, false, |s| {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                        Invalid::new(
                            "DATE_INVALID",
                            "Tanggal kedaluwarsa harus YYYY-MM-DD.",
                            "The expiry date must be YYYY-MM-DD.",
                        )
                    })
                });
                if date.is_some_and(|d| d < today) {
                    i.push(
                        Invalid::new(
                            "ALREADY_EXPIRED",
                            "Barang yang sudah kedaluwarsa tidak boleh diterima.",
                            "Stock that has already expired cannot be received.",
                        )
                        .at(path),
                    );
                    None
                } else {
                    date
                }
            }
            LineRules::Package => None,
        };
        if let (Some(sku), Some(quantity)) = (sku, quantity) {
            out.push(Line {
                index: n,
                sku,
                quantity,
                expires_on,
            });
        }
    }
    out
}

/// Adds up the lines that share a key (an item; an item and expiry date), in line order. A
/// sum beyond one line's bound is refused at the line that takes it over.
fn merge_lines<K: Ord>(
    i: &mut Input<'_>,
    lines: Vec<Line>,
    key: impl Fn(&Line) -> K,
) -> BTreeMap<K, Quantity> {
    let mut merged: BTreeMap<K, Quantity> = BTreeMap::new();
    for line in lines {
        let k = key(&line);
        match merged.get(&k) {
            None => {
                merged.insert(k, line.quantity);
            }
            Some(q) => match q.checked_add(line.quantity) {
                Some(total) => {
                    merged.insert(k, total);
                }
                None => i.push(
                    Quantity::sum_too_large(&line.sku)
                        .at(format!("lines[{}].quantity", line.index)),
                ),
            },
        }
    }
    merged
}

// ---------------------------------------------------------------------------------------------
// Receipts and adjustments
// ---------------------------------------------------------------------------------------------

/// The answer to a receipt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReceiptView {
    pub warehouse: String,
    pub reference: String,
    pub received_at: DateTime<Utc>,
    pub lines: Vec<ReceivedLot>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReceivedLot {
    pub lot_id: String,
    pub sku: String,
    pub quantity: u64,
    pub expires_on: Option<NaiveDate>,
}

/// The HTTP answer of an idempotent operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// `POST /v1/stock/receipts` — gudang, with `Idempotency-Key`:
/// `{warehouse, reference, lines: [{sku, quantity, expires_on?}]}`.
///
/// A warehouse receives a delivery note (`reference`, compared ignoring case and extra
/// spaces) once: the idempotency key comes first (the same key and body replay the first
/// answer), then any other receipt of that reference in that warehouse is 409
/// `RECEIPT_REFERENCE_TAKEN` on `reference` and writes nothing; a correction is an adjustment.
pub async fn receive(
    deps: &FulfilDeps,
    caller: &Caller,
    idempotency_key: Option<&str>,
    body: &Value,
) -> Result<StoredResponse, AppError> {
    require(caller, &[Role::Gudang])?;
    let idem = match idempotency_key {
        Some(key) => {
            let scoped = receipt_idempotency_key(caller, key);
            let fp = fingerprint(body);
            if let Some(prior) = deps.idempotency.get(&scoped).await? {
                return replay(prior, &fp);
            }
            Some((scoped, fp))
        }
        None => None,
    };
    let mut i = Input::new(body)?;
    let warehouse_raw = i.text("warehouse", 40, false);
    let reference = i.text("reference", 100, true);
    let items = deps.stock.items().await?;
    let today = deps.today();
    let lines = read_lines(&mut i, body, &items, LineRules::Receipt { today });
    // Two lines of the same item and date add up into one lot, itself at most one line's worth.
    let merged = merge_lines(&mut i, lines, |l| (l.sku.clone(), l.expires_on));
    let warehouse = match parse_warehouse(deps, warehouse_raw.as_deref(), "warehouse") {
        Ok(w) => Some(w),
        Err(AppError::Validation(v)) => {
            v.into_iter().for_each(|e| i.push(e));
            None
        }
        Err(e) => return Err(e),
    };
    i.finish()?;
    let (warehouse, reference) = (warehouse.expect("checked"), reference.expect("checked"));

    let now = deps.clock.now();
    let actor = ActorRef::of(caller);
    let mut ledger = Vec::new();
    let mut received = Vec::new();
    let mut totals: BTreeMap<Sku, u64> = BTreeMap::new();
    for ((sku, exp), q) in merged {
        let lot_id = deps.ids.uuid();
        ledger.push(LedgerEntry::new(
            deps.ids.uuid(),
            now,
            &warehouse,
            &lot_id,
            &sku,
            exp,
            Movement::Receipt,
            stock::signed(q.get())?,
            &actor,
            "penerimaan barang",
            &reference,
        ));
        let total = totals.entry(sku.clone()).or_insert(0);
        *total = total.checked_add(q.get()).ok_or(OutOfRange)?;
        received.push(ReceivedLot {
            lot_id,
            sku: sku.as_str().to_string(),
            quantity: q.get(),
            expires_on: exp,
        });
    }
    let view = ReceiptView {
        warehouse: warehouse.as_str().to_string(),
        reference: reference.clone(),
        received_at: now,
        lines: received,
    };
    let body_json = serde_json::to_string(&view).expect("views serialise");
    let guard = ReceiptRef {
        warehouse: warehouse.clone(),
        reference: reference.clone(),
        received_at: now,
    };
    // Stock came in: an item back at or above its threshold may alert again when it falls; one
    // still below it (also because lots expired meanwhile) and not alerted yet is told.
    let low_stock = low_stock_watches(deps, &warehouse, totals.keys(), now, &actor);
    let event = warehouse_event(
        deps,
        now,
        &actor,
        EventKind::StockReceived {
            warehouse: warehouse.as_str().to_string(),
            reference,
            lines: totals
                .into_iter()
                .map(|(sku, quantity)| SkuQuantity {
                    sku: sku.as_str().to_string(),
                    quantity,
                })
                .collect(),
        },
    );
    let write = StockWrite {
        ledger,
        events: vec![event],
        idempotency: idem.as_ref().map(|(key, fp)| IdempotencyRecord {
            key: key.clone(),
            fingerprint: fp.clone(),
            status: 201,
            body: body_json.clone(),
            created_at: now,
        }),
        receipt: Some(guard.clone()),
        low_stock,
        ..StockWrite::default()
    };
    match deps.stock.apply(write).await {
        Ok(()) => Ok(StoredResponse {
            status: 201,
            body: body_json,
            replayed: false,
        }),
        Err(StoreError::IdempotencyKeyTaken) => {
            let (key, fp) = idem.as_ref().expect("only keyed receipts record keys");
            match deps.idempotency.get(key).await? {
                Some(prior) => replay(prior, fp),
                None => Err(AppError::IdempotencyKeyReused),
            }
        }
        Err(StoreError::ReceiptReferenceTaken { received_at }) => {
            Err(AppError::ReceiptReferenceTaken {
                warehouse: guard.warehouse.as_str().to_string(),
                reference: guard.reference.clone(),
                received_at,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Where [`receive`] keeps its answer to `Idempotency-Key: key` from `caller` (keys are the
/// caller's own: another user's same key is another receipt).
pub fn receipt_idempotency_key(caller: &Caller, key: &str) -> String {
    format!("{}:receipt:{}", caller.sub, key.trim())
}

fn replay(prior: IdempotencyRecord, fingerprint: &str) -> Result<StoredResponse, AppError> {
    if prior.fingerprint == fingerprint {
        Ok(StoredResponse {
            status: prior.status,
            body: prior.body,
            replayed: true,
        })
    } else {
        Err(AppError::IdempotencyKeyReused)
    }
}

/// `POST /v1/stock/adjustments` — gudang, dinas: `{warehouse, sku, delta, reason}`. `delta` is
/// a whole number from -1000000 to 1000000, not 0. A negative delta takes from expired lots
/// first, then the earliest expiry; never below zero (409 with the available amount, nothing
/// written). Every adjustment is a `StockAdjusted` event: one that adds stock serves the
/// waitlist, as a receipt does.
pub async fn adjust(
    deps: &FulfilDeps,
    caller: &Caller,
    idempotency_key: Option<&str>,
    body: &Value,
) -> Result<StoredResponse, AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let idem = match idempotency_key {
        Some(key) => {
            let scoped = adjustment_idempotency_key(caller, key);
            let fp = fingerprint(body);
            if let Some(prior) = deps.idempotency.get(&scoped).await? {
                return replay(prior, &fp);
            }
            Some((scoped, fp))
        }
        None => None,
    };
    let mut i = Input::new(body)?;
    let warehouse_raw = i.text("warehouse", 40, false);
    let items = deps.stock.items().await?;
    let sku = i.parsed("sku", true, |s| {
        let sku = Sku::parse(s)?;
        if items.iter().any(|it| it.sku == sku) {
            Ok(sku)
        } else {
            Err(sku_unknown())
        }
    });
    let delta = match i.whole("delta", true) {
        Some(v) => match Delta::parse(v) {
            Ok(d) => Some(d),
            Err(e) => {
                i.push(e.at("delta"));
                None
            }
        },
        None => None,
    };
    let reason = i.text("reason", 500, true);
    let warehouse = match parse_warehouse(deps, warehouse_raw.as_deref(), "warehouse") {
        Ok(w) => Some(w),
        Err(AppError::Validation(v)) => {
            v.into_iter().for_each(|e| i.push(e));
            None
        }
        Err(e) => return Err(e),
    };
    i.finish()?;
    let (warehouse, sku, delta, reason) = (
        warehouse.expect("checked"),
        sku.expect("checked"),
        delta.expect("checked"),
        reason.expect("checked"),
    );
    let actor = ActorRef::of(caller);
    for _ in 0..RETRIES {
        let now = deps.clock.now();
        let today = deps.today();
        let lots = deps
            .stock
            .lots(&warehouse, Some(std::slice::from_ref(&sku)))
            .await?;
        // The answer is the item's stock level: totals that cannot be told (data written
        // around the bounds) are refused before anything is written, not after.
        levels_of(&warehouse, &items, &lots, today)?;
        let mut ledger = Vec::new();
        let reference = format!("penyesuaian {}", now.to_rfc3339());
        match delta {
            Delta::Add(q) => ledger.push(LedgerEntry::new(
                deps.ids.uuid(),
                now,
                &warehouse,
                &deps.ids.uuid(),
                &sku,
                None,
                Movement::Adjustment,
                stock::signed(q.get())?,
                &actor,
                &reason,
                &reference,
            )),
            Delta::Remove(wanted) => {
                let mut takeable: Vec<&Lot> = lots.iter().filter(|l| l.available() > 0).collect();
                // Saturating is exact here: a total beyond u64 is more than any removal.
                let available = takeable
                    .iter()
                    .fold(0u64, |acc, l| acc.saturating_add(l.available()));
                let wanted = wanted.get();
                if wanted > available {
                    return Err(AppError::InsufficientStock {
                        warehouse: warehouse.as_str().to_string(),
                        sku: sku.as_str().to_string(),
                        available,
                    });
                }
                // Expired lots first (that is what write-offs are for), then earliest expiry.
                takeable.sort_by(|a, b| {
                    (
                        a.usable_on(today),
                        a.expires_on.is_none(),
                        a.expires_on,
                        &a.lot_id,
                    )
                        .cmp(&(
                            b.usable_on(today),
                            b.expires_on.is_none(),
                            b.expires_on,
                            &b.lot_id,
                        ))
                });
                // One adjustment touches at most MAX_LOTS_PER_WRITE lots (stock::MAX_LINES
                // says why): beyond, it is refused, naming what one adjustment can remove.
                let reachable = takeable
                    .iter()
                    .take(stock::MAX_LOTS_PER_WRITE)
                    .fold(0u64, |acc, l| acc.saturating_add(l.available()));
                if wanted > reachable {
                    return Err(AppError::Validation(vec![FieldError::new(
                        "delta",
                        "TOO_MANY_LOTS",
                        Text::new(
                            format!(
                                "Stok {} tersebar di banyak lot; satu penyesuaian paling banyak menyentuh {} lot, yaitu mengurangi paling banyak {reachable}. Kurangi bertahap.",
                                sku.as_str(),
                                stock::MAX_LOTS_PER_WRITE
                            ),
                            format!(
                                "Stock of {} is spread over many lots; one adjustment touches at most {} lots, that is removes at most {reachable}. Remove it in steps.",
                                sku.as_str(),
                                stock::MAX_LOTS_PER_WRITE
                            ),
                        ),
                    )]));
                }
                let mut left = wanted;
                for lot in takeable {
                    if left == 0 {
                        break;
                    }
                    let q = left.min(lot.available());
                    ledger.push(LedgerEntry::new(
                        deps.ids.uuid(),
                        now,
                        &warehouse,
                        &lot.lot_id,
                        &sku,
                        lot.expires_on,
                        Movement::Adjustment,
                        -stock::signed(q)?,
                        &actor,
                        &reason,
                        &reference,
                    ));
                    left -= q;
                }
            }
        }
        // Only the usable part of the change moves the "available" figure.
        let usable_delta = ledger
            .iter()
            .filter(|e| e.expires_on.is_none_or(|d| d >= today))
            .try_fold(0i64, |acc, e| acc.checked_add(e.delta_on_hand))
            .ok_or(OutOfRange)?;
        let low_stock = low_stock_watches(deps, &warehouse, [&sku], now, &actor);
        let events = vec![warehouse_event(
            deps,
            now,
            &actor,
            EventKind::StockAdjusted {
                warehouse: warehouse.as_str().to_string(),
                sku: sku.as_str().to_string(),
                delta: delta.amount(),
                available_delta: usable_delta,
            },
        )];
        // The answer (and, under a key, the stored answer): the item's stock level as this
        // adjustment leaves the lots it read.
        let item = items
            .iter()
            .find(|it| it.sku == sku)
            .cloned()
            .expect("checked");
        let level = levels_of(&warehouse, &[item], &lots_after(&lots, &ledger)?, today)?.remove(0);
        let body_json = serde_json::to_string(&level).expect("views serialise");
        let idempotency = idem.as_ref().map(|(key, fp)| IdempotencyRecord {
            key: key.clone(),
            fingerprint: fp.clone(),
            status: 200,
            body: body_json.clone(),
            created_at: now,
        });
        match deps
            .stock
            .apply(StockWrite {
                ledger,
                events,
                idempotency,
                low_stock,
                ..StockWrite::default()
            })
            .await
        {
            Ok(()) => {
                return Ok(StoredResponse {
                    status: 200,
                    body: body_json,
                    replayed: false,
                });
            }
            Err(StoreError::InsufficientStock) => continue,
            Err(StoreError::IdempotencyKeyTaken) => {
                // The same key won a race a moment ago: answer as its replay.
                let (key, fp) = idem.as_ref().expect("only keyed adjustments record keys");
                return match deps.idempotency.get(key).await? {
                    Some(prior) => replay(prior, fp),
                    None => Err(AppError::IdempotencyKeyReused),
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::ConcurrentModification)
}

/// Where [`adjust`] keeps its answer to `Idempotency-Key: key` from `caller`: a retried
/// correction is answered again, not applied twice.
pub fn adjustment_idempotency_key(caller: &Caller, key: &str) -> String {
    format!("{}:adjustment:{}", caller.sub, key.trim())
}

/// `lots` as they are once `ledger` is applied (a lot the ledger creates is added).
fn lots_after(lots: &[Lot], ledger: &[LedgerEntry]) -> Result<Vec<Lot>, OutOfRange> {
    let mut out = lots.to_vec();
    for e in ledger {
        let at = match out.iter().position(|l| l.lot_id == e.lot_id) {
            Some(at) => at,
            None => {
                out.push(Lot {
                    lot_id: e.lot_id.clone(),
                    sku: e.sku.clone(),
                    expires_on: e.expires_on,
                    on_hand: 0,
                    allocated: 0,
                });
                out.len() - 1
            }
        };
        let lot = &mut out[at];
        lot.on_hand = lot
            .on_hand
            .checked_add_signed(e.delta_on_hand)
            .ok_or(OutOfRange)?;
        lot.allocated = lot
            .allocated
            .checked_add_signed(e.delta_allocated)
            .ok_or(OutOfRange)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Allocation, waitlist, release (queue handlers)
// ---------------------------------------------------------------------------------------------

/// What an allocation attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocationOutcome {
    Allocated,
    Waitlisted,
    /// Nothing to do: not approved or waitlisted (any more), or already allocated.
    Skipped,
}

/// Allocates the approved (or waitlisted) request `id`: all package lines from the earliest
/// expiring usable lots in one write, or, when stock is short, moves an approved request to
/// the waitlist. Safe to call any number of times for the same request.
pub async fn allocate(deps: &FulfilDeps, id: &RequestId) -> Result<AllocationOutcome, AppError> {
    let actor = ActorRef::system();
    let warehouse = deps.default_warehouse();
    for _ in 0..RETRIES {
        // One read of everything the attempt decides on (see `AllocationReads`).
        let AllocationFacts {
            request,
            allocation: previous,
            package,
            lots,
        } = deps
            .allocation_reads
            .allocation_facts(id, &warehouse)
            .await?;
        let Some(mut request) = request else {
            return Ok(AllocationOutcome::Skipped);
        };
        if !matches!(request.status, Status::Approved | Status::Waitlisted) {
            return Ok(AllocationOutcome::Skipped);
        }
        // `previous` is also what the write below expects to find: if it changes in between,
        // the write is refused (`StateConflict`) and this loop reads again.
        if previous
            .as_ref()
            .is_some_and(|a| a.status != AllocationStatus::Released)
        {
            return Ok(AllocationOutcome::Skipped);
        }
        let decision = request
            .decision
            .clone()
            .ok_or_else(|| AppError::Unavailable("approved request without decision".into()))?;
        let (Some(package_code), Some(packages), Some(delivery)) =
            (decision.package_code, decision.packages, decision.delivery)
        else {
            return Err(AppError::Unavailable(
                "approved request without package".into(),
            ));
        };
        let now = deps.clock.now();
        // Read for the package the decision names (the decision never changes once made).
        let package = package.filter(|p| p.code == package_code);
        let needs = match &package {
            Some(p) => p.needs(packages)?,
            None => BTreeMap::new(),
        };
        let plan = match &package {
            Some(_) => plan_allocation(&needs, &lots, deps.today()),
            // An unknown package cannot be served: wait (the Dinas can define it).
            None => Err(Vec::new()),
        };
        match plan {
            Ok(takes) => {
                let shipment_id = deps.ids.uuid();
                let event_id = deps.ids.event_id();
                let entry = request
                    .transition(Action::Allocate, &actor, None, now, &event_id)
                    .map_err(|_| AppError::ConcurrentModification)?;
                let mut ledger = Vec::new();
                for t in &takes {
                    ledger.push(LedgerEntry::new(
                        deps.ids.uuid(),
                        now,
                        &warehouse,
                        &t.lot_id,
                        &t.sku,
                        t.expires_on,
                        Movement::Allocation,
                        stock::signed(t.quantity)?,
                        &actor,
                        "alokasi paket",
                        request.id.as_str(),
                    ));
                }
                let events = vec![Event {
                    id: event_id,
                    occurred_at: now,
                    actor: actor.clone(),
                    request: Some(RequestRef::of(&request)),
                    kind: EventKind::RequestAllocated {
                        warehouse: warehouse.as_str().to_string(),
                        shipment_id: shipment_id.clone(),
                        package_code: package_code.clone(),
                        packages,
                    },
                }];
                let low_stock = low_stock_watches(deps, &warehouse, needs.keys(), now, &actor);
                let allocation = Allocation {
                    request_id: request.id.clone(),
                    warehouse: warehouse.clone(),
                    package_code: package_code.clone(),
                    packages,
                    takes,
                    status: AllocationStatus::Active,
                    shipment_id: shipment_id.clone(),
                    created_at: now,
                    updated_at: now,
                };
                let shipment = Shipment {
                    id: shipment_id,
                    request_id: request.id.clone(),
                    request_code: request.code.clone(),
                    kelurahan_code: request.kelurahan_code.as_str().to_string(),
                    warehouse: warehouse.clone(),
                    destination: delivery,
                    package_code,
                    packages,
                    lines: needs
                        .into_iter()
                        .map(|(sku, quantity)| ShipmentLine { sku, quantity })
                        .collect(),
                    status: ShipmentStatus::Ready,
                    created_at: now,
                    dispatched_at: None,
                    dispatched_by: None,
                    delivered: None,
                    updated_at: now,
                };
                let expect_alloc = match previous {
                    Some(p) => Expect::Status(p.status),
                    None => Expect::Absent,
                };
                let write = StockWrite {
                    ledger,
                    allocation: Some((allocation, expect_alloc)),
                    shipment: Some((shipment, Expect::Absent)),
                    request: Some((request, entry)),
                    events,
                    idempotency: None,
                    receipt: None,
                    low_stock,
                };
                match deps.stock.apply(write).await {
                    Ok(()) => return Ok(AllocationOutcome::Allocated),
                    Err(
                        StoreError::InsufficientStock
                        | StoreError::VersionConflict
                        | StoreError::StateConflict,
                    ) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(short) => {
                let spread: Vec<&str> = short
                    .iter()
                    .filter(|s| s.spread)
                    .map(|s| s.sku.as_str())
                    .collect();
                if !spread.is_empty() {
                    tracing::warn!(
                        request_id = %request.id.as_str(),
                        skus = ?spread,
                        max_lots = stock::MAX_LOTS_PER_WRITE,
                        "stock is spread over more lots than one allocation may touch; the request waits"
                    );
                }
                if request.status == Status::Waitlisted {
                    return Ok(AllocationOutcome::Waitlisted);
                }
                let reason = if spread.is_empty() {
                    "stok gudang kurang".to_string()
                } else {
                    format!(
                        "stok {} tersebar di lebih dari {} lot; satu alokasi paling banyak {} lot",
                        spread.join(", "),
                        stock::MAX_LOTS_PER_WRITE,
                        stock::MAX_LOTS_PER_WRITE
                    )
                };
                let event_id = deps.ids.event_id();
                let entry = request
                    .transition(Action::Waitlist, &actor, Some(reason), now, &event_id)
                    .map_err(|_| AppError::ConcurrentModification)?;
                let event = Event {
                    id: event_id,
                    occurred_at: now,
                    actor: actor.clone(),
                    request: Some(RequestRef::of(&request)),
                    kind: EventKind::RequestWaitlisted {
                        package_code,
                        packages,
                        short: short
                            .into_iter()
                            .map(|s| ShortItem {
                                sku: s.sku.as_str().to_string(),
                                needed: s.needed,
                                available: s.available,
                            })
                            .collect(),
                    },
                };
                match deps.requests.update(&request, &entry, &event).await {
                    Ok(()) => return Ok(AllocationOutcome::Waitlisted),
                    Err(StoreError::VersionConflict) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(AppError::ConcurrentModification)
}

/// Tries to allocate every waitlisted request: `darurat` first, then the oldest approval.
/// Returns how many were allocated.
pub async fn allocate_waitlisted(deps: &FulfilDeps) -> Result<usize, AppError> {
    let mut waiting: Vec<AidRequest> = Vec::new();
    let mut cursor = None;
    loop {
        let page = deps
            .requests
            .list(&ListQuery {
                kelurahan: None,
                status: Some(Status::Waitlisted),
                created_from: None,
                created_before: None,
                limit: 100,
                cursor,
            })
            .await?;
        waiting.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    waiting.sort_by_key(|r| {
        (
            r.urgency != Urgency::Darurat,
            r.decision.as_ref().map(|d| d.decided_at),
            r.id.clone(),
        )
    });
    let mut allocated = 0;
    for r in waiting {
        match allocate(deps, &r.id).await {
            Ok(AllocationOutcome::Allocated) => allocated += 1,
            Ok(_) => {}
            // A write that no retry can make fit (data from before the stock limits) must not
            // keep the requests behind it waiting, nor fail the event for ever: logged, skipped.
            Err(e @ AppError::TooLarge(_)) => {
                tracing::error!(request_id = %r.id.as_str(), error = %e, "waitlisted request cannot be allocated in one write; skipped");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(allocated)
}

/// Releases what was allocated to a cancelled request (ledger `release` entries; the lots get
/// the units back) and cancels its shipment. Safe to call any number of times.
pub async fn release(deps: &FulfilDeps, id: &RequestId) -> Result<bool, AppError> {
    let actor = ActorRef::system();
    for _ in 0..RETRIES {
        let Some(mut allocation) = deps.stock.allocation(id).await? else {
            return Ok(false);
        };
        if allocation.status != AllocationStatus::Active {
            return Ok(false);
        }
        let now = deps.clock.now();
        let ledger = allocation
            .takes
            .iter()
            .map(|t| {
                Ok(LedgerEntry::new(
                    deps.ids.uuid(),
                    now,
                    &allocation.warehouse,
                    &t.lot_id,
                    &t.sku,
                    t.expires_on,
                    Movement::Release,
                    stock::signed(t.quantity)?,
                    &actor,
                    "permohonan dibatalkan",
                    id.as_str(),
                ))
            })
            .collect::<Result<Vec<_>, OutOfRange>>()?;
        allocation.status = AllocationStatus::Released;
        allocation.updated_at = now;
        let shipment = match deps.stock.shipment(&allocation.shipment_id).await? {
            Some(mut s) if s.status == ShipmentStatus::Ready => {
                s.status = ShipmentStatus::Cancelled;
                s.updated_at = now;
                Some((s, Expect::Status(ShipmentStatus::Ready)))
            }
            _ => None,
        };
        // The units come back: an item back at or above its threshold may alert again.
        let low_stock = low_stock_watches(
            deps,
            &allocation.warehouse,
            allocation.takes.iter().map(|t| &t.sku),
            now,
            &actor,
        );
        let write = StockWrite {
            ledger,
            allocation: Some((allocation, Expect::Status(AllocationStatus::Active))),
            shipment,
            low_stock,
            ..StockWrite::default()
        };
        match deps.stock.apply(write).await {
            Ok(()) => return Ok(true),
            Err(StoreError::StateConflict | StoreError::InsufficientStock) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::ConcurrentModification)
}

/// The `allocate-stock` queue handler: what to do with each event. Idempotent on the event
/// (each branch checks the state it would change).
pub async fn on_event(deps: &FulfilDeps, event: &Event) -> Result<(), AppError> {
    let id = event.request_id();
    match &event.kind {
        EventKind::RequestApproved { .. } => {
            if let Some(id) = id {
                allocate(deps, id).await?;
            }
        }
        EventKind::RequestCancelled { .. } => {
            // Released stock may serve the waitlist.
            let released = match id {
                Some(id) => release(deps, id).await?,
                None => false,
            };
            if released {
                allocate_waitlisted(deps).await?;
            }
        }
        EventKind::StockReceived { .. } => {
            allocate_waitlisted(deps).await?;
        }
        // Stock found in a count, returned, donated: more available serves the waitlist as a
        // receipt does. A write-off makes nothing allocatable.
        EventKind::StockAdjusted {
            available_delta, ..
        } if *available_delta > 0 => {
            allocate_waitlisted(deps).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The event types `allocate-stock` consumes (its queue's subscription filter on AWS).
pub const CONSUMED_EVENTS: [&str; 4] = [
    "RequestApproved",
    "RequestCancelled",
    "StockReceived",
    "StockAdjusted",
];

// ---------------------------------------------------------------------------------------------
// Shipments, dispatch, handover
// ---------------------------------------------------------------------------------------------

/// A page of shipments.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentPage {
    pub items: Vec<Shipment>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/shipments?status=&limit=&cursor=` — gudang, dinas.
pub async fn shipments(
    deps: &FulfilDeps,
    caller: &Caller,
    status: Option<&str>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<ShipmentPage, AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let mut errors = Vec::new();
    let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match ShipmentStatus::parse(s) {
            Some(st) => Some(st),
            None => {
                errors.push(FieldError::new(
                    "status",
                    "STATUS_UNKNOWN",
                    Text::fixed(
                        "Status pengiriman harus ready, dispatched, delivered atau cancelled.",
                        "Shipment status must be ready, dispatched, delivered or cancelled.",
                    ),
                ));
                None
            }
        },
    };
    let limit = page_limit(limit, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let page = deps
        .stock
        .shipments(
            status,
            limit,
            cursor.map(str::to_string).filter(|c| !c.is_empty()),
        )
        .await?;
    Ok(ShipmentPage {
        items: page.items,
        next_cursor: page.next_cursor,
    })
}

/// `POST /v1/shipments/{id}/dispatch` — gudang, dinas: the package leaves the warehouse
/// (ledger `dispatch`: on hand and allocated both go down) and the request is `dispatched`.
pub async fn dispatch(
    deps: &FulfilDeps,
    caller: &Caller,
    shipment_id: &str,
) -> Result<Shipment, AppError> {
    require(caller, &[Role::Gudang, Role::Dinas])?;
    let actor = ActorRef::of(caller);
    for _ in 0..RETRIES {
        let Some(mut shipment) = deps.stock.shipment(shipment_id).await? else {
            return Err(AppError::NotFound);
        };
        let Some(mut request) = deps.requests.get(&shipment.request_id).await? else {
            return Err(AppError::NotFound);
        };
        if shipment.status != ShipmentStatus::Ready {
            return Err(AppError::InvalidTransition {
                from: request.status,
                action: Action::Dispatch,
            });
        }
        let Some(mut allocation) = deps.stock.allocation(&shipment.request_id).await? else {
            return Err(AppError::Unavailable("shipment without allocation".into()));
        };
        let now = deps.clock.now();
        let event_id = deps.ids.event_id();
        let entry = request
            .transition(Action::Dispatch, &actor, None, now, &event_id)
            .map_err(|r| match r {
                crate::lifecycle::Refusal::NotPermitted => AppError::Forbidden,
                crate::lifecycle::Refusal::InvalidFrom(from) => AppError::InvalidTransition {
                    from,
                    action: Action::Dispatch,
                },
            })?;
        let ledger = allocation
            .takes
            .iter()
            .map(|t| {
                Ok(LedgerEntry::new(
                    deps.ids.uuid(),
                    now,
                    &allocation.warehouse,
                    &t.lot_id,
                    &t.sku,
                    t.expires_on,
                    Movement::Dispatch,
                    stock::signed(t.quantity)?,
                    &actor,
                    "pengiriman paket",
                    shipment.id.as_str(),
                ))
            })
            .collect::<Result<Vec<_>, OutOfRange>>()?;
        allocation.status = AllocationStatus::Dispatched;
        allocation.updated_at = now;
        shipment.status = ShipmentStatus::Dispatched;
        shipment.dispatched_at = Some(now);
        shipment.dispatched_by = Some(actor.clone());
        shipment.updated_at = now;
        let event = request_event(
            deps,
            &request,
            now,
            &actor,
            EventKind::RequestDispatched {
                shipment_id: shipment.id.clone(),
                delivery: shipment.destination,
            },
        );
        let event = Event {
            id: event_id,
            ..event
        };
        let write = StockWrite {
            ledger,
            allocation: Some((allocation, Expect::Status(AllocationStatus::Active))),
            shipment: Some((shipment.clone(), Expect::Status(ShipmentStatus::Ready))),
            request: Some((request, entry)),
            events: vec![event],
            // On hand and allocated fall together: available stock does not change.
            ..StockWrite::default()
        };
        match deps.stock.apply(write).await {
            Ok(()) => return Ok(shipment),
            Err(
                StoreError::StateConflict
                | StoreError::VersionConflict
                | StoreError::InsufficientStock,
            ) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::ConcurrentModification)
}

/// `POST /v1/requests/{id}/handover` — kelurahan (own): `{received_by, relation,
/// received_at, note?}` → `delivered`. `received_at` may not be before the package left the
/// warehouse nor in the future ([`crate::reported_time`]).
pub async fn handover(
    deps: &FulfilDeps,
    caller: &Caller,
    id: &str,
    body: &Value,
) -> Result<RequestView, AppError> {
    require(caller, &[Role::Kelurahan])?;
    let mut i = Input::new(body)?;
    let received_by = i.text("received_by", 200, true);
    let relation = i.text("relation", 100, true);
    let received_at = i.time("received_at", true);
    let note = i.text("note", 1000, false);
    let id = RequestId::parse(id).ok();
    if let Some(t) = received_at {
        // The dispatch time of the caller's own request, to name every bad field at once.
        let dispatched_at = match &id {
            Some(id) => dispatched_at(deps, caller, id).await?,
            None => None,
        };
        if let Some(p) = reported_time::received_at_problem(t, dispatched_at, deps.clock.now()) {
            i.push(p);
        }
    }
    i.finish()?;
    let (id, received_at) = (id.ok_or(AppError::NotFound)?, received_at.expect("checked"));
    let actor = ActorRef::of(caller);
    for _ in 0..RETRIES {
        let mut request = match deps.requests.get(&id).await? {
            Some(r) if r.visible_to(caller) => r,
            _ => return Err(AppError::NotFound),
        };
        let now = deps.clock.now();
        let event_id = deps.ids.event_id();
        let entry = request
            .transition(Action::Handover, &actor, None, now, &event_id)
            .map_err(|r| match r {
                crate::lifecycle::Refusal::NotPermitted => AppError::Forbidden,
                crate::lifecycle::Refusal::InvalidFrom(from) => AppError::InvalidTransition {
                    from,
                    action: Action::Handover,
                },
            })?;
        let allocation =
            deps.stock.allocation(&id).await?.ok_or_else(|| {
                AppError::Unavailable("dispatched request without allocation".into())
            })?;
        let mut shipment = deps
            .stock
            .shipment(&allocation.shipment_id)
            .await?
            .ok_or_else(|| AppError::Unavailable("allocation without shipment".into()))?;
        if let Some(p) =
            reported_time::received_at_problem(received_at, shipment.dispatched_at, now)
        {
            return Err(AppError::Validation(vec![p]));
        }
        shipment.status = ShipmentStatus::Delivered;
        shipment.delivered = Some(Receipt {
            received_by: received_by.clone().expect("checked"),
            relation: relation.clone().expect("checked"),
            received_at,
            note: note.clone(),
            recorded_by: actor.clone(),
        });
        shipment.updated_at = now;
        let event = Event {
            id: event_id,
            occurred_at: now,
            actor: actor.clone(),
            request: Some(RequestRef::of(&request)),
            kind: EventKind::RequestDelivered {
                shipment_id: shipment.id.clone(),
                received_at: Some(received_at),
            },
        };
        let view = RequestView::of(&request, Disclosure::detail_for(caller));
        let write = StockWrite {
            shipment: Some((shipment, Expect::Status(ShipmentStatus::Dispatched))),
            request: Some((request, entry)),
            events: vec![event],
            ..StockWrite::default()
        };
        match deps.stock.apply(write).await {
            Ok(()) => return Ok(view),
            Err(StoreError::StateConflict | StoreError::VersionConflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::ConcurrentModification)
}

/// When the package of the caller's request `id` left the warehouse, if it did and the
/// caller may see the request.
async fn dispatched_at(
    deps: &FulfilDeps,
    caller: &Caller,
    id: &RequestId,
) -> Result<Option<DateTime<Utc>>, AppError> {
    match deps.requests.get(id).await? {
        // Only a dispatched request can be handed over: for any other (already delivered,
        // not yet dispatched) the transition's 409 is the answer, not a time compared with
        // a dispatch that is not the one pending.
        Some(r) if r.visible_to(caller) && r.status == Status::Dispatched => {}
        _ => return Ok(None),
    }
    let Some(allocation) = deps.stock.allocation(id).await? else {
        return Ok(None);
    };
    Ok(deps
        .stock
        .shipment(&allocation.shipment_id)
        .await?
        .and_then(|s| s.dispatched_at))
}
