//! The event transport on AWS, and what each step does to an outbox item.
//!
//! ```text
//! table stream (NEW_IMAGE) -> EventBridge Pipe (filter, no input template) -> SNS topic
//!   -> one SQS queue per consumer (raw message delivery; allocate-stock's subscription filters
//!      on the record's nested NewImage.event_type.S) -> consumer: event = NewImage.event.S
//! ```
//!
//! * The pipe keeps only the records [`is_outbox_insert`] accepts ([`PIPE_FILTER_PATTERN`]:
//!   `eventName = INSERT` and `NewImage.entity.S = "outbox"`) and publishes **each record as
//!   it is**, one SNS message per record. It has no input template on purpose: whether Pipes
//!   renders `<$.dynamodb.NewImage.event.S>` as the bare string content is not documented
//!   (Pipes rewrites templates so that its output stays valid JSON), and a quoted or escaped
//!   body would be dropped by the subscription filter and refused by every consumer. What is
//!   documented: SNS is a batchable Pipes target (at most 10 records per call), and a batch's
//!   records are mapped to the target's batch API one by one, input transformers (none here)
//!   applying to each record (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-batching-concurrency.html>);
//!   the record is the DynamoDB stream record of the source's example event
//!   (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-dynamodb.html>),
//!   which is what [`stream_record_to_message`] gives.
//! * The SNS subscription of `allocate-stock` filters on the message body
//!   (`FilterPolicyScope: MessageBody`) with the nested key of the record that holds the event
//!   type, [`subscription_filter_policy`] (`{"dynamodb": {"NewImage": {"event_type": {"S":
//!   [...]}}}}`): SNS payload-based filtering accepts nested policies (attribute-based
//!   filtering does not), at most five keys
//!   (<https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html>).
//!   `notify`'s subscription has no filter.
//! * With raw message delivery the SQS body is the record JSON; the consumers
//!   (`basoka_lambda::queue`) take the event out of `NewImage.event.S` with [`outbox_event`].
//!   They also accept a bare event JSON (what an operator re-publishes by hand, or a local
//!   invocation) and an SNS envelope around either.
//!
//! The local runner (`basoka serve --backend aws`) hands its consumers the same shape:
//! [`outbox_insert_record`] wraps the event's outbox item ([`crate::outbox::outbox_item`]) in
//! a stream record, as the pipe would publish it.

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};
use shared::events::Event;

use crate::outbox::{EVENT_ATTRIBUTE, EVENT_TYPE_ATTRIBUTE, OUTBOX_ENTITY};

/// An outbox stream record that cannot be turned into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the DynamoDB stream record is not an outbox insert")]
    NotAnOutboxInsert,
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

/// Where a message (a stream record) holds the event type: the nested key of the
/// subscription filter.
pub const EVENT_TYPE_PATH: [&str; 4] = ["dynamodb", "NewImage", EVENT_TYPE_ATTRIBUTE, "S"];

/// The SNS subscription filter policy (scope `MessageBody`) that lets through the records of
/// the events of `event_types` and nothing else: `allocate-stock`'s is
/// `subscription_filter_policy(&shared::fulfilment::CONSUMED_EVENTS)`, which the drift test
/// compares with the whole `FilterPolicy` of the template.
pub fn subscription_filter_policy(event_types: &[&str]) -> Value {
    let mut policy = json!(event_types);
    for key in EVENT_TYPE_PATH.iter().rev() {
        policy = json!({ *key: policy });
    }
    policy
}

/// Whether a message body passes a filter policy, for the part of SNS payload-based filtering
/// that BASOKA's policies use: nested keys and lists of exact strings (every key of the policy
/// must be present and match). Tests use it to check that the fixtures and real stream records
/// pass (or not) the template's filter.
pub fn filter_policy_accepts(policy: &Value, body: &Value) -> bool {
    let Some(keys) = policy.as_object() else {
        return false;
    };
    keys.iter().all(|(key, rule)| {
        let Some(value) = body.get(key) else {
            return false;
        };
        match rule {
            Value::Array(allowed) => match value {
                Value::Array(values) => values.iter().any(|v| allowed.contains(v)),
                v => allowed.contains(v),
            },
            Value::Object(_) => filter_policy_accepts(rule, value),
            _ => false,
        }
    })
}

/// Whether the pipe forwards this record: an `INSERT` of an item with `entity = "outbox"`.
pub fn is_outbox_insert(record: &Value) -> bool {
    record.get("eventName").and_then(Value::as_str) == Some("INSERT")
        && new_image_string(record, crate::codec::ENTITY) == Some(OUTBOX_ENTITY)
}

/// The event an outbox insert record carries (what a consumer does with a message body that
/// is a stream record). Anything else is refused, without quoting the record.
pub fn outbox_event(record: &Value) -> Result<Event, StreamError> {
    if !is_outbox_insert(record) {
        return Err(StreamError::NotAnOutboxInsert);
    }
    let body = new_image_string(record, EVENT_ATTRIBUTE).ok_or(StreamError::NoEvent)?;
    serde_json::from_str::<Event>(body).map_err(|e| {
        StreamError::NotAnEvent(format!("{:?} error at column {}", e.classify(), e.column()))
    })
}

/// What the pipe publishes for a stream record in its JSON form (as Lambda and Pipes deliver
/// it): `Ok(None)` for the records the pipe filter drops (sequencer bookkeeping, TTL
/// deletions, every other entity), the record itself as JSON for an outbox insert. The record
/// is checked to carry a BASOKA event (a broken outbox item is a bug to find in a test, not
/// in a dead-letter queue), and is not rewritten.
pub fn stream_record_to_message(record: &Value) -> Result<Option<String>, StreamError> {
    if !is_outbox_insert(record) {
        return Ok(None);
    }
    outbox_event(record)?;
    serde_json::to_string(record)
        .map(Some)
        .map_err(|e| StreamError::Unreadable(e.to_string()))
}

/// [`stream_record_to_message`] for a record as `aws_lambda_events` types it.
pub fn event_record_to_message(record: &EventRecord) -> Result<Option<String>, StreamError> {
    let json = serde_json::to_value(record).map_err(|e| StreamError::Unreadable(e.to_string()))?;
    stream_record_to_message(&json)
}

/// An attribute value in DynamoDB's JSON form (`{"S": "..."}`), as stream records carry it.
fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": image_json(m) }),
        // Binary attributes never occur in BASOKA items.
        _ => json!({ "NULL": true }),
    }
}

/// An item in DynamoDB's JSON form, as a stream record's `NewImage` and the AWS CLI's
/// `Items` show it (keys sorted).
pub fn item_json(item: &crate::codec::Item) -> Value {
    image_json(item)
}

fn image_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), attribute_json(&item[k])))
            .collect::<Map<String, Value>>(),
    )
}

/// The stream record of the outbox insert of `event` in `table`, as the pipe publishes it:
/// what the local runner hands to the consumers in place of the pipe, the topic and the
/// queues, which an emulator does not run. The image is the item the state change wrote
/// ([`crate::outbox::outbox_item`]), without its `ttl`.
pub fn outbox_insert_record(event: &Event, table: &str) -> Result<Value, StreamError> {
    let image =
        crate::outbox::outbox_item(event).map_err(|e| StreamError::Unreadable(e.to_string()))?;
    let keys: std::collections::HashMap<String, AttributeValue> = image
        .iter()
        .filter(|(k, _)| *k == crate::keys::PK || *k == crate::keys::SK)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(json!({
        "eventID": event.id.as_str().replace('-', ""),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-southeast-3",
        "dynamodb": {
            "ApproximateCreationDateTime": event.occurred_at.timestamp(),
            "Keys": image_json(&keys),
            "NewImage": image_json(&image),
            "SequenceNumber": "0",
            "SizeBytes": 0,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": format!(
            "arn:aws:dynamodb:ap-southeast-3:000000000000:table/{table}/stream/local"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn an_outbox_insert_is_published_as_it_is_and_the_rest_is_dropped() {
        let e = event();
        let body = serde_json::to_string(&e).unwrap();
        let r = record("INSERT", "outbox", &body);
        let message = stream_record_to_message(&r).unwrap().unwrap();
        let published: Value = serde_json::from_str(&message).unwrap();
        assert_eq!(published, r, "the record itself, not rewritten");
        assert_eq!(outbox_event(&published).unwrap(), e);
        let typed: EventRecord = serde_json::from_value(r.clone()).unwrap();
        let via_typed: Value =
            serde_json::from_str(&event_record_to_message(&typed).unwrap().unwrap()).unwrap();
        assert_eq!(outbox_event(&via_typed).unwrap(), e);

        for dropped in [
            record("REMOVE", "outbox", &body),
            record("INSERT", "outbox_log", &body),
            record("INSERT", "request", &body),
        ] {
            assert_eq!(stream_record_to_message(&dropped).unwrap(), None);
            assert_eq!(outbox_event(&dropped), Err(StreamError::NotAnOutboxInsert));
        }
        assert!(matches!(
            stream_record_to_message(&record("INSERT", "outbox", "{\"nope\":1}")),
            Err(StreamError::NotAnEvent(_))
        ));
    }

    #[test]
    fn the_subscription_filter_reads_the_nested_event_type_of_the_record() {
        let policy = subscription_filter_policy(&["RequestApproved", "StockLow"]);
        assert_eq!(
            policy,
            json!({"dynamodb": {"NewImage": {"event_type": {"S": ["RequestApproved", "StockLow"]}}}})
        );
        let body = serde_json::to_string(&event()).unwrap();
        assert!(filter_policy_accepts(
            &policy,
            &record("INSERT", "outbox", &body)
        ));
        let other = subscription_filter_policy(&["RequestApproved"]);
        assert!(!filter_policy_accepts(
            &other,
            &record("INSERT", "outbox", &body)
        ));
        // A bare event has no such key: it does not pass (the documented re-publishing wraps
        // events in the record shape).
        let bare: Value = serde_json::from_str(&body).unwrap();
        assert!(!filter_policy_accepts(&policy, &bare));
    }

    #[test]
    fn the_local_record_of_an_event_is_an_outbox_insert_of_its_outbox_item() {
        let e = event();
        let r = outbox_insert_record(&e, "basoka-dev").unwrap();
        assert!(is_outbox_insert(&r));
        assert_eq!(outbox_event(&r).unwrap(), e);
        assert_eq!(r["dynamodb"]["NewImage"]["event_type"]["S"], "StockLow");
        assert_eq!(r["dynamodb"]["Keys"]["SK"]["S"], e.id.as_str());
        assert!(filter_policy_accepts(
            &subscription_filter_policy(&["StockLow"]),
            &r
        ));
        let _typed: EventRecord = serde_json::from_value(r).expect("a stream record");
    }
}
