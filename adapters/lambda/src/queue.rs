//! An SQS batch on Lambda: each message body carries one domain event, handed to the consumer
//! one at a time, in batch order. A body is one of
//!
//! * **the DynamoDB stream record of an outbox insert**: what really arrives on AWS (the pipe
//!   publishes each record as it is and the topic delivers it raw; `basoka_aws::stream`); the
//!   event is the record's `NewImage.event.S`;
//! * **a bare event JSON**: what an operator re-publishes by hand or a local invocation sends;
//! * **an SNS notification envelope** (`{"Type": "Notification", "Message": "..."}`) around
//!   either, should raw delivery ever be off.
//!
//! Failures are reported per message (`batchItemFailures`, with `ReportBatchItemFailures` on
//! the event source mapping): SQS makes a failed message visible again and, after the queue's
//! `maxReceiveCount`, moves it to the dead-letter queue; the others are deleted. So
//!
//! * a message that is none of the above (or a stream record of anything but an outbox insert)
//!   is logged (its id, the reason, where in the body — never the body, which may be anything)
//!   and reported failed: it ends in the DLQ;
//! * a handler error fails that message only;
//! * once a message about a request failed, the later messages of the batch about the same
//!   request are failed too, untried, so that they are not handled before it (a cancellation
//!   before the approval it cancels). Consumers are idempotent on the event id, so the
//!   redelivery of anything already done is harmless.

use std::collections::HashSet;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use shared::AppError;
use shared::events::Event;

use crate::BoxFuture;

/// A consumer: one event, idempotent on its id.
pub type QueueHandler = Arc<dyn Fn(Event) -> BoxFuture<Result<(), AppError>> + Send + Sync>;

/// Why a message body is not an event, without quoting it.
fn unreadable(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// Whether a JSON object is a DynamoDB stream record (it has the record's `eventName` and
/// `dynamodb` members, which no BASOKA event has).
fn is_stream_record(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("eventName") && map.get("dynamodb").is_some_and(Value::is_object)
}

fn event_of_value(value: Value, in_envelope: bool) -> Result<Event, String> {
    match value {
        Value::Object(map)
            if !in_envelope && map.get("Type").and_then(Value::as_str) == Some("Notification") =>
        {
            let inner = map
                .get("Message")
                .and_then(Value::as_str)
                .ok_or("SNS envelope without a Message string")?;
            let inner: Value = serde_json::from_str(inner).map_err(|e| unreadable(&e))?;
            event_of_value(inner, true)
        }
        Value::Object(map) if is_stream_record(&map) => {
            basoka_aws::outbox_event(&Value::Object(map)).map_err(|e| e.to_string())
        }
        value => serde_json::from_value(value).map_err(|e| unreadable(&e)),
    }
}

/// The event in a message body: an outbox insert's stream record, the event JSON itself, or
/// an SNS notification envelope around either (see the module documentation).
pub fn event_of(body: &str) -> Result<Event, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| unreadable(&e))?;
    event_of_value(value, false)
}

fn failure(id: &str) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id.to_string();
    f
}

/// Handles a batch, reporting the messages to try again (see the module documentation).
pub async fn process_batch(
    consumer: &str,
    batch: SqsEvent,
    handler: &QueueHandler,
) -> SqsBatchResponse {
    let mut failures = Vec::new();
    let mut held_back: HashSet<String> = HashSet::new();
    for message in batch.records {
        let id = message.message_id.clone().unwrap_or_default();
        let event = match event_of(message.body.as_deref().unwrap_or("")) {
            Ok(e) => e,
            Err(why) => {
                tracing::error!(consumer, message_id = %id, reason = %why, "message is not a BASOKA event; left for the dead-letter queue");
                failures.push(failure(&id));
                continue;
            }
        };
        let request = event.request_id().map(|r| r.as_str().to_string());
        if let Some(r) = &request
            && held_back.contains(r)
        {
            tracing::info!(consumer, message_id = %id, event_id = %event.id.as_str(), "held back behind a failed event of the same request");
            failures.push(failure(&id));
            continue;
        }
        match handler(event.clone()).await {
            Ok(()) => {
                tracing::info!(consumer, message_id = %id, event_id = %event.id.as_str(), event_type = event.type_name(), "event handled");
            }
            Err(e) => {
                tracing::warn!(consumer, message_id = %id, event_id = %event.id.as_str(), event_type = event.type_name(), error = %e, "event failed; SQS will deliver it again");
                if let Some(r) = request {
                    held_back.insert(r);
                }
                failures.push(failure(&id));
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// The SQS message a consumer's queue carries with `body` (raw delivery from the topic: on AWS
/// the outbox insert's stream record, `basoka_aws::outbox_insert_record`): what the local
/// runner (`serve --backend aws`) and the tests hand to [`crate::Function::handle`] in place
/// of the queue that moto cannot invoke.
pub fn sqs_message(queue: &str, message_id: &str, body: &str) -> Value {
    serde_json::json!({
        "messageId": message_id,
        "receiptHandle": format!("local-{message_id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "0",
            "SenderId": "local",
            "ApproximateFirstReceiveTimestamp": "0"
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:ap-southeast-3:000000000000:{queue}"),
        "awsRegion": "ap-southeast-3"
    })
}

/// An SQS batch of `messages` (`(message id, body)`).
pub fn sqs_batch<'a>(queue: &str, messages: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let records: Vec<Value> = messages
        .into_iter()
        .map(|(id, body)| sqs_message(queue, id, body))
        .collect();
    serde_json::json!({ "Records": records })
}

/// The message ids a batch response asks to be delivered again.
pub fn failed_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
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
            occurred_at: "2026-12-04T07:00:00Z".parse().unwrap(),
            actor: ActorRef::system(),
            request: None,
            kind: EventKind::StockLow {
                warehouse: "GUDANG-DINSOS-BKS".into(),
                sku: "BISKUIT".into(),
                unit: "bungkus".into(),
                available: 8,
                threshold: 10,
            },
        }
    }

    fn envelope(message: &str) -> String {
        serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": message})
            .to_string()
    }

    #[test]
    fn a_body_may_be_the_stream_record_a_bare_event_or_an_envelope_around_either() {
        let e = event();
        let bare = serde_json::to_string(&e).unwrap();
        let record = basoka_aws::outbox_insert_record(&e, "basoka-test")
            .unwrap()
            .to_string();
        for body in [
            record.clone(),
            bare.clone(),
            envelope(&record),
            envelope(&bare),
        ] {
            assert_eq!(event_of(&body).unwrap(), e, "{body}");
        }
    }

    #[test]
    fn other_stream_records_and_other_json_are_refused_without_quoting_them() {
        let e = event();
        let mut not_outbox = basoka_aws::outbox_insert_record(&e, "basoka-test").unwrap();
        not_outbox["dynamodb"]["NewImage"]["entity"]["S"] = "request".into();
        not_outbox["dynamodb"]["NewImage"]["nik"] = serde_json::json!({"S": "3275014101900003"});
        let mut removed = basoka_aws::outbox_insert_record(&e, "basoka-test").unwrap();
        removed["eventName"] = "REMOVE".into();
        let mut broken = basoka_aws::outbox_insert_record(&e, "basoka-test").unwrap();
        broken["dynamodb"]["NewImage"]["event"]["S"] = "{\"nik\":\"3275014101900003\"}".into();
        for body in [
            not_outbox.to_string(),
            removed.to_string(),
            broken.to_string(),
            r#"{"not": "an event", "nik": "3275014101900003"}"#.to_string(),
            "3275014101900003".to_string(),
            envelope(&envelope(&serde_json::to_string(&e).unwrap())),
        ] {
            let why = event_of(&body).unwrap_err();
            assert!(!why.contains("3275014101900003"), "{why}");
        }
    }
}
