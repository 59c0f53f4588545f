//! [`RegistryStore`] over the `registry` table: lookups by NIK and idempotent bulk loads.

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};
use shared::household::Desil;
use shared::ports::{ImportCounts, RegistryStore, StoreError};
use shared::registry::RegistryRecord;
use shared::{KelurahanCode, Kk, Nik};

use crate::codec::time_to_text;
use crate::{DbError, EmbeddedStore};

pub(crate) const LOOKUP: &str =
    "SELECT kk, nama, kelurahan_code, desil FROM registry WHERE nik = ?1";
const INSERT: &str = "INSERT INTO registry (nik, kk, nama, kelurahan_code, desil, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const UPDATE: &str = "UPDATE registry SET kk = ?2, nama = ?3, kelurahan_code = ?4, desil = ?5,
     updated_at = ?6 WHERE nik = ?1";

/// A registry row as stored.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    kk: String,
    nama: String,
    kelurahan_code: &'static str,
    desil: u8,
}

impl Row {
    fn of(r: &RegistryRecord) -> Row {
        Row {
            kk: r.kk.as_str().to_string(),
            nama: r.nama.clone(),
            kelurahan_code: r.kelurahan_code.as_str(),
            desil: r.desil.get(),
        }
    }
}

fn corrupt(column: &str) -> StoreError {
    StoreError::Unavailable(format!("stored registry row has an invalid {column}"))
}

/// [`RegistryStore::lookup`] on a connection.
pub(crate) fn lookup(conn: &Connection, nik: Nik) -> Result<Option<RegistryRecord>, DbError> {
    let row: Option<(String, String, String, i64)> = conn
        .prepare_cached(LOOKUP)?
        .query_row([nik.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((kk, nama, kelurahan, desil)) = row else {
        return Ok(None);
    };
    Ok(Some(RegistryRecord {
        kk: Kk::parse(&kk).map_err(|_| corrupt("kk"))?,
        nama,
        kelurahan_code: KelurahanCode::parse(&kelurahan).map_err(|_| corrupt("kelurahan_code"))?,
        desil: Desil::new(desil).map_err(|_| corrupt("desil"))?,
        nik,
    }))
}

#[async_trait]
impl RegistryStore for EmbeddedStore {
    async fn lookup(&self, nik: &Nik) -> Result<Option<RegistryRecord>, StoreError> {
        let nik = nik.clone();
        self.read(move |conn| lookup(conn, nik)).await
    }

    /// One transaction for the whole slice (callers loading a large file pass it in chunks
    /// and report progress between them). A row equal to the stored one is not written at all,
    /// so its `updated_at` keeps the time it last really changed.
    async fn upsert(&self, rows: &[RegistryRecord]) -> Result<ImportCounts, StoreError> {
        let rows: Vec<(String, Row)> = rows
            .iter()
            .map(|r| (r.nik.as_str().to_string(), Row::of(r)))
            .collect();
        let now = time_to_text(&Utc::now());
        self.write(move |tx| {
            let mut counts = ImportCounts::default();
            let mut lookup = tx.prepare_cached(LOOKUP)?;
            let mut insert = tx.prepare_cached(INSERT)?;
            let mut update = tx.prepare_cached(UPDATE)?;
            for (nik, row) in &rows {
                let stored: Option<(String, String, String, i64)> = lookup
                    .query_row([nik], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()?;
                let args = params![nik, row.kk, row.nama, row.kelurahan_code, row.desil, now];
                match stored {
                    None => {
                        insert.execute(args)?;
                        counts.inserted += 1;
                    }
                    Some((kk, nama, kelurahan, desil))
                        if kk == row.kk
                            && nama == row.nama
                            && kelurahan == row.kelurahan_code
                            && desil == i64::from(row.desil) =>
                    {
                        counts.unchanged += 1;
                    }
                    Some(_) => {
                        update.execute(args)?;
                        counts.updated += 1;
                    }
                }
            }
            Ok(counts)
        })
        .await
    }
}
