//! Local event delivery: what DynamoDB Streams → EventBridge Pipes → SNS → SQS do on AWS.
//!
//! One task per consumer (`allocate-stock`, `notify`) reads the outbox after the position it
//! last acknowledged, a batch at a time, hands the events to the consumer's handler in outbox
//! order (so the events of one request arrive in the order they happened), and acknowledges
//! the batch's last position only after the handler finished with all of them. A crash or
//! `kill -9` between a state change and its delivery therefore loses nothing: after a restart
//! the task starts again from the last acknowledged position. That is at-least-once delivery,
//! which is why every handler is idempotent on the event id.
//!
//! A consumer that can handle a batch more cheaply than its events one by one gives a batch
//! handler too ([`Consumer::batch`]); the embedded `notify` does, so that the notification log
//! records and the SMS lines of a batch are written together (see `shared::notify::on_events`).
//!
//! An event whose handler keeps failing is retried with back-off; after [`MAX_ATTEMPTS`] it is
//! set aside as a dead letter (the local analogue of a queue's DLQ: logged, and on the
//! embedded store kept in its settings under `deadletter.<consumer>.<event id>`) so that one
//! bad event cannot stop the others forever.
//!
//! The same loop serves both backends: it reads the [`Outbox`] port, which the embedded store
//! and the DynamoDB table both implement. With `--backend aws` the handlers are the Lambda
//! functions' own entry points, handed each event as the SQS message the queue would carry.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use shared::AppError;
use shared::events::Event;
use shared::ports::Outbox;
use tokio::sync::watch;

/// Attempts per event before it is set aside.
pub const MAX_ATTEMPTS: u32 = 5;
/// How often an idle consumer looks for new events.
const POLL: Duration = Duration::from_millis(50);
/// Events read per round.
const BATCH: usize = 100;

/// A consumer's handler.
pub type Handler =
    Arc<dyn Fn(Event) -> Pin<Box<dyn Future<Output = Result<(), AppError>> + Send>> + Send + Sync>;

/// Where an event that failed [`MAX_ATTEMPTS`] times is set aside: `(key, error)`, with key
/// `deadletter.<consumer>.<event id>`.
pub type DeadLetters =
    Arc<dyn Fn(String, String) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How the runner delivers, from the environment (for tests and operations):
/// `BASOKA_DELIVERY=off` starts no consumer (events wait in the outbox, e.g. to show that a
/// restart delivers them); `BASOKA_DELIVERY_REPEAT=N` hands every event to its handler N times,
/// as an at-least-once transport may.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryMode {
    pub enabled: bool,
    pub repeat: u32,
}

impl DeliveryMode {
    pub fn from_env() -> DeliveryMode {
        let enabled = std::env::var("BASOKA_DELIVERY")
            .map(|v| v != "off")
            .unwrap_or(true);
        let repeat = std::env::var("BASOKA_DELIVERY_REPEAT")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n: &u32| (1..=10).contains(n))
            .unwrap_or(1);
        DeliveryMode { enabled, repeat }
    }
}

/// A consumer's handler for a batch of events: one answer per event, in order (see
/// [`run_consumer`]).
pub type BatchHandler = Arc<
    dyn Fn(Vec<Event>) -> Pin<Box<dyn Future<Output = Vec<Result<(), AppError>>> + Send>>
        + Send
        + Sync,
>;

/// How a consumer takes its events: one by one, or in batches.
#[derive(Clone)]
pub struct Consumer {
    pub name: &'static str,
    /// Handles one event; also retries the events a batch handler failed.
    pub handler: Handler,
    /// Handles a whole batch at once, when the consumer can do that more cheaply (the embedded
    /// `notify`: one commit for the batch's log records, one `fsync` for its SMS).
    pub batch: Option<BatchHandler>,
}

/// Runs one consumer until `stop` turns true.
///
/// Each round reads up to [`BATCH`] events after the consumer's offset and hands them on in
/// outbox order: one by one to [`Consumer::handler`], or all at once to
/// [`Consumer::batch`]. An event that fails is retried on its own (after the rest of its
/// batch, when the batch went to the batch handler). The offset is acknowledged once per
/// round, after every event of the round was handled or set aside: one store write per batch
/// instead of one per event. A stop or crash before that acknowledgement delivers the round
/// again after the restart, which the handlers' idempotency makes harmless.
pub async fn run_consumer(
    store: Arc<dyn Outbox>,
    dead_letters: DeadLetters,
    consumer: Consumer,
    repeat: u32,
    mut stop: watch::Receiver<bool>,
) {
    let name = consumer.name;
    tracing::info!(consumer = name, "event delivery started");
    loop {
        if *stop.borrow() {
            break;
        }
        let batch = match store.pending(name, BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(consumer = name, error = %e, "cannot read the outbox");
                sleep_or_stop(Duration::from_secs(1), &mut stop).await;
                continue;
            }
        };
        let full = batch.len() == BATCH;
        if let Some(last) = batch.last().map(|i| i.position) {
            let events: Vec<Event> = batch.into_iter().map(|i| i.event).collect();
            if !deliver(&consumer, &dead_letters, &events, repeat, &mut stop).await {
                // Stopped while retrying: not acknowledged, delivered again after the restart.
                return;
            }
            if let Err(e) = store.ack(name, last).await {
                tracing::error!(consumer = name, error = %e, "cannot acknowledge; the events will be delivered again");
            }
        }
        if !full {
            sleep_or_stop(POLL, &mut stop).await;
        }
    }
    tracing::info!(consumer = name, "event delivery stopped");
}

/// Hands one round's events to the consumer (each `repeat` times). False when a stop came
/// while an event was being retried.
async fn deliver(
    consumer: &Consumer,
    dead_letters: &DeadLetters,
    events: &[Event],
    repeat: u32,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    match &consumer.batch {
        Some(batch) => {
            for _ in 0..repeat {
                let answers = batch(events.to_vec()).await;
                for (event, answer) in events.iter().zip(answers) {
                    if let Err(e) = answer
                        && !retry(consumer, dead_letters, event, e, stop).await
                    {
                        return false;
                    }
                }
            }
        }
        None => {
            for event in events {
                for _ in 0..repeat {
                    let handled = match (consumer.handler)(event.clone()).await {
                        Ok(()) => true,
                        Err(e) => retry(consumer, dead_letters, event, e, stop).await,
                    };
                    if !handled {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Tries a failed event again with back-off, until it is handled or [`MAX_ATTEMPTS`] were
/// made (counting the one that failed with `error`); then it is set aside as a dead letter.
/// False when a stop came while waiting to try again.
async fn retry(
    consumer: &Consumer,
    dead_letters: &DeadLetters,
    event: &Event,
    mut error: AppError,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let name = consumer.name;
    let mut attempt = 1;
    while attempt < MAX_ATTEMPTS {
        tracing::warn!(consumer = name, event_id = %event.id.as_str(), event_type = event.type_name(), attempt, error = %error, "handler failed; retrying");
        sleep_or_stop(Duration::from_millis(100 << attempt), stop).await;
        if *stop.borrow() {
            return false;
        }
        attempt += 1;
        match (consumer.handler)(event.clone()).await {
            Ok(()) => return true,
            Err(e) => error = e,
        }
    }
    tracing::error!(consumer = name, event_id = %event.id.as_str(), event_type = event.type_name(), error = %error, "handler failed {MAX_ATTEMPTS} times; event set aside (dead letter)");
    let key = format!("deadletter.{name}.{}", event.id.as_str());
    dead_letters(key, error.to_string()).await;
    true
}

async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {},
        _ = stop.changed() => {},
    }
}
