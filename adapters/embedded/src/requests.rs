//! [`RequestStore`] and [`IdempotencyStore`] over the `requests`, `history`, `outbox`,
//! `active_households`, `deliveries` and `idempotency` tables; and [`SubmitReads`], the submit
//! decision's reads (with the registry's) in one blocking task.
//!
//! A submission and a transition are each one `BEGIN IMMEDIATE` transaction; everything they
//! refuse (duplicate household, taken code or key, stale version) is detected inside it and
//! rolls the whole transaction back, so a refused write leaves no trace.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, ToSql, params};
use shared::events::Event;
use shared::ports::{
    IdempotencyRecord, IdempotencyStore, ListQuery, NewRequest, Page, RequestStore, StoreError,
    SubmitFacts, SubmitReads,
};
use shared::request::{AidRequest, HistoryEntry};
use shared::{Kk, Nik, RequestId, Status};

use crate::codec::{
    Cursor, Listing, from_json, kk_key, nik_key, request_id, time_from_text, time_to_text, to_json,
};
use crate::{DbError, EmbeddedStore, in_one_snapshot};

pub(crate) const INSERT_IDEMPOTENCY: &str =
    "INSERT INTO idempotency (key, fingerprint, status, body, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO NOTHING";
pub(crate) const CLAIM_HOUSEHOLD: &str =
    "INSERT INTO active_households (key, request_id) VALUES (?1, ?2)
     ON CONFLICT (key) DO NOTHING";
pub(crate) const HOUSEHOLD_HOLDER: &str = "SELECT request_id FROM active_households WHERE key = ?1";
const INSERT_REQUEST: &str = "INSERT INTO requests
     (id, code, status, kelurahan_code, created_at, version, head_nik, kk, json)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (code) DO NOTHING";
const INSERT_HISTORY: &str = "INSERT INTO history (request_id, version, json) VALUES (?1, ?2, ?3)";
const INSERT_OUTBOX: &str =
    "INSERT INTO outbox (event_id, request_id, type, json) VALUES (?1, ?2, ?3, ?4)";
pub(crate) const UPDATE_REQUEST: &str =
    "UPDATE requests SET status = ?1, version = ?2, json = ?3 WHERE id = ?4 AND version = ?5";
pub(crate) const RELEASE_HOUSEHOLD: &str =
    "DELETE FROM active_households WHERE key IN (?1, ?2) AND request_id = ?3";
const RECORD_DELIVERY: &str = "INSERT INTO deliveries (key, request_id, delivered_at)
     VALUES (?1, ?2, ?3) ON CONFLICT (key, request_id) DO NOTHING";
pub(crate) const GET_REQUEST: &str = "SELECT json FROM requests WHERE id = ?1";
pub(crate) const ID_BY_CODE: &str = "SELECT id FROM requests WHERE code = ?1";
pub(crate) const GET_HISTORY: &str =
    "SELECT json FROM history WHERE request_id = ?1 ORDER BY version";
// `nik:` sorts after `kk:`: when two requests hold the two keys, the head NIK's holder wins.
pub(crate) const ACTIVE_FOR: &str =
    "SELECT request_id FROM active_households WHERE key IN (?1, ?2) ORDER BY key DESC LIMIT 1";
pub(crate) const LAST_DELIVERY: &str =
    "SELECT max(delivered_at) FROM deliveries WHERE key IN (?1, ?2)";
pub(crate) const GET_IDEMPOTENCY: &str =
    "SELECT fingerprint, status, body, created_at FROM idempotency WHERE key = ?1";

/// Which parts of a [`ListQuery`] a listing has: the SQL differs by each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ListShape {
    pub kelurahan: bool,
    pub status: bool,
    /// `created_from` is set.
    pub from: bool,
    /// `created_before` is set.
    pub before: bool,
    pub cursor: bool,
}

/// The SQL of one listing shape. The filters pick the index (see the schema); the creation
/// range and the cursor are ranges on `created_at` (the cursor a row-value range on
/// `(created_at, id)`), which SQLite reads as a range of that index, after its equality
/// columns.
pub(crate) fn list_sql(shape: ListShape) -> String {
    let mut conditions = Vec::new();
    if shape.kelurahan {
        conditions.push("kelurahan_code = :kelurahan");
    }
    if shape.status {
        conditions.push("status = :status");
    }
    if shape.from {
        conditions.push("created_at >= :from");
    }
    if shape.before {
        conditions.push("created_at < :before");
    }
    if shape.cursor {
        conditions.push("(created_at, id) < (:created_at, :id)");
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT created_at, id, json FROM requests {filter} \
         ORDER BY created_at DESC, id DESC LIMIT :limit"
    )
}

/// Everything [`RequestStore::insert`] writes, serialised before the write turn is taken.
struct InsertRows {
    id: String,
    code: String,
    status: Status,
    kelurahan: &'static str,
    created_at: String,
    version: i64,
    head_nik: String,
    kk: String,
    json: String,
    history_version: i64,
    history_json: String,
    event: EventRow,
    idempotency: Option<IdempotencyRecord>,
}

/// An event as the outbox stores it.
pub(crate) struct EventRow {
    id: String,
    request_id: Option<String>,
    kind: &'static str,
    json: String,
}

impl EventRow {
    pub(crate) fn of(event: &Event) -> Result<EventRow, StoreError> {
        Ok(EventRow {
            id: event.id.as_str().to_string(),
            request_id: event.request_id().map(|id| id.as_str().to_string()),
            kind: event.type_name(),
            json: to_json("event", event)?,
        })
    }

    pub(crate) fn write(&self, tx: &rusqlite::Connection) -> Result<(), DbError> {
        tx.prepare_cached(INSERT_OUTBOX)?.execute(params![
            self.id,
            self.request_id,
            self.kind,
            self.json
        ])?;
        Ok(())
    }
}

fn version_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Unavailable("request version out of range".into()))
}

/// A history entry must describe the very request (and version) it is written with.
fn check_entry(request: &AidRequest, entry: &HistoryEntry) -> Result<(), StoreError> {
    if entry.request_id != request.id || entry.version != request.version {
        return Err(StoreError::Unavailable(
            "history entry does not match the request it is written with".into(),
        ));
    }
    Ok(())
}

/// A request transition as stored: the new state over the version it was read at, its history
/// row, and the household bookkeeping. Written by [`RequestStore::update`] with its event, and
/// by `StockStore::apply` with a stock write's events (see the `stock` module).
pub(crate) struct TransitionRows {
    id: String,
    status: Status,
    version: i64,
    expected: i64,
    json: String,
    history_json: String,
    household: (String, String),
    at: String,
}

impl TransitionRows {
    /// Serialises a transition of `request` (already moved to its new state and version).
    pub(crate) fn of(
        request: &AidRequest,
        entry: &HistoryEntry,
    ) -> Result<TransitionRows, StoreError> {
        check_entry(request, entry)?;
        // Version 1 is the submission; a transition writes version 2 or later.
        let Some(expected) = request.version.checked_sub(1).filter(|v| *v >= 1) else {
            return Err(StoreError::VersionConflict);
        };
        Ok(TransitionRows {
            id: request.id.as_str().to_string(),
            status: request.status,
            version: version_i64(request.version)?,
            expected: version_i64(expected)?,
            json: to_json("request", request)?,
            history_json: to_json("history entry", entry)?,
            household: (
                nik_key(&request.household.head_nik),
                kk_key(&request.household.kk),
            ),
            at: time_to_text(&entry.at),
        })
    }

    /// Writes the transition only over the version it was read at, else
    /// [`StoreError::VersionConflict`] (the caller's transaction is then rolled back).
    pub(crate) fn write(&self, tx: &rusqlite::Connection) -> Result<(), DbError> {
        let updated = tx.prepare_cached(UPDATE_REQUEST)?.execute(params![
            self.status.as_str(),
            self.version,
            self.json,
            self.id,
            self.expected
        ])?;
        if updated == 0 {
            return Err(StoreError::VersionConflict.into());
        }
        tx.prepare_cached(INSERT_HISTORY)?.execute(params![
            self.id,
            self.version,
            self.history_json
        ])?;
        if !self.status.is_active() {
            // Leaving the active states (delivered, rejected, cancelled): the household
            // may be served again. Only the keys this request holds are released.
            tx.prepare_cached(RELEASE_HOUSEHOLD)?.execute(params![
                self.household.0,
                self.household.1,
                self.id
            ])?;
        }
        if self.status == Status::Delivered {
            let mut record = tx.prepare_cached(RECORD_DELIVERY)?;
            record.execute(params![self.household.0, self.id, self.at])?;
            record.execute(params![self.household.1, self.id, self.at])?;
        }
        Ok(())
    }
}

impl InsertRows {
    fn of(new: &NewRequest) -> Result<InsertRows, StoreError> {
        let r = &new.request;
        check_entry(r, &new.entry)?;
        Ok(InsertRows {
            id: r.id.as_str().to_string(),
            code: r.code.as_str().to_string(),
            status: r.status,
            kelurahan: r.kelurahan_code.as_str(),
            created_at: time_to_text(&r.created_at),
            version: version_i64(r.version)?,
            head_nik: r.household.head_nik.as_str().to_string(),
            kk: r.household.kk.as_str().to_string(),
            json: to_json("request", r)?,
            history_version: version_i64(new.entry.version)?,
            history_json: to_json("history entry", &new.entry)?,
            event: EventRow::of(&new.event)?,
            idempotency: new.idempotency.clone(),
        })
    }
}

#[async_trait]
impl RequestStore for EmbeddedStore {
    async fn insert(&self, new: NewRequest) -> Result<(), StoreError> {
        let household = (
            nik_key(&new.request.household.head_nik),
            kk_key(&new.request.household.kk),
        );
        // Serialised here, before the write turn, to keep the turn short.
        let rows = InsertRows::of(&new)?;
        self.write(move |tx| {
            // The key first: a retried submission that raced its first attempt must learn that
            // its key is taken (and replay the answer), not that its household is busy.
            if let Some(idem) = &rows.idempotency {
                let written = tx.prepare_cached(INSERT_IDEMPOTENCY)?.execute(params![
                    idem.key,
                    idem.fingerprint,
                    idem.status,
                    idem.body,
                    time_to_text(&idem.created_at),
                ])?;
                if written == 0 {
                    return Err(StoreError::IdempotencyKeyTaken.into());
                }
            }
            // The request row before the rows that reference it: each foreign key holds as it
            // is written, so SQLite has no deferred violations to track.
            let written = tx.prepare_cached(INSERT_REQUEST)?.execute(params![
                rows.id,
                rows.code,
                rows.status.as_str(),
                rows.kelurahan,
                rows.created_at,
                rows.version,
                rows.head_nik,
                rows.kk,
                rows.json,
            ])?;
            if written == 0 {
                return Err(StoreError::CodeTaken.into());
            }
            if rows.status.is_active() {
                for key in [&household.0, &household.1] {
                    let claimed = tx
                        .prepare_cached(CLAIM_HOUSEHOLD)?
                        .execute(params![key, rows.id])?;
                    if claimed == 0 {
                        let holder: String = tx
                            .prepare_cached(HOUSEHOLD_HOLDER)?
                            .query_row([key], |r| r.get(0))?;
                        return Err(StoreError::DuplicateActive(request_id(holder)?).into());
                    }
                }
            }
            tx.prepare_cached(INSERT_HISTORY)?.execute(params![
                rows.id,
                rows.history_version,
                rows.history_json
            ])?;
            rows.event.write(tx)?;
            Ok(())
        })
        .await
    }

    async fn update(
        &self,
        request: &AidRequest,
        entry: &HistoryEntry,
        event: &Event,
    ) -> Result<(), StoreError> {
        let transition = TransitionRows::of(request, entry)?;
        let event = EventRow::of(event)?;
        self.write(move |tx| {
            transition.write(tx)?;
            event.write(tx)?;
            Ok(())
        })
        .await
    }

    async fn get(&self, id: &RequestId) -> Result<Option<AidRequest>, StoreError> {
        let id = id.as_str().to_string();
        self.read(move |conn| request_by_id(conn, &id)).await
    }

    async fn id_by_code(
        &self,
        code: &shared::RequestCode,
    ) -> Result<Option<RequestId>, StoreError> {
        let code = code.as_str().to_string();
        self.read(move |conn| {
            let id: Option<String> = conn
                .prepare_cached(ID_BY_CODE)?
                .query_row([&code], |r| r.get(0))
                .optional()?;
            Ok(id.map(request_id).transpose()?)
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<AidRequest>, StoreError> {
        let cursor = query
            .cursor
            .as_deref()
            .map(|raw| Cursor::decode(Listing::Requests, raw))
            .transpose()?;
        let kelurahan = query.kelurahan.map(|k| k.as_str());
        let status = query.status.map(|s| s.as_str());
        let from = query.created_from.as_ref().map(time_to_text);
        let before = query.created_before.as_ref().map(time_to_text);
        // Every stored time has the same width: comparing the text compares the times.
        if let Some(c) = &cursor
            && (from.as_ref().is_some_and(|f| c.created_at < *f)
                || before.as_ref().is_some_and(|b| c.created_at >= *b))
        {
            // The position of a listing over another range.
            return Err(StoreError::InvalidCursor);
        }
        // A page of nothing is no use to anyone; one more than asked tells whether more follow.
        let limit = query.limit.max(1);
        let fetch = i64::from(limit) + 1;
        self.read(move |conn| {
            let sql = list_sql(ListShape {
                kelurahan: kelurahan.is_some(),
                status: status.is_some(),
                from: from.is_some(),
                before: before.is_some(),
                cursor: cursor.is_some(),
            });
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut args: Vec<(&str, &dyn ToSql)> = vec![(":limit", &fetch)];
            if let Some(k) = &kelurahan {
                args.push((":kelurahan", k));
            }
            if let Some(s) = &status {
                args.push((":status", s));
            }
            if let Some(f) = &from {
                args.push((":from", f));
            }
            if let Some(b) = &before {
                args.push((":before", b));
            }
            if let Some(c) = &cursor {
                args.push((":created_at", &c.created_at));
                args.push((":id", &c.id));
            }
            let rows = stmt
                .query_map(args.as_slice(), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() > limit as usize;
            let mut items = Vec::with_capacity(rows.len().min(limit as usize));
            let mut last = None;
            for (created_at, id, json) in rows.into_iter().take(limit as usize) {
                items.push(from_json::<AidRequest>("request", &json)?);
                last = Some(Cursor {
                    listing: Listing::Requests,
                    created_at,
                    id,
                });
            }
            let next_cursor = if more { last.map(|c| c.encode()) } else { None };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn history(&self, id: &RequestId) -> Result<Vec<HistoryEntry>, StoreError> {
        let id = id.as_str().to_string();
        self.read(move |conn| {
            let rows = conn
                .prepare_cached(GET_HISTORY)?
                .query_map([&id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .iter()
                .map(|j| from_json::<HistoryEntry>("history entry", j))
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn active_for(&self, nik: &Nik, kk: &Kk) -> Result<Option<RequestId>, StoreError> {
        let (nik, kk) = (nik_key(nik), kk_key(kk));
        self.read(move |conn| active_for(conn, &nik, &kk)).await
    }

    async fn last_delivery(&self, nik: &Nik, kk: &Kk) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (nik, kk) = (nik_key(nik), kk_key(kk));
        self.read(move |conn| last_delivery(conn, &nik, &kk)).await
    }
}

/// [`RequestStore::active_for`] on a connection, with the household keys made.
fn active_for(
    conn: &rusqlite::Connection,
    nik: &str,
    kk: &str,
) -> Result<Option<RequestId>, DbError> {
    let holder: Option<String> = conn
        .prepare_cached(ACTIVE_FOR)?
        .query_row([nik, kk], |r| r.get(0))
        .optional()?;
    Ok(holder.map(request_id).transpose()?)
}

/// [`RequestStore::last_delivery`] on a connection, with the household keys made.
fn last_delivery(
    conn: &rusqlite::Connection,
    nik: &str,
    kk: &str,
) -> Result<Option<DateTime<Utc>>, DbError> {
    let last: Option<String> = conn
        .prepare_cached(LAST_DELIVERY)?
        .query_row([nik, kk], |r| r.get(0))?;
    Ok(last
        .map(|t| time_from_text("delivery time", &t))
        .transpose()?)
}

/// [`IdempotencyStore::get`] on a connection.
fn idempotency_record(
    conn: &rusqlite::Connection,
    key: String,
) -> Result<Option<IdempotencyRecord>, DbError> {
    let row: Option<(String, u16, String, String)> = conn
        .prepare_cached(GET_IDEMPOTENCY)?
        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((fingerprint, status, body, created_at)) = row else {
        return Ok(None);
    };
    Ok(Some(IdempotencyRecord {
        key,
        fingerprint,
        status,
        body,
        created_at: time_from_text("idempotency time", &created_at)?,
    }))
}

#[async_trait]
impl IdempotencyStore for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = key.to_string();
        self.read(move |conn| idempotency_record(conn, key)).await
    }
}

/// The stored request with this id.
pub(crate) fn request_by_id(
    conn: &rusqlite::Connection,
    id: &str,
) -> Result<Option<AidRequest>, DbError> {
    let json: Option<String> = conn
        .prepare_cached(GET_REQUEST)?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(json
        .map(|j| from_json::<AidRequest>("request", &j))
        .transpose()?)
}

/// The four reads of the submit decision in one blocking task, on one connection, in one read
/// transaction: one hop off the async workers instead of four, and one snapshot.
#[async_trait]
impl SubmitReads for EmbeddedStore {
    async fn submit_facts(
        &self,
        key: Option<&str>,
        nik: &Nik,
        kk: &Kk,
    ) -> Result<SubmitFacts, StoreError> {
        let key = key.map(str::to_string);
        let (head_nik, household) = (nik.clone(), (nik_key(nik), kk_key(kk)));
        self.read(move |conn| {
            in_one_snapshot(conn, |conn| {
                if let Some(key) = key
                    && let Some(prior) = idempotency_record(conn, key)?
                {
                    return Ok(SubmitFacts {
                        prior: Some(prior),
                        ..SubmitFacts::default()
                    });
                }
                Ok(SubmitFacts {
                    prior: None,
                    registry: crate::registry::lookup(conn, head_nik)?,
                    active: active_for(conn, &household.0, &household.1)?,
                    last_delivery: last_delivery(conn, &household.0, &household.1)?,
                })
            })
        })
        .await
    }
}
