//! The request use cases behind `submit-request` and `verify-survey`: each takes the verified
//! caller, the parsed path and the JSON body, checks role and scope, reads and validates every
//! field, applies the lifecycle table and writes state + history + event in one store call.
//!
//! HTTP adapters only turn requests into these calls and [`AppError`]s into problem documents.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::{Caller, Role};
use crate::error::AppError;
use crate::events::{Event, EventKind, RequestRef};
use crate::household::{Address, Category, Household, Reporter, Urgency, parse_rt_rw};
use crate::i18n::Text;
use crate::ids::{RequestCode, RequestId};
use crate::input::Input;
use crate::lifecycle::{self, Action, Actor, Refusal, Status};
use crate::policy::Policy;
use crate::ports::{Deps, IdempotencyRecord, ListQuery, NewRequest, StoreError, SubmitFacts};
use crate::request::{
    ActorRef, AidRequest, Cancellation, Decision, DecisionKind, Delivery, Disclosure, Flag,
    HistoryEntry, Recommendation, RequestPage, RequestView, Submitter, SurveyAssignment,
    SurveyReport,
};
use crate::validation::{FieldError, Invalid};
use crate::{KelurahanCode, Kk, Nik, Phone};

/// Longest free-text `situation`.
pub const SITUATION_MAX: usize = 1000;
/// Longest `reason`, `findings` and similar free text.
const TEXT_MAX: usize = 2000;

fn require_role(caller: &Caller, action: Action) -> Result<(), AppError> {
    if lifecycle::permits(Actor::Role(caller.role), action) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn refusal(r: Refusal, action: Action) -> AppError {
    match r {
        Refusal::NotPermitted => AppError::Forbidden,
        Refusal::InvalidFrom(from) => AppError::InvalidTransition { from, action },
    }
}

fn parse_id(raw: &str) -> Result<RequestId, AppError> {
    // A malformed id cannot name an existing request: same answer as an unknown one.
    RequestId::parse(raw).map_err(|_| AppError::NotFound)
}

/// Loads a request the caller may see, for reading: named by its id or by its human code
/// (what the SMS and a phone call carry: `BSK-7K3M9Q`, see [`RequestCode::parse`]); anything
/// else is 404. Changes name the request by its id alone ([`load_visible`]).
async fn read_visible(deps: &Deps, caller: &Caller, id: &str) -> Result<AidRequest, AppError> {
    match (parse_id(id), RequestCode::parse(id)) {
        (Err(_), Some(code)) => {
            let id = deps
                .requests
                .id_by_code(&code)
                .await?
                .ok_or(AppError::NotFound)?;
            load_visible(deps, caller, id.as_str()).await
        }
        _ => load_visible(deps, caller, id).await,
    }
}

/// Loads a request the caller may see; anything else is 404.
async fn load_visible(deps: &Deps, caller: &Caller, id: &str) -> Result<AidRequest, AppError> {
    let id = parse_id(id)?;
    match deps.requests.get(&id).await? {
        Some(r) if r.visible_to(caller) => Ok(r),
        _ => Err(AppError::NotFound),
    }
}

/// SHA-256 of the body in canonical form (object keys sorted), for idempotency.
pub fn fingerprint(body: &Value) -> String {
    let canonical = serde_json::to_vec(body).expect("a JSON value serialises");
    let digest = Sha256::digest(&canonical);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn event(request: &AidRequest, entry: &HistoryEntry, kind: EventKind) -> Event {
    Event {
        id: entry.event_id.clone(),
        occurred_at: entry.at,
        actor: entry.actor.clone(),
        request: Some(RequestRef::of(request)),
        kind,
    }
}

// ---------------------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------------------

/// A submission read and validated from its body.
struct Submission {
    household: Household,
    category: Category,
    urgency: Urgency,
    situation: String,
    reported_by: Reporter,
    override_reason: Option<String>,
}

fn read_submission(caller: &Caller, body: &Value) -> Result<Submission, AppError> {
    let mut i = Input::new(body)?;
    let head_nik = i.parsed("household.head_nik", true, Nik::parse);
    let kk = i.parsed("household.kk", true, Kk::parse);
    let head_name = i.text("household.head_name", 200, true);
    let members = i.integer("household.members", 1, 50, true);
    let phone = i.parsed("household.phone", false, Phone::parse);
    let street = i.text("household.address.street", 300, true);
    let rt = i.parsed("household.address.rt", true, |s| parse_rt_rw(s, "RT"));
    let rw = i.parsed("household.address.rw", true, |s| parse_rt_rw(s, "RW"));
    // A code or a name ("Bekasi Jaya"); stored and answered as the canonical code.
    let kelurahan = i.parsed(
        "household.address.kelurahan_code",
        true,
        KelurahanCode::parse_code_or_name,
    );
    if let (Some(k), Some(own)) = (kelurahan, caller.kelurahan)
        && k != own
    {
        i.push(FieldError::new(
            "household.address.kelurahan_code",
            "KELURAHAN_OUT_OF_SCOPE",
            Text::new(
                format!(
                    "Anda hanya bisa mengajukan untuk kelurahan Anda sendiri ({}).",
                    own.as_str()
                ),
                format!(
                    "You can only submit for your own kelurahan ({}).",
                    own.as_str()
                ),
            ),
        ));
    }
    let category = i.parsed("category", true, Category::parse);
    let urgency = i.parsed("urgency", true, Urgency::parse);
    let situation = i.text("situation", SITUATION_MAX, true);
    let reporter_name = i.text("reported_by.name", 200, true);
    let reporter_phone = i.parsed("reported_by.phone", true, Phone::parse);
    let override_reason = i.text("override_reason", 500, false);
    i.finish()?;
    // finish() returned Ok, so every required value is present.
    let (
        Some(head_nik),
        Some(kk),
        Some(head_name),
        Some(members),
        Some(street),
        Some(rt),
        Some(rw),
        Some(kelurahan),
    ) = (head_nik, kk, head_name, members, street, rt, rw, kelurahan)
    else {
        unreachable!("required household fields were checked")
    };
    let (Some(category), Some(urgency), Some(situation), Some(reporter_name)) =
        (category, urgency, situation, reporter_name)
    else {
        unreachable!("required fields were checked")
    };
    Ok(Submission {
        household: Household {
            head_nik,
            kk,
            head_name,
            members: members as u32,
            phone,
            address: Address {
                street,
                rt,
                rw,
                kelurahan_code: kelurahan,
            },
        },
        category,
        urgency,
        situation,
        reported_by: Reporter {
            name: reporter_name,
            phone: reporter_phone,
        },
        override_reason,
    })
}

/// The answer to a submission: the HTTP status and JSON body, first-time or replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResponse {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// `POST /v1/requests`.
pub async fn submit(
    deps: &Deps,
    caller: &Caller,
    idempotency_key: Option<&str>,
    body: &Value,
) -> Result<SubmitResponse, AppError> {
    require_role(caller, Action::Submit)?;
    let idem = match idempotency_key {
        Some(key) => {
            let key = key.trim();
            if key.is_empty() || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
                return Err(AppError::Validation(vec![FieldError::new(
                    "Idempotency-Key",
                    "IDEMPOTENCY_KEY_INVALID",
                    Text::fixed(
                        "Idempotency-Key harus 1-200 karakter ASCII tanpa spasi.",
                        "Idempotency-Key must be 1-200 ASCII characters without spaces.",
                    ),
                )]));
            }
            Some((format!("{}:{}", caller.sub, key), fingerprint(body)))
        }
        None => None,
    };
    let key = idem.as_ref().map(|(key, _)| key.as_str());

    // A stored answer for the key comes first (it is replayed, or the key's reuse refused,
    // whatever this body holds); then the body's own problems; then the household. Everything
    // the decision reads is read in one store round trip (see `SubmitReads`), once the body
    // is known to be valid; an invalid keyed body only needs the key's record.
    let s = read_submission(caller, body);
    let facts = match (&s, key) {
        (Ok(s), _) => {
            deps.submit_reads
                .submit_facts(key, &s.household.head_nik, &s.household.kk)
                .await?
        }
        (Err(_), Some(key)) => SubmitFacts {
            prior: deps.idempotency.get(key).await?,
            ..SubmitFacts::default()
        },
        (Err(_), None) => SubmitFacts::default(),
    };
    if let (Some(prior), Some((_, fp))) = (facts.prior, &idem) {
        return replay(prior, fp);
    }
    let s = s?;
    let now = deps.clock.now();

    let registry_check = Policy::registry_check(facts.registry.map(|r| r.desil));
    let mut flags = deps.policy.registry_flags(&registry_check);

    if let Some(existing) = facts.active {
        return duplicate_or_replay(deps, idem.as_ref(), existing).await;
    }
    if let Some(until) = deps.policy.cooldown_until(facts.last_delivery, now) {
        if s.override_reason.is_none() {
            return Err(AppError::RecentlyAssisted { until });
        }
        flags.push(Flag::CooldownOverride);
    }

    let actor = ActorRef::of(caller);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let request = AidRequest {
            id: deps.ids.request_id(),
            code: deps.ids.request_code(),
            status: Status::Submitted,
            version: 1,
            kelurahan_code: s.household.address.kelurahan_code,
            household: s.household.clone(),
            category: s.category,
            urgency: s.urgency,
            situation: s.situation.clone(),
            reported_by: s.reported_by.clone(),
            registry: registry_check,
            flags: flags.clone(),
            override_reason: if flags.contains(&Flag::CooldownOverride) {
                s.override_reason.clone()
            } else {
                None
            },
            submitted_by: Submitter {
                sub: caller.sub.clone(),
                name: caller.name.clone(),
                phone: caller.phone.clone(),
            },
            survey: None,
            survey_report: None,
            decision: None,
            cancellation: None,
            created_at: now,
            updated_at: now,
        };
        let event_id = deps.ids.event_id();
        let entry = request.submission_entry(&actor, &event_id);
        let ev = event(
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
        let body_json = serde_json::to_string(&RequestView::of(&request, Disclosure::Masked))
            .expect("views serialise");
        let idempotency = idem.as_ref().map(|(key, fp)| IdempotencyRecord {
            key: key.clone(),
            fingerprint: fp.clone(),
            status: 201,
            body: body_json.clone(),
            created_at: now,
        });
        match deps
            .requests
            .insert(NewRequest {
                request,
                entry,
                event: ev,
                idempotency,
            })
            .await
        {
            Ok(()) => {
                return Ok(SubmitResponse {
                    status: 201,
                    body: body_json,
                    replayed: false,
                });
            }
            Err(StoreError::CodeTaken) if attempts < 5 => continue,
            Err(StoreError::DuplicateActive(existing)) => {
                return duplicate_or_replay(deps, idem.as_ref(), existing).await;
            }
            Err(StoreError::IdempotencyKeyTaken) => {
                // The same key won a race a moment ago: answer as its replay.
                let (key, fp) = idem.as_ref().expect("only keyed submissions record keys");
                return match deps.idempotency.get(key).await? {
                    Some(prior) => replay(prior, fp),
                    None => Err(AppError::IdempotencyKeyReused),
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The household already has an active request. When this submission carries an
/// `Idempotency-Key`, that request may be its own: a retry that raced its first attempt (it
/// read no record for the key, then found the household taken by the attempt that wrote
/// one). The record is written in the same transaction as the request, so it is readable
/// now: the same key and body replay the first answer, another body is 422; only without a
/// record for the key is it a duplicate.
async fn duplicate_or_replay(
    deps: &Deps,
    idem: Option<&(String, String)>,
    existing: RequestId,
) -> Result<SubmitResponse, AppError> {
    if let Some((key, fp)) = idem
        && let Some(prior) = deps.idempotency.get(key).await?
    {
        return replay(prior, fp);
    }
    Err(AppError::DuplicateActive {
        existing_id: existing,
    })
}

fn replay(prior: IdempotencyRecord, fingerprint: &str) -> Result<SubmitResponse, AppError> {
    if prior.fingerprint == fingerprint {
        Ok(SubmitResponse {
            status: prior.status,
            body: prior.body,
            replayed: true,
        })
    } else {
        Err(AppError::IdempotencyKeyReused)
    }
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// `GET /v1/requests/{id}`.
pub async fn get(deps: &Deps, caller: &Caller, id: &str) -> Result<RequestView, AppError> {
    let r = read_visible(deps, caller, id).await?;
    Ok(RequestView::of(&r, Disclosure::detail_for(caller)))
}

/// `GET /v1/requests/{id}/history`, oldest first.
pub async fn history(
    deps: &Deps,
    caller: &Caller,
    id: &str,
) -> Result<Vec<HistoryEntry>, AppError> {
    let r = read_visible(deps, caller, id).await?;
    Ok(deps.requests.history(&r.id).await?)
}

/// Query parameters of `GET /v1/requests`, as received.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub status: Option<String>,
    pub kelurahan_code: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Default and largest page sizes.
pub const PAGE_DEFAULT: u32 = 20;
pub const PAGE_MAX: u32 = 100;

/// The `next_cursor` clients get from `GET /v1/requests`: the store's own cursor wrapped with
/// the filters of the listing it continues (URL-safe base64 of JSON). The use case reads it
/// with the other parameters, so that a cursor that is not one (cut off, from another
/// listing) is reported together with every other bad parameter, whatever the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ListCursor {
    /// `status` of the listing.
    s: Option<String>,
    /// `kelurahan_code` of the listing (canonical).
    k: Option<String>,
    /// The store's cursor.
    c: String,
}

impl ListCursor {
    fn encode(&self) -> String {
        use base64::Engine;
        let json = serde_json::to_vec(self).expect("a cursor serialises");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(raw: &str) -> Option<ListCursor> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim())
            .ok()?;
        serde_json::from_slice::<ListCursor>(&bytes)
            .ok()
            .filter(|c| !c.c.is_empty())
    }
}

/// `GET /v1/requests`: newest first, then by id; kelurahan staff see only their own.
pub async fn list(
    deps: &Deps,
    caller: &Caller,
    params: &ListParams,
) -> Result<RequestPage, AppError> {
    let mut errors = Vec::new();
    let status = match params
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => match Status::parse(s) {
            Some(st) => Some(st),
            None => {
                errors.push(FieldError::new(
                    "status",
                    "STATUS_UNKNOWN",
                    Text::fixed(
                        "Status tidak dikenal; pilih salah satu: submitted, survey_assigned, surveyed, approved, rejected, waitlisted, allocated, dispatched, delivered, cancelled.",
                        "Unknown status; use one of: submitted, survey_assigned, surveyed, approved, rejected, waitlisted, allocated, dispatched, delivered, cancelled.",
                    ),
                ));
                None
            }
        },
    };
    let mut kelurahan = match params
        .kelurahan_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(k) => match KelurahanCode::parse_code_or_name(k) {
            Ok(k) => Some(k),
            Err(e) => {
                errors.push(e.at("kelurahan_code"));
                None
            }
        },
    };
    let cursor = match params
        .cursor
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(raw) => match ListCursor::decode(raw) {
            Some(c) => Some(c),
            None => {
                errors.push(crate::error::cursor_invalid());
                None
            }
        },
    };
    // Whether the filters could be read, so that a cursor can be held against them.
    let filters_read = errors.is_empty();
    let limit = match params
        .limit
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => PAGE_DEFAULT,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=PAGE_MAX).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    "limit",
                    "LIMIT_OUT_OF_RANGE",
                    Text::new(
                        format!("limit harus bilangan bulat 1 sampai {PAGE_MAX}."),
                        format!("limit must be a whole number from 1 to {PAGE_MAX}."),
                    ),
                ));
                PAGE_DEFAULT
            }
        },
    };
    if caller.role == Role::Kelurahan {
        match (kelurahan, caller.kelurahan) {
            (Some(k), Some(own)) if k != own => errors.push(FieldError::new(
                "kelurahan_code",
                "KELURAHAN_OUT_OF_SCOPE",
                Text::fixed(
                    "Anda hanya bisa melihat permohonan kelurahan Anda sendiri.",
                    "You can only see requests of your own kelurahan.",
                ),
            )),
            _ => kelurahan = caller.kelurahan,
        }
    }
    let filters = (
        status.map(|s| s.as_str().to_string()),
        kelurahan.map(|k| k.as_str().to_string()),
    );
    if let Some(c) = &cursor
        && filters_read
        && (&c.s, &c.k) != (&filters.0, &filters.1)
    {
        // The next page of another listing.
        errors.push(crate::error::cursor_invalid());
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let page = deps
        .requests
        .list(&ListQuery {
            kelurahan,
            status,
            created_from: None,
            created_before: None,
            limit,
            cursor: cursor.map(|c| c.c),
        })
        .await?;
    let (s, k) = filters;
    Ok(RequestPage {
        items: page
            .items
            .iter()
            .map(|r| RequestView::of(r, Disclosure::Masked))
            .collect(),
        next_cursor: page.next_cursor.map(|c| ListCursor { s, k, c }.encode()),
    })
}

// ---------------------------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------------------------

/// Applies one transition to a stored request, retrying when someone else changed it between
/// the read and the write. `prepare` checks the request (scope, assignment) and sets the
/// fields particular to the action; it returns the reason to record and the event payload.
async fn transition<F>(
    deps: &Deps,
    caller: &Caller,
    id: &str,
    action: Action,
    mut prepare: F,
) -> Result<RequestView, AppError>
where
    F: FnMut(&mut AidRequest, DateTime<Utc>) -> Result<(Option<String>, EventKind), AppError>,
{
    require_role(caller, action)?;
    let actor = ActorRef::of(caller);
    for _ in 0..3 {
        let mut request = load_visible(deps, caller, id).await?;
        let now = deps.clock.now();
        // Check the table before touching anything, so a refused action changes nothing.
        lifecycle::next(Some(request.status), action, Actor::Role(caller.role))
            .map_err(|r| refusal(r, action))?;
        let (reason, kind) = prepare(&mut request, now)?;
        let event_id = deps.ids.event_id();
        let entry = request
            .transition(action, &actor, reason, now, &event_id)
            .map_err(|r| refusal(r, action))?;
        let ev = event(&request, &entry, kind);
        match deps.requests.update(&request, &entry, &ev).await {
            Ok(()) => return Ok(RequestView::of(&request, Disclosure::detail_for(caller))),
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::ConcurrentModification)
}

/// `POST /v1/requests/{id}/cancel` — kelurahan staff (own) or Dinas; `{reason}`.
pub async fn cancel(
    deps: &Deps,
    caller: &Caller,
    id: &str,
    body: &Value,
) -> Result<RequestView, AppError> {
    require_role(caller, Action::Cancel)?;
    let mut i = Input::new(body)?;
    let reason = i.text("reason", TEXT_MAX, true);
    i.finish()?;
    let reason = reason.expect("checked");
    transition(deps, caller, id, Action::Cancel, |r, now| {
        r.cancellation = Some(Cancellation {
            reason: reason.clone(),
            cancelled_at: now,
            cancelled_by: ActorRef::of(caller),
            previous_status: r.status,
        });
        Ok((
            Some(reason.clone()),
            EventKind::RequestCancelled {
                previous_status: r.status,
            },
        ))
    })
    .await
}

/// How far ahead a survey may be due. An emergency survey is due within days; a date further
/// out is a typing mistake (a wrong year), and would reach the surveyor's SMS as such.
pub const SURVEY_DUE_MAX_DAYS: i64 = 90;

/// `POST /v1/requests/{id}/survey-assignment` — Dinas; `{surveyor, due_at?}`.
pub async fn assign_survey(
    deps: &Deps,
    caller: &Caller,
    id: &str,
    body: &Value,
) -> Result<RequestView, AppError> {
    require_role(caller, Action::AssignSurvey)?;
    let mut i = Input::new(body)?;
    let surveyor = i.text("surveyor", 200, true);
    let due_at = i.time("due_at", false);
    let now = deps.clock.now();
    if let Some(due) = due_at {
        if due < now {
            i.push(FieldError::new(
                "due_at",
                "DUE_AT_IN_PAST",
                Text::fixed(
                    "Batas waktu survei tidak boleh di masa lalu.",
                    "The survey due time cannot be in the past.",
                ),
            ));
        } else if due > now + chrono::Duration::days(SURVEY_DUE_MAX_DAYS) {
            i.push(FieldError::new(
                "due_at",
                "DUE_AT_TOO_FAR",
                Text::new(
                    format!(
                        "Batas waktu survei paling lama {SURVEY_DUE_MAX_DAYS} hari dari sekarang; periksa tahunnya."
                    ),
                    format!(
                        "The survey due time can be at most {SURVEY_DUE_MAX_DAYS} days from now; check the year."
                    ),
                ),
            ));
        }
    }
    i.finish()?;
    let surveyor = surveyor.expect("checked");
    transition(deps, caller, id, Action::AssignSurvey, |r, now| {
        r.survey = Some(SurveyAssignment {
            surveyor: surveyor.clone(),
            due_at,
            assigned_at: now,
            assigned_by: ActorRef::of(caller),
        });
        Ok((
            None,
            EventKind::SurveyAssigned {
                surveyor: surveyor.clone(),
                due_at,
            },
        ))
    })
    .await
}

/// `POST /v1/requests/{id}/survey` — the assigned surveyor;
/// `{visited_at, findings, members_verified, recommendation}`.
pub async fn record_survey(
    deps: &Deps,
    caller: &Caller,
    id: &str,
    body: &Value,
) -> Result<RequestView, AppError> {
    require_role(caller, Action::RecordSurvey)?;
    let mut i = Input::new(body)?;
    let visited_at = i.time("visited_at", true);
    let findings = i.text("findings", TEXT_MAX, true);
    let members = i.integer("members_verified", 0, 50, true);
    let recommendation = i.parsed("recommendation", true, |s| match s {
        "approve" => Ok(Recommendation::Approve),
        "reject" => Ok(Recommendation::Reject),
        _ => Err(Invalid::new(
            "RECOMMENDATION_INVALID",
            "Rekomendasi harus approve atau reject.",
            "Recommendation must be approve or reject.",
        )),
    });
    if let Some(v) = visited_at {
        // Not before the assignment of the caller's own survey (read here to name every bad
        // field at once; checked again on the request being written), not in the future.
        let assigned_at = match RequestId::parse(id) {
            Ok(rid) => deps
                .requests
                .get(&rid)
                .await?
                .and_then(|r| r.survey)
                .filter(|a| a.surveyor == caller.sub)
                .map(|a| a.assigned_at),
            Err(_) => None,
        };
        if let Some(p) = crate::reported_time::visited_at_problem(v, assigned_at, deps.clock.now())
        {
            i.push(p);
        }
    }
    i.finish()?;
    let (visited_at, findings, members, recommendation) = (
        visited_at.expect("checked"),
        findings.expect("checked"),
        members.expect("checked"),
        recommendation.expect("checked"),
    );
    transition(deps, caller, id, Action::RecordSurvey, |r, now| {
        // A survey not assigned to this surveyor is none of their business: 404.
        match &r.survey {
            Some(a) if a.surveyor == caller.sub => {
                if let Some(p) =
                    crate::reported_time::visited_at_problem(visited_at, Some(a.assigned_at), now)
                {
                    return Err(AppError::Validation(vec![p]));
                }
            }
            _ => return Err(AppError::NotFound),
        }
        r.survey_report = Some(SurveyReport {
            visited_at,
            findings: findings.clone(),
            members_verified: members as u32,
            recommendation,
            recorded_at: now,
            recorded_by: ActorRef::of(caller),
        });
        Ok((None, EventKind::SurveyRecorded { recommendation }))
    })
    .await
}

/// `POST /v1/requests/{id}/decision` — Dinas;
/// `{decision, reason, package_code, packages, delivery}` (package fields when approving).
pub async fn decide(
    deps: &Deps,
    caller: &Caller,
    id: &str,
    body: &Value,
) -> Result<RequestView, AppError> {
    require_role(caller, Action::Approve)?;
    let mut i = Input::new(body)?;
    let decision = i.parsed("decision", true, |s| match s {
        "approve" => Ok(DecisionKind::Approve),
        "reject" => Ok(DecisionKind::Reject),
        _ => Err(Invalid::new(
            "DECISION_INVALID",
            "Keputusan harus approve atau reject.",
            "Decision must be approve or reject.",
        )),
    });
    let reason = i.text("reason", TEXT_MAX, true);
    let approving = decision == Some(DecisionKind::Approve);
    let package_code = i.parsed("package_code", approving, crate::stock::parse_package_code);
    let packages = i.integer("packages", 1, 20, approving);
    let delivery = i.parsed("delivery", approving, |s| match s {
        "kelurahan" => Ok(Delivery::Kelurahan),
        "household" => Ok(Delivery::Household),
        _ => Err(Invalid::new(
            "DELIVERY_INVALID",
            "Tujuan pengiriman harus kelurahan atau household.",
            "Delivery must be kelurahan or household.",
        )),
    });
    if approving
        && let (Some(code), Some(catalog)) = (&package_code, &deps.catalog)
        && catalog.package(code).await?.is_none()
    {
        i.push(FieldError::new(
            "package_code",
            "PACKAGE_UNKNOWN",
            Text::fixed(
                "Paket dengan kode ini belum didefinisikan (lihat GET /v1/packages).",
                "No package with this code is defined (see GET /v1/packages).",
            ),
        ));
    }
    i.finish()?;
    let (decision, reason) = (decision.expect("checked"), reason.expect("checked"));
    let action = match decision {
        DecisionKind::Approve => Action::Approve,
        DecisionKind::Reject => Action::Reject,
    };
    transition(deps, caller, id, action, |r, now| {
        let d = Decision {
            decision,
            reason: reason.clone(),
            package_code: package_code.clone().filter(|_| approving),
            packages: packages.map(|p| p as u32).filter(|_| approving),
            delivery: delivery.filter(|_| approving),
            decided_at: now,
            decided_by: ActorRef::of(caller),
        };
        let kind = match decision {
            DecisionKind::Approve => EventKind::RequestApproved {
                package_code: d.package_code.clone().expect("checked"),
                packages: d.packages.expect("checked"),
                delivery: d.delivery.expect("checked"),
                urgency: r.urgency,
            },
            DecisionKind::Reject => EventKind::RequestRejected {},
        };
        r.decision = Some(d);
        Ok((Some(reason.clone()), kind))
    })
    .await
}
