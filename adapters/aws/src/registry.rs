//! [`RegistryStore`]: the DTKS/DTSEN registry, one item per head NIK under
//! `PK = REG#<HMAC(NIK)>`, `SK = REG`.
//!
//! Only the key is hashed: the item keeps `nik`, `kk`, `nama`, `kelurahan_code` and `desil`
//! as attributes, because a lookup must return the [`RegistryRecord`] itself (DynamoDB
//! encrypts items at rest). A lookup is a `GetItem` by the keyed hash of the NIK asked for.
//!
//! A load reads the rows it is given in `BatchGetItem`s of 100 (strongly consistent),
//! compares, and writes only new and changed rows in `BatchWriteItem`s of 25, retrying
//! unprocessed keys and items. Unlike the embedded store a load is not one transaction (a
//! 900 000-row registry cannot be): a load that fails half-way has written some rows, and
//! loading the file again completes it (rows already written count as unchanged).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use chrono::Utc;
use shared::household::Desil;
use shared::ports::{ImportCounts, RegistryStore, StoreError};
use shared::registry::RegistryRecord;
use shared::{KelurahanCode, Kk, Nik};

use crate::codec::{Item, get_n, get_s, item, key, n, s};
use crate::keys::{self, PK, REGISTRY_SK, time_text};
use crate::store::{DynamoStore, sdk_error};
use crate::tx::back_off;

const READ_BATCH: usize = 100;
const WRITE_BATCH: usize = 25;
const UNPROCESSED_RETRIES: u32 = 12;

fn corrupt(attr: &str) -> StoreError {
    StoreError::Unavailable(format!("stored registry row has an invalid {attr}"))
}

fn record_of(i: &Item) -> Result<RegistryRecord, StoreError> {
    let what = "registry row";
    Ok(RegistryRecord {
        nik: Nik::parse(get_s(i, "nik", what)?).map_err(|_| corrupt("nik"))?,
        kk: Kk::parse(get_s(i, "kk", what)?).map_err(|_| corrupt("kk"))?,
        nama: get_s(i, "nama", what)?.to_string(),
        kelurahan_code: KelurahanCode::parse(get_s(i, "kelurahan_code", what)?)
            .map_err(|_| corrupt("kelurahan_code"))?,
        desil: Desil::new(get_n(i, "desil", what)?).map_err(|_| corrupt("desil"))?,
    })
}

impl DynamoStore {
    fn registry_item(&self, r: &RegistryRecord, now: &str) -> Item {
        let mut i = item(
            keys::registry_pk(self.hasher(), &r.nik),
            REGISTRY_SK,
            "registry",
        );
        i.insert("nik".into(), s(r.nik.as_str()));
        i.insert("kk".into(), s(r.kk.as_str()));
        i.insert("nama".into(), s(&r.nama));
        i.insert("kelurahan_code".into(), s(r.kelurahan_code.as_str()));
        i.insert("desil".into(), n(r.desil.get()));
        i.insert("updated_at".into(), s(now));
        i
    }

    /// The stored rows of these keys (all distinct), by partition key.
    async fn batch_get(&self, pks: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::new();
        let keys: Vec<Item> = pks.iter().map(|pk| key(pk, REGISTRY_SK)).collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Unavailable(format!("batch read: {e}")))?,
        );
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            let out = self
                .inner
                .client
                .batch_get_item()
                .request_items(&self.inner.table, request)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            for i in out
                .responses
                .and_then(|mut r| r.remove(&self.inner.table))
                .unwrap_or_default()
            {
                let pk = get_s(&i, PK, "registry row")?.to_string();
                found.insert(pk, i);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.inner.table))
                .filter(|k| !k.keys().is_empty());
            if pending.is_some() {
                attempt += 1;
                if attempt > UNPROCESSED_RETRIES {
                    return Err(StoreError::Unavailable(
                        "DynamoDB kept leaving registry reads unprocessed".into(),
                    ));
                }
                back_off(attempt).await;
            }
        }
        Ok(found)
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for chunk in items.chunks(WRITE_BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|i| {
                    PutRequest::builder()
                        .set_item(Some(i.clone()))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build())
                        .map_err(|e| StoreError::Unavailable(format!("batch write: {e}")))
                })
                .collect::<Result<_, _>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                let out = self
                    .inner
                    .client
                    .batch_write_item()
                    .request_items(&self.inner.table, requests)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.inner.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    attempt += 1;
                    if attempt > UNPROCESSED_RETRIES {
                        return Err(StoreError::Unavailable(
                            "DynamoDB kept leaving registry writes unprocessed".into(),
                        ));
                    }
                    back_off(attempt).await;
                }
            }
        }
        Ok(())
    }
}

fn same(stored: &Item, row: &RegistryRecord) -> bool {
    get_s(stored, "kk", "").is_ok_and(|v| v == row.kk.as_str())
        && get_s(stored, "nama", "").is_ok_and(|v| v == row.nama)
        && get_s(stored, "kelurahan_code", "").is_ok_and(|v| v == row.kelurahan_code.as_str())
        && get_n::<u8>(stored, "desil", "").is_ok_and(|v| v == row.desil.get())
}

#[async_trait]
impl RegistryStore for DynamoStore {
    async fn lookup(&self, nik: &Nik) -> Result<Option<RegistryRecord>, StoreError> {
        self.get_item(&keys::registry_pk(self.hasher(), nik), REGISTRY_SK)
            .await?
            .map(|i| record_of(&i))
            .transpose()
    }

    async fn upsert(&self, rows: &[RegistryRecord]) -> Result<ImportCounts, StoreError> {
        let now = time_text(&Utc::now());
        let mut counts = ImportCounts::default();
        let mut rest = rows;
        while !rest.is_empty() {
            // A chunk of distinct NIKs (a batch may not name a key twice); a NIK repeated in
            // the file starts the next chunk, so it is compared with the row written before.
            let mut seen = HashSet::new();
            let mut end = 0;
            while end < rest.len() && end < READ_BATCH && seen.insert(&rest[end].nik) {
                end += 1;
            }
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            let pks: Vec<String> = chunk
                .iter()
                .map(|r| keys::registry_pk(self.hasher(), &r.nik))
                .collect();
            let stored = self.batch_get(&pks).await?;
            let mut writes = Vec::new();
            for (row, pk) in chunk.iter().zip(&pks) {
                match stored.get(pk) {
                    None => counts.inserted += 1,
                    Some(old) if same(old, row) => {
                        counts.unchanged += 1;
                        continue;
                    }
                    Some(_) => counts.updated += 1,
                }
                writes.push(self.registry_item(row, &now));
            }
            self.batch_put(writes).await?;
        }
        Ok(counts)
    }
}
