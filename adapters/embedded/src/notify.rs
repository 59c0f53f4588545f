//! [`NotificationLog`] over the `notifications` table and [`Directory`] over `contacts`.
//!
//! A claim is an insert-if-absent inside one write job, so that of two deliveries of the same
//! event exactly one gets to send each SMS: the other is shown the record the first wrote.
//! Every later write (a take-over, an outcome) is one `UPDATE … WHERE status = ? AND
//! attempts = ?` on the record as its writer read it, so that of two takers one wins. The
//! `recipient` column is [`shared::notify::Recipient::key`]: a number or `staff:<sub>`.
//! The contacts are the staff phone numbers `notify` looks up by user id (`sub`); locally
//! `basoka token --phone` records them through [`EmbeddedStore::put_contact`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use shared::Phone;
use shared::notify::{Directory, NotificationLog, NotificationRecord, NotificationStatus};
use shared::ports::StoreError;

use crate::EmbeddedStore;
use crate::codec::{from_json, time_to_text, to_json};

const CLAIM: &str =
    "INSERT INTO notifications (event_id, recipient, status, attempts, updated_at, json)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (event_id, recipient) DO NOTHING";
// A compare-and-set on the record as the writer read it (?7, ?8).
pub(crate) const REPLACE: &str = "UPDATE notifications
     SET status = ?3, attempts = ?4, updated_at = ?5, json = ?6
     WHERE event_id = ?1 AND recipient = ?2 AND status = ?7 AND attempts = ?8";
pub(crate) const GET: &str =
    "SELECT json FROM notifications WHERE event_id = ?1 AND recipient = ?2";
// Ranges of `notifications_by_status`, each read in its order (the index carries the key):
// failed records below the attempt limit, and pending claims older than their lease.
pub(crate) const RETRYABLE: &str = "SELECT updated_at, event_id, recipient, json
     FROM notifications WHERE status = ?1 AND attempts < ?2
     ORDER BY updated_at, event_id, recipient LIMIT ?3";
pub(crate) const STALE_CLAIMS: &str = "SELECT updated_at, event_id, recipient, json
     FROM notifications WHERE status = ?1 AND updated_at < ?2
     ORDER BY updated_at, event_id, recipient LIMIT ?3";
pub(crate) const FOR_EVENT: &str =
    "SELECT json FROM notifications WHERE event_id = ?1 ORDER BY recipient";

pub(crate) const PHONE_OF: &str = "SELECT phone FROM contacts WHERE sub = ?1";
const PUT_CONTACT: &str = "INSERT INTO contacts (sub, phone, name, role, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (sub) DO UPDATE SET phone = excluded.phone, name = excluded.name,
         role = excluded.role, updated_at = excluded.updated_at";

/// A notification record as stored.
struct Row {
    event_id: String,
    recipient: String,
    status: &'static str,
    attempts: u32,
    updated_at: String,
    json: String,
}

impl Row {
    fn of(r: &NotificationRecord) -> Result<Row, StoreError> {
        Ok(Row {
            event_id: r.event_id.clone(),
            recipient: r.recipient.key(),
            status: r.status.as_str(),
            attempts: r.attempts,
            updated_at: time_to_text(&r.updated_at),
            json: to_json("notification", r)?,
        })
    }
}

fn records(rows: Vec<String>) -> Result<Vec<NotificationRecord>, StoreError> {
    rows.iter()
        .map(|j| from_json::<NotificationRecord>("notification", j))
        .collect()
}

#[async_trait]
impl NotificationLog for EmbeddedStore {
    async fn claim(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let row = Row::of(record)?;
        self.write(move |tx| {
            let inserted = tx.prepare_cached(CLAIM)?.execute(params![
                row.event_id,
                row.recipient,
                row.status,
                row.attempts,
                row.updated_at,
                row.json
            ])?;
            if inserted == 1 {
                return Ok(None);
            }
            let existing: String = tx
                .prepare_cached(GET)?
                .query_row(params![row.event_id, row.recipient], |r| r.get(0))?;
            Ok(Some(from_json("notification", &existing)?))
        })
        .await
    }

    async fn replace(
        &self,
        current: &NotificationRecord,
        next: &NotificationRecord,
    ) -> Result<bool, StoreError> {
        if current.event_id != next.event_id || current.recipient != next.recipient {
            return Err(StoreError::Unavailable(
                "a notification replace must keep the record's key".into(),
            ));
        }
        let row = Row::of(next)?;
        let (status, attempts) = (current.status.as_str(), current.attempts);
        self.write(move |tx| {
            let changed = tx.prepare_cached(REPLACE)?.execute(params![
                row.event_id,
                row.recipient,
                row.status,
                row.attempts,
                row.updated_at,
                row.json,
                status,
                attempts
            ])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn retryable(
        &self,
        max_attempts: u32,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let n = i64::try_from(limit).unwrap_or(i64::MAX);
        let stale_before = time_to_text(&stale_before);
        self.read(move |conn| {
            let mut rows: Vec<(String, String, String, String)> = Vec::new();
            for (sql, status, bound) in [
                (
                    RETRYABLE,
                    NotificationStatus::Failed,
                    rusqlite::types::Value::from(max_attempts),
                ),
                (
                    STALE_CLAIMS,
                    NotificationStatus::Pending,
                    rusqlite::types::Value::from(stale_before.clone()),
                ),
            ] {
                let found = conn
                    .prepare_cached(sql)?
                    .query_map(params![status.as_str(), bound, n], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                rows.extend(found);
            }
            // Both lists are in (updated_at, key) order: merged, oldest first.
            rows.sort();
            rows.truncate(limit);
            Ok(records(rows.into_iter().map(|r| r.3).collect())?)
        })
        .await
    }

    async fn for_event(&self, event_id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
        let event_id = event_id.to_string();
        self.read(move |conn| {
            let rows = conn
                .prepare_cached(FOR_EVENT)?
                .query_map([&event_id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(records(rows)?)
        })
        .await
    }
}

#[async_trait]
impl Directory for EmbeddedStore {
    async fn phone_of(&self, sub: &str) -> Result<Option<Phone>, StoreError> {
        let sub = sub.to_string();
        self.read(move |conn| {
            let phone: Option<String> = conn
                .prepare_cached(PHONE_OF)?
                .query_row([&sub], |r| r.get(0))
                .optional()?;
            Ok(phone
                .map(|p| {
                    Phone::parse(&p).map_err(|_| {
                        StoreError::Unavailable("stored contact phone is invalid".into())
                    })
                })
                .transpose()?)
        })
        .await
    }
}

impl EmbeddedStore {
    /// Records (or replaces) the phone number of a staff member, for [`Directory::phone_of`]:
    /// `basoka token --phone` calls it, so that e.g. a surveyor is told of an assignment.
    pub async fn put_contact(
        &self,
        sub: &str,
        name: &str,
        role: &str,
        phone: &Phone,
    ) -> Result<(), StoreError> {
        let (sub, name, role) = (sub.to_string(), name.to_string(), role.to_string());
        let phone = phone.as_str().to_string();
        let now = time_to_text(&Utc::now());
        self.write(move |tx| {
            tx.prepare_cached(PUT_CONTACT)?
                .execute(params![sub, phone, name, role, now])?;
            Ok(())
        })
        .await
    }
}
