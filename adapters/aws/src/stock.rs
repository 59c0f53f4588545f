//! [`StockStore`]: the catalogue, lots, the ledger, allocations and shipments, and
//! [`StockStore::apply`], which turns one [`StockWrite`] into one `TransactWriteItems`.
//!
//! # Lots and the never-below-zero rule
//!
//! A lot is `PK = STOCK#<warehouse>`, `SK = LOT#<sku>#<lot id>` with the numbers `on_hand`,
//! `allocated` and `available` (always `on_hand - allocated`). A condition expression can
//! compare an attribute with a value but cannot compute (`on_hand - allocated >= :q` and
//! `allocated + :q <= on_hand` are both inexpressible), so the difference is kept as an
//! attribute of its own and updated in the same expression. A change of `(Δon_hand,
//! Δallocated)` is
//!
//! ```text
//! ADD on_hand :dh, allocated :da, available :dav        -- dav = dh - da
//! condition: allocated >= -da   (when da < 0)
//!        AND available >= -dav  (when dav < 0)
//!        AND on_hand   >= -dh   (when dh < 0)
//! ```
//!
//! which keeps `on_hand >= allocated >= 0` exactly. A lot that does not exist has no
//! attributes, so any condition fails on it and an `ADD` to it creates it from zero: a
//! receipt or positive adjustment creates its lot, anything else on an unknown lot is
//! refused as insufficient stock, as in the embedded store. Several entries on one lot in one
//! write are merged into one update (a transaction may touch an item once).
//!
//! # Order of the transaction (the first failed condition decides the error)
//!
//! idempotency record → delivery note of a receipt (`RCPT#<warehouse>#<sha256 of the
//! reference key>`, absent → `ReceiptReferenceTaken`) → request transition (version, history,
//! guards, deliveries) → allocation (absent / status as read → `StateConflict`) → shipment
//! (same) → lots (`InsufficientStock`) → ledger entries → item-used markers → events.
//!
//! # Size
//!
//! `TransactWriteItems` holds at most 100 items. A write needs one item per idempotency
//! record, delivery note, request (+1 history entry, +2 guard deletions and +2 delivery
//! records when it leaves the active states / is delivered), allocation, shipment, distinct
//! lot, ledger entry, item received (marker) and event. The domain keeps every stock write far below the limit
//! with two rules, the same on both backends: at most `shared::stock::MAX_LINES` (25) lines
//! per receipt or package, and at most `shared::stock::MAX_LOTS_PER_WRITE` (25) lots per
//! write. The worst cases (the table with the arithmetic is in `shared::stock::MAX_LINES`):
//! a receipt 3 × 25 + 3 = 78 items, an allocation or a dispatch 5 + 2 × 25 = 55, a release 52,
//! an adjustment 51, a handover 8.
//!
//! *Allocations spanning many lots*: the planner stops at 25 lots; an approval whose
//! earliest-expiry plan needs more is waitlisted with the reason (the stock is there but
//! spread over too many small lots), never sent as a transaction that cannot fit, so the
//! queue message succeeds and nothing is retried in vain. The request is served when other
//! allocations have used the small early lots, or after the warehouse consolidated them
//! (adjustments write the fragments off, at most 25 lots each, and a receipt brings the same
//! quantity back as one lot).
//!
//! # Low-stock alerts
//!
//! A write's [`shared::fulfilment_ports::LowStockWatch`]es are done after its transaction
//! commits, each item on its own and all at once: its lots (a strongly consistent `Query`),
//! its mark (`PK = STOCK#<warehouse>`, `SK = LOW#<sku>`, with the threshold it was set for)
//! and the item itself (its threshold as committed) read at once; low and not marked for
//! this threshold, the mark (`attribute_not_exists(PK) OR threshold <> :t`) and the
//! `StockLow` event are one transaction, so of the writers that find the item low only one
//! alerts; not low, a mark is deleted (`LowStockWatch::decide` is the rule). The last writer
//! of a fall reads the stock after every write before it committed, so a fall is never
//! missed (which a check against the stock the writer read before could not promise). A
//! failure here is logged, never returned: the stock write has committed, and a retry of it
//! would apply it twice.
//!
//! Should a write still need more than 100 items (a bug, or an allocation written before these
//! limits), it is refused before anything is sent with `StoreError::TooLarge`, which the use
//! cases answer 422 `WRITE_TOO_LARGE` ("split it"), not 503 ("try again"); the waitlist sweep
//! logs and skips such a request instead of failing its event.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::NaiveDate;
use shared::RequestId;
use shared::fulfilment_ports::{
    Allocation, AllocationReads, AllocationStatus, Expect, LedgerCursor, LedgerEntry, LowStockStep,
    LowStockWatch, ReceiptRef, Shipment, ShipmentStatus, StockStore, StockWrite,
};
use shared::ports::{Page, StoreError};
use shared::stock::{Item as CatalogItem, Lot, Package, Sku, WarehouseCode};

use crate::codec::{CursorShape, DATA, Item, data, get_n, get_s, item, key, n, opt_s, s, to_json};
use crate::keys::{
    self, ALL_SHIPMENTS, ALLOCATION_SK, CATALOG_PK, CATALOG_VERSION_SK, ITEM_PREFIX,
    PACKAGE_PREFIX, RECEIPT_REF_SK, SHIPMENT_SK, USED_PREFIX, time_id, time_text,
};
use crate::outbox::outbox_action;
use crate::requests::newest_first_page;
use crate::store::{DynamoStore, Query, SortRange, sdk_error};
use crate::table::Index;
use crate::tx::{Action, Failure, Why, back_off};

/// Rounds of `delete_item` while packages keep changing under it.
const CATALOG_RETRIES: u32 = 20;

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("stored {what} is invalid"))
}

fn lot_of(i: &Item) -> Result<Lot, StoreError> {
    let what = "lot";
    Ok(Lot {
        lot_id: get_s(i, "lot_id", what)?.to_string(),
        sku: Sku::parse(get_s(i, "sku", what)?).map_err(|_| corrupt("lot sku"))?,
        expires_on: opt_s(i, "expires_on")
            .map(|d| d.parse::<NaiveDate>().map_err(|_| corrupt("lot expiry")))
            .transpose()?,
        on_hand: get_n(i, "on_hand", what)?,
        allocated: get_n(i, "allocated", what)?,
    })
}

/// The guard of a receipt's delivery note: `RCPT#<warehouse>#<sha256(reference key)>`, put
/// only if absent (it never expires), else `ReceiptReferenceTaken` with the first receipt's
/// item.
fn receipt_ref_action(r: &ReceiptRef) -> Action {
    let reference_key = r.key();
    let mut i = item(
        keys::receipt_ref_pk(r.warehouse.as_str(), &reference_key),
        RECEIPT_REF_SK,
        "receipt_ref",
    );
    i.insert("warehouse".into(), s(r.warehouse.as_str()));
    i.insert("reference".into(), s(&r.reference));
    i.insert("reference_key".into(), s(reference_key));
    i.insert("received_at".into(), s(time_text(&r.received_at)));
    Action::put(i)
        .when("attribute_not_exists(PK)")
        .want_old()
        .or_fail(Why::ReceiptReference)
}

/// The changes of one write to one lot, merged.
struct LotChange {
    warehouse: String,
    sku: String,
    lot_id: String,
    expires_on: Option<NaiveDate>,
    delta_on_hand: i64,
    delta_allocated: i64,
}

impl LotChange {
    fn action(&self) -> Result<Action, StoreError> {
        let (dh, da) = (self.delta_on_hand, self.delta_allocated);
        let dav = dh.checked_sub(da).ok_or_else(out_of_range)?;
        let mut set = "SET #e = :entity, #lot = :lot, #sku = :sku, #wh = :wh".to_string();
        if self.expires_on.is_some() {
            set.push_str(", #exp = if_not_exists(#exp, :exp)");
        }
        let mut action = Action::update(
            key(
                keys::stock_pk(&self.warehouse),
                keys::lot_sk(&self.sku, &self.lot_id),
            ),
            format!("{set} ADD #oh :dh, #al :da, #av :dav"),
        )
        .name("#e", crate::codec::ENTITY)
        .name("#lot", "lot_id")
        .name("#sku", "sku")
        .name("#wh", "warehouse")
        .name("#oh", "on_hand")
        .name("#al", "allocated")
        .name("#av", "available")
        .value(":entity", s("lot"))
        .value(":lot", s(&self.lot_id))
        .value(":sku", s(&self.sku))
        .value(":wh", s(&self.warehouse))
        .value(":dh", n(dh))
        .value(":da", n(da))
        .value(":dav", n(dav))
        .or_fail(Why::Stock);
        if let Some(d) = self.expires_on {
            action = action
                .name("#exp", "expires_on")
                .value(":exp", s(d.format("%Y-%m-%d").to_string()));
        }
        let mut conditions = Vec::new();
        for (delta, attr, placeholder) in [
            (da, "#al", ":need_al"),
            (dav, "#av", ":need_av"),
            (dh, "#oh", ":need_oh"),
        ] {
            if delta < 0 {
                conditions.push(format!("{attr} >= {placeholder}"));
                action = action.value(placeholder, n(delta.unsigned_abs()));
            }
        }
        if !conditions.is_empty() {
            action = action.when(conditions.join(" AND "));
        }
        Ok(action)
    }
}

fn out_of_range() -> StoreError {
    StoreError::Unavailable("the lot changes of one write add up beyond 64 bits".into())
}

/// Merges the lot changes of `ledger` by lot, in order of first appearance (checked: sound
/// entries never come near the limit, anything else is refused, never wrapped).
fn lot_changes(ledger: &[LedgerEntry]) -> Result<Vec<LotChange>, StoreError> {
    let mut out: Vec<LotChange> = Vec::new();
    for e in ledger {
        let (wh, sku) = (e.warehouse.as_str(), e.sku.as_str());
        match out
            .iter_mut()
            .find(|c| c.lot_id == e.lot_id && c.sku == sku && c.warehouse == wh)
        {
            Some(c) => {
                c.delta_on_hand = c
                    .delta_on_hand
                    .checked_add(e.delta_on_hand)
                    .ok_or_else(out_of_range)?;
                c.delta_allocated = c
                    .delta_allocated
                    .checked_add(e.delta_allocated)
                    .ok_or_else(out_of_range)?;
                c.expires_on = c.expires_on.or(e.expires_on);
            }
            None => out.push(LotChange {
                warehouse: wh.to_string(),
                sku: sku.to_string(),
                lot_id: e.lot_id.clone(),
                expires_on: e.expires_on,
                delta_on_hand: e.delta_on_hand,
                delta_allocated: e.delta_allocated,
            }),
        }
    }
    Ok(out)
}

fn expect_condition(action: Action, expected: Option<&'static str>) -> Action {
    match expected {
        None => action.when("attribute_not_exists(PK)"),
        Some(status) => action
            .when("#st = :expected")
            .name("#st", "status")
            .value(":expected", s(status)),
    }
    .or_fail(Why::State)
}

impl DynamoStore {
    fn allocation_action(
        &self,
        a: &Allocation,
        expect: Expect<AllocationStatus>,
    ) -> Result<Action, StoreError> {
        let mut i = item(keys::request_pk(&a.request_id), ALLOCATION_SK, "allocation");
        i.insert("status".into(), s(a.status.as_str()));
        i.insert(DATA.into(), s(to_json("allocation", a)?));
        let expected = match expect {
            Expect::Absent => None,
            Expect::Status(st) => Some(st.as_str()),
        };
        Ok(expect_condition(Action::put(i), expected))
    }

    fn shipment_action(
        &self,
        sh: &Shipment,
        expect: Expect<ShipmentStatus>,
    ) -> Result<Action, StoreError> {
        let mut i = item(keys::shipment_pk(&sh.id), SHIPMENT_SK, "shipment");
        let sort = time_id(&sh.created_at, &sh.id);
        i.insert("status".into(), s(sh.status.as_str()));
        i.insert("created_at".into(), s(time_text(&sh.created_at)));
        i.insert("request_id".into(), s(sh.request_id.as_str()));
        i.insert(DATA.into(), s(to_json("shipment", sh)?));
        i.insert(
            Index::Status.pk().into(),
            s(keys::shipments_by_status(sh.status.as_str())),
        );
        i.insert(Index::Status.sk().into(), s(sort.clone()));
        i.insert(Index::Created.pk().into(), s(ALL_SHIPMENTS));
        i.insert(Index::Created.sk().into(), s(sort));
        let expected = match expect {
            Expect::Absent => None,
            Expect::Status(st) => Some(st.as_str()),
        };
        Ok(expect_condition(Action::put(i), expected))
    }

    /// Every action of `write`, in the order of precedence of their refusals.
    fn stock_actions(&self, write: &StockWrite) -> Result<Vec<Action>, StoreError> {
        for e in &write.ledger {
            // The ledger is the stock's history: an entry whose deltas contradict its
            // movement would make it lie, and one beyond the bound of a movement could make
            // a lot larger than the u64 it is read back into, so either is refused as the
            // caller's bug.
            if !e.is_sound() {
                return Err(StoreError::Unavailable(format!(
                    "ledger entry {} moves more than {} units or has deltas that do not \
                     follow from its movement",
                    e.id,
                    shared::stock::MAX_MOVEMENT
                )));
            }
        }
        let mut actions = Vec::new();
        if let Some(idem) = &write.idempotency {
            actions.push(self.idempotency_action(idem)?);
        }
        if let Some(r) = &write.receipt {
            actions.push(receipt_ref_action(r));
        }
        if let Some((request, entry)) = &write.request {
            actions.extend(self.transition_actions(request, entry)?);
        }
        if let Some((a, expect)) = &write.allocation {
            actions.push(self.allocation_action(a, *expect)?);
        }
        if let Some((sh, expect)) = &write.shipment {
            actions.push(self.shipment_action(sh, *expect)?);
        }
        for change in lot_changes(&write.ledger)? {
            actions.push(change.action()?);
        }
        let mut received = BTreeSet::new();
        for e in &write.ledger {
            let mut i = item(
                keys::ledger_pk(e.warehouse.as_str(), e.sku.as_str()),
                &e.id,
                "ledger",
            );
            i.insert(DATA.into(), s(to_json("ledger entry", e)?));
            actions.push(
                Action::put(i)
                    .when("attribute_not_exists(PK)")
                    .or_fail(Why::Consistency("a ledger entry with this id exists")),
            );
            if e.delta_on_hand > 0 {
                received.insert(e.sku.as_str());
            }
        }
        // Stock of an item came in: from now on the item is in use (see `delete_item`).
        // Every lot starts with such an entry; nothing else can create one.
        for sku in received {
            actions.push(Action::put(item(
                CATALOG_PK,
                format!("{USED_PREFIX}{sku}"),
                "item_used",
            )));
        }
        for event in &write.events {
            actions.push(outbox_action(self, event)?);
        }
        Ok(actions)
    }

    /// One [`LowStockWatch`] after its write committed (see the module documentation).
    /// Failures are logged: the write they follow stands.
    async fn low_stock_bookkeeping(&self, watch: &LowStockWatch) {
        if let Err(e) = self.try_low_stock_bookkeeping(watch).await {
            tracing::error!(
                warehouse = watch.warehouse.as_str(),
                sku = watch.sku.as_str(),
                error = %e,
                "low-stock check after a stock write failed; this change sends no alert"
            );
        }
    }

    async fn try_low_stock_bookkeeping(&self, watch: &LowStockWatch) -> Result<(), StoreError> {
        let pk = keys::stock_pk(watch.warehouse.as_str());
        let sk = keys::low_stock_sk(watch.sku.as_str());
        let item_sk = format!("{ITEM_PREFIX}{}", watch.sku.as_str());
        let (lots, mark, catalogued) = tokio::join!(
            self.lots(&watch.warehouse, Some(std::slice::from_ref(&watch.sku))),
            self.get_item(&pk, &sk),
            self.get_item(CATALOG_PK, &item_sk)
        );
        // An item no longer in the catalogue: nothing to judge.
        let Some(it) = catalogued?
            .map(|i| data::<CatalogItem>(&i, "item"))
            .transpose()?
        else {
            return Ok(());
        };
        let marked_for = mark?
            .map(|m| get_n::<u64>(&m, "threshold", "low-stock mark threshold"))
            .transpose()?;
        let (threshold, alert) = match watch.decide(&it, &lots?, marked_for) {
            LowStockStep::Nothing => return Ok(()),
            LowStockStep::Clear => {
                return self
                    .commit(vec![Action::delete(key(&pk, &sk))])
                    .await
                    .map_err(Failure::into_store_error);
            }
            LowStockStep::Alert { threshold, alert } => (threshold, alert),
        };
        let mut mark = item(&pk, &sk, "low_stock_mark");
        mark.insert("threshold".into(), n(threshold));
        mark.insert("alerted_at".into(), s(time_text(&alert.occurred_at)));
        mark.insert("event_id".into(), s(alert.id.as_str().to_string()));
        let actions = vec![
            // New, or one for another threshold: of the writers that find the item low for
            // this threshold, one marks it and alerts.
            Action::put(mark)
                .when("attribute_not_exists(PK) OR #t <> :t")
                .name("#t", "threshold")
                .value(":t", n(threshold))
                .or_fail(Why::State),
            outbox_action(self, &alert)?,
        ];
        match self.commit(actions).await {
            // Another writer found the item low a moment ago and alerted: one alert per fall.
            Ok(())
            | Err(Failure::Condition {
                why: Why::State, ..
            }) => Ok(()),
            Err(e) => Err(e.into_store_error()),
        }
    }

    async fn catalog<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.query(Query::table(CATALOG_PK).prefix(prefix), usize::MAX)
            .await?
            .iter()
            .map(|i| data(i, what))
            .collect()
    }

    fn catalog_version_check(version: Option<u64>) -> Action {
        let k = key(CATALOG_PK, CATALOG_VERSION_SK);
        match version {
            None => Action::check(k, "attribute_not_exists(PK)"),
            Some(v) => Action::check(k, "#v = :v")
                .name("#v", "version")
                .value(":v", n(v)),
        }
        .or_fail(Why::Moved)
    }
}

#[async_trait]
impl StockStore for DynamoStore {
    async fn items(&self) -> Result<Vec<CatalogItem>, StoreError> {
        self.catalog(ITEM_PREFIX, "item").await
    }

    async fn put_item(&self, it: &CatalogItem) -> Result<(), StoreError> {
        let mut i = item(
            CATALOG_PK,
            format!("{ITEM_PREFIX}{}", it.sku.as_str()),
            "item",
        );
        i.insert(DATA.into(), s(to_json("item", it)?));
        self.inner
            .client
            .put_item()
            .table_name(&self.inner.table)
            .set_item(Some(i))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Refused when a package lists the item or stock of it was ever received (its
    /// `USED#<sku>` marker). The catalogue version read with the packages is checked in the
    /// same transaction, so a package written meanwhile makes it read again.
    async fn delete_item(&self, sku: &Sku) -> Result<(), StoreError> {
        for attempt in 0..CATALOG_RETRIES {
            let version = match self.get_item(CATALOG_PK, CATALOG_VERSION_SK).await? {
                Some(i) => Some(get_n::<u64>(&i, "version", "catalogue version")?),
                None => None,
            };
            let packages: Vec<Package> = self.catalog(PACKAGE_PREFIX, "package").await?;
            if packages
                .iter()
                .any(|p| p.lines.iter().any(|l| &l.sku == sku))
            {
                return Err(StoreError::InUse);
            }
            let actions = vec![
                Action::check(
                    key(CATALOG_PK, format!("{USED_PREFIX}{}", sku.as_str())),
                    "attribute_not_exists(PK)",
                )
                .or_fail(Why::InUse),
                Self::catalog_version_check(version),
                Action::delete(key(CATALOG_PK, format!("{ITEM_PREFIX}{}", sku.as_str()))),
            ];
            match self.commit(actions).await {
                Ok(()) => return Ok(()),
                Err(Failure::Condition {
                    why: Why::Moved, ..
                }) => back_off(attempt.min(4)).await,
                Err(f) => return Err(f.into_store_error()),
            }
        }
        Err(StoreError::Unavailable(
            "the packages kept changing while the item was deleted".into(),
        ))
    }

    async fn packages(&self) -> Result<Vec<Package>, StoreError> {
        self.catalog(PACKAGE_PREFIX, "package").await
    }

    async fn package(&self, code: &str) -> Result<Option<Package>, StoreError> {
        self.get_item(CATALOG_PK, &format!("{PACKAGE_PREFIX}{code}"))
            .await?
            .map(|i| data(&i, "package"))
            .transpose()
    }

    async fn put_package(&self, package: &Package) -> Result<(), StoreError> {
        let mut i = item(
            CATALOG_PK,
            format!("{PACKAGE_PREFIX}{}", package.code),
            "package",
        );
        i.insert(DATA.into(), s(to_json("package", package)?));
        let actions = vec![
            Action::put(i),
            Action::update(
                key(CATALOG_PK, CATALOG_VERSION_SK),
                "SET #e = :entity ADD #v :one",
            )
            .name("#e", crate::codec::ENTITY)
            .name("#v", "version")
            .value(":entity", s("catalog_version"))
            .value(":one", n(1)),
        ];
        self.commit(actions)
            .await
            .map_err(Failure::into_store_error)
    }

    async fn lots(
        &self,
        warehouse: &WarehouseCode,
        skus: Option<&[Sku]>,
    ) -> Result<Vec<Lot>, StoreError> {
        let pk = keys::stock_pk(warehouse.as_str());
        let mut items = Vec::new();
        match skus {
            Some(skus) => {
                let distinct: BTreeSet<&str> = skus.iter().map(Sku::as_str).collect();
                for sku in distinct {
                    items.extend(
                        self.query(
                            Query::table(pk.clone()).prefix(keys::lot_prefix(sku)),
                            usize::MAX,
                        )
                        .await?,
                    );
                }
            }
            None => {
                items = self
                    .query(Query::table(pk).prefix("LOT#"), usize::MAX)
                    .await?;
            }
        }
        let mut lots = items.iter().map(lot_of).collect::<Result<Vec<_>, _>>()?;
        // Oldest first over all items: lot ids are UUIDv7, which sort by time.
        lots.sort_by(|a, b| a.lot_id.cmp(&b.lot_id));
        Ok(lots)
    }

    async fn ledger(
        &self,
        warehouse: &WarehouseCode,
        sku: &Sku,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<LedgerEntry>, StoreError> {
        let mut q = Query::table(keys::ledger_pk(warehouse.as_str(), sku.as_str()));
        if let Some(c) = &cursor {
            q = q.after(LedgerCursor::decode(c, warehouse, sku)?.after);
        }
        let rows: Vec<LedgerEntry> = self
            .query(q, limit as usize + 1)
            .await?
            .iter()
            .map(|i| data(i, "ledger entry"))
            .collect::<Result<_, _>>()?;
        Ok(LedgerCursor::page(warehouse, sku, limit, rows))
    }

    async fn allocation(&self, request_id: &RequestId) -> Result<Option<Allocation>, StoreError> {
        self.get_item(&keys::request_pk(request_id), ALLOCATION_SK)
            .await?
            .map(|i| data(&i, "allocation"))
            .transpose()
    }

    async fn shipment(&self, id: &str) -> Result<Option<Shipment>, StoreError> {
        self.get_item(&keys::shipment_pk(id), SHIPMENT_SK)
            .await?
            .map(|i| data(&i, "shipment"))
            .transpose()
    }

    async fn shipments(
        &self,
        status: Option<ShipmentStatus>,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<Shipment>, StoreError> {
        let (index, partition) = match status {
            Some(st) => (Index::Status, keys::shipments_by_status(st.as_str())),
            None => (Index::Created, ALL_SHIPMENTS.to_string()),
        };
        let shape = CursorShape {
            index,
            partition: &partition,
            pk_prefix: "SHIP#",
            sk: SHIPMENT_SK,
            valid_id: |id| !id.is_empty() && id.len() <= 200 && !id.contains('#'),
        };
        let (items, next_cursor) =
            newest_first_page(self, &shape, SortRange::All, limit, cursor.as_deref()).await?;
        Ok(Page {
            items: items
                .iter()
                .map(|i| data(i, "shipment"))
                .collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    async fn apply(&self, write: StockWrite) -> Result<(), StoreError> {
        let actions = self.stock_actions(&write)?;
        match self.commit(actions).await {
            Ok(()) => {
                // Committed: the low-stock bookkeeping reads what this write left.
                // The items at once: an allocation watches every item of its package.
                futures_util::future::join_all(
                    write
                        .low_stock
                        .iter()
                        .map(|w| self.low_stock_bookkeeping(w)),
                )
                .await;
                Ok(())
            }
            Err(Failure::Condition {
                why: Why::ReceiptReference,
                old,
            }) => {
                let r = write
                    .receipt
                    .as_ref()
                    .expect("only receipts carry the guard");
                // The first receipt's time: from the refused item when DynamoDB returned it,
                // else read (best effort: the refusal stands either way).
                let old = match old {
                    Some(old) => Some(old),
                    None => self
                        .get_item(
                            &keys::receipt_ref_pk(r.warehouse.as_str(), &r.key()),
                            RECEIPT_REF_SK,
                        )
                        .await
                        .ok()
                        .flatten(),
                };
                let received_at = old
                    .as_ref()
                    .and_then(|i| opt_s(i, "received_at"))
                    .and_then(|t| keys::time_from_text("receipt time", t).ok());
                Err(StoreError::ReceiptReferenceTaken { received_at })
            }
            Err(e) => Err(e.into_store_error()),
        }
    }
}

/// The allocator's reads: the port's default (three round trips: request, allocation and
/// catalogue at once, then the package, then its lots), the same requests as the separate
/// calls, so no other IAM action.
impl AllocationReads for DynamoStore {}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use shared::request::ActorRef;
    use shared::stock::Movement;

    fn entry(lot: &str, movement: Movement, q: i64) -> LedgerEntry {
        LedgerEntry::new(
            uuid::Uuid::now_v7().to_string(),
            Utc::now(),
            &WarehouseCode::default_warehouse(),
            lot,
            &Sku::parse("BERAS").unwrap(),
            None,
            movement,
            q,
            &ActorRef::system(),
            "test",
            "ref",
        )
    }

    #[test]
    fn entries_on_one_lot_merge_into_one_change() {
        let changes = lot_changes(&[
            entry("a", Movement::Receipt, 10),
            entry("b", Movement::Allocation, 3),
            entry("a", Movement::Allocation, 4),
            entry("a", Movement::Dispatch, 4),
        ])
        .unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(
            (
                changes[0].lot_id.as_str(),
                changes[0].delta_on_hand,
                changes[0].delta_allocated
            ),
            ("a", 6, 0)
        );
        assert_eq!(
            (changes[1].delta_on_hand, changes[1].delta_allocated),
            (0, 3)
        );
    }

    #[test]
    fn lot_changes_that_add_up_beyond_64_bits_are_refused_not_wrapped() {
        let big = entry("a", Movement::Receipt, i64::MAX);
        assert!(matches!(
            lot_changes(&[big.clone(), big]),
            Err(StoreError::Unavailable(_))
        ));
    }
}
