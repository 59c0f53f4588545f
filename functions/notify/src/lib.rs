//! `notify`: the SMS side of BASOKA. A queue handler for every domain event: works out who
//! must be told (DESIGN §8), sends each (event, recipient) once through the SMS port, and keeps
//! the notification log. A failed send never fails the event: it is logged as failed and
//! retried by [`retry_failed`].

use shared::AppError;
use shared::events::Event;
use shared::notify::{self, NotifyDeps, NotifyReport};

/// The queue handler: one event, idempotent on (event id, recipient).
pub async fn handle_event(deps: &NotifyDeps, event: &Event) -> Result<NotifyReport, AppError> {
    let report = notify::on_event(deps, event).await?;
    if report.failed > 0 {
        tracing::warn!(event_id = %event.id.as_str(), event_type = event.type_name(), failed = report.failed, "SMS not sent; will retry");
    }
    Ok(report)
}

/// Retries failed SMS (the local runner calls it periodically; on AWS a schedule would).
pub async fn retry_failed(deps: &NotifyDeps) -> Result<usize, AppError> {
    notify::retry_failed(deps, 100).await
}
