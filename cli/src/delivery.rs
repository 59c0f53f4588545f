//! Local event delivery: what DynamoDB Streams → EventBridge Pipes → SNS → SQS do on AWS.
//!
//! One task per consumer (`allocate-stock`, `notify`) reads the outbox after the position it
//! last acknowledged, hands each event to the consumer's handler in outbox order (so the
//! events of one request arrive in the order they happened), and acknowledges the position
//! only after the handler finished. A crash or `kill -9` between a state change and its
//! delivery therefore loses nothing: after a restart the task starts again from the last
//! acknowledged position. That is at-least-once delivery, which is why every handler is
//! idempotent on the event id.
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

/// Runs one consumer until `stop` turns true.
pub async fn run_consumer(
    store: Arc<dyn Outbox>,
    dead_letters: DeadLetters,
    name: &'static str,
    handler: Handler,
    repeat: u32,
    mut stop: watch::Receiver<bool>,
) {
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
        for item in batch {
            for _ in 0..repeat {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match handler(item.event.clone()).await {
                        Ok(()) => break,
                        Err(e) if attempt < MAX_ATTEMPTS => {
                            tracing::warn!(consumer = name, event_id = %item.event.id.as_str(), event_type = item.event.type_name(), attempt, error = %e, "handler failed; retrying");
                            sleep_or_stop(Duration::from_millis(100 << attempt), &mut stop).await;
                            if *stop.borrow() {
                                // Not acknowledged: delivered again after the restart.
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::error!(consumer = name, event_id = %item.event.id.as_str(), event_type = item.event.type_name(), error = %e, "handler failed {MAX_ATTEMPTS} times; event set aside (dead letter)");
                            let key = format!("deadletter.{name}.{}", item.event.id.as_str());
                            dead_letters(key, e.to_string()).await;
                            break;
                        }
                    }
                }
            }
            if let Err(e) = store.ack(name, item.position).await {
                tracing::error!(consumer = name, error = %e, "cannot acknowledge; the event will be delivered again");
            }
        }
        if !full {
            sleep_or_stop(POLL, &mut stop).await;
        }
    }
    tracing::info!(consumer = name, "event delivery stopped");
}

async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {},
        _ = stop.changed() => {},
    }
}
