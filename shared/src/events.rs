//! Domain events: one for every transition, written to the outbox in the same transaction as
//! the state change, and delivered at least once to the consumers (`allocate-stock`, `notify`).
//!
//! Events carry what consumers need and no more: the request's id, human code and kelurahan,
//! the actor, and a small typed payload. NIK and KK appear only masked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::household::{Category, Urgency};
use crate::ids::{EventId, RequestCode, RequestId};
use crate::lifecycle::Status;
use crate::request::{ActorRef, Delivery, Flag, Recommendation};

/// What happened, with its payload. Serialised as `{"type": "RequestApproved", "data": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventKind {
    RequestSubmitted {
        category: Category,
        urgency: Urgency,
        flags: Vec<Flag>,
        head_nik_masked: String,
        kk_masked: String,
    },
    SurveyAssigned {
        surveyor: String,
        due_at: Option<DateTime<Utc>>,
    },
    SurveyRecorded {
        recommendation: Recommendation,
    },
    RequestApproved {
        package_code: String,
        packages: u32,
        delivery: Delivery,
        urgency: Urgency,
    },
    RequestRejected {
        reason: String,
    },
    RequestCancelled {
        reason: String,
        previous_status: Status,
    },
}

impl EventKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::RequestSubmitted { .. } => "RequestSubmitted",
            EventKind::SurveyAssigned { .. } => "SurveyAssigned",
            EventKind::SurveyRecorded { .. } => "SurveyRecorded",
            EventKind::RequestApproved { .. } => "RequestApproved",
            EventKind::RequestRejected { .. } => "RequestRejected",
            EventKind::RequestCancelled { .. } => "RequestCancelled",
        }
    }
}

/// An event with its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub occurred_at: DateTime<Utc>,
    pub request_id: RequestId,
    pub request_code: RequestCode,
    pub kelurahan_code: String,
    /// The request's version after the transition: consumers order events per request by it.
    pub request_version: u64,
    pub actor: ActorRef,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }
}
