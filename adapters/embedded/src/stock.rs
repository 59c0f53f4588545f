//! [`StockStore`] over the `items`, `packages`, `package_lines`, `lots`, `ledger`,
//! `receipt_refs`, `allocations` and `shipments` tables.
//!
//! [`StockStore::apply`] is one job on the write path (one savepoint inside a `BEGIN
//! IMMEDIATE` transaction, see the `writer` module): it checks every condition the
//! [`StockWrite`] carries while it writes, and the first one that fails rolls the whole write
//! back. Because writes run one at a time, a condition read inside the job cannot change
//! before the job's own write: the "read the lot, check, write" of a ledger entry is as
//! atomic as a DynamoDB condition expression.
//!
//! The checks, in order (the first that fails decides the error):
//!
//! 1. the idempotency key is free, else [`StoreError::IdempotencyKeyTaken`] (first, so that a
//!    retry racing its first attempt learns that its answer is stored);
//! 2. a receipt's delivery note was never received by its warehouse (`receipt_refs`, keyed
//!    by warehouse and `reference_key`), else [`StoreError::ReceiptReferenceTaken`] with the
//!    first receipt's time;
//! 3. the request transition is over the stored version, else [`StoreError::VersionConflict`]
//!    (the same code as [`shared::ports::RequestStore::update`], household guards and
//!    deliveries included);
//! 4. the allocation and the shipment are as expected (absent, or in the status the writer
//!    read), else [`StoreError::StateConflict`];
//! 5. every ledger entry leaves its lot with `on_hand >= allocated >= 0`, else
//!    [`StoreError::InsufficientStock`]; an entry naming a lot that does not exist creates it
//!    (receipts, positive adjustments) with the entry's warehouse, item and expiry.
//!
//! Then the events go to the outbox in the order given. A lot's `on_hand` therefore always
//! equals the sum of its ledger entries' `delta_on_hand`, and `allocated` the sum of their
//! `delta_allocated`: the two are only ever written together (the unit tests check the sums).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use shared::RequestId;
use shared::fulfilment_ports::{
    Allocation, AllocationFacts, AllocationReads, AllocationStatus, Expect, LedgerCursor,
    LedgerEntry, LowStockStep, LowStockWatch, ReceiptRef, Shipment, ShipmentStatus, StockStore,
    StockWrite,
};
use shared::ports::{IdempotencyRecord, Page, StoreError};
use shared::stock::{Item, Lot, Package, Sku, WarehouseCode};

use crate::codec::{
    Cursor, Listing, date_from_text, date_to_text, from_json, time_from_text, time_to_text, to_json,
};
use crate::requests::{EventRow, INSERT_IDEMPOTENCY, TransitionRows};
use crate::{DbError, EmbeddedStore, in_one_snapshot};

const ALL_ITEMS: &str = "SELECT json FROM items ORDER BY sku";
const PUT_ITEM: &str = "INSERT INTO items (sku, retired, json) VALUES (?1, ?2, ?3)
     ON CONFLICT (sku) DO UPDATE SET retired = excluded.retired, json = excluded.json";
pub(crate) const PACKAGE_USING: &str = "SELECT 1 FROM package_lines WHERE sku = ?1 LIMIT 1";
// Lots are created only with a ledger entry and never deleted: an item has a ledger entry
// exactly when it has a lot, and `lots` is the far smaller table to ask.
pub(crate) const LOT_OF_SKU: &str = "SELECT 1 FROM lots WHERE sku = ?1 LIMIT 1";
const DELETE_ITEM: &str = "DELETE FROM items WHERE sku = ?1";

const ALL_PACKAGES: &str = "SELECT json FROM packages ORDER BY code";
pub(crate) const GET_PACKAGE: &str = "SELECT json FROM packages WHERE code = ?1";
const PUT_PACKAGE: &str = "INSERT INTO packages (code, json) VALUES (?1, ?2)
     ON CONFLICT (code) DO UPDATE SET json = excluded.json";
const CLEAR_PACKAGE_LINES: &str = "DELETE FROM package_lines WHERE package_code = ?1";
const ADD_PACKAGE_LINE: &str = "INSERT INTO package_lines (package_code, sku) VALUES (?1, ?2)
     ON CONFLICT DO NOTHING";

pub(crate) const LOTS_OF_ITEM: &str = "SELECT lot_id, sku, expires_on, on_hand, allocated FROM lots
     WHERE warehouse = ?1 AND sku = ?2 ORDER BY lot_id";
const LOTS_OF_WAREHOUSE: &str = "SELECT lot_id, sku, expires_on, on_hand, allocated FROM lots
     WHERE warehouse = ?1";
/// The conditional change of an existing lot: no row changes when it would go below zero.
pub(crate) const CHANGE_LOT: &str = "UPDATE lots
     SET on_hand = on_hand + ?1, allocated = allocated + ?2
     WHERE lot_id = ?3 AND warehouse = ?4 AND sku = ?5
       AND allocated + ?2 >= 0 AND on_hand + ?1 >= allocated + ?2";
/// The items of a warehouse alerted as low and not restocked since (schema version 4), with
/// the threshold the alert was about.
const GET_LOW_STOCK_MARK: &str =
    "SELECT threshold FROM low_stock_marks WHERE warehouse = ?1 AND sku = ?2";
const MARK_LOW_STOCK: &str = "INSERT INTO low_stock_marks
    (warehouse, sku, threshold, alerted_at, event_id) VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (warehouse, sku) DO UPDATE SET threshold = excluded.threshold,
        alerted_at = excluded.alerted_at, event_id = excluded.event_id";
const GET_ITEM: &str = "SELECT json FROM items WHERE sku = ?1";
const CLEAR_LOW_STOCK: &str = "DELETE FROM low_stock_marks WHERE warehouse = ?1 AND sku = ?2";
pub(crate) const GET_LOT: &str = "SELECT warehouse, sku FROM lots WHERE lot_id = ?1";
const INSERT_LOT: &str = "INSERT INTO lots (lot_id, warehouse, sku, expires_on, on_hand, allocated)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_LEDGER: &str = "INSERT INTO ledger
     (id, warehouse, sku, lot_id, at, delta_on_hand, delta_allocated, json)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
pub(crate) const LEDGER_OF_ITEM: &str =
    "SELECT json FROM ledger WHERE warehouse = ?1 AND sku = ?2 AND id > ?3 ORDER BY id LIMIT ?4";

/// A warehouse's first receipt of a delivery note; no row when it was received before.
const INSERT_RECEIPT_REF: &str = "INSERT INTO receipt_refs
     (warehouse, reference_key, reference, received_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (warehouse, reference_key) DO NOTHING";
pub(crate) const GET_RECEIPT_REF: &str =
    "SELECT received_at FROM receipt_refs WHERE warehouse = ?1 AND reference_key = ?2";

pub(crate) const GET_ALLOCATION: &str = "SELECT json FROM allocations WHERE request_id = ?1";
const INSERT_ALLOCATION: &str = "INSERT INTO allocations (request_id, status, json)
     VALUES (?1, ?2, ?3) ON CONFLICT (request_id) DO NOTHING";
pub(crate) const UPDATE_ALLOCATION: &str =
    "UPDATE allocations SET status = ?2, json = ?3 WHERE request_id = ?1 AND status = ?4";

pub(crate) const GET_SHIPMENT: &str = "SELECT json FROM shipments WHERE id = ?1";
const INSERT_SHIPMENT: &str = "INSERT INTO shipments (id, status, created_at, request_id, json)
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING";
pub(crate) const UPDATE_SHIPMENT: &str = "UPDATE shipments
     SET status = ?2, created_at = ?3, request_id = ?4, json = ?5 WHERE id = ?1 AND status = ?6";

/// The SQL of one shipment listing shape, like the request listings: the status picks the
/// index, the cursor is a row-value range on `(created_at, id)`.
pub(crate) fn shipments_sql(status: bool, cursor: bool) -> String {
    let mut conditions = Vec::new();
    if status {
        conditions.push("status = :status");
    }
    if cursor {
        conditions.push("(created_at, id) < (:created_at, :id)");
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT created_at, id, json FROM shipments {filter} \
         ORDER BY created_at DESC, id DESC LIMIT :limit"
    )
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored {what} is invalid"))
}

/// One ledger entry as stored, with the lot change it makes.
struct LedgerRow {
    id: String,
    warehouse: String,
    sku: String,
    lot_id: String,
    expires_on: Option<String>,
    at: String,
    delta_on_hand: i64,
    delta_allocated: i64,
    json: String,
}

impl LedgerRow {
    fn of(e: &LedgerEntry) -> Result<LedgerRow, StoreError> {
        // The ledger is the stock's history: an entry whose deltas contradict its movement
        // would make it lie, and one beyond the bound of a movement could take a lot past
        // what SQLite adds exactly (it turns an overflowing sum into a float), so either is
        // refused as the caller's bug.
        if !e.is_sound() {
            return Err(StoreError::Unavailable(format!(
                "ledger entry {} moves more than {} units or has deltas that do not follow \
                 from its movement",
                e.id,
                shared::stock::MAX_MOVEMENT
            )));
        }
        Ok(LedgerRow {
            id: e.id.clone(),
            warehouse: e.warehouse.as_str().to_string(),
            sku: e.sku.as_str().to_string(),
            lot_id: e.lot_id.clone(),
            expires_on: e.expires_on.as_ref().map(date_to_text),
            at: time_to_text(&e.at),
            delta_on_hand: e.delta_on_hand,
            delta_allocated: e.delta_allocated,
            json: to_json("ledger entry", e)?,
        })
    }

    /// Changes (or creates) the lot under the never-below-zero condition, then appends the
    /// entry.
    fn write(&self, tx: &Connection) -> Result<(), DbError> {
        let changed = tx.prepare_cached(CHANGE_LOT)?.execute(params![
            self.delta_on_hand,
            self.delta_allocated,
            self.lot_id,
            self.warehouse,
            self.sku,
        ])?;
        if changed == 0 {
            let lot: Option<(String, String)> = tx
                .prepare_cached(GET_LOT)?
                .query_row([&self.lot_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match lot {
                // The lot exists and this change would take it below zero.
                Some((warehouse, sku)) if warehouse == self.warehouse && sku == self.sku => {
                    return Err(StoreError::InsufficientStock.into());
                }
                Some(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "ledger entry {} names lot {} of another item or warehouse",
                        self.id, self.lot_id
                    ))
                    .into());
                }
                // A new lot starts from this entry alone.
                None => {
                    if self.delta_allocated < 0 || self.delta_on_hand < self.delta_allocated {
                        return Err(StoreError::InsufficientStock.into());
                    }
                    tx.prepare_cached(INSERT_LOT)?.execute(params![
                        self.lot_id,
                        self.warehouse,
                        self.sku,
                        self.expires_on,
                        self.delta_on_hand,
                        self.delta_allocated,
                    ])?;
                }
            }
        }
        tx.prepare_cached(INSERT_LEDGER)?.execute(params![
            self.id,
            self.warehouse,
            self.sku,
            self.lot_id,
            self.at,
            self.delta_on_hand,
            self.delta_allocated,
            self.json,
        ])?;
        Ok(())
    }
}

/// An allocation as stored, with what the writer expects to find.
struct AllocationRow {
    request_id: String,
    status: &'static str,
    json: String,
    expect: Expect<&'static str>,
}

impl AllocationRow {
    fn of(a: &Allocation, expect: Expect<AllocationStatus>) -> Result<Self, StoreError> {
        Ok(AllocationRow {
            request_id: a.request_id.as_str().to_string(),
            status: a.status.as_str(),
            json: to_json("allocation", a)?,
            expect: match expect {
                Expect::Absent => Expect::Absent,
                Expect::Status(s) => Expect::Status(s.as_str()),
            },
        })
    }

    fn write(&self, tx: &Connection) -> Result<(), DbError> {
        let written =
            match self.expect {
                Expect::Absent => tx.prepare_cached(INSERT_ALLOCATION)?.execute(params![
                    self.request_id,
                    self.status,
                    self.json
                ])?,
                Expect::Status(expected) => tx
                    .prepare_cached(UPDATE_ALLOCATION)?
                    .execute(params![self.request_id, self.status, self.json, expected])?,
            };
        if written == 0 {
            return Err(StoreError::StateConflict.into());
        }
        Ok(())
    }
}

/// A shipment as stored, with what the writer expects to find.
struct ShipmentRow {
    id: String,
    status: &'static str,
    created_at: String,
    request_id: String,
    json: String,
    expect: Expect<&'static str>,
}

impl ShipmentRow {
    fn of(s: &Shipment, expect: Expect<ShipmentStatus>) -> Result<Self, StoreError> {
        Ok(ShipmentRow {
            id: s.id.clone(),
            status: s.status.as_str(),
            created_at: time_to_text(&s.created_at),
            request_id: s.request_id.as_str().to_string(),
            json: to_json("shipment", s)?,
            expect: match expect {
                Expect::Absent => Expect::Absent,
                Expect::Status(st) => Expect::Status(st.as_str()),
            },
        })
    }

    fn write(&self, tx: &Connection) -> Result<(), DbError> {
        let written = match self.expect {
            Expect::Absent => tx.prepare_cached(INSERT_SHIPMENT)?.execute(params![
                self.id,
                self.status,
                self.created_at,
                self.request_id,
                self.json
            ])?,
            Expect::Status(expected) => tx.prepare_cached(UPDATE_SHIPMENT)?.execute(params![
                self.id,
                self.status,
                self.created_at,
                self.request_id,
                self.json,
                expected
            ])?,
        };
        if written == 0 {
            return Err(StoreError::StateConflict.into());
        }
        Ok(())
    }
}

/// A receipt's delivery note, as `receipt_refs` stores it.
struct ReceiptRefRow {
    warehouse: String,
    reference_key: String,
    reference: String,
    received_at: String,
}

impl ReceiptRefRow {
    fn of(r: &ReceiptRef) -> ReceiptRefRow {
        ReceiptRefRow {
            warehouse: r.warehouse.as_str().to_string(),
            reference_key: r.key(),
            reference: r.reference.clone(),
            received_at: time_to_text(&r.received_at),
        }
    }

    fn write(&self, tx: &Connection) -> Result<(), DbError> {
        let written = tx.prepare_cached(INSERT_RECEIPT_REF)?.execute(params![
            self.warehouse,
            self.reference_key,
            self.reference,
            self.received_at
        ])?;
        if written == 0 {
            let first: Option<String> = tx
                .prepare_cached(GET_RECEIPT_REF)?
                .query_row(params![self.warehouse, self.reference_key], |r| r.get(0))
                .optional()?;
            let received_at = first
                .map(|t| time_from_text("receipt time", &t))
                .transpose()?;
            return Err(StoreError::ReceiptReferenceTaken { received_at }.into());
        }
        Ok(())
    }
}

/// Everything [`StockStore::apply`] writes, serialised before the write turn is taken.
struct WriteRows {
    idempotency: Option<IdempotencyRecord>,
    receipt: Option<ReceiptRefRow>,
    transition: Option<TransitionRows>,
    allocation: Option<AllocationRow>,
    shipment: Option<ShipmentRow>,
    ledger: Vec<LedgerRow>,
    events: Vec<EventRow>,
    low_stock: Vec<LowStockWatch>,
}

impl WriteRows {
    fn of(w: &StockWrite) -> Result<WriteRows, StoreError> {
        Ok(WriteRows {
            idempotency: w.idempotency.clone(),
            receipt: w.receipt.as_ref().map(ReceiptRefRow::of),
            transition: w
                .request
                .as_ref()
                .map(|(r, entry)| TransitionRows::of(r, entry))
                .transpose()?,
            allocation: w
                .allocation
                .as_ref()
                .map(|(a, expect)| AllocationRow::of(a, *expect))
                .transpose()?,
            shipment: w
                .shipment
                .as_ref()
                .map(|(s, expect)| ShipmentRow::of(s, *expect))
                .transpose()?,
            ledger: w
                .ledger
                .iter()
                .map(LedgerRow::of)
                .collect::<Result<_, _>>()?,
            events: w
                .events
                .iter()
                .map(EventRow::of)
                .collect::<Result<_, _>>()?,
            low_stock: w.low_stock.clone(),
        })
    }

    fn write(&self, tx: &Connection) -> Result<(), DbError> {
        if let Some(idem) = &self.idempotency {
            let written = tx.prepare_cached(INSERT_IDEMPOTENCY)?.execute(params![
                idem.key,
                idem.fingerprint,
                idem.status,
                idem.body,
                time_to_text(&idem.created_at),
            ])?;
            if written == 0 {
                return Err(StoreError::IdempotencyKeyTaken.into());
            }
        }
        if let Some(r) = &self.receipt {
            r.write(tx)?;
        }
        if let Some(t) = &self.transition {
            t.write(tx)?;
        }
        if let Some(a) = &self.allocation {
            a.write(tx)?;
        }
        if let Some(s) = &self.shipment {
            s.write(tx)?;
        }
        for entry in &self.ledger {
            entry.write(tx)?;
        }
        for event in &self.events {
            event.write(tx)?;
        }
        // After the lot changes, in the same transaction: the stock as this write leaves it,
        // with every earlier write counted (the writer turn serialises them).
        for watch in &self.low_stock {
            low_stock_bookkeeping(tx, watch)?;
        }
        Ok(())
    }
}

/// [`LowStockWatch`] on what is committed (the lots, the item's threshold, its mark), as
/// [`LowStockWatch::decide`] says.
fn low_stock_bookkeeping(tx: &Connection, watch: &LowStockWatch) -> Result<(), DbError> {
    let (warehouse, sku) = (watch.warehouse.as_str(), watch.sku.as_str());
    // An item no longer in the catalogue: nothing to judge.
    let Some(item) = one_json::<Item>(tx, GET_ITEM, sku, "item")? else {
        return Ok(());
    };
    let lots = lots_in(tx, warehouse, Some(&[sku.to_string()]))?;
    let marked_for: Option<i64> = tx
        .prepare_cached(GET_LOW_STOCK_MARK)?
        .query_row(params![warehouse, sku], |r| r.get(0))
        .optional()?;
    let marked_for = marked_for
        .map(|t| u64::try_from(t).map_err(|_| corrupt("low-stock mark threshold")))
        .transpose()?;
    match watch.decide(&item, &lots, marked_for) {
        LowStockStep::Nothing => {}
        LowStockStep::Clear => {
            tx.prepare_cached(CLEAR_LOW_STOCK)?
                .execute(params![warehouse, sku])?;
        }
        LowStockStep::Alert { threshold, alert } => {
            let threshold = i64::try_from(threshold).map_err(|_| corrupt("item threshold"))?;
            tx.prepare_cached(MARK_LOW_STOCK)?.execute(params![
                warehouse,
                sku,
                threshold,
                time_to_text(&alert.occurred_at),
                alert.id.as_str(),
            ])?;
            EventRow::of(&alert)?.write(tx)?;
        }
    }
    Ok(())
}

type LotColumns = (String, String, Option<String>, i64, i64);

fn lot_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<LotColumns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn lot_of((lot_id, sku, expires_on, on_hand, allocated): LotColumns) -> Result<Lot, StoreError> {
    Ok(Lot {
        sku: Sku::parse(&sku).map_err(|_| corrupt("lot sku"))?,
        expires_on: expires_on
            .map(|d| date_from_text("lot expiry", &d))
            .transpose()?,
        on_hand: u64::try_from(on_hand).map_err(|_| corrupt("lot on_hand"))?,
        allocated: u64::try_from(allocated).map_err(|_| corrupt("lot allocated"))?,
        lot_id,
    })
}

/// Lots of a warehouse (of the given items, sorted and each once; or all), oldest first.
fn lots_in(
    conn: &Connection,
    warehouse: &str,
    skus: Option<&[String]>,
) -> Result<Vec<Lot>, DbError> {
    let mut rows: Vec<LotColumns> = Vec::new();
    match skus {
        // One index range per item.
        Some(skus) => {
            let mut stmt = conn.prepare_cached(LOTS_OF_ITEM)?;
            for sku in skus {
                for row in stmt.query_map(params![warehouse, sku], lot_columns)? {
                    rows.push(row?);
                }
            }
        }
        None => {
            let mut stmt = conn.prepare_cached(LOTS_OF_WAREHOUSE)?;
            for row in stmt.query_map([warehouse], lot_columns)? {
                rows.push(row?);
            }
        }
    }
    // Oldest first over all items: lot ids are UUIDv7, which sort by time.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(rows
        .into_iter()
        .map(lot_of)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Reads the JSON column of at most one row.
fn one_json<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    key: &str,
    what: &str,
) -> Result<Option<T>, DbError> {
    let json: Option<String> = conn
        .prepare_cached(sql)?
        .query_row([key], |r| r.get(0))
        .optional()?;
    Ok(json.map(|j| from_json::<T>(what, &j)).transpose()?)
}

/// Reads the JSON column of every row.
fn all_json<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
    what: &str,
) -> Result<Vec<T>, DbError> {
    let rows = conn
        .prepare_cached(sql)?
        .query_map(args, |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .iter()
        .map(|j| from_json::<T>(what, j))
        .collect::<Result<Vec<_>, _>>()?)
}

#[async_trait]
impl StockStore for EmbeddedStore {
    async fn items(&self) -> Result<Vec<Item>, StoreError> {
        self.read(|conn| all_json(conn, ALL_ITEMS, &[], "item"))
            .await
    }

    async fn put_item(&self, item: &Item) -> Result<(), StoreError> {
        let sku = item.sku.as_str().to_string();
        let retired = item.retired;
        let json = to_json("item", item)?;
        self.write(move |tx| {
            tx.prepare_cached(PUT_ITEM)?
                .execute(params![sku, retired, json])?;
            Ok(())
        })
        .await
    }

    async fn delete_item(&self, sku: &Sku) -> Result<(), StoreError> {
        let sku = sku.as_str().to_string();
        self.write(move |tx| {
            let used = tx.prepare_cached(PACKAGE_USING)?.exists([&sku])?
                || tx.prepare_cached(LOT_OF_SKU)?.exists([&sku])?;
            if used {
                return Err(StoreError::InUse.into());
            }
            tx.prepare_cached(DELETE_ITEM)?.execute([&sku])?;
            Ok(())
        })
        .await
    }

    async fn packages(&self) -> Result<Vec<Package>, StoreError> {
        self.read(|conn| all_json(conn, ALL_PACKAGES, &[], "package"))
            .await
    }

    async fn package(&self, code: &str) -> Result<Option<Package>, StoreError> {
        let code = code.to_string();
        self.read(move |conn| one_json(conn, GET_PACKAGE, &code, "package"))
            .await
    }

    async fn put_package(&self, package: &Package) -> Result<(), StoreError> {
        let code = package.code.clone();
        let skus: Vec<String> = package
            .lines
            .iter()
            .map(|l| l.sku.as_str().to_string())
            .collect();
        let json = to_json("package", package)?;
        self.write(move |tx| {
            tx.prepare_cached(PUT_PACKAGE)?
                .execute(params![code, json])?;
            tx.prepare_cached(CLEAR_PACKAGE_LINES)?.execute([&code])?;
            let mut add = tx.prepare_cached(ADD_PACKAGE_LINE)?;
            for sku in &skus {
                add.execute(params![code, sku])?;
            }
            Ok(())
        })
        .await
    }

    async fn lots(
        &self,
        warehouse: &WarehouseCode,
        skus: Option<&[Sku]>,
    ) -> Result<Vec<Lot>, StoreError> {
        let warehouse = warehouse.as_str().to_string();
        let skus: Option<Vec<String>> = skus.map(|s| {
            let mut v: Vec<String> = s.iter().map(|k| k.as_str().to_string()).collect();
            v.sort();
            v.dedup();
            v
        });
        // One snapshot for all the items' ranges (see `in_one_snapshot`).
        self.read(move |conn| {
            in_one_snapshot(conn, |conn| lots_in(conn, &warehouse, skus.as_deref()))
        })
        .await
    }

    async fn ledger(
        &self,
        warehouse: &WarehouseCode,
        sku: &Sku,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        // The smallest text: every UUID sorts after it.
        let after = match &cursor {
            Some(c) => LedgerCursor::decode(c, warehouse, sku)?.after,
            None => String::new(),
        };
        let (w, s) = (warehouse.as_str().to_string(), sku.as_str().to_string());
        let rows: Vec<LedgerEntry> = self
            .read(move |conn| {
                all_json(
                    conn,
                    LEDGER_OF_ITEM,
                    &[&w, &s, &after, &(i64::from(limit) + 1)],
                    "ledger entry",
                )
            })
            .await?;
        Ok(LedgerCursor::page(warehouse, sku, limit, rows))
    }

    async fn allocation(&self, request_id: &RequestId) -> Result<Option<Allocation>, StoreError> {
        let id = request_id.as_str().to_string();
        self.read(move |conn| one_json(conn, GET_ALLOCATION, &id, "allocation"))
            .await
    }

    async fn shipment(&self, id: &str) -> Result<Option<Shipment>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| one_json(conn, GET_SHIPMENT, &id, "shipment"))
            .await
    }

    async fn shipments(
        &self,
        status: Option<ShipmentStatus>,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<Shipment>, StoreError> {
        let cursor = cursor
            .as_deref()
            .map(|raw| Cursor::decode(Listing::Shipments, raw))
            .transpose()?;
        let status = status.map(ShipmentStatus::as_str);
        // As for requests: never an empty page, and one more row tells whether more follow.
        let limit = limit.max(1);
        let fetch = i64::from(limit) + 1;
        self.read(move |conn| {
            let sql = shipments_sql(status.is_some(), cursor.is_some());
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut args: Vec<(&str, &dyn ToSql)> = vec![(":limit", &fetch)];
            if let Some(s) = &status {
                args.push((":status", s));
            }
            if let Some(c) = &cursor {
                args.push((":created_at", &c.created_at));
                args.push((":id", &c.id));
            }
            let rows = stmt
                .query_map(args.as_slice(), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() > limit as usize;
            let mut items = Vec::with_capacity(rows.len().min(limit as usize));
            let mut last = None;
            for (created_at, id, json) in rows.into_iter().take(limit as usize) {
                items.push(from_json::<Shipment>("shipment", &json)?);
                last = Some(Cursor {
                    listing: Listing::Shipments,
                    created_at,
                    id,
                });
            }
            let next_cursor = if more { last.map(|c| c.encode()) } else { None };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn apply(&self, write: StockWrite) -> Result<(), StoreError> {
        // Serialised here, before the write turn, to keep the turn short.
        let rows = WriteRows::of(&write)?;
        self.write(move |tx| rows.write(tx)).await
    }
}

/// The allocator's reads (request, allocation, package, lots) in one blocking task,
/// on one connection, in one snapshot: one hop off the async workers instead of five.
#[async_trait]
impl AllocationReads for EmbeddedStore {
    async fn allocation_facts(
        &self,
        id: &RequestId,
        warehouse: &WarehouseCode,
    ) -> Result<AllocationFacts, StoreError> {
        let (id, warehouse) = (id.as_str().to_string(), warehouse.as_str().to_string());
        self.read(move |conn| {
            in_one_snapshot(conn, |conn| {
                let Some(request) = crate::requests::request_by_id(conn, &id)? else {
                    return Ok(AllocationFacts::default());
                };
                let allocation = one_json(conn, GET_ALLOCATION, &id, "allocation")?;
                let package: Option<Package> = match request
                    .decision
                    .as_ref()
                    .and_then(|d| d.package_code.as_deref())
                {
                    Some(code) => one_json(conn, GET_PACKAGE, code, "package")?,
                    None => None,
                };
                let lots = match &package {
                    Some(p) => {
                        let skus: Vec<String> =
                            p.skus().iter().map(|s| s.as_str().to_string()).collect();
                        lots_in(conn, &warehouse, Some(&skus))?
                    }
                    None => Vec::new(),
                };
                Ok(AllocationFacts {
                    request: Some(request),
                    allocation,
                    package,
                    lots,
                })
            })
        })
        .await
    }
}
