//! The `notify` use case: who is told what by SMS for each domain event (DESIGN §8), sending
//! each (event, recipient) once however often the event arrives, and keeping a notification
//! log with every outcome. A failed send is retried and recorded as failed, never as sent, and
//! never blocks the workflow: the handler always finishes, the retry sweep tries again later.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::events::{Event, EventKind};
use crate::ports::{Clock, RequestStore, StoreError};
use crate::request::{AidRequest, Delivery};
use crate::sms::{Message, SmsText, render};
use crate::{KelurahanCode, Phone};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Claimed by a sender that has not reported back (yet).
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

/// One (event, recipient) in the notification log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationRecord {
    pub event_id: String,
    pub event_type: String,
    /// E.164.
    pub recipient: String,
    /// Why this person is told: `dinas`, `surveyor`, `kelurahan`, `psm`, `household`, `gudang`.
    pub audience: String,
    pub text: String,
    pub status: NotificationStatus,
    pub attempts: u32,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The notification log.
#[async_trait]
pub trait NotificationLog: Send + Sync {
    /// Inserts `record` if no record exists for its (event, recipient) and returns `None`;
    /// otherwise leaves the log unchanged and returns the existing record.
    async fn claim(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError>;
    /// Replaces the record of the same (event, recipient).
    async fn put(&self, record: &NotificationRecord) -> Result<(), StoreError>;
    /// Failed records with fewer than `max_attempts` attempts, oldest first.
    async fn retryable(
        &self,
        max_attempts: u32,
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

/// One SMS to write: to whom, why, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Phone,
    pub audience: &'static str,
    pub text: SmsText,
}

fn kelurahan_name(code: &str) -> &'static str {
    KelurahanCode::parse(code).map(|k| k.name()).unwrap_or("-")
}

/// A recipient of `event` has no known phone number, so no SMS goes to them: a warning for
/// the operators, naming the event, the request code, the audience and (for staff) the user
/// id whose number is missing; never a number, NIK, KK or name.
fn no_phone(event: &Event, request: Option<&AidRequest>, audience: &'static str) {
    let user = match (&event.kind, audience) {
        (EventKind::SurveyAssigned { surveyor, .. }, "surveyor") => Some(surveyor.as_str()),
        (_, "kelurahan") => request.map(|r| r.submitted_by.sub.as_str()),
        _ => None,
    };
    tracing::warn!(
        event_id = %event.id.as_str(),
        event_type = event.type_name(),
        request = event.request.as_ref().map(|r| r.code.as_str()).unwrap_or("-"),
        audience,
        user = user.unwrap_or("-"),
        "SMS not sent: no phone number known for this recipient"
    );
}

/// Who is told what about `event` (the request as it is now, when the event is about one).
pub async fn recipients(
    deps: &NotifyDeps,
    event: &Event,
    request: Option<&AidRequest>,
) -> Result<Vec<Outgoing>, StoreError> {
    let at = event.occurred_at;
    let mut out = Vec::new();
    let mut push = |to: Option<&Phone>, audience: &'static str, m: Message<'_>| {
        if to.is_none() {
            no_phone(event, request, audience);
        }
        if let Some(to) = to
            && !out
                .iter()
                .any(|o: &Outgoing| &o.to == to && o.audience == audience)
        {
            out.push(Outgoing {
                to: to.clone(),
                audience,
                text: render(&m),
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
    let staff = request.and_then(|r| r.submitted_by.phone.as_ref());
    let psm = request.and_then(|r| r.reported_by.phone.as_ref());
    match &event.kind {
        EventKind::RequestSubmitted { urgency, .. } => push(
            deps.config.dinas_duty.as_ref(),
            "dinas",
            Message::Submitted {
                code,
                kelurahan: kel,
                darurat: *urgency == crate::Urgency::Darurat,
                at,
            },
        ),
        EventKind::SurveyAssigned { surveyor, due_at } => {
            let phone = deps.directory.phone_of(surveyor).await?;
            push(
                phone.as_ref(),
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
            push(staff, "kelurahan", m.clone());
            push(psm, "psm", m);
        }
        EventKind::RequestRejected {} => {
            let m = Message::Rejected {
                code,
                kelurahan: kel,
                at,
            };
            push(staff, "kelurahan", m.clone());
            push(psm, "psm", m);
        }
        EventKind::RequestWaitlisted { .. } => push(
            deps.config.dinas_duty.as_ref(),
            "dinas",
            Message::Waitlisted {
                code,
                kelurahan: kel,
                at,
            },
        ),
        EventKind::RequestAllocated { .. } => push(
            deps.config.gudang.as_ref(),
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
            push(staff, "kelurahan", m);
            if *delivery == Delivery::Household {
                let household = request.and_then(|r| r.household.phone.as_ref());
                push(
                    household,
                    "household",
                    Message::DispatchedToHousehold { code, at },
                );
            }
        }
        // When the household received it, not when the kelurahan got round to recording it.
        EventKind::RequestDelivered { received_at, .. } => push(
            psm,
            "psm",
            Message::Delivered {
                code,
                kelurahan: kel,
                at: received_at.unwrap_or(at),
            },
        ),
        EventKind::RequestCancelled { .. } => push(
            psm,
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
            deps.config.gudang.as_ref(),
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
    pub failed: usize,
    /// Already sent for this event before (a redelivery).
    pub skipped: usize,
}

/// Whether who is told about an event of this kind depends on the request as it is now (the
/// staff who submitted it, the reporting PSM, the household): only then is it read.
fn needs_request(kind: &EventKind) -> bool {
    match kind {
        EventKind::RequestApproved { .. }
        | EventKind::RequestRejected { .. }
        | EventKind::RequestDispatched { .. }
        | EventKind::RequestDelivered { .. }
        | EventKind::RequestCancelled { .. } => true,
        EventKind::RequestSubmitted { .. }
        | EventKind::SurveyAssigned { .. }
        | EventKind::SurveyRecorded { .. }
        | EventKind::RequestWaitlisted { .. }
        | EventKind::RequestAllocated { .. }
        | EventKind::StockReceived { .. }
        | EventKind::StockAdjusted { .. }
        | EventKind::StockLow { .. } => false,
    }
}

/// The log records of the SMS `event` calls for, not yet claimed.
async fn records_for(
    deps: &NotifyDeps,
    event: &Event,
) -> Result<Vec<NotificationRecord>, AppError> {
    let request = match event.request_id() {
        Some(id) if needs_request(&event.kind) => deps.requests.get(id).await?,
        _ => None,
    };
    let now = deps.clock.now();
    Ok(recipients(deps, event, request.as_ref())
        .await?
        .into_iter()
        .map(|o| NotificationRecord {
            event_id: event.id.as_str().to_string(),
            event_type: event.type_name().to_string(),
            recipient: o.to.as_str().to_string(),
            audience: o.audience.to_string(),
            text: o.text.as_str().to_string(),
            status: NotificationStatus::Pending,
            attempts: 0,
            provider_id: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        })
        .collect())
}

/// The `notify` queue handler. Store failures are errors (the event is retried); send failures
/// are not (they are logged as failed and retried by [`retry_failed`]).
pub async fn on_event(deps: &NotifyDeps, event: &Event) -> Result<NotifyReport, AppError> {
    on_events(deps, std::slice::from_ref(event))
        .await
        .pop()
        .expect("one answer per event")
}

/// [`on_event`] for a batch of events: one answer per event, in order. Each stage runs for the
/// whole batch at once: work out every recipient; claim every (event, recipient) in the log;
/// send every SMS that was claimed (or failed before); record every outcome. The store and
/// the SMS sender thus see the batch's calls together, which lets them combine them (the
/// embedded store commits the claims in one transaction, the local SMS file writes the lines
/// with one `fsync`), while each SMS is still recorded as sent only after its sender said so.
///
/// An event whose stage fails with a store error answers that error and goes no further (its
/// SMS already sent stay logged as sent; the others are sent when the event is retried); the
/// other events of the batch are not held up by it.
pub async fn on_events(deps: &NotifyDeps, events: &[Event]) -> Vec<Result<NotifyReport, AppError>> {
    let mut answers: Vec<Result<NotifyReport, AppError>> =
        events.iter().map(|_| Ok(NotifyReport::default())).collect();
    // Who is told what.
    let planned = join_all(events.iter().map(|e| records_for(deps, e))).await;
    let mut claims: Vec<(usize, NotificationRecord)> = Vec::new();
    for (i, records) in planned.into_iter().enumerate() {
        match records {
            Ok(records) => claims.extend(records.into_iter().map(|r| (i, r))),
            Err(e) => answers[i] = Err(e),
        }
    }
    // Each (event, recipient) once, however often the event arrives.
    let claimed = join_all(claims.iter().map(|(_, r)| deps.log.claim(r))).await;
    let mut to_send: Vec<(usize, NotificationRecord)> = Vec::new();
    for ((i, record), claim) in claims.into_iter().zip(claimed) {
        let Ok(report) = &mut answers[i] else {
            continue;
        };
        match claim {
            Ok(None) => to_send.push((i, record)),
            Ok(Some(existing)) if existing.status == NotificationStatus::Sent => {
                report.skipped += 1;
            }
            // Failed earlier, or claimed by a sender that died before reporting: try again.
            Ok(Some(existing)) => to_send.push((i, existing)),
            Err(e) => answers[i] = Err(e.into()),
        }
    }
    // An event that failed to claim one of its SMS sends none of them now.
    to_send.retain(|(i, _)| answers[*i].is_ok());
    let sent = join_all(to_send.iter().map(|(_, r)| attempt(deps, r.clone()))).await;
    for ((i, _), outcome) in to_send.into_iter().zip(sent) {
        let Ok(report) = &mut answers[i] else {
            continue;
        };
        match outcome {
            Ok(true) => report.sent += 1,
            Ok(false) => report.failed += 1,
            Err(e) => answers[i] = Err(e),
        }
    }
    answers
}

/// Sends one logged SMS once and records the outcome. `Ok(true)` when sent.
async fn attempt(deps: &NotifyDeps, mut record: NotificationRecord) -> Result<bool, AppError> {
    let to = Phone::parse(&record.recipient).map_err(|e| AppError::Unavailable(e.to_string()))?;
    let text = SmsText::fit(&record.text);
    record.attempts += 1;
    let result = deps.sender.send(&to, &text).await;
    record.updated_at = deps.clock.now();
    let sent = match result {
        Ok(id) => {
            record.status = NotificationStatus::Sent;
            record.provider_id = Some(id);
            record.last_error = None;
            true
        }
        Err(e) => {
            record.status = NotificationStatus::Failed;
            record.last_error = Some(e);
            false
        }
    };
    deps.log.put(&record).await?;
    Ok(sent)
}

/// Tries the failed SMS again (each up to `max_attempts` in all). Returns how many were sent.
pub async fn retry_failed(deps: &NotifyDeps, limit: usize) -> Result<usize, AppError> {
    let mut sent = 0;
    for record in deps
        .log
        .retryable(deps.config.max_attempts.max(1), limit)
        .await?
    {
        if attempt(deps, record).await? {
            sent += 1;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::events::{EventKind, RequestRef};
    use crate::ids::{EventId, RequestCode, RequestId};
    use crate::ports::{ListQuery, NewRequest, Page, SystemClock};
    use crate::request::{ActorRef, HistoryEntry};
    use crate::{Kk, Nik};

    /// Only `get` is used by notify; the other methods are never reached in these tests.
    struct OneRequest(Option<AidRequest>);

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
            Ok(self.0.clone())
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

    struct Phones(HashMap<String, Phone>);

    #[async_trait]
    impl Directory for Phones {
        async fn phone_of(&self, sub: &str) -> Result<Option<Phone>, StoreError> {
            Ok(self.0.get(sub).cloned())
        }
    }

    #[derive(Default)]
    struct MemLog(Mutex<Vec<NotificationRecord>>);

    #[async_trait]
    impl NotificationLog for MemLog {
        async fn claim(
            &self,
            r: &NotificationRecord,
        ) -> Result<Option<NotificationRecord>, StoreError> {
            let mut v = self.0.lock().unwrap();
            match v
                .iter()
                .find(|x| x.event_id == r.event_id && x.recipient == r.recipient)
            {
                Some(x) => Ok(Some(x.clone())),
                None => {
                    v.push(r.clone());
                    Ok(None)
                }
            }
        }
        async fn put(&self, r: &NotificationRecord) -> Result<(), StoreError> {
            let mut v = self.0.lock().unwrap();
            v.retain(|x| !(x.event_id == r.event_id && x.recipient == r.recipient));
            v.push(r.clone());
            Ok(())
        }
        async fn retryable(
            &self,
            max: u32,
            limit: usize,
        ) -> Result<Vec<NotificationRecord>, StoreError> {
            let v = self.0.lock().unwrap();
            Ok(v.iter()
                .filter(|x| x.status == NotificationStatus::Failed && x.attempts < max)
                .take(limit)
                .cloned()
                .collect())
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

    /// Records what it sends; fails while `failing` is set.
    #[derive(Default)]
    struct Outbox {
        sent: Mutex<Vec<(String, String)>>,
        failing: Mutex<bool>,
    }

    #[async_trait]
    impl SmsSender for Outbox {
        async fn send(&self, to: &Phone, text: &SmsText) -> Result<String, String> {
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
        let outbox = Arc::new(Outbox::default());
        let log = Arc::new(MemLog::default());
        let phones = HashMap::from([(
            "surveyor-1".to_string(),
            Phone::parse("081211110002").unwrap(),
        )]);
        let d = NotifyDeps {
            requests: Arc::new(OneRequest(req)),
            directory: Arc::new(Phones(phones)),
            log: log.clone(),
            sender: outbox.clone(),
            clock: Arc::new(SystemClock),
            config: NotifyConfig {
                dinas_duty: Some(Phone::parse("081100000001").unwrap()),
                gudang: Some(Phone::parse("081100000002").unwrap()),
                max_attempts: 3,
            },
        };
        (d, outbox, log)
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
                failed: 0,
                skipped: 0
            }
        );
        assert_eq!(
            second,
            NotifyReport {
                sent: 0,
                failed: 0,
                skipped: 2
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
                    .map(|o| (o.audience, o.to.as_str().to_string()))
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
        let unknown = EventKind::SurveyAssigned {
            surveyor: "nobody".into(),
            due_at: None,
        };
        assert!(to(unknown).await.is_empty());
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
}
