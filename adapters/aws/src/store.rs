//! [`DynamoStore`]: the one struct that implements every store port over the single table,
//! and the reads they share (consistent `GetItem`, paginated `Query`). There is no `Scan`
//! anywhere in this crate: every read names a partition (a unit test greps the sources).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use shared::ports::StoreError;

use crate::codec::{Item, key, s};
use crate::keys::{KeyHasher, PK, SK};
use crate::table::{self, Index};
use crate::tx::{self, Action, Failure};

/// Every store port over one DynamoDB table. Cheap to clone: clones share the client.
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub client: Client,
    pub table: String,
    pub hasher: KeyHasher,
    pub idempotency_ttl: Duration,
    pub outbox_ttl: Option<Duration>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.inner.table)
            .finish_non_exhaustive()
    }
}

/// A store failure from an SDK error: the operation, the service's error code and message
/// (DynamoDB's messages name attributes and expressions, not item values).
pub(crate) fn sdk_error<E, R>(op: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("unknown error"),
            s.message().unwrap_or("")
        ),
        None => DisplayErrorContext(&e).to_string(),
    };
    StoreError::Unavailable(format!("DynamoDB {op} failed: {detail}"))
}

/// One `Query`: a partition of the table or of an index, optionally narrowed by the sort key.
pub(crate) struct Query {
    pub index: Option<Index>,
    pub partition: String,
    pub sort: SortRange,
    pub forward: bool,
    pub start: Option<Item>,
}

pub(crate) enum SortRange {
    All,
    Prefix(String),
    After(String),
    Before(String),
    /// `BETWEEN low AND high`, both inclusive.
    Between(String, String),
}

impl Query {
    pub fn table(partition: impl Into<String>) -> Query {
        Query {
            index: None,
            partition: partition.into(),
            sort: SortRange::All,
            forward: true,
            start: None,
        }
    }

    pub fn index(index: Index, partition: impl Into<String>) -> Query {
        Query {
            index: Some(index),
            ..Query::table(partition)
        }
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Query {
        self.sort = SortRange::Prefix(prefix.into());
        self
    }

    pub fn after(mut self, sk: impl Into<String>) -> Query {
        self.sort = SortRange::After(sk.into());
        self
    }

    pub fn before(mut self, sk: impl Into<String>) -> Query {
        self.sort = SortRange::Before(sk.into());
        self
    }

    pub fn sort(mut self, sort: SortRange) -> Query {
        self.sort = sort;
        self
    }

    pub fn backward(mut self) -> Query {
        self.forward = false;
        self
    }

    pub fn start(mut self, start: Option<Item>) -> Query {
        self.start = start;
        self
    }
}

impl DynamoStore {
    /// A store over `table` (which must exist: see [`DynamoStore::create_table_if_missing`]).
    pub fn new(
        client: Client,
        table: &str,
        hasher: KeyHasher,
        idempotency_ttl: Duration,
        outbox_ttl: Option<Duration>,
    ) -> DynamoStore {
        DynamoStore {
            inner: Arc::new(Inner {
                client,
                table: table.to_string(),
                hasher,
                idempotency_ttl,
                outbox_ttl,
            }),
        }
    }

    pub fn table(&self) -> &str {
        &self.inner.table
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Creates the table with the shape of [`crate::table`] unless it exists (emulators).
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        table::create_table_if_missing(&self.inner.client, &self.inner.table).await
    }

    pub(crate) fn hasher(&self) -> &KeyHasher {
        &self.inner.hasher
    }

    pub(crate) async fn commit(&self, actions: Vec<Action>) -> Result<(), Failure> {
        tx::commit(&self.inner.client, &self.inner.table, actions).await
    }

    /// A strongly consistent `GetItem`.
    pub(crate) async fn get_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .inner
            .client
            .get_item()
            .table_name(&self.inner.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// Runs `q` until `max` items are read or the partition ends. Reads of the table are
    /// strongly consistent; reads of an index cannot be (DynamoDB's rule).
    pub(crate) async fn query(&self, q: Query, max: usize) -> Result<Vec<Item>, StoreError> {
        let (pk_attr, sk_attr) = match q.index {
            Some(i) => (i.pk(), i.sk()),
            None => (PK, SK),
        };
        let mut condition = "#pk = :pk".to_string();
        let mut builder = self
            .inner
            .client
            .query()
            .table_name(&self.inner.table)
            .set_index_name(q.index.map(|i| i.name().to_string()))
            .consistent_read(q.index.is_none())
            .scan_index_forward(q.forward)
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(q.partition));
        match q.sort {
            SortRange::All => {}
            SortRange::Prefix(p) => {
                condition.push_str(" AND begins_with(#sk, :sk)");
                builder = builder
                    .expression_attribute_names("#sk", sk_attr)
                    .expression_attribute_values(":sk", s(p));
            }
            SortRange::After(a) => {
                condition.push_str(" AND #sk > :sk");
                builder = builder
                    .expression_attribute_names("#sk", sk_attr)
                    .expression_attribute_values(":sk", s(a));
            }
            SortRange::Before(b) => {
                condition.push_str(" AND #sk < :sk");
                builder = builder
                    .expression_attribute_names("#sk", sk_attr)
                    .expression_attribute_values(":sk", s(b));
            }
            SortRange::Between(low, high) => {
                condition.push_str(" AND #sk BETWEEN :low AND :high");
                builder = builder
                    .expression_attribute_names("#sk", sk_attr)
                    .expression_attribute_values(":low", s(low))
                    .expression_attribute_values(":high", s(high));
            }
        }
        let builder = builder.key_condition_expression(condition);
        let mut items = Vec::new();
        let mut start = q.start;
        loop {
            let want = (max - items.len()).min(1000) as i32;
            let out = builder
                .clone()
                .set_exclusive_start_key(start.take())
                .limit(want)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if items.len() < max && !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// No request path may scan the table: no source file of this crate calls `scan`.
    #[test]
    fn no_scan_anywhere() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let forbidden = [".scan(", "Scan::", "ScanInput", "scan_paginator"];
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for f in forbidden {
                    let found = text
                        .lines()
                        .filter(|l| !l.contains("let forbidden"))
                        .any(|l| l.contains(f));
                    assert!(!found, "{} uses {f}", path.display());
                }
                checked += 1;
            }
        }
        assert!(checked >= 10, "checked {checked} files");
    }
}
