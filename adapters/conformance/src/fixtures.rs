//! Test data built from the real domain types: households with valid NIK and KK numbers,
//! submissions exactly as the submit use case writes them, and transitions applied through the
//! lifecycle table ([`AidRequest::transition`]), so the stores are tested with what they will
//! really be given.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use shared::events::{Event, EventKind};
use shared::household::{Address, Category, Desil, Household, Reporter, Urgency};
use shared::ports::{IdempotencyRecord, NewRequest, StoreError};
use shared::registry::RegistryRecord;
use shared::request::{
    ActorRef, AidRequest, Cancellation, Decision, DecisionKind, Delivery, HistoryEntry,
    Recommendation, RegistryCheck, Submitter, SurveyAssignment, SurveyReport,
};
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
                stand_in(request)
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
        // `shared` has no event kinds yet for these four transitions (they belong to
        // allocate-stock). The stores treat the payload as opaque, so the fixtures stand in
        // the approval payload until the real kinds exist.
        Action::Allocate | Action::Waitlist | Action::Dispatch | Action::Handover => {
            stand_in(request)
        }
    };
    let from = request.status;
    let entry = request
        .transition(action, &actor, reason, at, &EventId::new())
        .unwrap_or_else(|r| panic!("fixture bug: {action:?} from {from:?} refused: {r:?}"));
    let ev = event(request, &entry, kind);
    (entry, ev)
}

fn stand_in(request: &AidRequest) -> EventKind {
    EventKind::RequestApproved {
        package_code: "PAKET-SEMBAKO".into(),
        packages: 1,
        delivery: Delivery::Kelurahan,
        urgency: request.urgency,
    }
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
