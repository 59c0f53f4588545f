//! [`NotificationLog`] and [`Directory`] on the single table.
//!
//! A notification record is `PK = NOTIF#<event id>`, `SK = TO#<recipient key>` (a number or
//! `staff:<sub>`, [`shared::notify::Recipient::key`]); a claim is a `PutItem` with
//! `attribute_not_exists(PK)` that returns the existing record when it fails
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), so of two deliveries of one event
//! exactly one sends each SMS. Every later write (a take-over, an outcome) is a `PutItem`
//! conditioned on the `status` and `attempts` its writer read, so of two takers one wins.
//! A failed record also carries the keys of the sparse retry index
//! (`GSI5PK = NOTIF#FAILED#<attempts>`, `GSI5SK = <updated_at>#<event id>#<recipient>`), so
//! that [`NotificationLog::retryable`] reads one partition per attempt count below the
//! maximum and merges them oldest first, never filtering past records that gave up; a pending
//! claim carries `GSI5PK = NOTIF#PENDING` with the same sort key, whose range before the
//! lease's start is the claims whose sender stopped.
//!
//! Staff phone numbers for [`Directory::phone_of`] are `PK = STAFF#<sub>`, `SK = CONTACT`,
//! written by [`DynamoStore::put_contact`].

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use chrono::{DateTime, Utc};
use shared::Phone;
use shared::notify::{Directory, NotificationLog, NotificationRecord, NotificationStatus};
use shared::ports::StoreError;

use crate::codec::{DATA, Item, data, get_s, item, n, s, to_json};
use crate::keys::{self, CONTACT_SK, time_text};
use crate::store::{DynamoStore, Query, sdk_error};
use crate::table::Index;

impl DynamoStore {
    fn notification_item(&self, r: &NotificationRecord) -> Result<Item, StoreError> {
        let recipient = r.recipient.key();
        let mut i = item(
            keys::notification_pk(&r.event_id),
            keys::notification_sk(&recipient),
            "notification",
        );
        i.insert("status".into(), s(r.status.as_str()));
        i.insert("attempts".into(), n(r.attempts));
        i.insert("updated_at".into(), s(time_text(&r.updated_at)));
        i.insert(DATA.into(), s(to_json("notification", r)?));
        let retry_pk = match r.status {
            NotificationStatus::Failed => Some(keys::failed_notifications_pk(r.attempts)),
            NotificationStatus::Pending => Some(keys::PENDING_NOTIFICATIONS_PK.to_string()),
            NotificationStatus::Sent => None,
        };
        if let Some(pk) = retry_pk {
            i.insert(Index::Retry.pk().into(), s(pk));
            i.insert(
                Index::Retry.sk().into(),
                s(format!(
                    "{}#{}#{}",
                    time_text(&r.updated_at),
                    r.event_id,
                    recipient
                )),
            );
        }
        Ok(i)
    }

    /// Records (or replaces) the phone number of a staff member, for [`Directory::phone_of`].
    pub async fn put_contact(
        &self,
        sub: &str,
        name: &str,
        role: &str,
        phone: &Phone,
    ) -> Result<(), StoreError> {
        let mut i = item(keys::contact_pk(sub), CONTACT_SK, "contact");
        i.insert("sub".into(), s(sub));
        i.insert("name".into(), s(name));
        i.insert("role".into(), s(role));
        i.insert("phone".into(), s(phone.as_str()));
        i.insert("updated_at".into(), s(time_text(&Utc::now())));
        self.inner
            .client
            .put_item()
            .table_name(&self.inner.table)
            .set_item(Some(i))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl NotificationLog for DynamoStore {
    async fn claim(
        &self,
        record: &NotificationRecord,
    ) -> Result<Option<NotificationRecord>, StoreError> {
        let put = self
            .inner
            .client
            .put_item()
            .table_name(&self.inner.table)
            .set_item(Some(self.notification_item(record)?))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        let err = match put {
            Ok(_) => return Ok(None),
            Err(e) => e,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        else {
            return Err(sdk_error("PutItem", err));
        };
        let existing = match failed.item() {
            Some(old) => Some(old.clone()),
            None => {
                self.get_item(
                    &keys::notification_pk(&record.event_id),
                    &keys::notification_sk(&record.recipient.key()),
                )
                .await?
            }
        };
        match existing {
            Some(old) => Ok(Some(data(&old, "notification")?)),
            None => Err(StoreError::Unavailable(
                "a notification claim failed but no record exists".into(),
            )),
        }
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
        // `status` is a reserved word; the key's presence is implied by the comparisons.
        let put = self
            .inner
            .client
            .put_item()
            .table_name(&self.inner.table)
            .set_item(Some(self.notification_item(next)?))
            .condition_expression("#st = :st AND attempts = :at")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(current.status.as_str()))
            .expression_attribute_values(":at", n(current.attempts))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    async fn retryable(
        &self,
        max_attempts: u32,
        stale_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let mut partitions: Vec<Query> = (0..max_attempts)
            .map(|attempts| Query::index(Index::Retry, keys::failed_notifications_pk(attempts)))
            .collect();
        // `<updated_at>#…` sorts before the bare time exactly when updated_at is earlier.
        partitions.push(
            Query::index(Index::Retry, keys::PENDING_NOTIFICATIONS_PK)
                .before(time_text(&stale_before)),
        );
        let mut found: Vec<(String, NotificationRecord)> = Vec::new();
        for q in partitions {
            for i in self.query(q, limit).await? {
                let order = get_s(&i, Index::Retry.sk(), "notification")?.to_string();
                found.push((order, data(&i, "notification")?));
            }
        }
        // Oldest update first over every partition (the index is read eventually
        // consistently: a record that was just sent or taken over may still show as it was;
        // the conditional take-over keeps that from sending twice in the use case).
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| match r.status {
                NotificationStatus::Failed => r.attempts < max_attempts,
                NotificationStatus::Pending => r.updated_at < stale_before,
                NotificationStatus::Sent => false,
            })
            .take(limit)
            .collect())
    }

    async fn for_event(&self, event_id: &str) -> Result<Vec<NotificationRecord>, StoreError> {
        self.query(
            Query::table(keys::notification_pk(event_id)).prefix("TO#"),
            usize::MAX,
        )
        .await?
        .iter()
        .map(|i| data(i, "notification"))
        .collect()
    }
}

#[async_trait]
impl Directory for DynamoStore {
    async fn phone_of(&self, sub: &str) -> Result<Option<Phone>, StoreError> {
        let Some(i) = self.get_item(&keys::contact_pk(sub), CONTACT_SK).await? else {
            return Ok(None);
        };
        let phone = get_s(&i, "phone", "contact")?;
        Phone::parse(phone)
            .map(Some)
            .map_err(|_| StoreError::Unavailable("stored contact phone is invalid".into()))
    }
}
