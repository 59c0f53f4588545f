//! Test data built from the real domain types: households with valid NIK and KK numbers,
//! submissions exactly as the submit use case writes them, transitions applied through the
//! lifecycle table ([`AidRequest::transition`]) with the event kinds the use cases emit, and
//! stock writes shaped like the ones `shared::fulfilment` builds (receipts, adjustments,
//! allocations, releases, dispatches, handovers), so the stores are tested with what they will
//! really be given.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use shared::events::{Event, EventKind, ShortItem, SkuQuantity};
use shared::fulfilment_ports::{
    Allocation, AllocationStatus, Expect, LedgerEntry, Receipt, ReceiptRef, Shipment, ShipmentLine,
    ShipmentStatus, StockWrite,
};
use shared::household::{Address, Category, Desil, Household, Reporter, Urgency};
use shared::notify::{NotificationRecord, NotificationStatus, Recipient};
use shared::ports::{IdempotencyRecord, Ids, NewRequest, RandomIds, StoreError};
use shared::registry::RegistryRecord;
use shared::request::{
    ActorRef, AidRequest, Cancellation, Decision, DecisionKind, Delivery, HistoryEntry,
    Recommendation, RegistryCheck, Submitter, SurveyAssignment, SurveyReport,
};
use shared::stock::{Item, Movement, Package, PackageLine, Sku, Take, WarehouseCode};
use shared::{Action, EventId, KelurahanCode, Kk, Nik, Phone, RequestCode, RequestId, Status};

use crate::Ports;

/// Bekasijaya, Bekasi Timur.
pub const KELURAHAN_A: &str = "32.75.01.1001";
/// Teluk Pucung, Bekasi Utara.
pub const KELURAHAN_B: &str = "32.75.03.1004";

/// A valid head NIK, one per `serial` (1..=9999): `327501` region, born 01-01-1990 (a woman:
/// day + 40), then the serial.
pub fn nik(serial: u16) -> Nik {
    Nik::parse(&format!("327501410190{serial:04}")).expect("fixture NIK is valid")
}

/// A valid KK number, one per `serial` (0..=9999).
pub fn kk(serial: u16) -> Kk {
    Kk::parse(&format!("327501020304{serial:04}")).expect("fixture KK is valid")
}

pub fn kelurahan(code: &str) -> KelurahanCode {
    KelurahanCode::parse(code).expect("fixture kelurahan exists")
}

/// `base + seconds`, where base is 2026-03-01 08:00 WIB.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 0)
        .single()
        .expect("valid fixture time")
        + Duration::seconds(seconds)
}

/// A fresh human code, unique within the test process (no random collisions in tests).
pub fn code() -> RequestCode {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    RequestCode::from_stored(format!("BSK-{:06}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

pub fn actor(role: &str) -> ActorRef {
    ActorRef {
        sub: format!("{role}-1"),
        name: format!("Petugas {role}"),
        role: role.to_string(),
    }
}

/// Who performs `action` in these fixtures (a role the lifecycle table permits).
pub fn actor_for(action: Action) -> ActorRef {
    match action {
        Action::Submit | Action::Handover | Action::Cancel => actor("kelurahan"),
        Action::AssignSurvey | Action::Approve | Action::Reject => actor("dinas"),
        Action::RecordSurvey => actor("surveyor"),
        Action::Dispatch => actor("gudang"),
        Action::Allocate | Action::Waitlist => ActorRef::system(),
    }
}

/// A submission for the household (`head`, `family`) in `kelurahan`, made at `created_at`:
/// the request, its first history entry and its `RequestSubmitted` event, no idempotency key.
pub fn submission_for(
    head: Nik,
    family: Kk,
    kelurahan_code: &str,
    created_at: DateTime<Utc>,
) -> NewRequest {
    let kel = kelurahan(kelurahan_code);
    let household = Household {
        head_nik: head,
        kk: family,
        head_name: "Siti Aminah".into(),
        members: 4,
        phone: Some(Phone::parse("081234567890").expect("fixture phone is valid")),
        address: Address {
            street: "Jl. Melati No. 7".into(),
            rt: "003".into(),
            rw: "011".into(),
            kelurahan_code: kel,
        },
    };
    let request = AidRequest {
        id: RequestId::new(),
        code: code(),
        status: Status::Submitted,
        version: 1,
        kelurahan_code: kel,
        household,
        category: Category::MiskinEkstrem,
        urgency: Urgency::Darurat,
        situation: "Kepala keluarga sakit, tidak ada bahan makanan.".into(),
        reported_by: Reporter {
            name: "Bu Ratna (PSM)".into(),
            phone: Some(Phone::parse("+6281311112222").expect("fixture phone is valid")),
        },
        registry: RegistryCheck {
            found: true,
            desil: Some(Desil::new(1).expect("valid desil")),
        },
        flags: vec![],
        override_reason: None,
        submitted_by: Submitter {
            sub: "kelurahan-1".into(),
            name: "Petugas kelurahan".into(),
            phone: None,
        },
        survey: None,
        survey_report: None,
        decision: None,
        cancellation: None,
        created_at,
        updated_at: created_at,
    };
    let entry = request.submission_entry(&actor_for(Action::Submit), &EventId::new());
    let event = event(
        &request,
        &entry,
        EventKind::RequestSubmitted {
            category: request.category,
            urgency: request.urgency,
            flags: request.flags.clone(),
            head_nik_masked: request.household.head_nik.masked(),
            kk_masked: request.household.kk.masked(),
        },
    );
    NewRequest {
        request,
        entry,
        event,
        idempotency: None,
    }
}

/// A submission for household number `serial` (head `nik(serial)`, family `kk(serial)`).
pub fn submission(serial: u16, kelurahan_code: &str, created_at: DateTime<Utc>) -> NewRequest {
    submission_for(nik(serial), kk(serial), kelurahan_code, created_at)
}

/// An idempotency record as the submit use case writes it.
pub fn idempotency(key: &str, fingerprint: &str, created_at: DateTime<Utc>) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_string(),
        fingerprint: fingerprint.to_string(),
        status: 201,
        body: format!("{{\"answer\":\"{fingerprint}\"}}"),
        created_at,
    }
}

pub fn registry_row(serial: u16, nama: &str, kelurahan_code: &str, desil: i64) -> RegistryRecord {
    RegistryRecord {
        nik: nik(serial),
        kk: kk(serial),
        nama: nama.to_string(),
        kelurahan_code: kelurahan(kelurahan_code),
        desil: Desil::new(desil).expect("fixture desil is valid"),
    }
}

/// The envelope the use cases put around an event.
pub fn event(request: &AidRequest, entry: &HistoryEntry, kind: EventKind) -> Event {
    Event {
        id: entry.event_id.clone(),
        occurred_at: entry.at,
        actor: entry.actor.clone(),
        request: Some(shared::events::RequestRef::of(request)),
        kind,
    }
}

/// Moves `request` (in memory) through `action` at `at`, setting the fields the action records,
/// and returns the history entry and event to write with it. Panics when the lifecycle table
/// refuses: that is a bug in the test, not in the store.
pub fn transition(
    request: &mut AidRequest,
    action: Action,
    at: DateTime<Utc>,
) -> (HistoryEntry, Event) {
    let actor = actor_for(action);
    let mut reason = None;
    let kind = match action {
        Action::Submit => {
            panic!("fixture bug: a request is created by submission(), not by a transition")
        }
        Action::AssignSurvey => {
            request.survey = Some(SurveyAssignment {
                surveyor: "surveyor-1".into(),
                due_at: Some(at + Duration::days(2)),
                assigned_at: at,
                assigned_by: actor.clone(),
            });
            EventKind::SurveyAssigned {
                surveyor: "surveyor-1".into(),
                due_at: Some(at + Duration::days(2)),
            }
        }
        Action::RecordSurvey => {
            request.survey_report = Some(SurveyReport {
                visited_at: at,
                findings: "Rumah semi permanen, tidak ada persediaan beras.".into(),
                members_verified: 4,
                recommendation: Recommendation::Approve,
                recorded_at: at,
                recorded_by: actor.clone(),
            });
            EventKind::SurveyRecorded {
                recommendation: Recommendation::Approve,
            }
        }
        Action::Approve | Action::Reject => {
            let approve = action == Action::Approve;
            let why = if approve {
                "Layak dibantu."
            } else {
                "Tidak memenuhi kriteria."
            };
            reason = Some(why.to_string());
            request.decision = Some(Decision {
                decision: if approve {
                    DecisionKind::Approve
                } else {
                    DecisionKind::Reject
                },
                reason: why.into(),
                package_code: approve.then(|| "PAKET-SEMBAKO".into()),
                packages: approve.then_some(1),
                delivery: approve.then_some(Delivery::Kelurahan),
                decided_at: at,
                decided_by: actor.clone(),
            });
            if approve {
                EventKind::RequestApproved {
                    package_code: "PAKET-SEMBAKO".into(),
                    packages: 1,
                    delivery: Delivery::Kelurahan,
                    urgency: request.urgency,
                }
            } else {
                EventKind::RequestRejected {}
            }
        }
        Action::Cancel => {
            let why = "Keluarga pindah domisili.";
            reason = Some(why.to_string());
            request.cancellation = Some(Cancellation {
                reason: why.into(),
                cancelled_at: at,
                cancelled_by: actor.clone(),
                previous_status: request.status,
            });
            EventKind::RequestCancelled {
                previous_status: request.status,
            }
        }
        // The shipment ids are fresh here: a store treats event payloads as opaque. The stock
        // writes below use the ids of the shipments they write.
        Action::Allocate => EventKind::RequestAllocated {
            warehouse: warehouse().as_str().to_string(),
            shipment_id: uuid(),
            package_code: package_code_of(request),
            packages: packages_of(request),
        },
        Action::Waitlist => {
            reason = Some("stok gudang kurang".into());
            EventKind::RequestWaitlisted {
                package_code: package_code_of(request),
                packages: packages_of(request),
                short: vec![ShortItem {
                    sku: "BERAS".into(),
                    needed: 10,
                    available: 0,
                }],
            }
        }
        Action::Dispatch => EventKind::RequestDispatched {
            shipment_id: uuid(),
            delivery: delivery_of(request),
        },
        Action::Handover => EventKind::RequestDelivered {
            shipment_id: uuid(),
            received_at: Some(at),
        },
    };
    let from = request.status;
    let entry = request
        .transition(action, &actor, reason, at, &EventId::new())
        .unwrap_or_else(|r| panic!("fixture bug: {action:?} from {from:?} refused: {r:?}"));
    let ev = event(request, &entry, kind);
    (entry, ev)
}

fn package_code_of(request: &AidRequest) -> String {
    request
        .decision
        .as_ref()
        .and_then(|d| d.package_code.clone())
        .unwrap_or_else(|| "PAKET-SEMBAKO".into())
}

fn packages_of(request: &AidRequest) -> u32 {
    request
        .decision
        .as_ref()
        .and_then(|d| d.packages)
        .unwrap_or(1)
}

fn delivery_of(request: &AidRequest) -> Delivery {
    request
        .decision
        .as_ref()
        .and_then(|d| d.delivery)
        .unwrap_or(Delivery::Kelurahan)
}

/// Applies `action` to `request` and writes it through [`shared::ports::RequestStore::update`].
/// Returns the event written, or the store's refusal.
pub async fn advance(
    ports: &Ports,
    request: &mut AidRequest,
    action: Action,
    at: DateTime<Utc>,
) -> Result<Event, StoreError> {
    let (entry, event) = transition(request, action, at);
    ports.requests.update(request, &entry, &event).await?;
    Ok(event)
}

/// Applies every action in turn, one second apart from `start`; panics on any refusal.
pub async fn drive(
    ports: &Ports,
    request: &mut AidRequest,
    actions: &[Action],
    start: DateTime<Utc>,
) {
    for (i, action) in actions.iter().enumerate() {
        let when = start + Duration::seconds(i as i64);
        if let Err(e) = advance(ports, request, *action, when).await {
            panic!(
                "writing {action:?} (to version {}) failed: {e:?}",
                request.version
            );
        }
    }
}

/// The path from submitted to delivered.
pub const TO_DELIVERED: [Action; 6] = [
    Action::AssignSurvey,
    Action::RecordSurvey,
    Action::Approve,
    Action::Allocate,
    Action::Dispatch,
    Action::Handover,
];

/// The path from submitted to approved (ready for allocation).
pub const TO_APPROVED: [Action; 3] = [Action::AssignSurvey, Action::RecordSurvey, Action::Approve];

/// Household `serial`'s request, submitted at `at` and driven to `approved` through the store.
pub async fn approved(ports: &Ports, serial: u16, at: DateTime<Utc>) -> AidRequest {
    let new = submission(serial, KELURAHAN_A, at);
    let mut request = new.request.clone();
    if let Err(e) = ports.requests.insert(new).await {
        panic!("inserting request {serial}: {e:?}");
    }
    drive(ports, &mut request, &TO_APPROVED, at + Duration::seconds(1)).await;
    request
}

// ---------------------------------------------------------------------------------------------
// Stock
// ---------------------------------------------------------------------------------------------

/// A fresh UUIDv7, as the use cases give lots, ledger entries and shipments.
pub fn uuid() -> String {
    RandomIds.uuid()
}

/// The warehouse every local run seeds.
pub fn warehouse() -> WarehouseCode {
    WarehouseCode::default_warehouse()
}

/// A second warehouse, to check that warehouses are kept apart.
pub fn other_warehouse() -> WarehouseCode {
    WarehouseCode::parse("GUDANG-CADANGAN").expect("fixture warehouse is valid")
}

pub fn sku(code: &str) -> Sku {
    Sku::parse(code).expect("fixture sku is valid")
}

/// `YYYY-MM-DD`.
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("fixture date is valid")
}

pub fn item(code: &str, low_threshold: u64) -> Item {
    Item {
        sku: sku(code),
        name: format!("Barang {code}"),
        unit: "pcs".into(),
        low_threshold,
        retired: false,
    }
}

pub fn package(code: &str, lines: &[(&str, u64)], at: DateTime<Utc>) -> Package {
    Package {
        code: code.into(),
        name: format!("Paket {code}"),
        lines: lines
            .iter()
            .map(|(s, q)| PackageLine {
                sku: sku(s),
                quantity: shared::stock::Quantity::parse(i128::from(*q))
                    .expect("fixture quantities are 1 to 1000000"),
            })
            .collect(),
        updated_at: at,
    }
}

/// One ledger entry (a fresh id; deltas from the movement), by the warehouse staff.
#[allow(clippy::too_many_arguments)]
pub fn ledger_entry(
    warehouse: &WarehouseCode,
    lot_id: &str,
    item: &str,
    expires_on: Option<NaiveDate>,
    movement: Movement,
    quantity: i64,
    at: DateTime<Utc>,
    reference: &str,
) -> LedgerEntry {
    LedgerEntry::new(
        uuid(),
        at,
        warehouse,
        lot_id,
        &sku(item),
        expires_on,
        movement,
        quantity,
        &actor("gudang"),
        movement.as_str(),
        reference,
    )
}

/// A warehouse event (about no request).
pub fn stock_event(kind: EventKind, at: DateTime<Utc>) -> Event {
    Event {
        id: EventId::new(),
        occurred_at: at,
        actor: actor("gudang"),
        request: None,
        kind,
    }
}

/// A `StockLow` event for `item`.
pub fn stock_low(item: &str, available: u64, at: DateTime<Utc>) -> Event {
    stock_event(
        EventKind::StockLow {
            warehouse: warehouse().as_str().to_string(),
            sku: item.into(),
            unit: "pcs".into(),
            available,
            threshold: 10,
        },
        at,
    )
}

/// A receipt as `receive` writes it: each line into a new lot (one `receipt` entry each), one
/// `StockReceived` event and the guard of its delivery note (a fresh reference `SJ-<uuid>`).
/// Returns the write and the new lot ids, in line order.
pub fn receipt(
    warehouse: &WarehouseCode,
    lines: &[(&str, i64, Option<NaiveDate>)],
    at: DateTime<Utc>,
) -> (StockWrite, Vec<String>) {
    receipt_of(warehouse, &format!("SJ-{}", uuid()), lines, at)
}

/// A receipt of the delivery note `reference` (typed as given), guarded like every receipt
/// the use case writes: a warehouse receives a reference once.
pub fn receipt_of(
    warehouse: &WarehouseCode,
    reference: &str,
    lines: &[(&str, i64, Option<NaiveDate>)],
    at: DateTime<Utc>,
) -> (StockWrite, Vec<String>) {
    let reference = reference.to_string();
    let lot_ids: Vec<String> = lines.iter().map(|_| uuid()).collect();
    let ledger = lines
        .iter()
        .zip(&lot_ids)
        .map(|((item, q, exp), lot)| {
            ledger_entry(
                warehouse,
                lot,
                item,
                *exp,
                Movement::Receipt,
                *q,
                at,
                &reference,
            )
        })
        .collect();
    let guard = ReceiptRef {
        warehouse: warehouse.clone(),
        reference: reference.clone(),
        received_at: at,
    };
    let event = stock_event(
        EventKind::StockReceived {
            warehouse: warehouse.as_str().to_string(),
            reference,
            lines: lines
                .iter()
                .map(|(item, q, _)| SkuQuantity {
                    sku: (*item).into(),
                    quantity: (*q).max(0) as u64,
                })
                .collect(),
        },
        at,
    );
    let write = StockWrite {
        ledger,
        events: vec![event],
        receipt: Some(guard),
        ..StockWrite::default()
    };
    (write, lot_ids)
}

/// An adjustment of one lot by `delta` (a write-off when negative), no events.
pub fn adjustment(
    warehouse: &WarehouseCode,
    lot_id: &str,
    item: &str,
    delta: i64,
    at: DateTime<Utc>,
) -> StockWrite {
    StockWrite {
        ledger: vec![ledger_entry(
            warehouse,
            lot_id,
            item,
            None,
            Movement::Adjustment,
            delta,
            at,
            "stock opname",
        )],
        ..StockWrite::default()
    }
}

/// Takes `quantity` of lot `lot_id` (of `item`).
pub fn take(lot_id: &str, item: &str, quantity: u64) -> Take {
    Take {
        lot_id: lot_id.into(),
        sku: sku(item),
        quantity,
        expires_on: None,
    }
}

fn entries_for(
    takes: &[Take],
    movement: Movement,
    at: DateTime<Utc>,
    reference: &str,
) -> Vec<LedgerEntry> {
    takes
        .iter()
        .map(|t| {
            ledger_entry(
                &warehouse(),
                &t.lot_id,
                t.sku.as_str(),
                t.expires_on,
                movement,
                t.quantity as i64,
                at,
                reference,
            )
        })
        .collect()
}

/// What `allocate` writes for an approved (or waitlisted) `request`, which it moves to
/// `allocated` in memory: one `allocation` entry per take, the allocation (expected absent), a
/// ready shipment (expected absent), the transition and its `RequestAllocated` event.
pub fn allocation_write(
    request: &mut AidRequest,
    takes: &[Take],
    at: DateTime<Utc>,
) -> (StockWrite, Allocation, Shipment) {
    let shipment_id = uuid();
    let (entry, mut event) = transition(request, Action::Allocate, at);
    if let EventKind::RequestAllocated {
        shipment_id: id, ..
    } = &mut event.kind
    {
        *id = shipment_id.clone();
    }
    let allocation = Allocation {
        request_id: request.id.clone(),
        warehouse: warehouse(),
        package_code: package_code_of(request),
        packages: packages_of(request),
        takes: takes.to_vec(),
        status: AllocationStatus::Active,
        shipment_id: shipment_id.clone(),
        created_at: at,
        updated_at: at,
    };
    let shipment = Shipment {
        id: shipment_id,
        request_id: request.id.clone(),
        request_code: request.code.clone(),
        kelurahan_code: request.kelurahan_code.as_str().to_string(),
        warehouse: warehouse(),
        destination: delivery_of(request),
        package_code: package_code_of(request),
        packages: packages_of(request),
        lines: takes
            .iter()
            .map(|t| ShipmentLine {
                sku: t.sku.clone(),
                quantity: t.quantity,
            })
            .collect(),
        status: ShipmentStatus::Ready,
        created_at: at,
        dispatched_at: None,
        dispatched_by: None,
        delivered: None,
        updated_at: at,
    };
    let write = StockWrite {
        ledger: entries_for(takes, Movement::Allocation, at, request.id.as_str()),
        allocation: Some((allocation.clone(), Expect::Absent)),
        shipment: Some((shipment.clone(), Expect::Absent)),
        request: Some((request.clone(), entry)),
        events: vec![event],
        ..StockWrite::default()
    };
    (write, allocation, shipment)
}

/// What `release` writes for a cancelled request: `release` entries, the allocation
/// `active -> released`, the shipment `ready -> cancelled`.
pub fn release_write(
    allocation: &Allocation,
    shipment: &Shipment,
    at: DateTime<Utc>,
) -> (StockWrite, Allocation, Shipment) {
    let mut allocation = allocation.clone();
    allocation.status = AllocationStatus::Released;
    allocation.updated_at = at;
    let mut shipment = shipment.clone();
    shipment.status = ShipmentStatus::Cancelled;
    shipment.updated_at = at;
    let write = StockWrite {
        ledger: entries_for(
            &allocation.takes,
            Movement::Release,
            at,
            allocation.request_id.as_str(),
        ),
        allocation: Some((allocation.clone(), Expect::Status(AllocationStatus::Active))),
        shipment: Some((shipment.clone(), Expect::Status(ShipmentStatus::Ready))),
        ..StockWrite::default()
    };
    (write, allocation, shipment)
}

/// What `dispatch` writes: `dispatch` entries, the allocation `active -> dispatched`, the
/// shipment `ready -> dispatched`, the request (moved in memory) to `dispatched` with its
/// `RequestDispatched` event.
pub fn dispatch_write(
    request: &mut AidRequest,
    allocation: &Allocation,
    shipment: &Shipment,
    at: DateTime<Utc>,
) -> (StockWrite, Allocation, Shipment) {
    let (entry, mut event) = transition(request, Action::Dispatch, at);
    if let EventKind::RequestDispatched {
        shipment_id: id, ..
    } = &mut event.kind
    {
        *id = shipment.id.clone();
    }
    let mut allocation = allocation.clone();
    allocation.status = AllocationStatus::Dispatched;
    allocation.updated_at = at;
    let mut shipment = shipment.clone();
    shipment.status = ShipmentStatus::Dispatched;
    shipment.dispatched_at = Some(at);
    shipment.dispatched_by = Some(actor_for(Action::Dispatch));
    shipment.updated_at = at;
    let write = StockWrite {
        ledger: entries_for(&allocation.takes, Movement::Dispatch, at, &shipment.id),
        allocation: Some((allocation.clone(), Expect::Status(AllocationStatus::Active))),
        shipment: Some((shipment.clone(), Expect::Status(ShipmentStatus::Ready))),
        request: Some((request.clone(), entry)),
        events: vec![event],
        ..StockWrite::default()
    };
    (write, allocation, shipment)
}

/// What `handover` writes: the shipment `dispatched -> delivered` with who received it, the
/// request (moved in memory) to `delivered` with its `RequestDelivered` event.
pub fn handover_write(
    request: &mut AidRequest,
    shipment: &Shipment,
    at: DateTime<Utc>,
) -> (StockWrite, Shipment) {
    let (entry, mut event) = transition(request, Action::Handover, at);
    if let EventKind::RequestDelivered {
        shipment_id: id, ..
    } = &mut event.kind
    {
        *id = shipment.id.clone();
    }
    let mut shipment = shipment.clone();
    shipment.status = ShipmentStatus::Delivered;
    shipment.delivered = Some(Receipt {
        received_by: "Siti Aminah".into(),
        relation: "kepala keluarga".into(),
        received_at: at,
        note: None,
        recorded_by: actor_for(Action::Handover),
    });
    shipment.updated_at = at;
    let write = StockWrite {
        shipment: Some((shipment.clone(), Expect::Status(ShipmentStatus::Dispatched))),
        request: Some((request.clone(), entry)),
        events: vec![event],
        ..StockWrite::default()
    };
    (write, shipment)
}

/// A shipment record of its own (for listings), for a request that need not be stored.
pub fn shipment(status: ShipmentStatus, created_at: DateTime<Utc>) -> Shipment {
    let request = submission(1, KELURAHAN_A, created_at).request;
    Shipment {
        id: uuid(),
        request_id: request.id,
        request_code: request.code,
        kelurahan_code: KELURAHAN_A.into(),
        warehouse: warehouse(),
        destination: Delivery::Kelurahan,
        package_code: "PAKET-SEMBAKO".into(),
        packages: 1,
        lines: vec![ShipmentLine {
            sku: sku("BERAS"),
            quantity: 10,
        }],
        status,
        created_at,
        dispatched_at: None,
        dispatched_by: None,
        delivered: None,
        updated_at: created_at,
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

/// A pending notification record to a number, as `notify` claims it (its first attempt).
pub fn notification(event_id: &str, recipient: &str, at: DateTime<Utc>) -> NotificationRecord {
    let phone = Phone::parse(recipient).expect("fixture phone is valid");
    NotificationRecord {
        event_id: event_id.into(),
        event_type: "RequestApproved".into(),
        recipient: Recipient::Phone(phone.clone()),
        phone: Some(phone),
        audience: "psm".into(),
        text: "BASOKA: Permohonan BSK-000001 (Bekasijaya) disetujui, 1 paket.".into(),
        status: NotificationStatus::Pending,
        attempts: 1,
        provider_id: None,
        last_error: None,
        created_at: at,
        updated_at: at,
    }
}

/// A pending notification record to a staff member by user id whose number is not known.
pub fn staff_notification(event_id: &str, sub: &str, at: DateTime<Utc>) -> NotificationRecord {
    NotificationRecord {
        recipient: Recipient::Staff(sub.into()),
        phone: None,
        audience: "kelurahan".into(),
        ..notification(event_id, "081234567890", at)
    }
}
