//! An SQS batch on Lambda: each message body is one domain event (the JSON the outbox stored,
//! forwarded by the pipe and the topic with raw message delivery; an SNS envelope is unwrapped
//! too), handed to the consumer one at a time, in batch order.
//!
//! Failures are reported per message (`batchItemFailures`, with `ReportBatchItemFailures` on
//! the event source mapping): SQS makes a failed message visible again and, after the queue's
//! `maxReceiveCount`, moves it to the dead-letter queue; the others are deleted. So
//!
//! * a message that is not a BASOKA event is logged (its id, the reason, where in the body —
//!   never the body, which may be anything) and reported failed: it ends in the DLQ;
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

/// The event in a message body: the event JSON itself, or an SNS notification envelope
/// (`{"Type": "Notification", "Message": "<event JSON>"}`) around it.
pub fn event_of(body: &str) -> Result<Event, String> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map))
            if map.get("Type").and_then(Value::as_str) == Some("Notification") =>
        {
            let inner = map
                .get("Message")
                .and_then(Value::as_str)
                .ok_or("SNS envelope without a Message string")?;
            serde_json::from_str(inner).map_err(|e| unreadable(&e))
        }
        Ok(value) => serde_json::from_value(value).map_err(|e| unreadable(&e)),
        Err(e) => Err(unreadable(&e)),
    }
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

/// The SQS message a consumer's queue carries for an event (raw delivery from the topic): what
/// the local runner (`serve --backend aws`) and the tests hand to [`crate::Function::handle`]
/// in place of the queue that moto cannot invoke.
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
