//! [`Outbox`] over the `outbox` and `consumer_offsets` tables: each consumer reads the events
//! after the last position it acknowledged, in write order.

use async_trait::async_trait;
use rusqlite::params;
use shared::events::Event;
use shared::ports::{Outbox, OutboxItem, StoreError};

use crate::EmbeddedStore;
use crate::codec::from_json;

pub(crate) const PENDING: &str = "SELECT position, json FROM outbox
     WHERE position > coalesce((SELECT position FROM consumer_offsets WHERE consumer = ?1), 0)
     ORDER BY position LIMIT ?2";
// An offset only moves forward: a late or repeated ack cannot make events pending again.
const ACK: &str = "INSERT INTO consumer_offsets (consumer, position) VALUES (?1, ?2)
     ON CONFLICT (consumer) DO UPDATE SET position = max(position, excluded.position)";

fn position_i64(p: u64) -> Result<i64, StoreError> {
    i64::try_from(p).map_err(|_| StoreError::Unavailable("outbox position out of range".into()))
}

#[async_trait]
impl Outbox for EmbeddedStore {
    async fn pending(&self, consumer: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let consumer = consumer.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let rows = conn
                .prepare_cached(PENDING)?
                .query_map(params![consumer, limit], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .into_iter()
                .map(|(position, json)| {
                    Ok(OutboxItem {
                        position: u64::try_from(position).map_err(|_| {
                            StoreError::Unavailable("stored outbox position is negative".into())
                        })?,
                        event: from_json::<Event>("event", &json)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?)
        })
        .await
    }

    async fn ack(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        let consumer = consumer.to_string();
        let position = position_i64(position)?;
        self.write(move |tx| {
            tx.prepare_cached(ACK)?
                .execute(params![consumer, position])?;
            Ok(())
        })
        .await
    }
}
