//! The outbox: events written in the same transaction as the state change they record, and
//! the [`Outbox`] port that the local runner (`--backend aws`) and the conformance suite read.
//!
//! # On AWS
//!
//! A state change puts its events as items `PK = OUTBOX#NEW`, `SK = <event id>` with
//! `entity = "outbox"`, `event_type` and `event` (the event JSON, byte for byte what
//! `serde_json::to_string(&Event)` gives). The table stream (`NEW_IMAGE`) shows each as an
//! `INSERT`; the pipe keeps exactly those (`eventName = INSERT`, `NewImage.entity.S =
//! "outbox"`) and publishes each such stream record, as it is, to the SNS topic, which fans
//! out to one SQS queue per consumer; the consumers take the event out of the record's
//! `NewImage.event.S` (see [`crate::stream`]). Items carry a `ttl`
//! (`BASOKA_OUTBOX_TTL_DAYS`), so on AWS, where nothing else reads them, they disappear.
//!
//! # The `Outbox` port: positions without a racing counter
//!
//! Transactions commit in an order that no id written inside them can predict, so a position
//! written by the state change itself (a counter, a timestamp) could let a consumer read
//! position 7 before the transaction holding position 6 is visible, acknowledge 7 and skip 6
//! forever. Instead positions are given *after* commit, by a sequencer that
//! [`Outbox::pending`] runs first:
//!
//! 1. read the unsequenced events (`Query PK = OUTBOX#NEW`, strongly consistent, in event id
//!    order, the events of one request in version order);
//! 2. in one transaction: advance the counter `OUTBOX#SEQ` from the value read (`position =
//!    :read`, so two sequencers cannot both win), delete each event from `OUTBOX#NEW` and put
//!    it under `PK = OUTBOX#LOG`, `SK = <20-digit position>`.
//!
//! Position *n + 1* is therefore only ever committed after position *n*, and a consistent
//! `Query PK = OUTBOX#LOG, SK > <offset>` can never see a later position without the earlier
//! ones. An event committed while a sequencer runs is simply sequenced by the next call, with
//! a higher position: nothing is skipped. Each consumer's offset is one item
//! (`OUTBOX#CONSUMER#<name>`), moved only forward (`position < :new`).
//!
//! The sequencer's items (`OUTBOX#LOG`, `entity = "outbox_log"`) and the deletions from
//! `OUTBOX#NEW` also appear in the stream; the pipe filter above ignores them.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use shared::events::Event;
use shared::ports::{Outbox, OutboxItem, StoreError};

use crate::codec::{Item, from_json, get_n, get_s, item, key, n, s, to_json};
use crate::keys::{
    CONSUMER_SK, OUTBOX_LOG_PK, OUTBOX_NEW_PK, OUTBOX_SEQ_PK, OUTBOX_SEQ_SK, consumer_pk, padded,
};
use crate::store::{DynamoStore, Query, sdk_error};
use crate::tx::{Action, Failure, Why, back_off};

/// The attribute holding the event JSON (what the consumers unwrap from the stream record).
pub const EVENT_ATTRIBUTE: &str = "event";
/// The attribute holding the event's type (what `allocate-stock`'s subscription filter reads).
pub const EVENT_TYPE_ATTRIBUTE: &str = "event_type";
/// The `entity` of outbox items (what the pipe filter matches).
pub const OUTBOX_ENTITY: &str = "outbox";
/// Events sequenced per transaction (two actions each, plus the counter).
const SEQUENCE_BATCH: usize = 25;
/// Rounds a sequencer waits for a competing sequencer before giving up.
const SEQUENCE_RETRIES: u32 = 30;

/// The outbox item of one event (without its `ttl`): what the stream shows as the record's
/// `NewImage` and what [`crate::stream::outbox_insert_record`] wraps for the local runner.
pub fn outbox_item(event: &Event) -> Result<Item, StoreError> {
    let mut i = item(OUTBOX_NEW_PK, event.id.as_str(), OUTBOX_ENTITY);
    i.insert(EVENT_ATTRIBUTE.into(), s(to_json("event", event)?));
    i.insert(EVENT_TYPE_ATTRIBUTE.into(), s(event.type_name()));
    i.insert("event_id".into(), s(event.id.as_str()));
    if let Some(id) = event.request_id() {
        i.insert("request_id".into(), s(id.as_str()));
    }
    Ok(i)
}

/// The put of one event into the outbox, for the transaction of its state change.
pub(crate) fn outbox_action(store: &DynamoStore, event: &Event) -> Result<Action, StoreError> {
    let mut i = outbox_item(event)?;
    if let Some(ttl) = store.inner.outbox_ttl {
        let expires = Utc::now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        i.insert(crate::table::TTL_ATTRIBUTE.into(), n(expires));
    }
    Ok(Action::put(i)
        .when("attribute_not_exists(PK)")
        .or_fail(Why::Consistency(
            "an event with this id is already in the outbox",
        )))
}

/// Event id order, except that the events of one request keep their version order (the slots
/// the request's events occupy are refilled in version order).
fn sequence_order(mut batch: Vec<(Event, Item)>) -> Vec<(Event, Item)> {
    batch.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let mut slots: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, (e, _)) in batch.iter().enumerate() {
        if let Some(r) = &e.request {
            slots.entry(r.id.as_str().to_string()).or_default().push(i);
        }
    }
    let mut out: Vec<Option<(Event, Item)>> = batch.into_iter().map(Some).collect();
    for positions in slots.values().filter(|p| p.len() > 1) {
        let mut group: Vec<(Event, Item)> = positions
            .iter()
            .map(|&i| out[i].take().expect("each slot is taken once"))
            .collect();
        group.sort_by_key(|(e, _)| e.request.as_ref().map(|r| r.version));
        for (&slot, entry) in positions.iter().zip(group) {
            out[slot] = Some(entry);
        }
    }
    out.into_iter().flatten().collect()
}

impl DynamoStore {
    /// Gives positions to up to `budget` unsequenced events (see the module documentation).
    pub(crate) async fn sequence(&self, budget: usize) -> Result<usize, StoreError> {
        let mut done = 0;
        let mut attempt = 0;
        while done < budget {
            let new = self
                .query(Query::table(OUTBOX_NEW_PK), SEQUENCE_BATCH)
                .await?;
            if new.is_empty() {
                break;
            }
            let counter = self.get_item(OUTBOX_SEQ_PK, OUTBOX_SEQ_SK).await?;
            let last: u64 = match &counter {
                Some(c) => get_n(c, "position", "outbox sequence")?,
                None => 0,
            };
            let batch = new
                .into_iter()
                .map(|i| {
                    let event: Event =
                        from_json("outbox event", get_s(&i, EVENT_ATTRIBUTE, "outbox item")?)?;
                    Ok((event, i))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let batch = sequence_order(batch);
            let count = batch.len() as u64;
            let mut actions = vec![match counter {
                Some(_) => Action::put(sequence_item(last + count))
                    .when("#p = :last")
                    .name("#p", "position")
                    .value(":last", n(last))
                    .or_fail(Why::Moved),
                None => Action::put(sequence_item(count))
                    .when("attribute_not_exists(PK)")
                    .or_fail(Why::Moved),
            }];
            for (k, (event, new_item)) in batch.into_iter().enumerate() {
                let position = last + 1 + k as u64;
                let sk = get_s(&new_item, crate::keys::SK, "outbox item")?.to_string();
                actions.push(
                    Action::delete(key(OUTBOX_NEW_PK, sk))
                        .when("attribute_exists(PK)")
                        .or_fail(Why::Moved),
                );
                let mut log = item(OUTBOX_LOG_PK, padded(position), "outbox_log");
                log.insert("position".into(), n(position));
                log.insert("event_id".into(), s(event.id.as_str()));
                log.insert("event_type".into(), s(event.type_name()));
                log.insert(
                    EVENT_ATTRIBUTE.into(),
                    new_item.get(EVENT_ATTRIBUTE).cloned().expect("read above"),
                );
                actions.push(
                    Action::put(log)
                        .when("attribute_not_exists(PK)")
                        .or_fail(Why::Moved),
                );
            }
            match self.commit(actions).await {
                Ok(()) => {
                    done += count as usize;
                    attempt = 0;
                }
                Err(Failure::Condition {
                    why: Why::Moved, ..
                }) => {
                    // Another sequencer moved first: read again.
                    attempt += 1;
                    if attempt > SEQUENCE_RETRIES {
                        return Err(StoreError::Unavailable(
                            "the outbox sequencer kept losing to another sequencer".into(),
                        ));
                    }
                    back_off(attempt.min(4)).await;
                }
                Err(f) => return Err(f.into_store_error()),
            }
        }
        Ok(done)
    }
}

fn sequence_item(position: u64) -> Item {
    let mut i = item(OUTBOX_SEQ_PK, OUTBOX_SEQ_SK, "outbox_sequence");
    i.insert("position".into(), n(position));
    i
}

#[async_trait]
impl Outbox for DynamoStore {
    async fn pending(&self, consumer: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.sequence(limit.max(SEQUENCE_BATCH)).await?;
        let offset: u64 = match self.get_item(&consumer_pk(consumer), CONSUMER_SK).await? {
            Some(i) => get_n(&i, "position", "consumer offset")?,
            None => 0,
        };
        self.query(Query::table(OUTBOX_LOG_PK).after(padded(offset)), limit)
            .await?
            .iter()
            .map(|i| {
                Ok(OutboxItem {
                    position: get_n(i, "position", "outbox item")?,
                    event: from_json("outbox event", get_s(i, EVENT_ATTRIBUTE, "outbox item")?)?,
                })
            })
            .collect()
    }

    async fn ack(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        let moved = self
            .inner
            .client
            .update_item()
            .table_name(&self.inner.table)
            .set_key(Some(key(consumer_pk(consumer), CONSUMER_SK)))
            .update_expression("SET #p = :p, entity = :entity")
            // An offset only moves forward: a late or repeated ack changes nothing.
            .condition_expression("attribute_not_exists(PK) OR #p < :p")
            .expression_attribute_names("#p", "position")
            .expression_attribute_values(":p", n(position))
            .expression_attribute_values(":entity", s("consumer_offset"))
            .send()
            .await;
        match moved {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::EventId;
    use shared::events::{EventKind, RequestRef};
    use shared::request::ActorRef;

    fn ev(id: &str, request: Option<(&str, u64)>) -> (Event, Item) {
        let e = Event {
            id: EventId::from_stored(id.into()),
            occurred_at: Utc::now(),
            actor: ActorRef::system(),
            request: request.map(|(r, v)| RequestRef {
                id: shared::RequestId::parse(r).unwrap(),
                code: shared::RequestCode::from_stored("BSK-000001".into()),
                kelurahan_code: "32.75.01.1001".into(),
                version: v,
            }),
            kind: EventKind::RequestRejected {},
        };
        (e, Item::new())
    }

    #[test]
    fn sequence_order_is_event_id_order_but_a_request_keeps_its_versions() {
        let r = "0193b2d5-7c1e-7d2a-9f8e-3b1c2d4e5f60";
        let batch = vec![
            ev("0003", Some((r, 2))),
            ev("0001", None),
            ev("0002", Some((r, 3))),
            ev("0004", None),
        ];
        let ids: Vec<String> = sequence_order(batch)
            .into_iter()
            .map(|(e, _)| format!("{}:{:?}", e.id.as_str(), e.request.map(|r| r.version)))
            .collect();
        assert_eq!(
            ids,
            ["0001:None", "0003:Some(2)", "0002:Some(3)", "0004:None"]
        );
    }
}
