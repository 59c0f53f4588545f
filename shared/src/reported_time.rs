//! Times people report for something that already happened: when the surveyor visited the
//! household (`visited_at`), when the household received its package (`received_at`).
//!
//! Such a time cannot be before the step that made it possible (the survey assignment, the
//! dispatch from the warehouse) nor in the future. Two allowances keep honest input from
//! being refused: people give times to the minute, so the earliest allowed time is the start
//! of the minute of that step; and a phone's clock may run a little fast, so a time up to
//! [`CLOCK_SKEW_MINUTES`] ahead of the server's clock is taken.

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::i18n::Text;
use crate::time::wib;
use crate::validation::FieldError;

/// How far ahead of the server's clock a reported time may be.
pub const CLOCK_SKEW_MINUTES: i64 = 5;

/// What is wrong with a reported time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Before the minute of the step that made it possible.
    TooEarly,
    /// More than [`CLOCK_SKEW_MINUTES`] after now.
    InFuture,
}

/// Checks a time reported for something that happened after `not_before` (when known) and
/// by `now`.
pub fn check(
    t: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if t > now + Duration::minutes(CLOCK_SKEW_MINUTES) {
        return Err(Refusal::InFuture);
    }
    if let Some(start) = not_before {
        let minute = start.duration_trunc(Duration::minutes(1)).unwrap_or(start);
        if t < minute {
            return Err(Refusal::TooEarly);
        }
    }
    Ok(())
}

/// The problem with a handover's `received_at`, if any: not before the package left the
/// warehouse (`dispatched_at`), not in the future.
pub fn received_at_problem(
    received_at: DateTime<Utc>,
    dispatched_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<FieldError> {
    let (code, message) = match check(received_at, dispatched_at, now).err()? {
        Refusal::InFuture => (
            "RECEIVED_AT_IN_FUTURE",
            Text::fixed(
                "Waktu penerimaan tidak boleh di masa depan.",
                "The receipt time cannot be in the future.",
            ),
        ),
        Refusal::TooEarly => {
            let d = wib(&dispatched_at.expect("only with a dispatch time"));
            (
                "RECEIVED_AT_BEFORE_DISPATCH",
                Text::new(
                    format!(
                        "Waktu penerimaan tidak boleh sebelum paket dikirim dari gudang ({d})."
                    ),
                    format!(
                        "The receipt time cannot be before the package left the warehouse ({d})."
                    ),
                ),
            )
        }
    };
    Some(FieldError::new("received_at", code, message))
}

/// The problem with a survey's `visited_at`, if any: not before the survey was assigned
/// (`assigned_at`), not in the future.
pub fn visited_at_problem(
    visited_at: DateTime<Utc>,
    assigned_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<FieldError> {
    let (code, message) = match check(visited_at, assigned_at, now).err()? {
        Refusal::InFuture => (
            "VISITED_AT_IN_FUTURE",
            Text::fixed(
                "Waktu kunjungan tidak boleh di masa depan.",
                "The visit time cannot be in the future.",
            ),
        ),
        Refusal::TooEarly => {
            let a = wib(&assigned_at.expect("only with an assignment time"));
            (
                "VISITED_AT_BEFORE_ASSIGNMENT",
                Text::new(
                    format!("Waktu kunjungan tidak boleh sebelum survei ditugaskan ({a})."),
                    format!("The visit time cannot be before the survey was assigned ({a})."),
                ),
            )
        }
    };
    Some(FieldError::new("visited_at", code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn not_before_the_minute_of_the_step_nor_beyond_the_clock_skew() {
        let start = t("2026-12-04T02:00:40Z");
        let now = t("2026-12-04T03:00:00Z");
        // The minute of the step and anything after it, up to five minutes ahead of now.
        for ok in [
            "2026-12-04T02:00:00Z",
            "2026-12-04T02:00:41Z",
            "2026-12-04T03:05:00Z",
        ] {
            assert_eq!(check(t(ok), Some(start), now), Ok(()), "{ok}");
        }
        assert_eq!(
            check(t("2026-12-04T01:59:59Z"), Some(start), now),
            Err(Refusal::TooEarly)
        );
        assert_eq!(
            check(t("2020-01-01T00:00:00Z"), Some(start), now),
            Err(Refusal::TooEarly)
        );
        assert_eq!(
            check(t("2026-12-04T03:05:01Z"), Some(start), now),
            Err(Refusal::InFuture)
        );
        // Without a known start, only the future is refused.
        assert_eq!(check(t("2020-01-01T00:00:00Z"), None, now), Ok(()));
    }

    #[test]
    fn problems_name_the_field_with_a_code_and_the_time_in_wib() {
        let dispatched = t("2026-12-04T02:00:40Z");
        let now = t("2026-12-04T03:00:00Z");
        let p = received_at_problem(t("2020-01-01T00:00:00Z"), Some(dispatched), now).unwrap();
        assert_eq!(
            (p.field.as_str(), p.code),
            ("received_at", "RECEIVED_AT_BEFORE_DISPATCH")
        );
        assert!(
            p.message.id.contains("04-12-2026 09:00 WIB"),
            "{}",
            p.message.id
        );
        let p = received_at_problem(t("2027-01-01T00:00:00Z"), Some(dispatched), now).unwrap();
        assert_eq!(p.code, "RECEIVED_AT_IN_FUTURE");
        assert!(received_at_problem(now, Some(dispatched), now).is_none());

        let p = visited_at_problem(t("2026-12-01T00:00:00Z"), Some(dispatched), now).unwrap();
        assert_eq!(
            (p.field.as_str(), p.code),
            ("visited_at", "VISITED_AT_BEFORE_ASSIGNMENT")
        );
        let p = visited_at_problem(t("2027-01-01T00:00:00Z"), None, now).unwrap();
        assert_eq!(p.code, "VISITED_AT_IN_FUTURE");
    }
}
