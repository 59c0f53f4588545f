//! Domain events: one for every transition and stock movement that someone must hear about,
//! written to the outbox in the same transaction as the state change, and delivered at least
//! once to the consumers (`allocate-stock`, `notify`), who are idempotent on the event id.
//!
//! Events carry what consumers need and no more: the request's id, human code, kelurahan and
//! version (absent for warehouse events), the actor, and a small typed payload. NIK and KK
//! appear only masked; names, phones and free-text reasons never.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::household::{Category, Urgency};
use crate::ids::{EventId, RequestCode, RequestId};
use crate::lifecycle::Status;
use crate::request::{ActorRef, AidRequest, Delivery, Flag, Recommendation};

/// A quantity of an item, in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuQuantity {
    pub sku: String,
    pub quantity: u64,
}

/// An item a waitlisted request is short of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortItem {
    pub sku: String,
    pub needed: u64,
    pub available: u64,
}

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
    RequestRejected {},
    RequestCancelled {
        previous_status: Status,
    },
    RequestWaitlisted {
        package_code: String,
        packages: u32,
        short: Vec<ShortItem>,
    },
    RequestAllocated {
        warehouse: String,
        shipment_id: String,
        package_code: String,
        packages: u32,
    },
    RequestDispatched {
        shipment_id: String,
        delivery: Delivery,
    },
    RequestDelivered {
        shipment_id: String,
        /// When the household received the package, as the handover recorded it (the event's
        /// `occurred_at` is when it was recorded). Absent in events written before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received_at: Option<DateTime<Utc>>,
    },
    StockReceived {
        warehouse: String,
        reference: String,
        lines: Vec<SkuQuantity>,
    },
    StockLow {
        warehouse: String,
        sku: String,
        unit: String,
        available: u64,
        threshold: u64,
    },
    /// A stock adjustment (`POST /v1/stock/adjustments`); the reason stays in the ledger.
    StockAdjusted {
        warehouse: String,
        sku: String,
        /// The adjustment, signed.
        delta: i64,
        /// How much the available (allocatable) stock changed: a write-off of an expired lot
        /// changes nothing, an addition all of it.
        available_delta: i64,
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
            EventKind::RequestWaitlisted { .. } => "RequestWaitlisted",
            EventKind::RequestAllocated { .. } => "RequestAllocated",
            EventKind::RequestDispatched { .. } => "RequestDispatched",
            EventKind::RequestDelivered { .. } => "RequestDelivered",
            EventKind::StockReceived { .. } => "StockReceived",
            EventKind::StockLow { .. } => "StockLow",
            EventKind::StockAdjusted { .. } => "StockAdjusted",
        }
    }
}

/// The request an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRef {
    pub id: RequestId,
    pub code: RequestCode,
    pub kelurahan_code: String,
    /// The request's version after the transition: consumers order a request's events by it.
    pub version: u64,
}

impl RequestRef {
    pub fn of(r: &AidRequest) -> RequestRef {
        RequestRef {
            id: r.id.clone(),
            code: r.code.clone(),
            kelurahan_code: r.kelurahan_code.as_str().to_string(),
            version: r.version,
        }
    }
}

/// An event with its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub occurred_at: DateTime<Utc>,
    pub actor: ActorRef,
    /// Absent for warehouse events (`StockReceived`, `StockAdjusted`, `StockLow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestRef>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    pub fn request_id(&self) -> Option<&RequestId> {
        self.request.as_ref().map(|r| &r.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_json_with_type_and_data() {
        let e = Event {
            id: EventId::new(),
            occurred_at: "2026-12-03T01:00:00Z".parse().unwrap(),
            actor: ActorRef::system(),
            request: None,
            kind: EventKind::StockLow {
                warehouse: "GUDANG-DINSOS-BKS".into(),
                sku: "BERAS".into(),
                unit: "kg".into(),
                available: 90,
                threshold: 100,
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "StockLow");
        assert_eq!(v["data"]["available"], 90);
        assert!(v.get("request").is_none());
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_delivered_event_written_before_received_at_existed_still_reads() {
        let old = r#"{"id":"01939d6f-0009-7000-8000-000000000009","occurred_at":"2026-12-05T02:00:00Z",
            "actor":{"sub":"k","name":"Staf","role":"kelurahan"},"type":"RequestDelivered",
            "data":{"shipment_id":"s-1"}}"#;
        let e: Event = serde_json::from_str(old).unwrap();
        assert_eq!(
            e.kind,
            EventKind::RequestDelivered {
                shipment_id: "s-1".into(),
                received_at: None
            }
        );
    }
}
