//! `notify`: the SMS side of BASOKA. A queue handler for every domain event: works out who
//! must be told (DESIGN §8), sends each (event, recipient) once through the SMS port, and keeps
//! the notification log. A failed send never fails the event: it is logged as failed and
//! retried by [`retry_failed`], and so is an SMS to a staff member whose number is not known
//! yet. Two deliveries of one event at once (SQS is at least once) send each SMS once: the
//! first claims it, the other leaves it to the claim's holder (see [`shared::notify`]).

use shared::AppError;
use shared::events::Event;
use shared::notify::{self, NotifyDeps, NotifyReport};

/// The queue handler: one event, idempotent on (event id, recipient).
pub async fn handle_event(deps: &NotifyDeps, event: &Event) -> Result<NotifyReport, AppError> {
    let report = notify::on_event(deps, event).await?;
    if report.failed > 0 {
        tracing::warn!(event_id = %event.id.as_str(), event_type = event.type_name(), failed = report.failed, "SMS not sent; will retry");
    }
    if report.in_flight > 0 {
        tracing::info!(event_id = %event.id.as_str(), event_type = event.type_name(), in_flight = report.in_flight, "SMS claimed by another delivery of this event; left to it");
    }
    Ok(report)
}

/// The queue handler for a batch of events ([`notify::on_events`]): one answer per event, in
/// order; each event idempotent on (event id, recipient) as with [`handle_event`].
pub async fn handle_events(
    deps: &NotifyDeps,
    events: &[Event],
) -> Vec<Result<NotifyReport, AppError>> {
    let answers = notify::on_events(deps, events).await;
    for (event, answer) in events.iter().zip(&answers) {
        if let Ok(report) = answer
            && report.failed > 0
        {
            tracing::warn!(event_id = %event.id.as_str(), event_type = event.type_name(), failed = report.failed, "SMS not sent; will retry");
        }
    }
    answers
}

/// Retries failed SMS and takes over claims whose sender stopped (the local runner calls it
/// periodically; on AWS the 5-minute schedule does).
pub async fn retry_failed(deps: &NotifyDeps) -> Result<usize, AppError> {
    notify::retry_failed(deps, 100).await
}

/// This function on AWS Lambda (the binary in `main.rs`): its queue gets every event; the
/// scheduled task `{"basoka": "retry-failed-sms"}` retries failed SMS.
pub mod lambda {
    use std::sync::Arc;

    use basoka_aws::{AwsAdapters, Port};
    use basoka_lambda::Function;
    use shared::notify::NotifyConfig;

    /// The scheduled task's name.
    pub const RETRY_TASK: &str = "retry-failed-sms";

    /// The store ports this function uses: its IAM policy is exactly their actions
    /// (`basoka_aws::calls`), which the infrastructure drift test checks.
    pub const PORTS: &[Port] = &[
        Port::RequestReads,
        Port::NotificationLog,
        Port::Directory,
        Port::Sms,
    ];

    /// The environment its cold start reads (`main.rs`: `basoka_lambda::connect` and
    /// `settings::notify_config`), minus the TTLs of records it never writes (idempotency
    /// records, outbox events): the template sets exactly these for it (the drift test
    /// checks).
    pub const ENVIRONMENT: &[&str] = &[
        "BASOKA_TABLE",
        "BASOKA_HASH_KEY",
        "BASOKA_SMS_SENDER_ID",
        "BASOKA_DINAS_PHONE",
        "BASOKA_GUDANG_PHONE",
        "BASOKA_SMS_MAX_ATTEMPTS",
        "RUST_LOG",
    ];

    pub fn function(aws: &AwsAdapters, config: NotifyConfig) -> Function {
        let deps = Arc::new(aws.notify_deps(config));
        let retry = deps.clone();
        Function::new("notify")
            .with_queue(move |event| {
                let deps = deps.clone();
                async move { super::handle_event(&deps, &event).await.map(|_| ()) }
            })
            .with_task(RETRY_TASK, move || {
                let deps = retry.clone();
                async move {
                    let sent = super::retry_failed(&deps).await?;
                    Ok(serde_json::json!({ "retried_and_sent": sent }))
                }
            })
    }
}
