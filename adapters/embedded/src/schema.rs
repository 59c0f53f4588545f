//! Schema migrations, numbered by SQLite's `PRAGMA user_version`.
//!
//! [`MIGRATIONS`]`[i]` takes the database from version `i` to `i + 1`. Migrations only ever
//! get appended: a released migration is never edited, a later one changes what it must
//! (version 2 added the fulfilment and notification tables, version 3 the delivery notes
//! received). [`migrate`] applies the missing ones in one `BEGIN IMMEDIATE` transaction, so
//! two processes opening the same folder at once cannot both migrate, and a failed migration
//! leaves the file as it was.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::OpenError;

/// Version 1: requests, history, outbox, guards, idempotency, registry, settings.
const V1: &str = r#"
CREATE TABLE requests (
    id             TEXT    NOT NULL PRIMARY KEY,
    code           TEXT    NOT NULL UNIQUE,
    status         TEXT    NOT NULL,
    kelurahan_code TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    head_nik       TEXT    NOT NULL CHECK (length(head_nik) = 16),
    kk             TEXT    NOT NULL CHECK (length(kk) = 16),
    json           TEXT    NOT NULL
);
-- One index per listing shape, each in the listing's order (newest first, then id), so a page
-- is a range read of the index that stops after `limit + 1` rows: no scan, no sort.
CREATE INDEX requests_by_kelurahan_status
    ON requests (kelurahan_code, status, created_at DESC, id DESC);
CREATE INDEX requests_by_kelurahan
    ON requests (kelurahan_code, created_at DESC, id DESC);
CREATE INDEX requests_by_status
    ON requests (status, created_at DESC, id DESC);
CREATE INDEX requests_by_created
    ON requests (created_at DESC, id DESC);

CREATE TABLE history (
    request_id TEXT    NOT NULL REFERENCES requests (id),
    version    INTEGER NOT NULL,
    json       TEXT    NOT NULL,
    PRIMARY KEY (request_id, version)
);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN
    SELECT RAISE(ABORT, 'history is append-only');
END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN
    SELECT RAISE(ABORT, 'history is append-only');
END;

-- AUTOINCREMENT: a position is never reused, even after rows are pruned, so consumer offsets
-- stay meaningful. request_id has no foreign key: later events (stock) belong to no request.
CREATE TABLE outbox (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT    NOT NULL UNIQUE,
    request_id TEXT,
    type       TEXT    NOT NULL,
    json       TEXT    NOT NULL
);

CREATE TABLE consumer_offsets (
    consumer TEXT    NOT NULL PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;

-- `nik:<16 digits>` and `kk:<16 digits>` of every household with an active request.
CREATE TABLE active_households (
    key        TEXT NOT NULL PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id)
) WITHOUT ROWID;

CREATE TABLE deliveries (
    key          TEXT NOT NULL,
    request_id   TEXT NOT NULL REFERENCES requests (id),
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (key, request_id)
) WITHOUT ROWID;
CREATE INDEX deliveries_by_key_time ON deliveries (key, delivered_at);

CREATE TABLE idempotency (
    key         TEXT    NOT NULL PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);

CREATE TABLE registry (
    nik            TEXT    NOT NULL PRIMARY KEY CHECK (length(nik) = 16),
    kk             TEXT    NOT NULL CHECK (length(kk) = 16),
    nama           TEXT    NOT NULL,
    kelurahan_code TEXT    NOT NULL,
    desil          INTEGER NOT NULL CHECK (desil BETWEEN 1 AND 10),
    updated_at     TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"#;

/// Version 2: the fulfilment side (catalogue, lots, ledger, allocations, shipments) and the
/// notification side (notification log, staff contacts).
const V2: &str = r#"
CREATE TABLE items (
    sku     TEXT    NOT NULL PRIMARY KEY,
    retired INTEGER NOT NULL CHECK (retired IN (0, 1)),
    json    TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE packages (
    code TEXT NOT NULL PRIMARY KEY,
    json TEXT NOT NULL
) WITHOUT ROWID;
-- Which item each package uses, so that deleting an item asks an index, not every package.
CREATE TABLE package_lines (
    package_code TEXT NOT NULL REFERENCES packages (code),
    sku          TEXT NOT NULL,
    PRIMARY KEY (package_code, sku)
) WITHOUT ROWID;
CREATE INDEX package_lines_by_sku ON package_lines (sku);

-- The CHECK is the last line of defence: the write path refuses a change that would break it
-- with InsufficientStock before SQLite ever sees it. (on_hand >= 0 follows from the two.)
CREATE TABLE lots (
    lot_id     TEXT    NOT NULL PRIMARY KEY,
    warehouse  TEXT    NOT NULL,
    sku        TEXT    NOT NULL,
    expires_on TEXT,
    on_hand    INTEGER NOT NULL,
    allocated  INTEGER NOT NULL,
    CHECK (on_hand >= allocated AND allocated >= 0)
) WITHOUT ROWID;
-- Lots of an item, oldest first (lot ids are UUIDv7).
CREATE INDEX lots_by_item ON lots (warehouse, sku, lot_id);
-- Whether an item was ever stocked (lots are created by ledger entries and never deleted).
CREATE INDEX lots_by_sku ON lots (sku);

-- One immutable row per lot change; a lot's on_hand is the sum of its delta_on_hand, its
-- allocated the sum of its delta_allocated.
CREATE TABLE ledger (
    id              TEXT    NOT NULL PRIMARY KEY,
    warehouse       TEXT    NOT NULL,
    sku             TEXT    NOT NULL,
    lot_id          TEXT    NOT NULL REFERENCES lots (lot_id),
    at              TEXT    NOT NULL,
    delta_on_hand   INTEGER NOT NULL,
    delta_allocated INTEGER NOT NULL,
    json            TEXT    NOT NULL
);
CREATE INDEX ledger_by_item ON ledger (warehouse, sku, id);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;

-- No foreign keys to requests: the DynamoDB adapter has none either, and the suite that both
-- pass must not depend on one.
CREATE TABLE allocations (
    request_id TEXT NOT NULL PRIMARY KEY,
    status     TEXT NOT NULL,
    json       TEXT NOT NULL
);

CREATE TABLE shipments (
    id         TEXT NOT NULL PRIMARY KEY,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    request_id TEXT NOT NULL,
    json       TEXT NOT NULL
);
-- As for requests: one index per listing shape, in the listing's order.
CREATE INDEX shipments_by_status ON shipments (status, created_at DESC, id DESC);
CREATE INDEX shipments_by_created ON shipments (created_at DESC, id DESC);

-- WITHOUT ROWID: the retry index then carries the key, so "oldest first, then by key" is
-- the index order.
CREATE TABLE notifications (
    event_id   TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    attempts   INTEGER NOT NULL CHECK (attempts >= 0),
    updated_at TEXT    NOT NULL,
    json       TEXT    NOT NULL,
    PRIMARY KEY (event_id, recipient)
) WITHOUT ROWID;
CREATE INDEX notifications_by_status ON notifications (status, updated_at);

CREATE TABLE contacts (
    sub        TEXT NOT NULL PRIMARY KEY,
    phone      TEXT NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
"#;

/// Version 3: the delivery notes each warehouse received, so that a warehouse receives a
/// reference once (`reference_key` is `shared::fulfilment_ports::reference_key`: trimmed, one
/// space, lower case; `reference` as typed). Rows are never updated or deleted. Receipts
/// written before version 3 are not backfilled.
const V3: &str = r#"
CREATE TABLE receipt_refs (
    warehouse     TEXT NOT NULL,
    reference_key TEXT NOT NULL,
    reference     TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    PRIMARY KEY (warehouse, reference_key)
) WITHOUT ROWID;
"#;

/// Version 4: the items each warehouse was alerted about as low (a `StockLow` event), with
/// the threshold the alert was about, that have not been back at their threshold since, so
/// that a fall below the threshold alerts once however many writes take part in it
/// (`shared::fulfilment_ports::LowStockWatch`). An item low before version 4 has no mark: its
/// next movement (or the scheduled check) alerts.
const V4: &str = r#"
CREATE TABLE low_stock_marks (
    warehouse  TEXT    NOT NULL,
    sku        TEXT    NOT NULL,
    threshold  INTEGER NOT NULL,
    alerted_at TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    PRIMARY KEY (warehouse, sku)
) WITHOUT ROWID;
"#;

/// Every migration, in order; `MIGRATIONS[i]` goes from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`]; refuses a database from a newer build.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let fail = |version: i64, e: rusqlite::Error| OpenError::Migration {
        path: path.to_path_buf(),
        version,
        message: e.to_string(),
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| fail(SCHEMA_VERSION, e))?;
    // Read inside the transaction: another process may have migrated while we waited.
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| fail(SCHEMA_VERSION, e))?;
    // A negative version was not written by BASOKA either.
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(OpenError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        tx.execute_batch(sql).map_err(|e| fail(version, e))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|e| fail(version, e))?;
    }
    tx.commit().map_err(|e| fail(SCHEMA_VERSION, e))?;
    Ok(())
}
