//! The conformance cases of the fulfilment ports: the catalogue, stock writes
//! ([`StockWrite`] applied all or nothing under its conditions), the ledger, shipments, and
//! the staff directory (the notification log's are in [`crate::notifications`]). Like the request cases, each takes [`Ports`] over
//! a fresh, empty store and checks the "nothing else was written" side of every refusal.
//!
//! One invariant is checked after every case that moves stock: each lot's `on_hand` is the sum
//! of its ledger entries' `delta_on_hand` and its `allocated` the sum of their
//! `delta_allocated` (see [`assert_ledger_adds_up`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::Duration;
use shared::Status;
use shared::events::{Event, EventKind};
use shared::fulfilment_ports::{
    Allocation, AllocationFacts, AllocationStatus, Expect, LedgerEntry, LowStockWatch, Shipment,
    ShipmentStatus, StockWrite,
};
use shared::ports::StoreError;
use shared::request::AidRequest;
use shared::stock::{Item, Lot, MAX_MOVEMENT, Movement, Sku, WarehouseCode};
use shared::{Action, EventId, Phone, RequestId};

use crate::cases::{all_events, event_ids, insert, must};
use crate::fixtures::{
    KELURAHAN_A, actor_for, adjustment, advance, allocation_write, approved, at, date,
    dispatch_write, handover_write, idempotency, item, kk, ledger_entry, nik, other_warehouse,
    package, receipt, receipt_of, release_write, shipment, sku, stock_low, submission, take,
    transition, uuid, warehouse,
};
use crate::{Contact, Ports};

async fn apply(p: &Ports, what: &str, write: StockWrite) {
    must(what, p.stock.apply(write).await);
}

async fn lots(p: &Ports, w: &WarehouseCode, items: Option<&[&str]>) -> Vec<Lot> {
    let skus: Option<Vec<Sku>> = items.map(|i| i.iter().map(|s| sku(s)).collect());
    must("lots", p.stock.lots(w, skus.as_deref()).await)
}

/// The lot `lot_id` of the fixture warehouse; panics when there is none.
async fn lot(p: &Ports, lot_id: &str) -> Lot {
    lots(p, &warehouse(), None)
        .await
        .into_iter()
        .find(|l| l.lot_id == lot_id)
        .unwrap_or_else(|| panic!("lot {lot_id} must exist"))
}

/// The whole ledger of `item`, read 7 entries a page (so that the cases that move stock page
/// it too).
async fn ledger(p: &Ports, w: &WarehouseCode, item: &str) -> Vec<LedgerEntry> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = must("ledger", p.stock.ledger(w, &sku(item), 7, cursor).await);
        assert!(
            page.items.len() <= 7,
            "a page holds at most `limit` entries"
        );
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
}

/// Every lot of `items` in `w` holds exactly what its ledger entries add up to, and every
/// ledger entry's lot exists.
pub async fn assert_ledger_adds_up(p: &Ports, w: &WarehouseCode, items: &[&str]) {
    for item in items {
        let mut sums: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for e in ledger(p, w, item).await {
            assert_eq!(e.sku.as_str(), *item, "ledger({item}) lists only {item}");
            assert_eq!(&e.warehouse, w, "ledger lists only its warehouse");
            let s = sums.entry(e.lot_id.clone()).or_default();
            s.0 += e.delta_on_hand;
            s.1 += e.delta_allocated;
        }
        let stored = lots(p, w, Some(&[item])).await;
        let stored_ids: Vec<&str> = stored.iter().map(|l| l.lot_id.as_str()).collect();
        assert_eq!(
            stored_ids,
            sums.keys().map(String::as_str).collect::<Vec<_>>(),
            "the lots of {item} are exactly the lots its ledger entries name"
        );
        for l in &stored {
            let (on_hand, allocated) = sums[&l.lot_id];
            assert_eq!(
                (l.on_hand as i64, l.allocated as i64),
                (on_hand, allocated),
                "lot {} of {item}: on_hand and allocated must equal the sums of its ledger deltas",
                l.lot_id
            );
            assert!(
                l.allocated <= l.on_hand,
                "lot {}: allocated above on hand",
                l.lot_id
            );
        }
    }
}

/// Everything a stock write can touch, to check that a refused one wrote nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    lots: Vec<Lot>,
    ledger: Vec<Vec<LedgerEntry>>,
    events: Vec<EventId>,
}

async fn snapshot(p: &Ports, items: &[&str]) -> Snapshot {
    let mut ledgers = Vec::new();
    for item in items {
        ledgers.push(ledger(p, &warehouse(), item).await);
    }
    Snapshot {
        lots: lots(p, &warehouse(), None).await,
        ledger: ledgers,
        events: event_ids(p).await,
    }
}

fn sorted_by<T: Clone, K: Ord>(v: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort_by_key(|x| key(x));
    v
}

// ---------------------------------------------------------------------------------------------

/// Items and packages read back exactly as put; a put replaces.
pub async fn catalogue_items_and_packages(p: &Ports) {
    assert!(must("items", p.stock.items().await).is_empty());
    assert!(must("packages", p.stock.packages().await).is_empty());

    let mut items = vec![
        item("MINYAK-GORENG", 20),
        item("BERAS", 100),
        item("BISKUIT", 10),
    ];
    for i in &items {
        must("put_item", p.stock.put_item(i).await);
    }
    let by_sku = |v: &[shared::stock::Item]| sorted_by(v, |i| i.sku.clone());
    assert_eq!(
        by_sku(&must("items", p.stock.items().await)),
        by_sku(&items),
        "every item, exactly as put"
    );
    items[1].retired = true;
    items[1].low_threshold = 5;
    must("put_item", p.stock.put_item(&items[1]).await);
    assert_eq!(
        by_sku(&must("items", p.stock.items().await)),
        by_sku(&items),
        "a put replaces the item"
    );

    let a = package(
        "PAKET-SEMBAKO",
        &[("BERAS", 10), ("MINYAK-GORENG", 2)],
        at(0),
    );
    let b = package("PAKET-ANAK", &[("BISKUIT", 3)], at(1));
    must("put_package", p.stock.put_package(&a).await);
    must("put_package", p.stock.put_package(&b).await);
    assert_eq!(
        must("package", p.stock.package("PAKET-SEMBAKO").await),
        Some(a.clone())
    );
    assert_eq!(must("package", p.stock.package("PAKET-LAIN").await), None);
    let a2 = package("PAKET-SEMBAKO", &[("BERAS", 5)], at(2));
    must("put_package", p.stock.put_package(&a2).await);
    assert_eq!(
        must("package", p.stock.package("PAKET-SEMBAKO").await),
        Some(a2.clone()),
        "a put replaces the package, lines and all"
    );
    assert_eq!(
        sorted_by(&must("packages", p.stock.packages().await), |x| x
            .code
            .clone()),
        vec![b, a2],
        "every package"
    );
}

async fn item_skus(p: &Ports) -> Vec<String> {
    let mut v: Vec<String> = must("items", p.stock.items().await)
        .into_iter()
        .map(|i| i.sku.as_str().to_string())
        .collect();
    v.sort();
    v
}

/// An item used by a package or by any ledger entry cannot be deleted (`InUse`, nothing
/// changes); an unused one can.
pub async fn delete_item_refused_while_in_use(p: &Ports) {
    for code in ["BERAS", "MINYAK-GORENG", "BISKUIT", "KECAP-MANIS"] {
        must("put_item", p.stock.put_item(&item(code, 1)).await);
    }
    let pkg = package("PAKET-SEMBAKO", &[("BERAS", 10), ("KECAP-MANIS", 1)], at(0));
    must("put_package", p.stock.put_package(&pkg).await);
    let (write, lot_ids) = receipt(&warehouse(), &[("MINYAK-GORENG", 5, None)], at(1));
    apply(p, "receipt", write).await;
    // Stock that came and went still leaves its ledger entries behind.
    apply(
        p,
        "write-off",
        adjustment(&warehouse(), &lot_ids[0], "MINYAK-GORENG", -5, at(2)),
    )
    .await;

    for (code, why) in [
        ("BERAS", "a package uses it"),
        ("KECAP-MANIS", "a package uses it"),
        ("MINYAK-GORENG", "the ledger has entries for it"),
    ] {
        assert_eq!(
            p.stock.delete_item(&sku(code)).await,
            Err(StoreError::InUse),
            "{code}: {why}"
        );
    }
    assert_eq!(
        item_skus(p).await,
        vec!["BERAS", "BISKUIT", "KECAP-MANIS", "MINYAK-GORENG"],
        "a refused delete changes nothing"
    );
    must("delete_item", p.stock.delete_item(&sku("BISKUIT")).await);
    assert_eq!(
        item_skus(p).await,
        vec!["BERAS", "KECAP-MANIS", "MINYAK-GORENG"],
        "an unused item is deleted"
    );
    must(
        "deleting an item that is not there changes nothing",
        p.stock.delete_item(&sku("BISKUIT")).await,
    );

    // Once no package uses it any more, it can go.
    let pkg = package("PAKET-SEMBAKO", &[("BERAS", 10)], at(3));
    must("put_package", p.stock.put_package(&pkg).await);
    must(
        "delete_item after the package dropped it",
        p.stock.delete_item(&sku("KECAP-MANIS")).await,
    );
    assert_eq!(
        p.stock.delete_item(&sku("BERAS")).await,
        Err(StoreError::InUse),
        "the replaced package still uses BERAS"
    );
    assert_eq!(item_skus(p).await, vec!["BERAS", "MINYAK-GORENG"]);
}

/// A receipt creates one lot per line with the entry's warehouse, item and expiry, writes the
/// ledger entries exactly, and its event goes to the outbox without a request.
pub async fn receipt_creates_lots_and_ledger(p: &Ports) {
    let w = warehouse();
    let exp_a = date("2027-01-31");
    let exp_b = date("2026-12-31");
    let (write, ids) = receipt(
        &w,
        &[
            ("BERAS", 100, Some(exp_a)),
            ("MINYAK-GORENG", 20, None),
            ("BERAS", 50, Some(exp_b)),
        ],
        at(0),
    );
    let entries = write.ledger.clone();
    let event = write.events[0].clone();
    apply(p, "receipt", write).await;

    let expected = |lot_id: &str, item: &str, exp, q| Lot {
        lot_id: lot_id.to_string(),
        sku: sku(item),
        expires_on: exp,
        on_hand: q,
        allocated: 0,
    };
    assert_eq!(
        lots(p, &w, None).await,
        sorted_by(
            &[
                expected(&ids[0], "BERAS", Some(exp_a), 100),
                expected(&ids[1], "MINYAK-GORENG", None, 20),
                expected(&ids[2], "BERAS", Some(exp_b), 50),
            ],
            |l| l.lot_id.clone()
        ),
        "one lot per receipt line, oldest first"
    );
    assert_eq!(
        ledger(p, &w, "BERAS").await,
        sorted_by(&[entries[0].clone(), entries[2].clone()], |e| e.id.clone()),
        "the item's ledger entries, exactly as written, oldest first"
    );
    assert_eq!(
        ledger(p, &w, "MINYAK-GORENG").await,
        vec![entries[1].clone()]
    );
    assert!(ledger(p, &w, "BISKUIT").await.is_empty());
    assert!(
        ledger(p, &other_warehouse(), "BERAS").await.is_empty(),
        "another warehouse has its own ledger"
    );
    assert!(lots(p, &other_warehouse(), None).await.is_empty());

    let events = all_events(p).await;
    assert_eq!(events.len(), 1, "the receipt's one event");
    assert_eq!(events[0].event, event, "exactly as written");
    assert_eq!(
        events[0].event.request, None,
        "a stock event has no request"
    );

    // A second delivery of the same item makes new lots; the old ones are untouched.
    let (write, more) = receipt(&w, &[("BERAS", 30, None)], at(10));
    apply(p, "second receipt", write).await;
    assert_eq!(lot(p, &ids[0]).await.on_hand, 100);
    assert_eq!(lot(p, &more[0]).await.on_hand, 30);
    assert_eq!(ledger(p, &w, "BERAS").await.len(), 3);
    assert_ledger_adds_up(p, &w, &["BERAS", "MINYAK-GORENG"]).await;
}

/// Lots are listed oldest first (by lot id, which is time-sortable), per warehouse, for the
/// items asked (or all).
pub async fn lots_oldest_first_by_warehouse_and_item(p: &Ports) {
    let w = warehouse();
    let ids: Vec<String> = (0..5).map(|_| uuid()).collect();
    let items = ["BERAS", "BISKUIT", "BERAS", "MIE-INSTAN", "BERAS"];
    // Written newest first: the order read back must come from the ids, not from the writes.
    for i in (0..5).rev() {
        let wh = if i == 3 { other_warehouse() } else { w.clone() };
        let e = ledger_entry(
            &wh,
            &ids[i],
            items[i],
            None,
            Movement::Receipt,
            10 + i as i64,
            at(i as i64),
            "SJ-1",
        );
        apply(
            p,
            "receipt",
            StockWrite {
                ledger: vec![e],
                ..StockWrite::default()
            },
        )
        .await;
    }
    let ids_of = |v: Vec<Lot>| v.into_iter().map(|l| l.lot_id).collect::<Vec<_>>();
    assert_eq!(
        ids_of(lots(p, &w, None).await),
        vec![
            ids[0].clone(),
            ids[1].clone(),
            ids[2].clone(),
            ids[4].clone()
        ],
        "all lots of the warehouse, oldest first"
    );
    assert_eq!(
        ids_of(lots(p, &w, Some(&["BERAS"])).await),
        vec![ids[0].clone(), ids[2].clone(), ids[4].clone()],
        "one item's lots, oldest first"
    );
    assert_eq!(
        ids_of(lots(p, &w, Some(&["BISKUIT", "BERAS", "BERAS"])).await),
        vec![
            ids[0].clone(),
            ids[1].clone(),
            ids[2].clone(),
            ids[4].clone()
        ],
        "several items' lots, oldest first over all of them, each once"
    );
    assert!(lots(p, &w, Some(&[])).await.is_empty(), "no items, no lots");
    assert!(
        lots(p, &w, Some(&["MIE-INSTAN"])).await.is_empty(),
        "the MIE-INSTAN lot is in the other warehouse"
    );
    assert_eq!(
        ids_of(lots(p, &other_warehouse(), None).await),
        vec![ids[3].clone()]
    );
    let beras = lots(p, &w, Some(&["BERAS"])).await;
    assert_eq!(
        beras.iter().map(|l| l.on_hand).collect::<Vec<_>>(),
        vec![10, 12, 14]
    );
}

/// No change may leave a lot with on hand below allocated or either below zero: such a write
/// is refused with `InsufficientStock` and nothing of it is written (lots, ledger, outbox),
/// not even the entries before the one that failed.
pub async fn below_zero_is_refused_and_writes_nothing(p: &Ports) {
    let w = warehouse();
    let (write, ids) = receipt(&w, &[("BERAS", 10, None)], at(0));
    apply(p, "receipt", write).await;
    let l = ids[0].clone();
    let entry = |movement, q| ledger_entry(&w, &l, "BERAS", None, movement, q, at(1), "ref");
    let only = |e: LedgerEntry| StockWrite {
        ledger: vec![e],
        ..StockWrite::default()
    };
    apply(
        p,
        "allocating 4 of 10",
        only(entry(Movement::Allocation, 4)),
    )
    .await;
    let before = snapshot(p, &["BERAS", "MINYAK-GORENG"]).await;

    let refused: Vec<(&str, StockWrite)> = vec![
        (
            "a write-off below allocated",
            adjustment(&w, &l, "BERAS", -7, at(2)),
        ),
        (
            "a write-off below zero",
            adjustment(&w, &l, "BERAS", -11, at(2)),
        ),
        (
            "allocating more than is available",
            only(entry(Movement::Allocation, 7)),
        ),
        (
            "releasing more than is allocated",
            only(entry(Movement::Release, 5)),
        ),
        (
            "dispatching more than is allocated",
            only(entry(Movement::Dispatch, 5)),
        ),
        (
            "a write-off of a lot that does not exist",
            adjustment(&w, &uuid(), "BERAS", -1, at(2)),
        ),
        (
            "allocating from a lot that does not exist",
            only(ledger_entry(
                &w,
                &uuid(),
                "BERAS",
                None,
                Movement::Allocation,
                1,
                at(2),
                "ref",
            )),
        ),
        ("a good receipt, then a bad entry, with an event", {
            let (mut write, _) = receipt(&w, &[("MINYAK-GORENG", 5, None)], at(3));
            write.ledger.push(entry(Movement::Allocation, 7));
            write.events.push(stock_low("BERAS", 0, at(3)));
            write
        }),
    ];
    for (what, write) in refused {
        assert_eq!(
            p.stock.apply(write).await,
            Err(StoreError::InsufficientStock),
            "{what} must be refused"
        );
        assert_eq!(
            snapshot(p, &["BERAS", "MINYAK-GORENG"]).await,
            before,
            "{what}: nothing may be written"
        );
    }

    // Down to exactly what is allocated is fine; one more is not.
    apply(
        p,
        "a write-off down to allocated",
        adjustment(&w, &l, "BERAS", -6, at(4)),
    )
    .await;
    let after = lot(p, &l).await;
    assert_eq!((after.on_hand, after.allocated), (4, 4));
    assert_eq!(
        p.stock.apply(adjustment(&w, &l, "BERAS", -1, at(5))).await,
        Err(StoreError::InsufficientStock)
    );
    assert_ledger_adds_up(p, &w, &["BERAS", "MINYAK-GORENG"]).await;
}

/// A ledger entry that moves more than [`MAX_MOVEMENT`] units, or whose deltas do not follow
/// from its movement, is the caller's bug: the whole write is refused with `Unavailable` and
/// nothing of it is written (no lot, no entry, no event). So no lot, and no sum of lots, can
/// run past 64 bits however it is added up; exactly `MAX_MOVEMENT` is fine.
pub async fn unsound_ledger_entries_are_refused_and_write_nothing(p: &Ports) {
    let w = warehouse();
    let (write, ids) = receipt(&w, &[("BERAS", 10, None)], at(0));
    apply(p, "receipt", write).await;
    let l = ids[0].clone();
    let before = snapshot(p, &["BERAS", "MINYAK-GORENG"]).await;
    let max = MAX_MOVEMENT as i64;
    let refused: Vec<(&str, StockWrite)> = vec![
        (
            "a receipt of one unit more than a movement may carry",
            receipt(&w, &[("MINYAK-GORENG", max + 1, None)], at(1)).0,
        ),
        (
            "a receipt of i64::MAX units",
            receipt(&w, &[("MINYAK-GORENG", i64::MAX, None)], at(1)).0,
        ),
        (
            "a good receipt, then an adjustment of i64::MAX on an existing lot",
            {
                let (mut write, _) = receipt(&w, &[("MINYAK-GORENG", 5, None)], at(2));
                write
                    .ledger
                    .extend(adjustment(&w, &l, "BERAS", i64::MAX, at(2)).ledger);
                write
            },
        ),
        (
            "a write-off of i64::MIN + 1",
            adjustment(&w, &l, "BERAS", i64::MIN + 1, at(3)),
        ),
        ("an entry whose deltas contradict its movement", {
            let mut write = adjustment(&w, &l, "BERAS", 3, at(4));
            write.ledger[0].delta_on_hand = 30;
            write
        }),
    ];
    for (what, write) in refused {
        assert!(
            matches!(p.stock.apply(write).await, Err(StoreError::Unavailable(_))),
            "{what} must be refused as the caller's bug (Unavailable)"
        );
        assert_eq!(
            snapshot(p, &["BERAS", "MINYAK-GORENG"]).await,
            before,
            "{what}: nothing may be written"
        );
    }

    let (write, ids) = receipt(&w, &[("MINYAK-GORENG", max, None)], at(5));
    apply(p, "a receipt of exactly MAX_MOVEMENT", write).await;
    assert_eq!(lot(p, &ids[0]).await.on_hand, MAX_MOVEMENT);
    assert_ledger_adds_up(p, &w, &["BERAS", "MINYAK-GORENG"]).await;
}

/// An allocation expected absent is written once; the second is a `StateConflict` and writes
/// nothing (no ledger entry, no lot change, no event). The same for a shipment.
pub async fn allocation_expected_absent_twice_is_state_conflict(p: &Ports) {
    let mut r = approved(p, 1, at(0)).await;
    let (write, ids) = receipt(&warehouse(), &[("BERAS", 10, None)], at(10));
    apply(p, "receipt", write).await;
    let (write, allocation, shipment) =
        allocation_write(&mut r, &[take(&ids[0], "BERAS", 1)], at(11));
    apply(p, "the first allocation", write).await;
    assert_eq!(
        must("allocation", p.stock.allocation(&r.id).await),
        Some(allocation.clone())
    );
    assert_eq!(
        must("shipment", p.stock.shipment(&shipment.id).await),
        Some(shipment.clone())
    );
    let before = snapshot(p, &["BERAS"]).await;

    let mut again = allocation.clone();
    again.takes = vec![take(&ids[0], "BERAS", 2)];
    again.updated_at = at(12);
    let second = StockWrite {
        ledger: vec![ledger_entry(
            &warehouse(),
            &ids[0],
            "BERAS",
            None,
            Movement::Allocation,
            2,
            at(12),
            r.id.as_str(),
        )],
        allocation: Some((again, Expect::Absent)),
        events: vec![stock_low("BERAS", 7, at(12))],
        ..StockWrite::default()
    };
    assert_eq!(
        p.stock.apply(second).await,
        Err(StoreError::StateConflict),
        "a second allocation for the same request"
    );
    let mut other = shipment.clone();
    other.packages = 2;
    assert_eq!(
        p.stock
            .apply(StockWrite {
                shipment: Some((other, Expect::Absent)),
                events: vec![stock_low("BERAS", 7, at(13))],
                ..StockWrite::default()
            })
            .await,
        Err(StoreError::StateConflict),
        "a second shipment with the same id"
    );
    assert_eq!(
        snapshot(p, &["BERAS"]).await,
        before,
        "refused writes write nothing"
    );
    assert_eq!(
        must("allocation", p.stock.allocation(&r.id).await),
        Some(allocation),
        "the first allocation stays"
    );
    assert_eq!(
        must("shipment", p.stock.shipment(&shipment.id).await),
        Some(shipment),
        "the first shipment stays"
    );
    assert_eq!(lot(p, &ids[0]).await.allocated, 1);
    assert_eq!(
        must("allocation", p.stock.allocation(&RequestId::new()).await),
        None
    );
    assert_eq!(must("shipment", p.stock.shipment(&uuid()).await), None);
}

/// `Expect::Status(s)` writes only over a stored record in status `s`; a conflict on one
/// record rolls back the other records of the same write.
pub async fn shipment_and_allocation_change_only_from_the_expected_status(p: &Ports) {
    let ready = shipment(ShipmentStatus::Ready, at(0));
    let put_shipment = |s: Shipment, expect| async move {
        p.stock
            .apply(StockWrite {
                shipment: Some((s, expect)),
                ..StockWrite::default()
            })
            .await
    };
    assert_eq!(
        put_shipment(ready.clone(), Expect::Status(ShipmentStatus::Ready)).await,
        Err(StoreError::StateConflict),
        "a status is expected of a shipment that does not exist"
    );
    must(
        "new shipment",
        put_shipment(ready.clone(), Expect::Absent).await,
    );
    let mut dispatched = ready.clone();
    dispatched.status = ShipmentStatus::Dispatched;
    dispatched.dispatched_at = Some(at(1));
    dispatched.updated_at = at(1);
    assert_eq!(
        put_shipment(
            dispatched.clone(),
            Expect::Status(ShipmentStatus::Dispatched)
        )
        .await,
        Err(StoreError::StateConflict),
        "the stored shipment is ready, not dispatched"
    );
    assert_eq!(
        must("shipment", p.stock.shipment(&ready.id).await),
        Some(ready.clone())
    );
    must(
        "ready -> dispatched",
        put_shipment(dispatched.clone(), Expect::Status(ShipmentStatus::Ready)).await,
    );
    assert_eq!(
        must("shipment", p.stock.shipment(&ready.id).await),
        Some(dispatched.clone())
    );
    assert_eq!(
        put_shipment(dispatched.clone(), Expect::Status(ShipmentStatus::Ready)).await,
        Err(StoreError::StateConflict),
        "the same change twice: the second finds it dispatched"
    );

    let request_id = RequestId::new();
    let allocation = Allocation {
        request_id: request_id.clone(),
        warehouse: warehouse(),
        package_code: "PAKET-SEMBAKO".into(),
        packages: 1,
        takes: vec![],
        status: AllocationStatus::Active,
        shipment_id: uuid(),
        created_at: at(0),
        updated_at: at(0),
    };
    let put_allocation = |a: Allocation, expect| async move {
        p.stock
            .apply(StockWrite {
                allocation: Some((a, expect)),
                ..StockWrite::default()
            })
            .await
    };
    assert_eq!(
        put_allocation(allocation.clone(), Expect::Status(AllocationStatus::Active)).await,
        Err(StoreError::StateConflict),
        "a status is expected of an allocation that does not exist"
    );
    must(
        "new allocation",
        put_allocation(allocation.clone(), Expect::Absent).await,
    );
    let mut released = allocation.clone();
    released.status = AllocationStatus::Released;
    released.updated_at = at(2);
    assert_eq!(
        put_allocation(released.clone(), Expect::Status(AllocationStatus::Released)).await,
        Err(StoreError::StateConflict)
    );
    // A write whose shipment conflicts leaves its allocation (and its events) unwritten too.
    let before = event_ids(p).await;
    assert_eq!(
        p.stock
            .apply(StockWrite {
                allocation: Some((released.clone(), Expect::Status(AllocationStatus::Active))),
                shipment: Some((dispatched.clone(), Expect::Status(ShipmentStatus::Ready))),
                events: vec![stock_low("BERAS", 1, at(2))],
                ..StockWrite::default()
            })
            .await,
        Err(StoreError::StateConflict)
    );
    assert_eq!(
        must("allocation", p.stock.allocation(&request_id).await),
        Some(allocation.clone()),
        "the allocation of a refused write is not changed"
    );
    assert_eq!(event_ids(p).await, before);
    must(
        "active -> released",
        put_allocation(released.clone(), Expect::Status(AllocationStatus::Active)).await,
    );
    assert_eq!(
        must("allocation", p.stock.allocation(&request_id).await),
        Some(released)
    );
}

/// 200 requests, each approved, each allocating 1 unit of the one lot that holds 100, all at
/// once: exactly 100 are written and 100 refused with `InsufficientStock`; the lot ends with
/// 100 allocated, never more than on hand; every refused request is untouched.
pub async fn concurrent_allocations_never_oversell(p: &Ports) {
    const REQUESTS: u16 = 200;
    const STOCK: i64 = 100;
    let tasks: Vec<_> = (1..=REQUESTS)
        .map(|serial| {
            let p = p.clone();
            tokio::spawn(async move { approved(&p, serial, at(i64::from(serial))).await })
        })
        .collect();
    let mut requests: Vec<AidRequest> = Vec::new();
    for t in tasks {
        requests.push(t.await.expect("preparing a request panicked"));
    }
    let (write, ids) = receipt(&warehouse(), &[("BERAS", STOCK, None)], at(1000));
    apply(p, "receipt", write).await;
    let lot_id = ids[0].clone();
    let events_before = event_ids(p).await.len();

    let writes: Vec<(AidRequest, StockWrite)> = requests
        .iter()
        .map(|r| {
            let mut moved = r.clone();
            let (write, _, _) =
                allocation_write(&mut moved, &[take(&lot_id, "BERAS", 1)], at(2000));
            (moved, write)
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(writes.len()));
    let tasks: Vec<_> = writes
        .iter()
        .map(|(_, write)| {
            let (stock, barrier, write) =
                (Arc::clone(&p.stock), Arc::clone(&barrier), write.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                stock.apply(write).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("allocation task panicked"));
    }

    let ok = results.iter().filter(|r| r.is_ok()).count();
    let short = results
        .iter()
        .filter(|r| **r == Err(StoreError::InsufficientStock))
        .count();
    assert_eq!(
        (ok, short),
        (100, 100),
        "exactly 100 allocations written and 100 refused for stock; others: {:?}",
        results
            .iter()
            .filter(|r| !matches!(r, Ok(()) | Err(StoreError::InsufficientStock)))
            .collect::<Vec<_>>()
    );
    let l = lot(p, &lot_id).await;
    assert_eq!(
        (l.on_hand, l.allocated),
        (100, 100),
        "all 100 allocated, none twice"
    );
    let entries = ledger(p, &warehouse(), "BERAS").await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.movement == Movement::Allocation)
            .count(),
        100,
        "one allocation entry per written allocation"
    );
    assert_ledger_adds_up(p, &warehouse(), &["BERAS"]).await;
    assert_eq!(
        event_ids(p).await.len(),
        events_before + 100,
        "one event per written allocation"
    );
    for ((moved, _), result) in writes.iter().zip(&results) {
        let stored = must("get", p.requests.get(&moved.id).await).expect("request exists");
        let allocation = must("allocation", p.stock.allocation(&moved.id).await);
        if result.is_ok() {
            assert_eq!(&stored, moved, "a written allocation moves its request");
            assert_eq!(stored.status, Status::Allocated);
            assert!(allocation.is_some(), "a written allocation is stored");
        } else {
            assert_eq!(stored.status, Status::Approved, "a refused one does not");
            assert_eq!(allocation, None, "nor does it store its allocation");
            assert_eq!(
                must("history", p.requests.history(&moved.id).await).len(),
                4,
                "nor its history entry"
            );
        }
    }
}

/// The low-stock bookkeeping of a stock write (`LowStockWatch`) for `item`, on 2026-12-04.
fn watch(item: &str, at: chrono::DateTime<chrono::Utc>) -> LowStockWatch {
    LowStockWatch {
        warehouse: warehouse(),
        sku: sku(item),
        today: date("2026-12-04"),
        alert: stock_low(item, 0, at),
    }
}

/// A write of low-stock bookkeeping alone (what a threshold change and the scheduled check
/// write).
fn watch_only(item: &str, at: chrono::DateTime<chrono::Utc>) -> StockWrite {
    StockWrite {
        low_stock: vec![watch(item, at)],
        ..StockWrite::default()
    }
}

/// The `StockLow` events in the outbox, as `(sku, available)`.
async fn low_alerts(p: &Ports) -> Vec<(String, u64)> {
    all_events(p)
        .await
        .into_iter()
        .filter_map(|o| match o.event.kind {
            EventKind::StockLow { sku, available, .. } => Some((sku, available)),
            _ => None,
        })
        .collect()
}

/// A fall below the threshold alerts once, measured on the stock as committed: 25 writers
/// that each read 50 and take 2 (each alone leaving 48) alert exactly once between them; a
/// write while the item is still low (also one bringing in only expired stock) does not
/// alert again; a receipt back above the threshold clears the mark, and the next fall alerts
/// with the exact level; a new threshold is judged afresh (told again while below, with the
/// new threshold); stock that only expired is told at the item's next movement, whatever it
/// is; a retired item or one without a threshold is never told about.
pub async fn low_stock_alerts_once_per_fall(p: &Ports) {
    must("put_item", p.stock.put_item(&item("BERAS", 10)).await);
    let (mut write, ids) = receipt(&warehouse(), &[("BERAS", 50, None)], at(0));
    write.low_stock = vec![watch("BERAS", at(0))];
    apply(p, "receipt of 50", write).await;
    let lot_id = ids[0].clone();
    assert_eq!(low_alerts(p).await, [], "50 is not low");

    let barrier = Arc::new(tokio::sync::Barrier::new(25));
    let tasks: Vec<_> = (0..25)
        .map(|i| {
            let (stock, barrier) = (Arc::clone(&p.stock), Arc::clone(&barrier));
            let mut write = adjustment(&warehouse(), &lot_id, "BERAS", -2, at(10 + i));
            write.low_stock = vec![watch("BERAS", at(10 + i))];
            tokio::spawn(async move {
                barrier.wait().await;
                stock.apply(write).await
            })
        })
        .collect();
    for t in tasks {
        must(
            "an adjustment of -2",
            t.await.expect("adjustment task panicked"),
        );
    }
    assert_eq!(lot(p, &lot_id).await.on_hand, 0);
    let alerts = low_alerts(p).await;
    assert_eq!(
        alerts.len(),
        1,
        "25 concurrent writes taking the item from 50 to 0 alert exactly once: {alerts:?}"
    );
    assert!(
        alerts[0].1 < 10,
        "the alert tells a level below 10: {alerts:?}"
    );

    // Still low: a receipt of expired stock only (it cannot be allocated) changes nothing,
    // nor does another fall.
    let (mut write, _) = receipt(
        &warehouse(),
        &[("BERAS", 1000, Some(date("2026-12-03")))],
        at(100),
    );
    write.low_stock = vec![watch("BERAS", at(100))];
    apply(p, "receipt of expired stock", write).await;
    let (mut write, fresh) = receipt(&warehouse(), &[("BERAS", 3, None)], at(101));
    write.low_stock = vec![watch("BERAS", at(101))];
    apply(p, "receipt of 3", write).await;
    let mut write = adjustment(&warehouse(), &fresh[0], "BERAS", -1, at(102));
    write.low_stock = vec![watch("BERAS", at(102))];
    apply(p, "adjustment while low", write).await;
    assert_eq!(
        low_alerts(p).await.len(),
        1,
        "no second alert while still low"
    );

    // Restocked above the threshold, then a fall: a second alert, with the level it left.
    let (mut write, _) = receipt(&warehouse(), &[("BERAS", 100, None)], at(200));
    write.low_stock = vec![watch("BERAS", at(200))];
    apply(p, "restock of 100", write).await;
    assert_eq!(
        low_alerts(p).await.len(),
        1,
        "back above the threshold: no alert"
    );
    let mut write = adjustment(&warehouse(), &fresh[0], "BERAS", -2, at(201));
    write.low_stock = vec![watch("BERAS", at(201))];
    apply(p, "a fall that stays above", write).await;
    assert_eq!(low_alerts(p).await.len(), 1, "102 - 2 = 100 is not low");
    let lots_now = lots(p, &warehouse(), Some(&["BERAS"])).await;
    let big = lots_now
        .iter()
        .find(|l| l.on_hand == 100)
        .expect("the lot of 100")
        .lot_id
        .clone();
    let mut write = adjustment(&warehouse(), &big, "BERAS", -95, at(202));
    write.low_stock = vec![watch("BERAS", at(202))];
    apply(p, "a fall to 5", write).await;
    let alerts = low_alerts(p).await;
    assert_eq!(alerts.len(), 2, "the next fall alerts again: {alerts:?}");
    assert_eq!(alerts[1], ("BERAS".to_string(), 5), "with the exact level");

    // The same threshold judged again (a scheduled check): nothing new. A new threshold
    // makes the mark about the old one stale: still below, told again, with the new one.
    apply(p, "a check", watch_only("BERAS", at(299))).await;
    assert_eq!(low_alerts(p).await.len(), 2, "already told for 10");
    must("put_item", p.stock.put_item(&item("BERAS", 8)).await);
    apply(p, "a threshold change", watch_only("BERAS", at(300))).await;
    let thresholds: Vec<u64> = all_events(p)
        .await
        .into_iter()
        .filter_map(|o| match o.event.kind {
            EventKind::StockLow { threshold, .. } => Some(threshold),
            _ => None,
        })
        .collect();
    assert_eq!(thresholds, [10, 10, 8], "told against the new threshold, 8");
    must("put_item", p.stock.put_item(&item("BERAS", 10)).await);
    apply(p, "the threshold back", watch_only("BERAS", at(301))).await;
    assert_eq!(low_alerts(p).await.len(), 4, "and against 10 again");

    // Stock that only expires: a receipt of 100 expiring on the 10th brings BERAS back
    // above; on the 11th the next movement (here a receipt of 1) finds 6 usable: told.
    let (mut write, _) = receipt(
        &warehouse(),
        &[("BERAS", 100, Some(date("2026-12-10")))],
        at(400),
    );
    write.low_stock = vec![watch("BERAS", at(400))];
    apply(p, "receipt expiring on the 10th", write).await;
    assert_eq!(low_alerts(p).await.len(), 4, "105 usable is not low");
    let (mut write, _) = receipt(&warehouse(), &[("BERAS", 1, None)], at(500));
    write.low_stock = vec![LowStockWatch {
        today: date("2026-12-11"),
        ..watch("BERAS", at(500))
    }];
    apply(p, "a receipt after the expiry", write).await;
    let alerts = low_alerts(p).await;
    assert_eq!(
        alerts.len(),
        5,
        "the expiry is told at the next movement: {alerts:?}"
    );
    assert_eq!(alerts[4], ("BERAS".to_string(), 6));

    // A retired item, or one without a threshold, is never told about and loses its mark.
    let retired = Item {
        retired: true,
        ..item("BERAS", 10)
    };
    let later = |w: LowStockWatch| LowStockWatch {
        today: date("2026-12-11"),
        ..w
    };
    let check = |at| StockWrite {
        low_stock: vec![later(watch("BERAS", at))],
        ..StockWrite::default()
    };
    apply(p, "still low, still marked", check(at(600))).await;
    assert_eq!(low_alerts(p).await.len(), 5, "marked for 10");
    must("retire", p.stock.put_item(&retired).await);
    apply(p, "retired", check(at(601))).await;
    must("put_item", p.stock.put_item(&item("BERAS", 0)).await);
    apply(p, "no threshold", check(at(602))).await;
    assert_eq!(
        low_alerts(p).await.len(),
        5,
        "no alert when retired or without a threshold"
    );
    must("put_item", p.stock.put_item(&item("BERAS", 10)).await);
    apply(p, "a threshold again", check(at(603))).await;
    assert_eq!(
        low_alerts(p).await.len(),
        6,
        "the mark went with the threshold: told again"
    );
    assert_ledger_adds_up(p, &warehouse(), &["BERAS"]).await;
}

/// An item's ledger pages oldest first: every entry once, in id order, `limit` at a time,
/// the last page without a cursor (also when it is exactly full); a cursor is refused for
/// another item or when it was not made by the store.
pub async fn ledger_pages_oldest_first_with_item_bound_cursors(p: &Ports) {
    let (write, ids) = receipt(&warehouse(), &[("BERAS", 100, None)], at(0));
    apply(p, "receipt", write).await;
    for i in 1..=9 {
        let write = adjustment(&warehouse(), &ids[0], "BERAS", -1, at(i));
        apply(p, "adjustment", write).await;
    }
    let (write, _) = receipt(&warehouse(), &[("MIE-INSTAN", 5, None)], at(20));
    apply(p, "another item", write).await;

    let all = ledger(p, &warehouse(), "BERAS").await;
    assert_eq!(all.len(), 10, "the receipt and nine adjustments");
    let mut sorted = all.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    sorted.sort();
    assert_eq!(
        all.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        sorted,
        "oldest first"
    );
    assert_eq!(all[0].movement, Movement::Receipt);

    let beras = sku("BERAS");
    let first = must(
        "page 1",
        p.stock.ledger(&warehouse(), &beras, 5, None).await,
    );
    assert_eq!(first.items, all[..5]);
    let cursor = first.next_cursor.expect("more after 5 of 10");
    let second = must(
        "page 2",
        p.stock
            .ledger(&warehouse(), &beras, 5, Some(cursor.clone()))
            .await,
    );
    assert_eq!(second.items, all[5..]);
    assert_eq!(second.next_cursor, None, "an exactly full last page ends");

    assert_eq!(
        p.stock
            .ledger(&warehouse(), &sku("MIE-INSTAN"), 5, Some(cursor))
            .await
            .map(|p| p.items.len()),
        Err(StoreError::InvalidCursor),
        "a cursor of BERAS's ledger is not one of MIE-INSTAN's"
    );
    for bad in ["nonsense", "", "e30"] {
        let got = p
            .stock
            .ledger(&warehouse(), &beras, 5, Some(bad.to_string()))
            .await
            .map(|p| p.items.len());
        assert!(
            got == Err(StoreError::InvalidCursor) || (bad.is_empty() && got == Ok(5)),
            "{bad:?}: {got:?}"
        );
    }
}

/// Releasing an allocation gives the units back (allocated goes down, on hand stays), marks it
/// released and cancels its shipment; releasing it again is a `StateConflict`.
pub async fn release_returns_allocated_units(p: &Ports) {
    let mut r = approved(p, 1, at(0)).await;
    let (write, ids) = receipt(
        &warehouse(),
        &[
            ("BERAS", 10, None),
            ("BERAS", 5, None),
            ("BISKUIT", 3, None),
        ],
        at(10),
    );
    apply(p, "receipt", write).await;
    let takes = [
        take(&ids[0], "BERAS", 8),
        take(&ids[1], "BERAS", 2),
        take(&ids[2], "BISKUIT", 1),
    ];
    let (write, allocation, shipment) = allocation_write(&mut r, &takes, at(11));
    apply(p, "allocation", write).await;
    let held = |l: Lot| (l.on_hand, l.allocated);
    assert_eq!(held(lot(p, &ids[0]).await), (10, 8));
    assert_eq!(held(lot(p, &ids[1]).await), (5, 2));
    assert_eq!(held(lot(p, &ids[2]).await), (3, 1));

    must("cancel", advance(p, &mut r, Action::Cancel, at(12)).await);
    let (write, released, cancelled) = release_write(&allocation, &shipment, at(13));
    let again = write.clone();
    apply(p, "release", write).await;
    for (id, expected) in [(&ids[0], (10, 0)), (&ids[1], (5, 0)), (&ids[2], (3, 0))] {
        assert_eq!(
            held(lot(p, id).await),
            expected,
            "lot {id} got its units back"
        );
    }
    assert_eq!(
        must("allocation", p.stock.allocation(&r.id).await),
        Some(released)
    );
    assert_eq!(
        must("shipment", p.stock.shipment(&shipment.id).await),
        Some(cancelled)
    );
    let before = snapshot(p, &["BERAS", "BISKUIT"]).await;
    assert_eq!(
        p.stock.apply(again).await,
        Err(StoreError::StateConflict),
        "a second release finds the allocation released"
    );
    assert_eq!(snapshot(p, &["BERAS", "BISKUIT"]).await, before);
    assert_ledger_adds_up(p, &warehouse(), &["BERAS", "BISKUIT"]).await;
}

/// Dispatch takes the units off the shelf (on hand and allocated both down) and moves the
/// request to `dispatched`; handover moves it to `delivered`, which records the delivery and
/// releases the household exactly as `RequestStore::update` does.
pub async fn dispatch_and_handover_move_stock_and_request(p: &Ports) {
    let mut r = approved(p, 1, at(0)).await;
    let (write, ids) = receipt(&warehouse(), &[("BERAS", 10, None)], at(10));
    apply(p, "receipt", write).await;
    let (write, allocation, shipment) =
        allocation_write(&mut r, &[take(&ids[0], "BERAS", 2)], at(11));
    apply(p, "allocation", write).await;
    assert_eq!(
        must("get", p.requests.get(&r.id).await),
        Some(r.clone()),
        "the allocation's transition is written"
    );

    let (write, dispatched_allocation, dispatched) =
        dispatch_write(&mut r, &allocation, &shipment, at(12));
    let dispatch_event = write.events[0].clone();
    apply(p, "dispatch", write).await;
    let l = lot(p, &ids[0]).await;
    assert_eq!(
        (l.on_hand, l.allocated),
        (8, 0),
        "on hand and allocated both go down"
    );
    assert_eq!(must("get", p.requests.get(&r.id).await), Some(r.clone()));
    assert_eq!(r.status, Status::Dispatched);
    assert_eq!(
        must("allocation", p.stock.allocation(&r.id).await),
        Some(dispatched_allocation)
    );
    assert_eq!(
        must("shipment", p.stock.shipment(&shipment.id).await),
        Some(dispatched.clone())
    );
    let history = must("history", p.requests.history(&r.id).await);
    assert_eq!(
        history.iter().map(|h| h.action).collect::<Vec<_>>(),
        vec![
            Action::Submit,
            Action::AssignSurvey,
            Action::RecordSurvey,
            Action::Approve,
            Action::Allocate,
            Action::Dispatch
        ],
        "every transition written by a stock write is in the history"
    );
    assert_eq!(
        all_events(p).await.last().map(|i| i.event.clone()),
        Some(dispatch_event)
    );
    assert_eq!(
        must("active_for", p.requests.active_for(&nik(1), &kk(1)).await),
        Some(r.id.clone()),
        "a dispatched request still holds its household"
    );

    let handed_over = at(100) + Duration::milliseconds(250);
    let (write, delivered) = handover_write(&mut r, &dispatched, handed_over);
    let ledger_before = ledger(p, &warehouse(), "BERAS").await;
    apply(p, "handover", write).await;
    assert_eq!(must("get", p.requests.get(&r.id).await), Some(r.clone()));
    assert_eq!(r.status, Status::Delivered);
    assert_eq!(
        must("shipment", p.stock.shipment(&shipment.id).await),
        Some(delivered)
    );
    assert_eq!(
        must(
            "last_delivery",
            p.requests.last_delivery(&nik(1), &kk(1)).await
        ),
        Some(handed_over),
        "reaching delivered through a stock write records the delivery"
    );
    assert_eq!(
        must("active_for", p.requests.active_for(&nik(1), &kk(1)).await),
        None,
        "and releases the household"
    );
    assert_eq!(
        ledger(p, &warehouse(), "BERAS").await,
        ledger_before,
        "a handover moves no stock"
    );
    assert_ledger_adds_up(p, &warehouse(), &["BERAS"]).await;
}

/// A stock write carrying a transition over a stale version is refused with
/// `VersionConflict` and writes nothing at all: no lot change, ledger entry, allocation,
/// shipment, event, idempotency record or history entry.
pub async fn stock_write_version_conflict_writes_nothing(p: &Ports) {
    let r = approved(p, 1, at(0)).await;
    let (write, ids) = receipt(&warehouse(), &[("BERAS", 10, None)], at(10));
    apply(p, "receipt", write).await;

    // Someone else moved the request on (to the waitlist) after it was read.
    let mut winner = r.clone();
    must(
        "waitlist",
        advance(p, &mut winner, Action::Waitlist, at(11)).await,
    );
    let before = snapshot(p, &["BERAS"]).await;

    let mut stale = r.clone();
    let (mut write, _, shipment) =
        allocation_write(&mut stale, &[take(&ids[0], "BERAS", 3)], at(12));
    let key = idempotency("gudang-1:alloc-1", "fp-1", at(12));
    write.idempotency = Some(key.clone());
    write.events.push(stock_low("BERAS", 7, at(12)));
    assert_eq!(
        p.stock.apply(write).await,
        Err(StoreError::VersionConflict),
        "a transition over a version that moved on"
    );
    assert_eq!(snapshot(p, &["BERAS"]).await, before, "nothing written");
    assert_eq!(lot(p, &ids[0]).await.allocated, 0);
    assert_eq!(must("allocation", p.stock.allocation(&r.id).await), None);
    assert_eq!(must("shipment", p.stock.shipment(&shipment.id).await), None);
    assert_eq!(must("idempotency", p.idempotency.get(&key.key).await), None);
    assert_eq!(
        must("get", p.requests.get(&r.id).await),
        Some(winner.clone())
    );
    assert_eq!(
        must("history", p.requests.history(&r.id).await).len(),
        5,
        "no history entry for the refused transition"
    );

    // Read again, decided again: the allocation from the waitlist goes through.
    let mut fresh = winner.clone();
    let (write, _, _) = allocation_write(&mut fresh, &[take(&ids[0], "BERAS", 3)], at(13));
    apply(p, "allocation over the current version", write).await;
    assert_eq!(lot(p, &ids[0]).await.allocated, 3);
    assert_ledger_adds_up(p, &warehouse(), &["BERAS"]).await;
}

/// A stock write's idempotency record is written with it; a write whose key is taken is
/// refused with `IdempotencyKeyTaken` and writes nothing.
pub async fn stock_write_idempotency_key_taken_writes_nothing(p: &Ports) {
    let key = idempotency("gudang-1:receipt:key-1", "fp-1", at(0));
    let (mut write, ids) = receipt(&warehouse(), &[("BERAS", 10, None)], at(0));
    write.idempotency = Some(key.clone());
    apply(p, "keyed receipt", write).await;
    assert_eq!(
        must("idempotency", p.idempotency.get(&key.key).await),
        Some(key.clone()),
        "the record reads back exactly"
    );
    let before = snapshot(p, &["BERAS"]).await;

    let (mut retry, _) = receipt(&warehouse(), &[("BERAS", 10, None)], at(1));
    retry.idempotency = Some(idempotency("gudang-1:receipt:key-1", "fp-2", at(1)));
    assert_eq!(
        p.stock.apply(retry).await,
        Err(StoreError::IdempotencyKeyTaken)
    );
    assert_eq!(snapshot(p, &["BERAS"]).await, before, "nothing written");
    assert_eq!(
        must("idempotency", p.idempotency.get(&key.key).await),
        Some(key),
        "the first record stays"
    );
    // A key is also taken when a request submission recorded it, and the other way round.
    let mut new = submission(1, KELURAHAN_A, at(2));
    new.idempotency = Some(idempotency("shared-key", "fp-s", at(2)));
    insert(p, new).await;
    let (mut write, _) = receipt(&warehouse(), &[("BERAS", 1, None)], at(3));
    write.idempotency = Some(idempotency("shared-key", "fp-r", at(3)));
    assert_eq!(
        p.stock.apply(write).await,
        Err(StoreError::IdempotencyKeyTaken)
    );
    assert_eq!(lots(p, &warehouse(), None).await.len(), ids.len());
}

/// A warehouse receives a delivery note once: another receipt of the same reference (compared
/// trimmed, with inner whitespace collapsed, ignoring case) is refused with
/// `ReceiptReferenceTaken` carrying the first receipt's time, also under another idempotency
/// key, and writes nothing (no lot, ledger entry, event or idempotency record). A taken key is
/// reported before a taken reference. Another warehouse may receive the same reference, an
/// adjustment is never guarded, and of 20 receipts of one reference at once exactly one is
/// written.
pub async fn receipt_reference_received_once_per_warehouse(p: &Ports) {
    let w = warehouse();
    let items = ["BERAS", "MIE-INSTAN"];
    let (first, ids) = receipt_of(
        &w,
        "DO-2026-12-0042",
        &[("BERAS", 500, None), ("MIE-INSTAN", 500, None)],
        at(0),
    );
    apply(p, "first receipt of DO-2026-12-0042", first).await;
    let (spaced, _) = receipt_of(&w, "SJ 0117 / XII", &[("BERAS", 5, None)], at(1));
    apply(p, "first receipt of SJ 0117 / XII", spaced).await;
    let before = snapshot(p, &items).await;

    for (n, (typed, first_at)) in [
        ("DO-2026-12-0042", at(0)),
        ("do-2026-12-0042 ", at(0)),
        ("  Do-2026-12-0042\t", at(0)),
        ("sj  0117\t/ xii", at(1)),
        (" SJ 0117   /   XII ", at(1)),
    ]
    .into_iter()
    .enumerate()
    {
        let (mut again, _) = receipt_of(&w, typed, &[("BERAS", 500, None)], at(10));
        // Under an idempotency key of its own: the key is free, the delivery note is not.
        let key = idempotency(&format!("gudang-1:receipt:again-{n}"), "fp", at(10));
        again.idempotency = Some(key.clone());
        assert_eq!(
            p.stock.apply(again).await,
            Err(StoreError::ReceiptReferenceTaken {
                received_at: Some(first_at)
            }),
            "{typed:?} was received already, at {first_at}"
        );
        assert_eq!(
            snapshot(p, &items).await,
            before,
            "a refused receipt of {typed:?} writes nothing"
        );
        assert_eq!(
            must("idempotency", p.idempotency.get(&key.key).await),
            None,
            "nor its idempotency record"
        );
    }

    // A taken key is reported first, so that a retry of the first receipt is answered with
    // the first answer, not refused as a second delivery.
    let key = idempotency("gudang-1:receipt:first", "fp-first", at(20));
    let (keyed, _) = receipt_of(&w, "DO-2026-12-0099", &[("BERAS", 1, None)], at(20));
    apply(
        p,
        "keyed receipt",
        StockWrite {
            idempotency: Some(key.clone()),
            ..keyed
        },
    )
    .await;
    let before = snapshot(p, &items).await;
    let (mut retry, _) = receipt_of(&w, "do-2026-12-0099", &[("BERAS", 1, None)], at(21));
    retry.idempotency = Some(idempotency(&key.key, "fp-first", at(21)));
    assert_eq!(
        p.stock.apply(retry).await,
        Err(StoreError::IdempotencyKeyTaken),
        "key and reference both taken: the key decides"
    );
    assert_eq!(snapshot(p, &items).await, before, "nothing written");

    // Another warehouse receives the same delivery note; another number is another note.
    let (elsewhere, other_ids) = receipt_of(
        &other_warehouse(),
        "DO-2026-12-0042",
        &[("BERAS", 7, None)],
        at(30),
    );
    apply(p, "the same reference in another warehouse", elsewhere).await;
    assert_eq!(
        lots(p, &other_warehouse(), None)
            .await
            .iter()
            .map(|l| (l.lot_id.clone(), l.on_hand))
            .collect::<Vec<_>>(),
        vec![(other_ids[0].clone(), 7)]
    );
    let (next, _) = receipt_of(&w, "DO-2026-12-0043", &[("BERAS", 3, None)], at(31));
    apply(p, "the next delivery note", next).await;
    // Adjustments carry no delivery note, whatever their reference says.
    apply(
        p,
        "an adjustment naming the delivery note",
        StockWrite {
            ledger: vec![ledger_entry(
                &w,
                &ids[0],
                "BERAS",
                None,
                Movement::Adjustment,
                -2,
                at(32),
                "DO-2026-12-0042",
            )],
            ..StockWrite::default()
        },
    )
    .await;
    assert_eq!(lot(p, &ids[0]).await.on_hand, 498);

    // 20 receipts of one delivery note at once, typed 20 ways: exactly one is written.
    let lots_before = lots(p, &w, None).await.len();
    let events_before = event_ids(p).await.len();
    let writes: Vec<StockWrite> = (0..20)
        .map(|i| {
            let typed = match i % 4 {
                0 => "SJ-RACE-7".to_string(),
                1 => "sj-race-7".to_string(),
                2 => format!("{}Sj-Race-7 ", " ".repeat(i)),
                _ => "SJ-RACE-7\n".to_string(),
            };
            receipt_of(&w, &typed, &[("MIE-INSTAN", 10, None)], at(40 + i as i64)).0
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(writes.len()));
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|write| {
            let (stock, barrier) = (Arc::clone(&p.stock), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                stock.apply(write).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("receipt task panicked"));
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::ReceiptReferenceTaken { .. })))
        .count();
    assert_eq!(
        (ok, taken),
        (1, 19),
        "exactly one of 20 receipts of one delivery note is written: {results:?}"
    );
    assert_eq!(
        lots(p, &w, None).await.len(),
        lots_before + 1,
        "one lot more"
    );
    assert_eq!(
        event_ids(p).await.len(),
        events_before + 1,
        "one event more"
    );
    assert_ledger_adds_up(p, &w, &items).await;
}

/// Events of stock writes, with or without a request, go to the same outbox as the request
/// events, exactly as written, in write order.
pub async fn stock_events_without_request_in_order(p: &Ports) {
    let mut written: Vec<Event> = Vec::new();
    let new = submission(1, KELURAHAN_A, at(0));
    written.push(new.event.clone());
    let mut r = insert(p, new).await;

    let lows = vec![
        stock_low("BERAS", 90, at(1)),
        stock_low("BISKUIT", 9, at(1)),
    ];
    written.extend(lows.clone());
    apply(
        p,
        "events only",
        StockWrite {
            events: lows,
            ..StockWrite::default()
        },
    )
    .await;

    let (write, _) = receipt(&warehouse(), &[("BERAS", 10, None)], at(2));
    written.extend(write.events.clone());
    apply(p, "receipt", write).await;

    written.push(must(
        "assign",
        advance(p, &mut r, Action::AssignSurvey, at(3)).await,
    ));

    // A transition written by a stock write, with a warehouse event after its own.
    let (entry, event) = transition(&mut r, Action::RecordSurvey, at(4));
    let low = stock_low("MIE-INSTAN", 1, at(4));
    written.extend([event.clone(), low.clone()]);
    apply(
        p,
        "transition with events",
        StockWrite {
            request: Some((r.clone(), entry)),
            events: vec![event, low],
            ..StockWrite::default()
        },
    )
    .await;

    let items = all_events(p).await;
    assert_eq!(
        items.iter().map(|i| i.event.clone()).collect::<Vec<_>>(),
        written,
        "every event, exactly as written, in write order"
    );
    assert!(items.windows(2).all(|w| w[0].position < w[1].position));
    let without: Vec<_> = items.iter().filter(|i| i.event.request.is_none()).collect();
    assert_eq!(without.len(), 4, "the stock events have no request");
    assert!(matches!(
        items[3].event.kind,
        EventKind::StockReceived { .. }
    ));
    // Consumers see them like any other event.
    must("ack", p.outbox.ack("notify", items[2].position).await);
    assert_eq!(
        must("pending", p.outbox.pending("notify", 100).await),
        items[3..]
    );
}

/// Shipments are listed newest first (ties by id, descending), in pages with an opaque cursor,
/// optionally of one status (the current one); a cursor the store did not hand out is refused.
pub async fn shipments_newest_first_with_paging_and_status(p: &Ports) {
    let list = |status: Option<ShipmentStatus>, limit: u32, cursor: Option<String>| async move {
        must("shipments", p.stock.shipments(status, limit, cursor).await)
    };
    let empty = list(None, 10, None).await;
    assert!(empty.items.is_empty());
    assert_eq!(empty.next_cursor, None);

    use ShipmentStatus::{Cancelled, Delivered, Dispatched, Ready};
    let tie = at(30) + Duration::milliseconds(500);
    let mut all: Vec<Shipment> = Vec::new();
    for (status, t) in [
        (Ready, at(20)),
        (Dispatched, tie),
        (Ready, at(50)),
        (Ready, tie),
        (Cancelled, at(10)),
        (Ready, tie),
        (Dispatched, at(40)),
    ] {
        let s = shipment(status, t);
        apply(
            p,
            "shipment",
            StockWrite {
                shipment: Some((s.clone(), Expect::Absent)),
                ..StockWrite::default()
            },
        )
        .await;
        all.push(s);
    }
    let newest_first = |v: &[&Shipment]| {
        let mut v: Vec<_> = v.iter().map(|s| (s.created_at, s.id.clone())).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    };
    let of = |status: Option<ShipmentStatus>, all: &[Shipment]| {
        newest_first(
            &all.iter()
                .filter(|s| status.is_none_or(|st| s.status == st))
                .collect::<Vec<_>>(),
        )
    };
    let pages = |status: Option<ShipmentStatus>, limit: u32| async move {
        let (mut ids, mut sizes, mut cursor) = (Vec::new(), Vec::new(), None);
        for _ in 0..100 {
            let page = list(status, limit, cursor.clone()).await;
            sizes.push(page.items.len());
            ids.extend(page.items.into_iter().map(|s| s.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return (ids, sizes),
            }
        }
        panic!("shipment paging did not end: the cursor does not advance");
    };

    let page = list(None, 100, None).await;
    assert_eq!(
        page.items.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        of(None, &all),
        "newest first, ties by id descending"
    );
    assert_eq!(page.next_cursor, None);
    let whole = page
        .items
        .iter()
        .find(|s| s.id == all[0].id)
        .expect("listed");
    assert_eq!(whole, &all[0], "list items are the whole stored shipments");
    let (ids, sizes) = pages(None, 2).await;
    assert_eq!(ids, of(None, &all), "paging by 2 gives the same order");
    assert_eq!(sizes, vec![2, 2, 2, 1]);
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), all.len(), "every shipment exactly once");

    for status in [
        Some(Ready),
        Some(Dispatched),
        Some(Cancelled),
        Some(Delivered),
    ] {
        let (ids, _) = pages(status, 1).await;
        assert_eq!(ids, of(status, &all), "status {status:?}, one by one");
    }

    // The filter is on the current status.
    let mut moved = all[2].clone();
    moved.status = Dispatched;
    moved.updated_at = at(60);
    apply(
        p,
        "ready -> dispatched",
        StockWrite {
            shipment: Some((moved.clone(), Expect::Status(Ready))),
            ..StockWrite::default()
        },
    )
    .await;
    all[2] = moved;
    for status in [Some(Ready), Some(Dispatched)] {
        let page = list(status, 100, None).await;
        assert_eq!(
            page.items.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            of(status, &all),
            "status {status:?} after a change"
        );
    }

    for bad in ["not a cursor!", "AAAA", "eyJ9"] {
        assert_eq!(
            p.stock.shipments(None, 2, Some(bad.to_string())).await,
            Err(StoreError::InvalidCursor),
            "cursor {bad:?} was not handed out by the store"
        );
    }
}

/// The directory returns the phone last recorded for a user id, and nothing for others.
pub async fn directory_put_and_get(p: &Ports) {
    let phone_of =
        |sub: &'static str| async move { must("phone_of", p.directory.phone_of(sub).await) };
    assert_eq!(phone_of("surveyor-1").await, None);
    let first = Phone::parse("081234567890").expect("valid phone");
    let contact = Contact {
        sub: "surveyor-1".into(),
        name: "Tim Survei Dinsos".into(),
        role: "surveyor".into(),
        phone: first.clone(),
    };
    must("put contact", (p.contacts)(contact.clone()).await);
    assert_eq!(phone_of("surveyor-1").await, Some(first.clone()));
    assert_eq!(phone_of("surveyor-2").await, None, "another user");
    assert_eq!(phone_of("surveyor").await, None, "ids are whole strings");

    let second = Phone::parse("+6281311112222").expect("valid phone");
    must(
        "replace contact",
        (p.contacts)(Contact {
            phone: second.clone(),
            ..contact
        })
        .await,
    );
    assert_eq!(
        phone_of("surveyor-1").await,
        Some(second),
        "the latest number"
    );
    must(
        "another contact",
        (p.contacts)(Contact {
            sub: "gudang-1".into(),
            name: "Petugas Gudang".into(),
            role: actor_for(Action::Dispatch).role,
            phone: first.clone(),
        })
        .await,
    );
    assert_eq!(phone_of("gudang-1").await, Some(first));
}

/// [`shared::fulfilment_ports::AllocationReads::allocation_facts`] answers exactly what the
/// separate reads answer: nothing for an unknown request; otherwise the request, its
/// allocation (none, then the one written), the package its decision names, the lots of that
/// package's items in that warehouse only (not another item's, not another warehouse's), oldest
/// first, and the catalogue.
pub async fn allocation_facts_agree_with_the_separate_reads(p: &Ports) {
    let facts = |id: RequestId| async move {
        must(
            "allocation_facts",
            p.allocation_reads.allocation_facts(&id, &warehouse()).await,
        )
    };
    let separate = |id: RequestId, package_code: &'static str, skus: Vec<Sku>| async move {
        AllocationFacts {
            request: must("get", p.requests.get(&id).await),
            allocation: must("allocation", p.stock.allocation(&id).await),
            package: must("package", p.stock.package(package_code).await),
            lots: must("lots", p.stock.lots(&warehouse(), Some(&skus)).await),
        }
    };
    let unknown = RequestId::parse("0193a0c4-0000-7000-8000-00000000abcd").expect("a valid id");
    assert_eq!(
        facts(unknown).await,
        AllocationFacts::default(),
        "an unknown request: nothing"
    );

    for i in [item("BERAS", 10), item("MINYAK-GORENG", 5), item("GULA", 5)] {
        must("put_item", p.stock.put_item(&i).await);
    }
    let sembako = package(
        "PAKET-SEMBAKO",
        &[("BERAS", 2), ("MINYAK-GORENG", 1)],
        at(0),
    );
    must("put_package", p.stock.put_package(&sembako).await);
    let request = approved(p, 1, at(1)).await;
    let none_yet = facts(request.id.clone()).await;
    assert_eq!(
        none_yet,
        AllocationFacts {
            request: Some(request.clone()),
            allocation: None,
            package: Some(sembako.clone()),
            lots: Vec::new(),
        },
        "approved, no stock yet"
    );

    // Lots of the package's items (two of rice, received apart), of another item, and of the
    // package's item in another warehouse.
    let (first, rice) = receipt(
        &warehouse(),
        &[("BERAS", 30, Some(date("2027-01-31")))],
        at(2),
    );
    apply(p, "receipt 1", first).await;
    let (second, other) = receipt(
        &warehouse(),
        &[
            ("MINYAK-GORENG", 10, None),
            ("GULA", 10, None),
            ("BERAS", 5, None),
        ],
        at(3),
    );
    apply(p, "receipt 2", second).await;
    let (elsewhere, _) = receipt(&other_warehouse(), &[("BERAS", 50, None)], at(4));
    apply(p, "receipt elsewhere", elsewhere).await;

    let mut moved = request.clone();
    let (write, allocation, _) = allocation_write(
        &mut moved,
        &[
            take(&rice[0], "BERAS", 2),
            take(&other[0], "MINYAK-GORENG", 1),
        ],
        at(5),
    );
    apply(p, "allocation", write).await;
    let got = facts(request.id.clone()).await;
    assert_eq!(
        got,
        separate(
            request.id.clone(),
            "PAKET-SEMBAKO",
            vec![sku("BERAS"), sku("MINYAK-GORENG")]
        )
        .await,
        "the separate reads"
    );
    assert_eq!(got.request, Some(moved), "the request as written");
    assert_eq!(
        got.allocation,
        Some(allocation),
        "the allocation as written"
    );
    let lots: Vec<(&str, &str)> = got
        .lots
        .iter()
        .map(|l| (l.lot_id.as_str(), l.sku.as_str()))
        .collect();
    assert_eq!(
        lots,
        vec![
            (rice[0].as_str(), "BERAS"),
            (other[0].as_str(), "MINYAK-GORENG"),
            (other[2].as_str(), "BERAS"),
        ],
        "the package's items in this warehouse, oldest first"
    );
}
