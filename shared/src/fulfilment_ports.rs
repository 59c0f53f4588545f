//! Ports of the fulfilment side (`allocate-stock`): the stock store and its one write shape,
//! [`StockWrite`], which an adapter applies all or nothing under the conditions it carries.
//!
//! One write shape for every stock operation (receipt, adjustment, allocation, release,
//! dispatch, handover) keeps the adapters small and makes the guarantees uniform: a lot never
//! goes below zero (on hand ≥ allocated ≥ 0), an allocation or shipment changes only from the
//! status the writer read, a request only from the version it read, a warehouse receives a
//! delivery note once ([`ReceiptRef`]), and every lot change is written with its ledger entry and every state change with its events. On DynamoDB the same
//! write is one `TransactWriteItems` with one condition per item.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::events::Event;
use crate::ids::{RequestCode, RequestId};
use crate::ports::{IdempotencyRecord, Page, RequestStore, StoreError};
use crate::request::{ActorRef, AidRequest, Delivery, HistoryEntry};
use crate::stock::{Item, Lot, MAX_MOVEMENT, Movement, Package, Sku, Take, WarehouseCode};

/// One change to one lot, which is also its ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    /// Unique id of the entry (UUIDv7, so ids sort by time).
    pub id: String,
    pub at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub warehouse: WarehouseCode,
    pub lot_id: String,
    #[schema(value_type = String)]
    pub sku: Sku,
    /// Set when the entry creates the lot (receipts, positive adjustments).
    pub expires_on: Option<NaiveDate>,
    pub movement: Movement,
    /// Signed only for adjustments; positive otherwise.
    pub quantity: i64,
    pub delta_on_hand: i64,
    pub delta_allocated: i64,
    pub actor: ActorRef,
    pub reason: String,
    /// What the movement belongs to: a receipt reference, a request id…
    pub reference: String,
}

impl LedgerEntry {
    /// Builds an entry whose deltas follow from the movement.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        at: DateTime<Utc>,
        warehouse: &WarehouseCode,
        lot_id: &str,
        sku: &Sku,
        expires_on: Option<NaiveDate>,
        movement: Movement,
        quantity: i64,
        actor: &ActorRef,
        reason: &str,
        reference: &str,
    ) -> LedgerEntry {
        let (delta_on_hand, delta_allocated) = movement.deltas(quantity);
        LedgerEntry {
            id,
            at,
            warehouse: warehouse.clone(),
            lot_id: lot_id.to_string(),
            sku: sku.clone(),
            expires_on,
            movement,
            quantity,
            delta_on_hand,
            delta_allocated,
            actor: actor.clone(),
            reason: reason.to_string(),
            reference: reference.to_string(),
        }
    }

    /// Whether a store may write this entry: it moves at most [`MAX_MOVEMENT`] units either
    /// way, and its deltas follow from its movement. Both stores refuse any other entry as the
    /// caller's bug (`StoreError::Unavailable`, nothing written): the ledger is the stock's
    /// history, and an entry that lies about its movement, or is so large that sums of lots
    /// could overflow, would make it wrong.
    pub fn is_sound(&self) -> bool {
        self.quantity.unsigned_abs() <= MAX_MOVEMENT
            && self.movement.deltas(self.quantity) == (self.delta_on_hand, self.delta_allocated)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AllocationStatus {
    Active,
    Released,
    Dispatched,
}

impl AllocationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationStatus::Active => "active",
            AllocationStatus::Released => "released",
            AllocationStatus::Dispatched => "dispatched",
        }
    }
}

/// The stock set aside for one request: at most one per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Allocation {
    #[schema(value_type = String)]
    pub request_id: RequestId,
    #[schema(value_type = String)]
    pub warehouse: WarehouseCode,
    pub package_code: String,
    pub packages: u32,
    pub takes: Vec<Take>,
    pub status: AllocationStatus,
    pub shipment_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Ready,
    Dispatched,
    Delivered,
    Cancelled,
}

impl ShipmentStatus {
    pub const ALL: [ShipmentStatus; 4] = [
        ShipmentStatus::Ready,
        ShipmentStatus::Dispatched,
        ShipmentStatus::Delivered,
        ShipmentStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Ready => "ready",
            ShipmentStatus::Dispatched => "dispatched",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<ShipmentStatus> {
        ShipmentStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// One line of a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShipmentLine {
    #[schema(value_type = String)]
    pub sku: Sku,
    pub quantity: u64,
}

/// Who received a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub received_by: String,
    pub relation: String,
    pub received_at: DateTime<Utc>,
    pub note: Option<String>,
    pub recorded_by: ActorRef,
}

/// One package delivery: from the warehouse to the kelurahan office or the household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    pub id: String,
    #[schema(value_type = String)]
    pub request_id: RequestId,
    #[schema(value_type = String)]
    pub request_code: RequestCode,
    pub kelurahan_code: String,
    #[schema(value_type = String)]
    pub warehouse: WarehouseCode,
    pub destination: Delivery,
    pub package_code: String,
    pub packages: u32,
    pub lines: Vec<ShipmentLine>,
    pub status: ShipmentStatus,
    pub created_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub dispatched_by: Option<ActorRef>,
    pub delivered: Option<Receipt>,
    pub updated_at: DateTime<Utc>,
}

/// What the writer expects to find before it writes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<S> {
    /// The record must not exist yet.
    Absent,
    /// The record must exist with this status.
    Status(S),
}

/// The delivery note (surat jalan) a receipt records: a warehouse receives each reference
/// once, for good (unlike an idempotency record, this guard never expires). References are
/// compared by [`ReceiptRef::key`], so `do-2026-12-0042 ` is `DO-2026-12-0042`; the ledger
/// and the event keep what the clerk typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRef {
    pub warehouse: WarehouseCode,
    /// As the clerk typed it.
    pub reference: String,
    pub received_at: DateTime<Utc>,
}

impl ReceiptRef {
    /// The reference as compared (see [`reference_key`]).
    pub fn key(&self) -> String {
        reference_key(&self.reference)
    }
}

/// A delivery-note reference as compared: invisible characters dropped (a zero-width space
/// or soft hyphen pasted in the middle), full-width letters and digits as their ASCII selves,
/// every dash and hyphen as `-`, trimmed, every run of inner whitespace one space, lower
/// case. So `DO-77-1`, `ＤＯ-77-1`, `DO‑77‑1` (non-breaking hyphens) and `do-77-1 ` are one
/// delivery note, received once.
pub fn reference_key(reference: &str) -> String {
    let plain: String = reference
        .chars()
        .filter(|c| !crate::input::is_invisible(*c))
        .map(|c| match c {
            c if crate::input::is_dash(c) => '-',
            // Full-width forms of ASCII (what a Japanese or Chinese input method types).
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect();
    plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Low-stock bookkeeping a stock write carries for one item it changes.
///
/// The question "did available stock fall below the threshold?" cannot be answered from what
/// the writer read: two writers that each read 50 and each take 5 both see 45 left, while
/// together (or twenty of them) they take the item below its threshold of 10; and the
/// threshold itself may have been changed meanwhile. So the store answers it from what is
/// committed: after the write (in the same transaction where the engine allows it), it reads
/// the item (its `low_threshold`, whether it is retired) and sums its usable lots (none
/// expired on `today`), and
///
/// - below the threshold (an item with a threshold, not retired), and not marked as alerted
///   for this threshold: marks it, with the threshold, and writes `alert` (a `StockLow`
///   event; its `available`, `threshold` and `unit` set from what it read) with the mark, in
///   one write;
/// - below and already marked for this threshold: nothing (one alert per fall, however many
///   writers took part);
/// - otherwise: clears the mark, so the next fall alerts again.
///
/// A mark for another threshold is an alert about a threshold that no longer holds: the item
/// is judged afresh. Any change may alert, not only one that takes stock out: stock also
/// falls as lots pass their date, which no write records, so the item's next movement (or
/// the scheduled check, a write of watches alone) tells what the calendar did.
///
/// A store that makes this bookkeeping a second write after the first (DynamoDB) never fails
/// the committed stock write for it: a failure there is logged and costs at most that alert.
#[derive(Debug, Clone, PartialEq)]
pub struct LowStockWatch {
    pub warehouse: WarehouseCode,
    pub sku: Sku,
    /// Lots expiring before this day are not available (a Bekasi date).
    pub today: NaiveDate,
    /// The `StockLow` event to write (id, time, actor); the store fills in the figures.
    pub alert: Event,
}

/// What a store does for one [`LowStockWatch`], decided by [`LowStockWatch::decide`].
#[derive(Debug, Clone, PartialEq)]
pub enum LowStockStep {
    /// Nothing to write.
    Nothing,
    /// Not low (any more), and marked: delete the mark.
    Clear,
    /// Low and not marked for this threshold: mark the item with `threshold` (replacing a
    /// mark for another one; of concurrent writers only one may succeed) and write `alert`
    /// with the mark.
    Alert { threshold: u64, alert: Box<Event> },
}

impl LowStockWatch {
    /// The rule, on what the store read as committed: `item`, the warehouse's lots of it and
    /// the threshold its mark was set for, if it has one.
    pub fn decide(&self, item: &Item, lots: &[Lot], marked_for: Option<u64>) -> LowStockStep {
        let available = self.available_in(lots);
        let low = item.low_threshold > 0 && !item.retired && available < item.low_threshold;
        match (low, marked_for) {
            (false, None) => LowStockStep::Nothing,
            (false, Some(_)) => LowStockStep::Clear,
            (true, Some(t)) if t == item.low_threshold => LowStockStep::Nothing,
            (true, _) => LowStockStep::Alert {
                threshold: item.low_threshold,
                alert: Box::new(self.alert_at(item, available)),
            },
        }
    }

    /// `alert` with the figures filled in from `item` (as committed) and `available`.
    fn alert_at(&self, item: &Item, available: u64) -> Event {
        let mut alert = self.alert.clone();
        if let crate::events::EventKind::StockLow {
            available: a,
            threshold,
            unit,
            ..
        } = &mut alert.kind
        {
            *a = available;
            *threshold = item.low_threshold;
            *unit = item.unit.clone();
        }
        alert
    }

    /// The item's available stock in `lots` (the warehouse's lots): its usable lots, summed
    /// saturating (a sum beyond `u64` is above any threshold either way).
    fn available_in(&self, lots: &[Lot]) -> u64 {
        lots.iter()
            .filter(|l| l.sku == self.sku && l.usable_on(self.today))
            .fold(0u64, |acc, l| acc.saturating_add(l.available()))
    }
}

/// Where a page of an item's ledger ends: the item and the last entry id (entry ids are
/// UUIDv7, so they sort by time). Opaque to clients (URL-safe base64); a cursor is only valid
/// for the item it was made for. Both stores page the ledger by it ("entries with an id after
/// this one, oldest first"), so neither scans what a client already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCursor {
    pub after: String,
}

impl LedgerCursor {
    const TAG: &'static str = "ledger";

    pub fn encode(warehouse: &WarehouseCode, sku: &Sku, after: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}|{}|{}|{after}",
            Self::TAG,
            warehouse.as_str(),
            sku.as_str()
        ))
    }

    /// The page of `limit` entries from `rows`, read as up to `limit + 1` entries after the
    /// cursor: a row beyond `limit` means there is a next page, which starts after the last
    /// entry kept.
    pub fn page(
        warehouse: &WarehouseCode,
        sku: &Sku,
        limit: u32,
        mut rows: Vec<LedgerEntry>,
    ) -> Page<LedgerEntry> {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = match rows.last() {
            Some(last) if more => Some(Self::encode(warehouse, sku, &last.id)),
            _ => None,
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    /// The cursor `raw` of the ledger of `sku` in `warehouse`.
    pub fn decode(raw: &str, warehouse: &WarehouseCode, sku: &Sku) -> Result<Self, StoreError> {
        use base64::Engine;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(StoreError::InvalidCursor)?;
        let mut parts = text.splitn(4, '|');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Self::TAG), Some(w), Some(s), Some(after))
                if w == warehouse.as_str()
                    && s == sku.as_str()
                    // The id exactly as the store wrote it (lower-case, hyphenated): ids
                    // are compared as text, so another spelling of the same UUID would
                    // page from the wrong place.
                    && uuid::Uuid::parse_str(after)
                        .is_ok_and(|u| u.hyphenated().to_string() == after) =>
            {
                Ok(LedgerCursor {
                    after: after.to_string(),
                })
            }
            _ => Err(StoreError::InvalidCursor),
        }
    }
}

/// Every stock operation, as one all-or-nothing write.
#[derive(Debug, Clone, Default)]
pub struct StockWrite {
    /// Lot changes, each stored with its ledger entry. A change to a lot that does not exist
    /// creates it (receipts); none may leave on hand < allocated or either below zero. Every
    /// entry must be [`LedgerEntry::is_sound`] (at most [`MAX_MOVEMENT`] units, deltas as its
    /// movement says), or the whole write is refused with `StoreError::Unavailable`.
    pub ledger: Vec<LedgerEntry>,
    pub allocation: Option<(Allocation, Expect<AllocationStatus>)>,
    pub shipment: Option<(Shipment, Expect<ShipmentStatus>)>,
    /// A request transition: written only over version `request.version - 1`, with the same
    /// household bookkeeping as [`crate::ports::RequestStore::update`].
    pub request: Option<(AidRequest, HistoryEntry)>,
    pub events: Vec<Event>,
    pub idempotency: Option<IdempotencyRecord>,
    /// A receipt's delivery note: written with the rest only if that warehouse never received
    /// that reference (by [`ReceiptRef::key`]), else [`StoreError::ReceiptReferenceTaken`].
    /// Only receipts carry one (adjustments and the rest never do).
    pub receipt: Option<ReceiptRef>,
    /// Low-stock bookkeeping for the items this write changes (see [`LowStockWatch`]).
    pub low_stock: Vec<LowStockWatch>,
}

/// Stock, packages, allocations and shipments.
#[async_trait]
pub trait StockStore: Send + Sync {
    async fn items(&self) -> Result<Vec<Item>, StoreError>;
    /// Inserts or replaces an item.
    async fn put_item(&self, item: &Item) -> Result<(), StoreError>;
    /// Deletes an item that no package and no ledger entry uses; otherwise
    /// [`StoreError::InUse`] and nothing changes.
    async fn delete_item(&self, sku: &Sku) -> Result<(), StoreError>;

    async fn packages(&self) -> Result<Vec<Package>, StoreError>;
    async fn package(&self, code: &str) -> Result<Option<Package>, StoreError>;
    async fn put_package(&self, package: &Package) -> Result<(), StoreError>;

    /// Lots of a warehouse (of the given items, or all), oldest first.
    async fn lots(
        &self,
        warehouse: &WarehouseCode,
        skus: Option<&[Sku]>,
    ) -> Result<Vec<Lot>, StoreError>;
    /// Ledger entries of a warehouse and item, oldest first, `limit` at a time: the page
    /// after `cursor` (a [`LedgerCursor`] from the previous page; one of another item or not
    /// made by [`LedgerCursor::encode`] → [`StoreError::InvalidCursor`]).
    async fn ledger(
        &self,
        warehouse: &WarehouseCode,
        sku: &Sku,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<LedgerEntry>, StoreError>;

    async fn allocation(&self, request_id: &RequestId) -> Result<Option<Allocation>, StoreError>;
    async fn shipment(&self, id: &str) -> Result<Option<Shipment>, StoreError>;
    /// Shipments, newest first, optionally of one status.
    async fn shipments(
        &self,
        status: Option<ShipmentStatus>,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<Shipment>, StoreError>;

    /// Applies `write` all or nothing. A lot that would go below zero →
    /// [`StoreError::InsufficientStock`]; an allocation/shipment not as expected →
    /// [`StoreError::StateConflict`]; a request whose version moved →
    /// [`StoreError::VersionConflict`]; a taken idempotency key →
    /// [`StoreError::IdempotencyKeyTaken`]; a delivery note the warehouse already received →
    /// [`StoreError::ReceiptReferenceTaken`]. When several fail, the idempotency key is
    /// reported first, then the delivery note, then the rest.
    async fn apply(&self, write: StockWrite) -> Result<(), StoreError>;
}

/// What an allocation attempt reads before it writes (see [`AllocationReads`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllocationFacts {
    /// The request; `None` if there is no such request (then nothing else is read).
    pub request: Option<AidRequest>,
    /// Its allocation, if one was ever written (any status).
    pub allocation: Option<Allocation>,
    /// The package its decision names, if the decision names one and it exists.
    pub package: Option<Package>,
    /// The warehouse's lots of the package's items, oldest first (empty without a package).
    pub lots: Vec<Lot>,
}

/// Everything one allocation attempt decides on, read at once: the request, its allocation,
/// the package of its decision and the lots of that package's items. The
/// allocator reads them again on every attempt (each attempt's write is conditional on what
/// it read), so on a busy warehouse this is the hot read. The default implementation makes the
/// separate port calls, the independent ones at once (DynamoDB uses it: three round trips);
/// the embedded store overrides it with one blocking
/// task on one connection in one snapshot. The conformance suite checks that every
/// implementation answers as the separate calls do.
#[async_trait]
pub trait AllocationReads: RequestStore + StockStore {
    /// The default: the request and its allocation at once, then the package its decision
    /// names, then that package's lots (three round trips on DynamoDB).
    async fn allocation_facts(
        &self,
        id: &RequestId,
        warehouse: &WarehouseCode,
    ) -> Result<AllocationFacts, StoreError> {
        let (request, allocation) =
            futures_util::join!(RequestStore::get(self, id), self.allocation(id));
        let Some(request) = request? else {
            return Ok(AllocationFacts::default());
        };
        let allocation = allocation?;
        let package = match request
            .decision
            .as_ref()
            .and_then(|d| d.package_code.as_deref())
        {
            Some(code) => self.package(code).await?,
            None => None,
        };
        let lots = match &package {
            Some(p) => self.lots(warehouse, Some(&p.skus())).await?,
            None => Vec::new(),
        };
        Ok(AllocationFacts {
            request: Some(request),
            allocation,
            package,
            lots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_compare_trimmed_with_one_space_and_ignoring_case() {
        assert_eq!(reference_key("DO-2026-12-0042"), "do-2026-12-0042");
        assert_eq!(
            reference_key("  do-2026-12-0042 "),
            reference_key("DO-2026-12-0042")
        );
        assert_eq!(reference_key("SJ  0042\t/ XII"), "sj 0042 / xii");
        assert_ne!(reference_key("SJ 0042"), reference_key("SJ0042"));
        assert_ne!(reference_key("DO-0042"), reference_key("DO-0043"));
        for look_alike in [
            "DO\u{200B}-77-1",
            "DO\u{00AD}-77-1",
            "DO\u{2011}77\u{2011}1",
            "DO\u{2010}77\u{2013}1",
            "\u{FF24}\u{FF2F}-77-1",
            "\u{FF24}\u{FF2F}\u{FF0D}\u{FF17}\u{FF17}\u{FF0D}\u{FF11}",
        ] {
            assert_eq!(reference_key(look_alike), "do-77-1", "{look_alike}");
        }
        let r = ReceiptRef {
            warehouse: WarehouseCode::default_warehouse(),
            reference: " Do-1 ".into(),
            received_at: Utc::now(),
        };
        assert_eq!(r.key(), "do-1");
    }

    #[test]
    fn low_stock_is_told_once_per_fall_and_threshold() {
        use crate::events::EventKind;
        use crate::ids::EventId;
        let beras = Sku::parse("BERAS").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let watch = LowStockWatch {
            warehouse: WarehouseCode::default_warehouse(),
            sku: beras.clone(),
            today,
            alert: Event {
                id: EventId::new(),
                occurred_at: Utc::now(),
                actor: ActorRef::system(),
                request: None,
                kind: EventKind::StockLow {
                    warehouse: "GUDANG-DINSOS-BKS".into(),
                    sku: "BERAS".into(),
                    unit: String::new(),
                    available: 0,
                    threshold: 0,
                },
            },
        };
        let item = |threshold: u64, retired: bool| Item {
            sku: beras.clone(),
            name: "Beras".into(),
            unit: "kg".into(),
            low_threshold: threshold,
            retired,
        };
        let lot = |on_hand: u64, expires_on: Option<NaiveDate>| Lot {
            lot_id: "l".into(),
            sku: beras.clone(),
            expires_on,
            on_hand,
            allocated: 0,
        };
        // 60 usable, 100 expired yesterday.
        let lots = [lot(60, None), lot(100, today.pred_opt())];
        let told = |step: LowStockStep| match step {
            LowStockStep::Alert { threshold, alert } => match alert.kind {
                EventKind::StockLow {
                    available,
                    threshold: t,
                    unit,
                    ..
                } => Some((threshold, available, t, unit)),
                _ => None,
            },
            _ => None,
        };
        assert_eq!(
            told(watch.decide(&item(100, false), &lots, None)),
            Some((100, 60, 100, "kg".to_string()))
        );
        assert_eq!(
            watch.decide(&item(100, false), &lots, Some(100)),
            LowStockStep::Nothing,
            "told already for 100"
        );
        assert_eq!(
            told(watch.decide(&item(100, false), &lots, Some(80))).map(|t| t.0),
            Some(100),
            "a mark for another threshold is stale"
        );
        for (threshold, retired) in [(50, false), (0, false), (100, true)] {
            assert_eq!(
                watch.decide(&item(threshold, retired), &lots, Some(100)),
                LowStockStep::Clear,
                "{threshold} {retired}"
            );
            assert_eq!(
                watch.decide(&item(threshold, retired), &lots, None),
                LowStockStep::Nothing
            );
        }
    }

    #[test]
    fn a_ledger_cursor_is_only_valid_for_its_item() {
        let (w, beras, mie) = (
            WarehouseCode::default_warehouse(),
            Sku::parse("BERAS").unwrap(),
            Sku::parse("MIE-INSTAN").unwrap(),
        );
        let id = "01937a4c-0000-7000-8000-000000000001";
        let c = LedgerCursor::encode(&w, &beras, id);
        assert_eq!(
            LedgerCursor::decode(&c, &w, &beras),
            Ok(LedgerCursor { after: id.into() })
        );
        assert_eq!(
            LedgerCursor::decode(&c, &w, &mie),
            Err(StoreError::InvalidCursor)
        );
        for bad in [
            "",
            "!!",
            "bGVkZ2Vy",
            &LedgerCursor::encode(&w, &beras, "x' OR 1=1"),
            &LedgerCursor::encode(&w, &beras, &id.to_uppercase()),
            &LedgerCursor::encode(&w, &beras, &id.replace('-', "")),
            &LedgerCursor::encode(&w, &beras, &format!("{{{id}}}")),
            &LedgerCursor::encode(&w, &beras, &format!("urn:uuid:{id}")),
        ] {
            assert_eq!(
                LedgerCursor::decode(bad, &w, &beras),
                Err(StoreError::InvalidCursor),
                "{bad}"
            );
        }
    }
}
