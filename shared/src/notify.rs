//! The `notify` use case: who is told what by SMS for each domain event (DESIGN §8), sending
//! each (event, recipient) once however often the event arrives, and keeping a notification
//! log with every outcome. A failed send is retried and recorded as failed, never as sent, and
//! never blocks the workflow: the handler always finishes, the retry sweep tries again later.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
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

/// Who is told what about `event` (the request as it is now, when the event is about one).
pub async fn recipients(
    deps: &NotifyDeps,
    event: &Event,
    request: Option<&AidRequest>,
) -> Result<Vec<Outgoing>, StoreError> {
    let at = event.occurred_at;
    let mut out = Vec::new();
    let mut push = |to: Option<&Phone>, audience: &'static str, m: Message<'_>| {
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
            push(
                staff,
                "kelurahan",
                Message::DispatchedToKelurahan {
                    code,
                    kelurahan: kel,
                    at,
                },
            );
            if *delivery == Delivery::Household {
                let household = request.and_then(|r| r.household.phone.as_ref());
                push(
                    household,
                    "household",
                    Message::DispatchedToHousehold { code, at },
                );
            }
        }
        EventKind::RequestDelivered { .. } => push(
            psm,
            "psm",
            Message::Delivered {
                code,
                kelurahan: kel,
                at,
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
        EventKind::SurveyRecorded { .. } | EventKind::StockReceived { .. } => {}
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

/// The `notify` queue handler. Store failures are errors (the event is retried); send failures
/// are not (they are logged as failed and retried by [`retry_failed`]).
pub async fn on_event(deps: &NotifyDeps, event: &Event) -> Result<NotifyReport, AppError> {
    let request = match event.request_id() {
        Some(id) => deps.requests.get(id).await?,
        None => None,
    };
    let mut report = NotifyReport::default();
    for o in recipients(deps, event, request.as_ref()).await? {
        let now = deps.clock.now();
        let record = NotificationRecord {
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
        };
        let record = match deps.log.claim(&record).await? {
            None => record,
            Some(existing) if existing.status == NotificationStatus::Sent => {
                report.skipped += 1;
                continue;
            }
            // Failed earlier, or claimed by a sender that died before reporting: try again.
            Some(existing) => existing,
        };
        if attempt(deps, record).await? {
            report.sent += 1;
        } else {
            report.failed += 1;
        }
    }
    Ok(report)
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
