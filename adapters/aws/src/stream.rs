//! From a DynamoDB stream record of an outbox item to the message body the consumers receive.
//!
//! On AWS the path is: table stream (`NEW_IMAGE`) → EventBridge Pipe → SNS topic → one SQS
//! queue per consumer (raw message delivery). The pipe keeps only the records
//! [`is_outbox_insert`] accepts —
//!
//! ```json
//! {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["outbox"]}}}}
//! ```
//!
//! — and its target input is `<$.dynamodb.NewImage.event.S>`: the event JSON exactly as the
//! state change wrote it, which is `serde_json::to_string(&Event)`, the same bytes the local
//! runner hands its consumers. [`stream_record_to_message`] does what the pipe does, so that
//! tests (and a Lambda stream consumer, should the pipe ever be replaced by one) produce the
//! very body an SQS consumer receives. SNS message attributes for subscription filters can be
//! taken from `NewImage.event_type.S`.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde_json::Value;
use shared::events::Event;

use crate::outbox::{EVENT_ATTRIBUTE, OUTBOX_ENTITY};

/// An outbox stream record that cannot be turned into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the outbox record has no {EVENT_ATTRIBUTE} string attribute")]
    NoEvent,
    #[error("the outbox record's event is not a BASOKA event: {0}")]
    NotAnEvent(String),
    #[error("the stream record cannot be read as JSON: {0}")]
    Unreadable(String),
}

fn new_image_string<'a>(record: &'a Value, attribute: &str) -> Option<&'a str> {
    record
        .get("dynamodb")?
        .get("NewImage")?
        .get(attribute)?
        .get("S")?
        .as_str()
}

/// The pipe's filter pattern (`infra/template.yaml`, `OutboxPipe`), which the drift test
/// compares with the template: the records [`is_outbox_insert`] accepts.
pub const PIPE_FILTER_PATTERN: &str =
    r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["outbox"]}}}}"#;

/// The pipe's target input template: the outbox item's `event` string, unquoted.
pub const PIPE_INPUT_TEMPLATE: &str = "<$.dynamodb.NewImage.event.S>";

/// Whether the pipe forwards this record: an `INSERT` of an item with `entity = "outbox"`.
pub fn is_outbox_insert(record: &Value) -> bool {
    record.get("eventName").and_then(Value::as_str) == Some("INSERT")
        && new_image_string(record, crate::codec::ENTITY) == Some(OUTBOX_ENTITY)
}

/// The message body for a stream record in its JSON form (as Lambda and Pipes deliver it):
/// `Ok(None)` for the records the pipe filter drops (sequencer bookkeeping, TTL deletions,
/// every other entity), the event JSON for an outbox insert.
pub fn stream_record_to_message(record: &Value) -> Result<Option<String>, StreamError> {
    if !is_outbox_insert(record) {
        return Ok(None);
    }
    let body = new_image_string(record, EVENT_ATTRIBUTE).ok_or(StreamError::NoEvent)?;
    // Checked, not rebuilt: the pipe forwards the stored string as it is.
    serde_json::from_str::<Event>(body).map_err(|e| {
        StreamError::NotAnEvent(format!("{:?} error at column {}", e.classify(), e.column()))
    })?;
    Ok(Some(body.to_string()))
}

/// [`stream_record_to_message`] for a record as `aws_lambda_events` types it.
pub fn event_record_to_message(record: &EventRecord) -> Result<Option<String>, StreamError> {
    let json = serde_json::to_value(record).map_err(|e| StreamError::Unreadable(e.to_string()))?;
    stream_record_to_message(&json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::EventId;
    use shared::events::EventKind;
    use shared::request::ActorRef;

    fn event() -> Event {
        Event {
            id: EventId::new(),
            occurred_at: "2026-03-01T01:00:00Z".parse().unwrap(),
            actor: ActorRef::system(),
            request: None,
            kind: EventKind::StockLow {
                warehouse: "GUDANG-DINSOS-BKS".into(),
                sku: "BERAS".into(),
                unit: "kg".into(),
                available: 90,
                threshold: 100,
            },
        }
    }

    fn record(event_name: &str, entity: &str, body: &str) -> Value {
        json!({
            "eventID": "1",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "ap-southeast-3",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_772_326_800.0,
                "Keys": {"PK": {"S": "OUTBOX#NEW"}, "SK": {"S": "x"}},
                "NewImage": {
                    "PK": {"S": "OUTBOX#NEW"},
                    "SK": {"S": "x"},
                    "entity": {"S": entity},
                    "event_type": {"S": "StockLow"},
                    "event": {"S": body},
                    "ttl": {"N": "1772931600"}
                },
                "SequenceNumber": "111",
                "SizeBytes": 26,
                "StreamViewType": "NEW_IMAGE"
            },
            "eventSourceARN": "arn:aws:dynamodb:ap-southeast-3:123456789012:table/basoka/stream/2026-03-01T00:00:00.000"
        })
    }

    #[test]
    fn an_outbox_insert_becomes_the_event_json_and_the_rest_is_dropped() {
        let e = event();
        let body = serde_json::to_string(&e).unwrap();
        let r = record("INSERT", "outbox", &body);
        assert_eq!(stream_record_to_message(&r).unwrap(), Some(body.clone()));
        let typed: EventRecord = serde_json::from_value(r).unwrap();
        assert_eq!(event_record_to_message(&typed).unwrap(), Some(body.clone()));
        let back: Event = serde_json::from_str(&body).unwrap();
        assert_eq!(back, e);

        assert_eq!(
            stream_record_to_message(&record("REMOVE", "outbox", &body)).unwrap(),
            None
        );
        assert_eq!(
            stream_record_to_message(&record("INSERT", "outbox_log", &body)).unwrap(),
            None
        );
        assert_eq!(
            stream_record_to_message(&record("INSERT", "request", &body)).unwrap(),
            None
        );
        assert!(matches!(
            stream_record_to_message(&record("INSERT", "outbox", "{\"nope\":1}")),
            Err(StreamError::NotAnEvent(_))
        ));
    }
}
