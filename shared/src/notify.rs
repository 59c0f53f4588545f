//! The `notify` use case: who is told what by SMS for each domain event (DESIGN §8), sending
//! each (event, recipient) once however often the event arrives, and keeping a notification
//! log with every outcome. A failed send is retried and recorded as failed, never as sent, and
//! never blocks the workflow: the handler always finishes, the retry sweep tries again later.
//!
//! Once per (event, recipient), even when two deliveries of one event run at the same time:
//! a sender first *claims* the record (insert if absent), and the claim is a lease of
//! [`CLAIM_LEASE`]. Whoever finds a fresh claim of someone else leaves that SMS alone (the
//! event is not failed for it). A claim older than the lease belongs to a sender that stopped
//! before recording the outcome: the retry sweep (or a later delivery) takes it over, and so
//! a failed record, only by a conditional write on the record as it read it
//! ([`NotificationLog::replace`]), so that of several takers exactly one sends. Each lease
//! counts as an attempt, and the outcome is recorded only while the lease is still held.
//!
//! A staff member (the surveyor of an assignment, the kelurahan staff who submitted a request)
//! is a recipient by user id ([`Recipient::Staff`]), their number looked up in the [`Directory`]
//! at each attempt: while no number is known the record stays failed with
//! [`NO_PHONE_YET`], and the retry sweep sends it once the number becomes known.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::events::{Event, EventKind};
use crate::ports::{Clock, RequestStore, StoreError};
use crate::request::{AidRequest, Delivery};
use crate::sms::{Message, SmsText, render};
use crate::{KelurahanCode, Phone};

/// How long a claim keeps every other sender off its (event, recipient): longer than any send
/// can take (the notify function stops after 60 s; a local send is a line in a file), short
/// enough that the retry sweep (every 5 minutes on AWS, 30 s locally) soon takes over a claim
/// whose sender died.
pub const CLAIM_LEASE: TimeDelta = TimeDelta::minutes(3);

/// Why a staff member's SMS is not sent: their number is not in the directory yet.
pub const NO_PHONE_YET: &str = "no phone number known yet";

/// Why a claim at the last attempt was given up: its sender stopped before recording the
/// outcome (whether the SMS went out is unknown).
pub const SENDER_STOPPED: &str = "no outcome recorded: the sender stopped";

/// Sends one SMS. Locally: a line in the data folder's outbox file; on AWS: SNS `Publish`.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Returns the provider's message id.
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<String, String>;
}

/// Phone numbers of staff by user id (`sub`), e.g. the surveyor a survey is assigned to.
#[async_trait]
pub trait Directory: Send + Sync {
    async fn phone_of(&self, sub: &str) -> Result<Option<Phone>, StoreError>;
}

/// Who an SMS is for, as the notification log keys it (with the event id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// A number given with the request or the configuration: an office (Dinas duty,
    /// warehouse), the PSM, the household.
    Phone(Phone),
    /// A staff member by user id (`sub`): their number is looked up in the [`Directory`] at
    /// each attempt, so that their SMS waits in the log until the number is known.
    Staff(String),
}

impl Recipient {
    const STAFF: &'static str = "staff:";

    /// The stored key: E.164 (`+6281234567890`) for a number, `staff:<sub>` for staff (a
    /// number never starts with `s`, so the two never meet).
    pub fn key(&self) -> String {
        match self {
            Recipient::Phone(p) => p.as_str().to_string(),
            Recipient::Staff(sub) => format!("{}{sub}", Recipient::STAFF),
        }
    }

    /// Reads a stored key back.
    pub fn from_key(key: &str) -> Result<Recipient, String> {
        match key.strip_prefix(Recipient::STAFF) {
            Some("") => Err("a staff recipient without a user id".into()),
            Some(sub) => Ok(Recipient::Staff(sub.to_string())),
            None => Phone::parse(key)
                .map(Recipient::Phone)
                .map_err(|e| format!("a recipient that is neither staff nor a number: {}", e.code)),
        }
    }

    /// For logs and lists: the number masked (`+62812****7890`), or the staff user id.
    pub fn shown(&self) -> String {
        match self {
            Recipient::Phone(p) => p.masked(),
            Recipient::Staff(sub) => format!("{}{sub}", Recipient::STAFF),
        }
    }
}

impl Serialize for Recipient {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for Recipient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        Recipient::from_key(&key).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Claimed by a sender that has not recorded the outcome (yet): a lease of
    /// [`CLAIM_LEASE`] from `updated_at`.
    Pending,
    Sent,
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
        }
    }
}

/// One (event, recipient) in the notification log: what (event type and text), to whom,
/// the outcome, the attempts so far and the last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationRecord {
    pub event_id: String,
    pub event_type: String,
    /// With `event_id`, the record's key: `+62…` or `staff:<sub>` (see [`Recipient::key`]).
    #[schema(value_type = String)]
    pub recipient: Recipient,
    /// The number the last attempt used (for staff, as the directory gave it); none while no
    /// number is known. (Records written before staff recipients existed lack it.)
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
    /// Why this person is told: `dinas`, `surveyor`, `kelurahan`, `psm`, `household`, `gudang`.
    pub audience: String,
    pub text: String,
    pub status: NotificationStatus,
    /// Leases taken so far: each claim or take-over is one attempt, whatever its outcome.
    pub attempts: u32,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NotificationRecord {
    /// The number this record went (or goes) to, masked, else who it is for: for logs.
    pub fn to_shown(&self) -> String {
        match &self.phone {
            Some(p) => p.masked(),
            None => self.recipient.shown(),
        }
    }

    /// A pending claim that is younger than [`CLAIM_LEASE`] at `now`: its sender is at work.
    pub fn is_leased_at(&self, now: DateTime<Utc>) -> bool {
        self.status == NotificationStatus::Pending && now - self.updated_at < CLAIM_LEASE
    }
}

/// The notification log.
#[async_trait]
pub trait NotificationLog: Send + Sync {
    /// Inserts `record` (a pending claim, leased from its `updated_at`) if no record exists
    /// for its (event, recipient) and returns `None`; otherwise leaves the log unchanged and
    /// returns the existing record.
    async fn claim(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError>;
    /// Writes `next` over the record of the same (event, recipient) only if that record is
    /// still as `current` shows it (the same `status` and `attempts`), in one conditional
    /// write, and returns whether it did. Of several writers that read the same record,
    /// exactly one replaces it; a record that has moved on, or does not exist, is left alone.
    async fn replace(
        &self,
        current: &NotificationRecord,
        next: &NotificationRecord,
    ) -> Result<bool, StoreError>;
    /// What the retry sweep looks at, least recently updated first, at most `limit`: failed
    /// records with fewer than `max_attempts` attempts, and pending claims last updated
    /// before `stale_before` (whatever their attempts: their sender stopped).
    async fn retryable(
        &self,
        max_attempts: u32,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>, StoreError>;
    /// Every record of an event.
    async fn for_event(&self, event_id: &str) -> Result<Vec<NotificationRecord>, StoreError>;
}

/// Numbers that belong to an office rather than a person.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    /// The Dinas duty number: told of new and waitlisted requests.
    pub dinas_duty: Option<Phone>,
    /// The warehouse: told of allocations to ship and low stock.
    pub gudang: Option<Phone>,
    /// Attempts per (event, recipient) before the record stays failed.
    pub max_attempts: u32,
}

/// What `notify` needs.
#[derive(Clone)]
pub struct NotifyDeps {
    pub requests: Arc<dyn RequestStore>,
    pub directory: Arc<dyn Directory>,
    pub log: Arc<dyn NotificationLog>,
    pub sender: Arc<dyn SmsSender>,
    pub clock: Arc<dyn Clock>,
    pub config: NotifyConfig,
}

/// One SMS to write: to whom, at which number (if one is known), why, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Recipient,
    pub phone: Option<Phone>,
    pub audience: &'static str,
    pub text: SmsText,
}

fn kelurahan_name(code: &str) -> &'static str {
    KelurahanCode::parse(code).map(|k| k.name()).unwrap_or("-")
}

/// The number to send to: a number is its own; a staff member's is the directory's (the
/// latest their login or `basoka token --phone` recorded), else `known` (e.g. the number the
/// request carries for the staff who submitted it).
async fn resolve(
    deps: &NotifyDeps,
    to: &Recipient,
    known: Option<&Phone>,
) -> Result<Option<Phone>, StoreError> {
    Ok(match to {
        Recipient::Phone(p) => Some(p.clone()),
        Recipient::Staff(sub) => deps.directory.phone_of(sub).await?.or(known.cloned()),
    })
}

/// A recipient and the number to send to, when there is one.
type Target = (Option<Recipient>, Option<Phone>);

/// A number given with the request or the configuration (none: nobody to tell).
fn number(p: Option<&Phone>) -> Target {
    (p.map(|p| Recipient::Phone(p.clone())), p.cloned())
}

/// A recipient of `event` has no known phone number, so no SMS goes to them (yet): a warning
/// for the operators, naming the event, the request code, the audience and (for staff) the
/// user id whose number is missing; never a number, NIK, KK or name.
fn no_phone(event: &Event, to: Option<&Recipient>, audience: &str) {
    let user = match to {
        Some(Recipient::Staff(sub)) => sub.as_str(),
        _ => "-",
    };
    tracing::warn!(
        event_id = %event.id.as_str(),
        event_type = event.type_name(),
        request = event.request.as_ref().map(|r| r.code.as_str()).unwrap_or("-"),
        audience,
        user,
        "SMS not sent: no phone number known for this recipient"
    );
}

/// Whether [`recipients`] needs the request itself (the PSM's, the submitter's or the
/// household's number) for an event of this kind. The others are written from what the event
/// carries (code, kelurahan, surveyor) and the configured office numbers, so that, for
/// instance, the SMS of every new request to the Dinas costs no read of the request.
fn reads_request(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::RequestSubmitted { .. }
            | EventKind::SurveyAssigned { .. }
            | EventKind::RequestWaitlisted { .. }
            | EventKind::RequestAllocated { .. }
    )
}

/// Who is told what about `event` (the request as it is now, when the event is about one),
/// with the number each goes to when one is known. A staff member without a known number is
/// still a recipient (their SMS waits in the log); an office, PSM or household without a
/// number is not (there is nobody to look up later), which the log warns of.
pub async fn recipients(
    deps: &NotifyDeps,
    event: &Event,
    request: Option<&AidRequest>,
) -> Result<Vec<Outgoing>, StoreError> {
    let at = event.occurred_at;
    let mut out = Vec::new();
    let mut push = |(to, phone): Target, audience: &'static str, m: Message<'_>| {
        let Some(to) = to else {
            no_phone(event, None, audience);
            return;
        };
        let text = render(&m);
        // Once per recipient (the log's key), and one SMS per number and text: the staff
        // who submitted a request may have given their own number for the PSM.
        let twice = out.iter().any(|o: &Outgoing| {
            o.to == to || (phone.is_some() && o.phone == phone && o.text == text)
        });
        if !twice {
            out.push(Outgoing {
                to,
                phone,
                audience,
                text,
            });
        }
    };
    let (code, kel) = match &event.request {
        Some(r) => (
            r.code.as_str().to_string(),
            kelurahan_name(&r.kelurahan_code),
        ),
        None => (String::new(), "-"),
    };
    let code = code.as_str();
    let dinas = || number(deps.config.dinas_duty.as_ref());
    let gudang = || number(deps.config.gudang.as_ref());
    let psm = || number(request.and_then(|r| r.reported_by.phone.as_ref()));
    // The kelurahan staff who submitted the request, by user id; looked up only for the
    // events that tell them.
    let staff = async {
        Ok::<Target, StoreError>(match request {
            Some(r) => {
                let to = Recipient::Staff(r.submitted_by.sub.clone());
                let phone = resolve(deps, &to, r.submitted_by.phone.as_ref()).await?;
                (Some(to), phone)
            }
            None => (None, None),
        })
    };
    match &event.kind {
        EventKind::RequestSubmitted { urgency, .. } => push(
            dinas(),
            "dinas",
            Message::Submitted {
                code,
                kelurahan: kel,
                darurat: *urgency == crate::Urgency::Darurat,
                at,
            },
        ),
        EventKind::SurveyAssigned { surveyor, due_at } => {
            let to = Recipient::Staff(surveyor.clone());
            let phone = resolve(deps, &to, None).await?;
            push(
                (Some(to), phone),
                "surveyor",
                Message::SurveyAssigned {
                    code,
                    kelurahan: kel,
                    due: *due_at,
                },
            )
        }
        EventKind::RequestApproved { packages, .. } => {
            let m = Message::Approved {
                code,
                kelurahan: kel,
                packages: *packages,
                at,
            };
            push(staff.await?, "kelurahan", m.clone());
            push(psm(), "psm", m);
        }
        EventKind::RequestRejected {} => {
            let m = Message::Rejected {
                code,
                kelurahan: kel,
                at,
            };
            push(staff.await?, "kelurahan", m.clone());
            push(psm(), "psm", m);
        }
        EventKind::RequestWaitlisted { .. } => push(
            dinas(),
            "dinas",
            Message::Waitlisted {
                code,
                kelurahan: kel,
                at,
            },
        ),
        EventKind::RequestAllocated { .. } => push(
            gudang(),
            "gudang",
            Message::Allocated {
                code,
                kelurahan: kel,
                at,
            },
        ),
        EventKind::RequestDispatched { delivery, .. } => {
            // The staff are told where the package really goes: to their office, or
            // straight to the household (whose address they know; the SMS does not say it).
            let m = match delivery {
                Delivery::Kelurahan => Message::DispatchedToKelurahan {
                    code,
                    kelurahan: kel,
                    at,
                },
                Delivery::Household => Message::DispatchedToHouseholdAddress {
                    code,
                    kelurahan: kel,
                    at,
                },
            };
            push(staff.await?, "kelurahan", m);
            if *delivery == Delivery::Household {
                let household = request.and_then(|r| r.household.phone.as_ref());
                push(
                    number(household),
                    "household",
                    Message::DispatchedToHousehold { code, at },
                );
            }
        }
        // When the household received it, not when the kelurahan got round to recording it.
        EventKind::RequestDelivered { received_at, .. } => push(
            psm(),
            "psm",
            Message::Delivered {
                code,
                kelurahan: kel,
                at: received_at.unwrap_or(at),
            },
        ),
        EventKind::RequestCancelled { .. } => push(
            psm(),
            "psm",
            Message::Cancelled {
                code,
                kelurahan: kel,
                at,
            },
        ),
        EventKind::StockLow {
            warehouse,
            sku,
            unit,
            available,
            threshold,
        } => push(
            gudang(),
            "gudang",
            Message::StockLow {
                sku,
                warehouse,
                available: *available,
                unit,
                threshold: *threshold,
            },
        ),
        // Nobody of §8 needs these: the survey's outcome reaches people with the decision,
        // stock changes with `StockLow` and the allocations they make.
        EventKind::SurveyRecorded { .. }
        | EventKind::StockReceived { .. }
        | EventKind::StockAdjusted { .. } => {}
    }
    Ok(out)
}

/// What handling one event did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyReport {
    pub sent: usize,
    /// Recorded as failed (the retry sweep tries again), a missing staff number included.
    pub failed: usize,
    /// Already sent for this event before (a redelivery), or given up after the last attempt.
    pub skipped: usize,
    /// Claimed by another delivery of the event that is sending it right now: left to it (or,
    /// should it have died, to the retry sweep once its lease is over).
    pub in_flight: usize,
}

/// The `notify` queue handler. Store failures are errors (the event is retried); send failures
/// are not (they are logged as failed and retried by [`retry_failed`]), and neither is an SMS
/// that another delivery of the same event is sending.
pub async fn on_event(deps: &NotifyDeps, event: &Event) -> Result<NotifyReport, AppError> {
    let request = match event.request_id() {
        Some(id) if reads_request(&event.kind) => deps.requests.get(id).await?,
        _ => None,
    };
    let max = deps.config.max_attempts.max(1);
    let mut report = NotifyReport::default();
    for o in recipients(deps, event, request.as_ref()).await? {
        let now = deps.clock.now();
        let claim = NotificationRecord {
            event_id: event.id.as_str().to_string(),
            event_type: event.type_name().to_string(),
            recipient: o.to.clone(),
            phone: o.phone.clone(),
            audience: o.audience.to_string(),
            text: o.text.as_str().to_string(),
            status: NotificationStatus::Pending,
            attempts: 1,
            provider_id: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        let lease = match deps.log.claim(&claim).await? {
            None => claim,
            Some(existing) => match existing.status {
                NotificationStatus::Sent => {
                    report.skipped += 1;
                    continue;
                }
                NotificationStatus::Pending if existing.is_leased_at(now) => {
                    report.in_flight += 1;
                    continue;
                }
                _ if existing.attempts >= max => {
                    if existing.status == NotificationStatus::Pending {
                        give_up(deps, &existing).await?;
                    }
                    report.skipped += 1;
                    continue;
                }
                // Failed earlier, or claimed by a sender that died: take it over, if nobody
                // else does first.
                _ => match take_over(deps, &existing, o.phone.clone()).await? {
                    Some(lease) => lease,
                    None => {
                        report.in_flight += 1;
                        continue;
                    }
                },
            },
        };
        if o.phone.is_none() {
            no_phone(event, Some(&o.to), o.audience);
        }
        if attempt(deps, lease, o.phone).await? {
            report.sent += 1;
        } else {
            report.failed += 1;
        }
    }
    Ok(report)
}

/// [`on_event`] for a batch of events: one answer per event, in order. The events of one
/// request are handled one after the other, in the batch's order (so that its SMS go out in
/// the order things happened); different requests' events run concurrently, so that the
/// store and the SMS sender see their calls together and can combine them (the embedded
/// store commits them in one transaction, the local SMS file writes the lines with one
/// `fsync`). Each SMS is still recorded as sent only after its sender said so, and each event
/// keeps [`on_event`]'s once-per-(event, recipient) promise.
pub async fn on_events(deps: &NotifyDeps, events: &[Event]) -> Vec<Result<NotifyReport, AppError>> {
    // Indices of the batch grouped by request (events about no request each on their own).
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_request: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, event) in events.iter().enumerate() {
        match event.request_id() {
            Some(id) => match by_request.get(id.as_str()) {
                Some(&g) => groups[g].push(i),
                None => {
                    by_request.insert(id.as_str(), groups.len());
                    groups.push(vec![i]);
                }
            },
            None => groups.push(vec![i]),
        }
    }
    let done = futures_util::future::join_all(groups.into_iter().map(|group| async move {
        let mut answers = Vec::with_capacity(group.len());
        for i in group {
            answers.push((i, on_event(deps, &events[i]).await));
        }
        answers
    }))
    .await;
    let mut answers: Vec<Option<Result<NotifyReport, AppError>>> =
        events.iter().map(|_| None).collect();
    for (i, answer) in done.into_iter().flatten() {
        answers[i] = Some(answer);
    }
    answers
        .into_iter()
        .map(|a| a.expect("one answer per event"))
        .collect()
}

/// Leases `current` (failed, or a claim whose lease is over) to this sender: one more
/// attempt, by a conditional write. `None` when another sender took it first.
async fn take_over(
    deps: &NotifyDeps,
    current: &NotificationRecord,
    phone: Option<Phone>,
) -> Result<Option<NotificationRecord>, AppError> {
    let lease = NotificationRecord {
        status: NotificationStatus::Pending,
        attempts: current.attempts + 1,
        phone: phone.or_else(|| current.phone.clone()),
        updated_at: deps.clock.now(),
        ..current.clone()
    };
    Ok(deps.log.replace(current, &lease).await?.then_some(lease))
}

/// A claim at the last attempt whose sender stopped: recorded as failed, not sent again.
async fn give_up(deps: &NotifyDeps, current: &NotificationRecord) -> Result<(), AppError> {
    let failed = NotificationRecord {
        status: NotificationStatus::Failed,
        last_error: Some(SENDER_STOPPED.into()),
        updated_at: deps.clock.now(),
        ..current.clone()
    };
    if deps.log.replace(current, &failed).await? {
        tracing::warn!(
            event_id = %failed.event_id,
            event_type = %failed.event_type,
            audience = %failed.audience,
            to = %failed.to_shown(),
            attempts = failed.attempts,
            "SMS given up: its last sender stopped before recording the outcome"
        );
    }
    Ok(())
}

/// Sends the SMS of `lease` (a record this sender holds) to `phone` and records the outcome,
/// while the lease is still held. No number: failed, [`NO_PHONE_YET`]. `Ok(true)` when sent.
async fn attempt(
    deps: &NotifyDeps,
    lease: NotificationRecord,
    phone: Option<Phone>,
) -> Result<bool, AppError> {
    let mut outcome = lease.clone();
    outcome.phone = phone.clone();
    let result = match &phone {
        Some(to) => deps.sender.send(to, &SmsText::fit(&lease.text)).await,
        None => Err(NO_PHONE_YET.to_string()),
    };
    outcome.updated_at = deps.clock.now();
    let sent = match result {
        Ok(id) => {
            outcome.status = NotificationStatus::Sent;
            outcome.provider_id = Some(id);
            outcome.last_error = None;
            true
        }
        Err(e) => {
            outcome.status = NotificationStatus::Failed;
            outcome.last_error = Some(e);
            false
        }
    };
    if !deps.log.replace(&lease, &outcome).await? {
        // Only after a send that outlived its lease (longer than any send should take).
        tracing::warn!(
            event_id = %outcome.event_id,
            to = %outcome.to_shown(),
            status = outcome.status.as_str(),
            "SMS outcome not recorded: another sender took this SMS over meanwhile"
        );
    } else if !sent {
        tracing::warn!(
            event_id = %outcome.event_id,
            event_type = %outcome.event_type,
            audience = %outcome.audience,
            to = %outcome.to_shown(),
            attempts = outcome.attempts,
            max_attempts = deps.config.max_attempts.max(1),
            error = outcome.last_error.as_deref().unwrap_or("-"),
            "SMS not sent"
        );
    }
    Ok(sent)
}

/// Tries the failed SMS again (each up to `max_attempts` in all), staff numbers looked up
/// again, and takes over claims whose sender stopped. Returns how many were sent.
pub async fn retry_failed(deps: &NotifyDeps, limit: usize) -> Result<usize, AppError> {
    let max = deps.config.max_attempts.max(1);
    let now = deps.clock.now();
    let mut sent = 0;
    for record in deps.log.retryable(max, now - CLAIM_LEASE, limit).await? {
        // The list may be a moment behind the records (DynamoDB's index): the conditional
        // take-over settles who sends; these only spare a write.
        match record.status {
            NotificationStatus::Sent => continue,
            NotificationStatus::Pending if record.is_leased_at(now) => continue,
            NotificationStatus::Pending if record.attempts >= max => {
                give_up(deps, &record).await?;
                continue;
            }
            _ if record.attempts >= max => continue,
            _ => {}
        }
        let phone = resolve(deps, &record.recipient, record.phone.as_ref()).await?;
        let Some(lease) = take_over(deps, &record, phone.clone()).await? else {
            continue;
        };
        if attempt(deps, lease, phone).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::events::{EventKind, RequestRef};
    use crate::ids::{EventId, RequestCode, RequestId};
    use crate::ports::{ListQuery, NewRequest, Page};
    use crate::request::{ActorRef, HistoryEntry};
    use crate::{Kk, Nik};

    /// Only `get` is used by notify; the other methods are never reached in these tests.
    /// The counter counts the `get`s.
    struct OneRequest(Option<AidRequest>, Arc<AtomicUsize>);

    #[async_trait]
    impl RequestStore for OneRequest {
        async fn insert(&self, _: NewRequest) -> Result<(), StoreError> {
            unreachable!("notify never writes requests")
        }
        async fn update(
            &self,
            _: &AidRequest,
            _: &HistoryEntry,
            _: &Event,
        ) -> Result<(), StoreError> {
            unreachable!("notify never writes requests")
        }
        async fn get(&self, _: &RequestId) -> Result<Option<AidRequest>, StoreError> {
            self.1.fetch_add(1, Ordering::Relaxed);
            Ok(self.0.clone())
        }
        async fn id_by_code(&self, _: &RequestCode) -> Result<Option<RequestId>, StoreError> {
            unreachable!()
        }
        async fn list(&self, _: &ListQuery) -> Result<Page<AidRequest>, StoreError> {
            unreachable!()
        }
        async fn history(&self, _: &RequestId) -> Result<Vec<HistoryEntry>, StoreError> {
            unreachable!()
        }
        async fn active_for(&self, _: &Nik, _: &Kk) -> Result<Option<RequestId>, StoreError> {
            unreachable!()
        }
        async fn last_delivery(
            &self,
            _: &Nik,
            _: &Kk,
        ) -> Result<Option<DateTime<Utc>>, StoreError> {
            unreachable!()
        }
    }

    /// The staff directory; a number can be added later (`basoka token --phone`, a login).
    struct Phones(Mutex<HashMap<String, Phone>>);

    impl Phones {
        fn add(&self, sub: &str, phone: &str) {
            self.0
                .lock()
                .unwrap()
                .insert(sub.to_string(), Phone::parse(phone).unwrap());
        }
    }

    #[async_trait]
    impl Directory for Phones {
        async fn phone_of(&self, sub: &str) -> Result<Option<Phone>, StoreError> {
            Ok(self.0.lock().unwrap().get(sub).cloned())
        }
    }

    /// The log as the adapters keep it: one record per (event, recipient key), the claim an
    /// insert if absent, `replace` a compare-and-set on (status, attempts).
    #[derive(Default)]
    struct MemLog(Mutex<Vec<NotificationRecord>>);

    fn same_key(a: &NotificationRecord, b: &NotificationRecord) -> bool {
        a.event_id == b.event_id && a.recipient == b.recipient
    }

    #[async_trait]
    impl NotificationLog for MemLog {
        async fn claim(
            &self,
            r: &NotificationRecord,
        ) -> Result<Option<NotificationRecord>, StoreError> {
            let mut v = self.0.lock().unwrap();
            match v.iter().find(|x| same_key(x, r)) {
                Some(x) => Ok(Some(x.clone())),
                None => {
                    v.push(r.clone());
                    Ok(None)
                }
            }
        }
        async fn replace(
            &self,
            current: &NotificationRecord,
            next: &NotificationRecord,
        ) -> Result<bool, StoreError> {
            assert!(same_key(current, next), "replace keeps the key");
            let mut v = self.0.lock().unwrap();
            match v.iter_mut().find(|x| same_key(x, current)) {
                Some(x) if x.status == current.status && x.attempts == current.attempts => {
                    *x = next.clone();
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        async fn retryable(
            &self,
            max: u32,
            stale_before: DateTime<Utc>,
            limit: usize,
        ) -> Result<Vec<NotificationRecord>, StoreError> {
            let mut v: Vec<_> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|x| match x.status {
                    NotificationStatus::Failed => x.attempts < max,
                    NotificationStatus::Pending => x.updated_at < stale_before,
                    NotificationStatus::Sent => false,
                })
                .cloned()
                .collect();
            v.sort_by_key(|x| x.updated_at);
            v.truncate(limit);
            Ok(v)
        }
        async fn for_event(&self, id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|x| x.event_id == id)
                .cloned()
                .collect())
        }
    }

    /// A clock the test moves.
    struct TestClock(Mutex<DateTime<Utc>>);

    impl TestClock {
        fn advance(&self, by: TimeDelta) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    /// Records what it sends; fails while `failing` is set; takes `slow` to answer.
    #[derive(Default)]
    struct Outbox {
        sent: Mutex<Vec<(String, String)>>,
        failing: Mutex<bool>,
        slow: Mutex<Option<std::time::Duration>>,
    }

    #[async_trait]
    impl SmsSender for Outbox {
        async fn send(&self, to: &Phone, text: &SmsText) -> Result<String, String> {
            let slow = *self.slow.lock().unwrap();
            if let Some(d) = slow {
                tokio::time::sleep(d).await;
            }
            if *self.failing.lock().unwrap() {
                return Err("gateway down".into());
            }
            let mut s = self.sent.lock().unwrap();
            s.push((to.as_str().to_string(), text.as_str().to_string()));
            Ok(format!("msg-{}", s.len()))
        }
    }

    fn request() -> AidRequest {
        let body = serde_json::json!({
            "id": RequestId::new(), "code": "BSK-7K3M9Q", "status": "approved", "version": 4,
            "kelurahan_code": "32.75.01.1001",
            "household": {"head_nik": "3275014101900003", "kk": "3275010203040005", "head_name": "Siti Aminah",
                "members": 4, "phone": "+6281234567890",
                "address": {"street": "Jl. Melati", "rt": "003", "rw": "011", "kelurahan_code": "32.75.01.1001"}},
            "category": "miskin_ekstrem", "urgency": "darurat", "situation": "sakit",
            "reported_by": {"name": "Pak Joko", "phone": "+6281298765432"},
            "registry": {"found": true, "desil": 1}, "flags": [], "override_reason": null,
            "submitted_by": {"sub": "kel-1", "name": "Staf", "phone": "+6281211110001"},
            "survey": null, "survey_report": null, "decision": null, "cancellation": null,
            "created_at": "2026-12-03T01:00:00Z", "updated_at": "2026-12-03T01:00:00Z"
        });
        serde_json::from_value(body).unwrap()
    }

    fn deps(req: Option<AidRequest>) -> (NotifyDeps, Arc<Outbox>, Arc<MemLog>) {
        let (d, outbox, log, _, _) = deps_with(req);
        (d, outbox, log)
    }

    fn deps_with_directory(
        req: Option<AidRequest>,
    ) -> (NotifyDeps, Arc<Outbox>, Arc<MemLog>, Arc<Phones>) {
        let (d, outbox, log, phones, _) = deps_with(req);
        (d, outbox, log, phones)
    }

    /// The deps with the directory and the clock (at 2026-12-03 10:05 WIB) to change.
    fn deps_with(
        req: Option<AidRequest>,
    ) -> (
        NotifyDeps,
        Arc<Outbox>,
        Arc<MemLog>,
        Arc<Phones>,
        Arc<TestClock>,
    ) {
        let clock = Arc::new(TestClock(Mutex::new(
            "2026-12-03T03:05:00Z".parse().unwrap(),
        )));
        let outbox = Arc::new(Outbox::default());
        let log = Arc::new(MemLog::default());
        let phones = Arc::new(Phones(Mutex::new(HashMap::new())));
        phones.add("surveyor-1", "081211110002");
        let d = NotifyDeps {
            requests: Arc::new(OneRequest(req, Arc::default())),
            directory: phones.clone(),
            log: log.clone(),
            sender: outbox.clone(),
            clock: clock.clone(),
            config: NotifyConfig {
                dinas_duty: Some(Phone::parse("081100000001").unwrap()),
                gudang: Some(Phone::parse("081100000002").unwrap()),
                max_attempts: 3,
            },
        };
        (d, outbox, log, phones, clock)
    }

    fn event(r: &AidRequest, kind: EventKind) -> Event {
        Event {
            id: EventId::new(),
            occurred_at: "2026-12-03T03:00:00Z".parse().unwrap(),
            actor: ActorRef::system(),
            request: Some(RequestRef {
                id: r.id.clone(),
                code: RequestCode::from_stored("BSK-7K3M9Q".into()),
                kelurahan_code: "32.75.01.1001".into(),
                version: r.version,
            }),
            kind,
        }
    }

    fn approved() -> EventKind {
        EventKind::RequestApproved {
            package_code: "PAKET-SEMBAKO".into(),
            packages: 1,
            delivery: Delivery::Household,
            urgency: crate::Urgency::Darurat,
        }
    }

    #[tokio::test]
    async fn only_the_events_that_tell_the_psm_staff_or_household_read_the_request() {
        let r = request();
        let (mut d, outbox, _) = deps(None);
        let reads = Arc::new(AtomicUsize::new(0));
        d.requests = Arc::new(OneRequest(Some(r.clone()), reads.clone()));
        let submitted = EventKind::RequestSubmitted {
            category: crate::Category::MiskinEkstrem,
            urgency: crate::Urgency::Biasa,
            flags: vec![],
            head_nik_masked: "x".into(),
            kk_masked: "x".into(),
        };
        let sent = on_event(&d, &event(&r, submitted)).await.unwrap();
        assert_eq!(sent.sent, 1, "the Dinas is told");
        assert_eq!(reads.load(Ordering::Relaxed), 0, "from the event alone");
        assert!(outbox.sent.lock().unwrap()[0].1.contains("BSK-7K3M9Q"));

        let sent = on_event(&d, &event(&r, approved())).await.unwrap();
        assert_eq!(sent.sent, 2, "the staff and the PSM are told");
        assert_eq!(
            reads.load(Ordering::Relaxed),
            1,
            "their numbers are on the request"
        );
    }

    #[tokio::test]
    async fn approval_goes_to_kelurahan_staff_and_psm_once_even_when_delivered_twice() {
        let r = request();
        let (d, outbox, _) = deps(Some(r.clone()));
        let e = event(&r, approved());
        let first = on_event(&d, &e).await.unwrap();
        let second = on_event(&d, &e).await.unwrap();
        assert_eq!(
            first,
            NotifyReport {
                sent: 2,
                ..NotifyReport::default()
            }
        );
        assert_eq!(
            second,
            NotifyReport {
                skipped: 2,
                ..NotifyReport::default()
            }
        );
        let sent = outbox.sent.lock().unwrap().clone();
        let to: Vec<_> = sent.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(to, ["+6281211110001", "+6281298765432"]);
        for (_, text) in &sent {
            assert!(
                text.contains("BSK-7K3M9Q") && text.contains("10:00 WIB"),
                "{text}"
            );
            assert!(
                !text.contains("3275014101900003") && !text.contains("Siti"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn a_batch_answers_each_event_in_order_and_keeps_a_requests_sms_in_order() {
        let r = request();
        let (d, outbox, _) = deps(Some(r.clone()));
        // The SMS sender is slow, so that concurrent work would overtake if it could.
        *outbox.slow.lock().unwrap() = Some(std::time::Duration::from_millis(20));
        let approved = event(&r, approved());
        let dispatched = event(
            &r,
            EventKind::RequestDispatched {
                shipment_id: "s".into(),
                delivery: Delivery::Kelurahan,
            },
        );
        let stock_low = Event {
            request: None,
            ..event(
                &r,
                EventKind::StockLow {
                    warehouse: "GUDANG-DINSOS-BKS".into(),
                    sku: "BERAS".into(),
                    unit: "kg".into(),
                    available: 8,
                    threshold: 10,
                },
            )
        };
        let batch = [approved.clone(), stock_low, dispatched, approved];
        let answers: Vec<NotifyReport> = on_events(&d, &batch)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(answers.len(), 4, "one answer per event");
        assert_eq!(answers[0].sent, 2, "approved: staff and PSM");
        assert_eq!(answers[1].sent, 1, "stock low: the warehouse");
        assert_eq!(answers[3].skipped, 2, "the approval again: nothing twice");
        // The kelurahan staff hear of the approval before the dispatch.
        let staff: Vec<String> = outbox
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(to, _)| to == "+6281211110001")
            .map(|(_, text)| text.clone())
            .collect();
        assert_eq!(staff.len(), 2, "{staff:?}");
        assert!(
            staff[0].contains("DISETUJUI") || staff[0].contains("disetujui"),
            "{staff:?}"
        );
    }

    #[tokio::test]
    async fn who_is_told_of_each_event() {
        let r = request();
        let (d, _, _) = deps(Some(r.clone()));
        let to = |kind: EventKind| {
            let d = d.clone();
            let e = event(&r, kind);
            let r = r.clone();
            async move {
                recipients(&d, &e, Some(&r))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|o| {
                        let phone = o.phone.map(|p| p.as_str().to_string());
                        (o.audience, phone.unwrap_or_else(|| o.to.key()))
                    })
                    .collect::<Vec<_>>()
            }
        };
        let submitted = EventKind::RequestSubmitted {
            category: crate::Category::MiskinEkstrem,
            urgency: crate::Urgency::Darurat,
            flags: vec![],
            head_nik_masked: "x".into(),
            kk_masked: "x".into(),
        };
        assert_eq!(
            to(submitted).await,
            [("dinas", "+6281100000001".to_string())]
        );
        let assigned = EventKind::SurveyAssigned {
            surveyor: "surveyor-1".into(),
            due_at: None,
        };
        assert_eq!(
            to(assigned).await,
            [("surveyor", "+6281211110002".to_string())]
        );
        // Staff without a known number are still told, once it is known (by user id).
        let unknown = EventKind::SurveyAssigned {
            surveyor: "nobody".into(),
            due_at: None,
        };
        assert_eq!(
            to(unknown).await,
            [("surveyor", "staff:nobody".to_string())]
        );
        let dispatched = EventKind::RequestDispatched {
            shipment_id: "s".into(),
            delivery: Delivery::Household,
        };
        assert_eq!(
            to(dispatched).await,
            [
                ("kelurahan", "+6281211110001".to_string()),
                ("household", "+6281234567890".to_string())
            ]
        );
        let to_office = EventKind::RequestDispatched {
            shipment_id: "s".into(),
            delivery: Delivery::Kelurahan,
        };
        assert_eq!(
            to(to_office).await,
            [("kelurahan", "+6281211110001".to_string())]
        );
        let delivered = EventKind::RequestDelivered {
            shipment_id: "s".into(),
            received_at: None,
        };
        assert_eq!(to(delivered).await, [("psm", "+6281298765432".to_string())]);
        let waitlisted = EventKind::RequestWaitlisted {
            package_code: "P".into(),
            packages: 1,
            short: vec![],
        };
        assert_eq!(
            to(waitlisted).await,
            [("dinas", "+6281100000001".to_string())]
        );
        let recorded = EventKind::SurveyRecorded {
            recommendation: crate::request::Recommendation::Approve,
        };
        assert!(to(recorded).await.is_empty());
    }

    /// The texts `recipients` writes for `kind`, by audience.
    async fn texts(kind: EventKind) -> Vec<(&'static str, String)> {
        let r = request();
        let (d, _, _) = deps(Some(r.clone()));
        recipients(&d, &event(&r, kind), Some(&r))
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.audience, o.text.as_str().to_string()))
            .collect()
    }

    #[tokio::test]
    async fn a_package_sent_to_the_house_is_not_announced_as_going_to_the_kelurahan_office() {
        let household = texts(EventKind::RequestDispatched {
            shipment_id: "s".into(),
            delivery: Delivery::Household,
        })
        .await;
        let staff = &household[0];
        assert_eq!(staff.0, "kelurahan");
        assert!(!staff.1.contains("kantor"), "{}", staff.1);
        assert!(staff.1.contains("rumah penerima"), "{}", staff.1);
        let to_house = &household[1];
        assert_eq!(to_house.0, "household");
        assert!(to_house.1.contains("rumah Anda"), "{}", to_house.1);
        for (_, t) in &household {
            // Neither the person nor their address.
            for secret in ["Siti", "Aminah", "Melati", "003", "011"] {
                assert!(!t.contains(secret), "{secret} in {t}");
            }
            assert!(t.contains("BSK-7K3M9Q") && t.contains("10:00 WIB"), "{t}");
        }
        // To the office, the office is named.
        let office = texts(EventKind::RequestDispatched {
            shipment_id: "s".into(),
            delivery: Delivery::Kelurahan,
        })
        .await;
        assert_eq!(office.len(), 1);
        assert!(
            office[0].1.contains("kantor Kel. Bekasijaya"),
            "{}",
            office[0].1
        );
    }

    #[tokio::test]
    async fn the_delivered_sms_says_when_the_package_was_received_not_when_it_was_recorded() {
        // Recorded at 10:00 WIB (the event), received the evening before.
        let received: DateTime<Utc> = "2026-12-02T12:15:00Z".parse().unwrap();
        let t = texts(EventKind::RequestDelivered {
            shipment_id: "s".into(),
            received_at: Some(received),
        })
        .await;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].0, "psm");
        assert!(t[0].1.contains("02-12-2026 19:15 WIB"), "{}", t[0].1);
        assert!(!t[0].1.contains("10:00"), "{}", t[0].1);
        // An event from before `received_at` existed still reads, with the event's time.
        let old = texts(EventKind::RequestDelivered {
            shipment_id: "s".into(),
            received_at: None,
        })
        .await;
        assert!(old[0].1.contains("03-12-2026 10:00 WIB"), "{}", old[0].1);
    }

    #[tokio::test]
    async fn stock_adjustments_send_no_sms() {
        let t = texts(EventKind::StockAdjusted {
            warehouse: "GUDANG-DINSOS-BKS".into(),
            sku: "BERAS".into(),
            delta: 50,
            available_delta: 50,
        })
        .await;
        assert!(t.is_empty(), "{t:?}");
    }

    #[tokio::test]
    async fn a_failed_send_is_logged_failed_never_sent_and_retried() {
        let r = request();
        let (d, outbox, log) = deps(Some(r.clone()));
        *outbox.failing.lock().unwrap() = true;
        let e = event(&r, approved());
        let report = on_event(&d, &e).await.unwrap();
        assert_eq!(report.failed, 2);
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert!(
            recs.iter()
                .all(|x| x.status == NotificationStatus::Failed && x.attempts == 1)
        );
        assert!(
            recs.iter()
                .all(|x| x.last_error.as_deref() == Some("gateway down"))
        );

        *outbox.failing.lock().unwrap() = false;
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 2);
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert!(
            recs.iter()
                .all(|x| x.status == NotificationStatus::Sent && x.attempts == 2)
        );
        // Nothing left to retry, and a redelivery of the event sends nothing more.
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        assert_eq!(on_event(&d, &e).await.unwrap().skipped, 2);
        assert_eq!(outbox.sent.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn retries_stop_after_max_attempts() {
        let r = request();
        let (d, outbox, log) = deps(Some(r.clone()));
        *outbox.failing.lock().unwrap() = true;
        let e = event(
            &r,
            EventKind::RequestDelivered {
                shipment_id: "s".into(),
                received_at: None,
            },
        );
        on_event(&d, &e).await.unwrap();
        for _ in 0..5 {
            retry_failed(&d, 10).await.unwrap();
        }
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs[0].attempts, 3);
        assert_eq!(recs[0].status, NotificationStatus::Failed);
    }

    /// The same event handled by N deliveries at once (SQS may hand one message to two
    /// invocations; the runner redelivers after a crash): one SMS per recipient.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_deliveries_of_one_event_send_each_sms_once() {
        let r = request();
        let (d, outbox, log) = deps(Some(r.clone()));
        *outbox.slow.lock().unwrap() = Some(std::time::Duration::from_millis(20));
        let e = event(&r, approved());
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (d, e) = (d.clone(), e.clone());
            tasks.spawn(async move { on_event(&d, &e).await });
        }
        let mut sent = 0;
        while let Some(report) = tasks.join_next().await {
            let report = report
                .unwrap()
                .expect("a concurrent delivery does not fail");
            assert_eq!(report.failed, 0, "{report:?}");
            sent += report.sent;
        }
        assert_eq!(sent, 2, "one sender per recipient");
        let mut to: Vec<_> = outbox
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        to.sort();
        assert_eq!(to, ["+6281211110001", "+6281298765432"], "one SMS each");
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs.len(), 2);
        assert!(
            recs.iter()
                .all(|x| x.status == NotificationStatus::Sent && x.attempts == 1),
            "{recs:?}"
        );
    }

    /// A staff member whose number is not known yet: the SMS is logged failed (why, without
    /// personal data) under their user id, and sent by the retry sweep once the number is known.
    #[tokio::test]
    async fn an_sms_to_staff_without_a_known_number_is_logged_failed_and_sent_once_known() {
        let r = request();
        let (mut d, outbox, log, phones) = deps_with_directory(Some(r.clone()));
        d.config.max_attempts = 5;
        let e = event(
            &r,
            EventKind::SurveyAssigned {
                surveyor: "surveyor-9".into(),
                due_at: None,
            },
        );
        let report = on_event(&d, &e).await.unwrap();
        assert_eq!(report.sent, 0);
        assert_eq!(report.failed, 1, "{report:?}");
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0].status, NotificationStatus::Failed);
        assert_eq!(recs[0].attempts, 1);
        assert_eq!(
            recs[0].last_error.as_deref(),
            Some("no phone number known yet")
        );
        assert_eq!(recs[0].audience, "surveyor");
        // Still unknown: tried again, still failed, nothing sent.
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        assert_eq!(log.for_event(e.id.as_str()).await.unwrap()[0].attempts, 2);
        assert!(outbox.sent.lock().unwrap().is_empty());
        // A redelivery of the event tries again under the same record.
        assert_eq!(on_event(&d, &e).await.unwrap().failed, 1);
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0].recipient, Recipient::Staff("surveyor-9".into()));
        assert_eq!(recs[0].attempts, 3);
        assert_eq!(recs[0].phone, None);

        phones.add("surveyor-9", "081377770009");
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 1);
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0].status, NotificationStatus::Sent);
        assert_eq!(recs[0].last_error, None);
        assert_eq!(recs[0].attempts, 4);
        assert_eq!(recs[0].recipient, Recipient::Staff("surveyor-9".into()));
        assert_eq!(recs[0].phone, Some(Phone::parse("081377770009").unwrap()));
        assert_eq!(recs[0].to_shown(), "+62813****0009");
        let sent = outbox.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "+6281377770009");
        assert!(sent[0].1.contains("BSK-7K3M9Q"), "{}", sent[0].1);
        // Sent once: neither the sweep nor a redelivery sends it again.
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        assert_eq!(on_event(&d, &e).await.unwrap().sent, 0);
        assert_eq!(outbox.sent.lock().unwrap().len(), 1);
    }

    /// The claim of a sender that died before recording the outcome, as it left it.
    fn dead_claim(e: &Event, to: &str, attempts: u32, at: DateTime<Utc>) -> NotificationRecord {
        NotificationRecord {
            event_id: e.id.as_str().to_string(),
            event_type: e.type_name().to_string(),
            recipient: Recipient::Phone(Phone::parse(to).unwrap()),
            phone: Some(Phone::parse(to).unwrap()),
            audience: "psm".into(),
            text: "BASOKA: Bantuan BSK-7K3M9Q telah diterima.".into(),
            status: NotificationStatus::Pending,
            attempts,
            provider_id: None,
            last_error: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn delivered() -> EventKind {
        EventKind::RequestDelivered {
            shipment_id: "s".into(),
            received_at: None,
        }
    }

    /// A fresh claim is left to its sender, by redeliveries and the sweep alike; once its lease
    /// is over, one of several takers sends it, once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_claim_whose_sender_died_is_taken_over_once_after_its_lease() {
        let r = request();
        let (d, outbox, log, _, clock) = deps_with(Some(r.clone()));
        let e = event(&r, delivered());
        let dead = dead_claim(&e, "+6281298765432", 1, clock.now());
        assert_eq!(log.claim(&dead).await.unwrap(), None);

        clock.advance(TimeDelta::minutes(1));
        let report = on_event(&d, &e).await.unwrap();
        assert_eq!(
            report,
            NotifyReport {
                in_flight: 1,
                ..NotifyReport::default()
            },
            "a fresh claim is neither sent again nor a failure"
        );
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        assert!(outbox.sent.lock().unwrap().is_empty());
        assert_eq!(
            log.for_event(e.id.as_str()).await.unwrap(),
            std::slice::from_ref(&dead)
        );

        clock.advance(CLAIM_LEASE);
        *outbox.slow.lock().unwrap() = Some(std::time::Duration::from_millis(20));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..6 {
            let (d, e) = (d.clone(), e.clone());
            tasks.spawn(async move {
                if i % 2 == 0 {
                    retry_failed(&d, 10).await.unwrap()
                } else {
                    on_event(&d, &e).await.unwrap().sent
                }
            });
        }
        let mut sent = 0;
        while let Some(n) = tasks.join_next().await {
            sent += n.unwrap();
        }
        assert_eq!(sent, 1, "one taker sends");
        assert_eq!(outbox.sent.lock().unwrap().len(), 1);
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].status, NotificationStatus::Sent);
        assert_eq!(recs[0].attempts, 2, "the dead sender's attempt counts");
        assert_eq!(recs[0].text, dead.text, "the claimed text is sent");
        // And never again.
        clock.advance(CLAIM_LEASE * 2);
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        assert_eq!(on_event(&d, &e).await.unwrap().skipped, 1);
        assert_eq!(outbox.sent.lock().unwrap().len(), 1);
    }

    /// A sender that died during the last attempt: the record is given up as failed (whether
    /// it went out is unknown), not sent again and not left pending for ever.
    #[tokio::test]
    async fn a_claim_at_the_last_attempt_whose_sender_died_is_given_up_as_failed() {
        let r = request();
        let (d, outbox, log, _, clock) = deps_with(Some(r.clone()));
        let e = event(&r, delivered());
        let dead = dead_claim(&e, "+6281298765432", 3, clock.now());
        log.claim(&dead).await.unwrap();
        clock.advance(CLAIM_LEASE + TimeDelta::seconds(1));
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs[0].status, NotificationStatus::Failed);
        assert_eq!(recs[0].attempts, 3);
        assert_eq!(recs[0].last_error.as_deref(), Some(SENDER_STOPPED));
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        assert_eq!(on_event(&d, &e).await.unwrap().skipped, 1);
        assert!(outbox.sent.lock().unwrap().is_empty());
    }

    /// Two sweeps at once over the same failed records: each SMS is sent once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_retry_sweeps_send_each_failed_sms_once() {
        let r = request();
        let (d, outbox, log) = deps(Some(r.clone()));
        *outbox.failing.lock().unwrap() = true;
        let e = event(&r, approved());
        assert_eq!(on_event(&d, &e).await.unwrap().failed, 2);
        *outbox.failing.lock().unwrap() = false;
        *outbox.slow.lock().unwrap() = Some(std::time::Duration::from_millis(20));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let d = d.clone();
            tasks.spawn(async move { retry_failed(&d, 10).await.unwrap() });
        }
        let mut sent = 0;
        while let Some(n) = tasks.join_next().await {
            sent += n.unwrap();
        }
        assert_eq!(sent, 2);
        assert_eq!(outbox.sent.lock().unwrap().len(), 2);
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert!(
            recs.iter()
                .all(|x| x.status == NotificationStatus::Sent && x.attempts == 2),
            "{recs:?}"
        );
    }

    /// A staff number that never becomes known: tried up to `max_attempts`, then left failed;
    /// a number known only after that sends nothing.
    #[tokio::test]
    async fn a_missing_staff_number_is_given_up_after_max_attempts() {
        let r = request();
        let (d, outbox, log, phones) = deps_with_directory(Some(r.clone()));
        let e = event(
            &r,
            EventKind::SurveyAssigned {
                surveyor: "surveyor-9".into(),
                due_at: None,
            },
        );
        on_event(&d, &e).await.unwrap();
        for _ in 0..5 {
            retry_failed(&d, 10).await.unwrap();
        }
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        assert_eq!(recs[0].attempts, 3);
        assert_eq!(recs[0].status, NotificationStatus::Failed);
        assert_eq!(recs[0].last_error.as_deref(), Some(NO_PHONE_YET));
        phones.add("surveyor-9", "081377770009");
        assert_eq!(retry_failed(&d, 10).await.unwrap(), 0);
        assert!(outbox.sent.lock().unwrap().is_empty());
    }

    /// The kelurahan staff are told by user id: at the number the directory has for them (the
    /// latest), else the one their request carries.
    #[tokio::test]
    async fn kelurahan_staff_are_told_at_their_latest_number() {
        let r = request();
        let (d, outbox, log, phones) = deps_with_directory(Some(r.clone()));
        let e = event(&r, EventKind::RequestRejected {});
        on_event(&d, &e).await.unwrap();
        let recs = log.for_event(e.id.as_str()).await.unwrap();
        let staff = recs.iter().find(|x| x.audience == "kelurahan").unwrap();
        assert_eq!(staff.recipient, Recipient::Staff("kel-1".into()));
        assert_eq!(staff.phone.as_ref().unwrap().as_str(), "+6281211110001");
        phones.add("kel-1", "081211119999");
        on_event(&d, &event(&r, EventKind::RequestRejected {}))
            .await
            .unwrap();
        let to: Vec<_> = outbox
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        assert_eq!(
            to,
            [
                "+6281211110001",
                "+6281298765432",
                "+6281211119999",
                "+6281298765432"
            ]
        );
    }

    #[test]
    fn recipient_keys_round_trip_and_old_records_still_read() {
        let phone = Recipient::Phone(Phone::parse("081234567890").unwrap());
        let staff = Recipient::Staff("kelurahan-3275011001".into());
        for r in [&phone, &staff] {
            assert_eq!(Recipient::from_key(&r.key()).as_ref(), Ok(r));
        }
        assert_eq!(phone.key(), "+6281234567890");
        assert_eq!(staff.key(), "staff:kelurahan-3275011001");
        assert_eq!(phone.shown(), "+62812****7890");
        assert!(Recipient::from_key("staff:").is_err());
        assert!(Recipient::from_key("0211234567").is_err());
        // A record as written before staff recipients: a number, no `phone`.
        let old = serde_json::json!({
            "event_id": "e", "event_type": "RequestApproved", "recipient": "+6281234567890",
            "audience": "psm", "text": "t", "status": "failed", "attempts": 1,
            "provider_id": null, "last_error": "x",
            "created_at": "2026-12-03T01:00:00Z", "updated_at": "2026-12-03T01:00:00Z"
        });
        let rec: NotificationRecord = serde_json::from_value(old).unwrap();
        assert_eq!(rec.recipient, phone);
        assert_eq!(rec.phone, None);
        assert_eq!(rec.to_shown(), "+62812****7890");
    }
}
