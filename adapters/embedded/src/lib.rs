//! The embedded adapter: the store ports of [`shared::ports`] ([`RequestStore`],
//! [`IdempotencyStore`], [`RegistryStore`], [`Outbox`], [`SubmitReads`]), of [`shared::fulfilment_ports`]
//! ([`StockStore`]) and of [`shared::notify`] ([`NotificationLog`], [`Directory`]) over one
//! SQLite file in the local runner's data folder (`<data dir>/basoka.sqlite3`); and
//! [`FileSms`], the local runner's SMS sender, which appends each SMS to a file there.
//!
//! # Why SQLite
//!
//! The local runner must work on one machine "with nothing else installed" (DESIGN §9) and keep
//! what it was told across restarts. SQLite gives exactly the guarantees the ports ask for:
//!
//! * **Transactions.** A submission writes the request, its first history entry, its outbox
//!   event, the idempotency record and the two active-household guards all or nothing; a
//!   transition writes the new state only over the version it read; a stock write changes its
//!   lots only while none goes below zero, with their ledger entries, the allocation, the
//!   shipment, the request transition and the events, all or nothing (see the `stock`
//!   module). A `BEGIN IMMEDIATE` transaction does all of it, with no read-modify-write race.
//! * **Unique and compound indexes** (partial ones too, when a later table needs them). The
//!   duplicate-active rule is a primary key on `active_households(key)`; every listing is
//!   served by a compound index in the listing's own order, so no request path scans or sorts
//!   the `requests` table (the unit tests check the query plans).
//! * **One file, bundled.** `rusqlite` compiles SQLite into the binary (`bundled`): nothing to
//!   install, nothing to start, and the whole store is one file to copy for a backup.
//! * **Durable.** In WAL mode with `synchronous=NORMAL` a committed transaction survives the
//!   process being killed (`kill -9`, a crash): the WAL is in the OS page cache and is replayed
//!   on the next open (a unit test kills a writing process with SIGKILL and finds every
//!   acknowledged write). Only a power loss can drop the last few commits, which is acceptable
//!   for the local runner; an fsync per commit would cost most of the write throughput.
//!
//! # Schema (see [`schema`])
//!
//! Migration 1, the request side:
//!
//! | table | key | what |
//! |---|---|---|
//! | `requests` | `id`; `code` unique | the aggregate as JSON, plus the columns lists filter and sort on (`status`, `kelurahan_code`, `created_at`, `version`, `head_nik`, `kk`) |
//! | `history` | `(request_id, version)` | one immutable row per transition (triggers refuse `UPDATE` and `DELETE`) |
//! | `outbox` | `position` (autoincrement); `event_id` unique | the events, in commit order |
//! | `consumer_offsets` | `consumer` | the last position each consumer acknowledged |
//! | `active_households` | `key` = `nik:<16 digits>` / `kk:<16 digits>` | which request holds a household |
//! | `deliveries` | `(key, request_id)` | when aid reached a household, for the cool-down |
//! | `idempotency` | `key` | stored answers to keyed submissions |
//! | `registry` | `nik` | the imported DTKS/DTSEN registry |
//! | `settings` | `key` | small runner state (e.g. "seeded" flags), see [`EmbeddedStore::kv_get`] |
//!
//! Migration 2, the fulfilment and notification sides:
//!
//! | table | key | what |
//! |---|---|---|
//! | `items` | `sku` | the catalogue: the item as JSON, plus `retired` |
//! | `packages` | `code` | packages (bills of materials) as JSON |
//! | `package_lines` | `(package_code, sku)`; index on `sku` | which items each package uses, so that deleting an item asks an index |
//! | `lots` | `lot_id` (UUIDv7); index `(warehouse, sku, lot_id)`, index on `sku` | `expires_on`, `on_hand`, `allocated`, with `CHECK (on_hand >= allocated AND allocated >= 0)` |
//! | `ledger` | `id` (UUIDv7); index `(warehouse, sku, id)` | one immutable row per lot change, with its deltas (triggers refuse `UPDATE` and `DELETE`) |
//! | `allocations` | `request_id` | the stock set aside for a request, with its `status` |
//! | `shipments` | `id`; indexes `(status, created_at DESC, id DESC)` and `(created_at DESC, id DESC)` | shipments as JSON, listed newest first like requests |
//! | `notifications` | `(event_id, recipient)`; index `(status, updated_at)` | the notification log: one row per SMS (recipient `+62…` or `staff:<sub>`), with `status` and `attempts` for retries and leases |
//! | `contacts` | `sub` | staff phone numbers for [`Directory`], see [`EmbeddedStore::put_contact`] |
//!
//! Migration 3:
//!
//! | table | key | what |
//! |---|---|---|
//! | `receipt_refs` | `(warehouse, reference_key)` | the delivery notes each warehouse received (`reference` as typed, `received_at`): a reference is received once |
//!
//! Migration 4:
//!
//! | table | key | what |
//! |---|---|---|
//! | `low_stock_marks` | `(warehouse, sku)` | the items alerted as low (`threshold` it was about, `alerted_at`, `event_id`) and not back at their threshold since: one `StockLow` per fall, decided inside the stock write's transaction against the item's committed threshold |
//!
//! Times are stored as UTC RFC 3339 text with a fixed nine-digit fraction
//! (`2026-03-01T08:00:00.000000000Z`), so text order is time order and nothing is rounded.
//!
//! # Threads
//!
//! No async worker thread ever waits on the database. Reads run on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]) with a connection from an r2d2 pool, in parallel (WAL
//! readers never block). Writes are `BEGIN IMMEDIATE` transactions with group commit, run by
//! one dedicated writer thread on a connection of its own (see the `writer` module): inside
//! this process they queue, and the writer thread runs every write queued by then, each in its
//! own savepoint, and commits once. A write that is refused rolls back alone. Other processes
//! on the same file (e.g. a CLI import while the runner serves) are kept out by the database
//! lock itself and waited for by `busy_timeout`. WAL checkpoints, the only step that waits for
//! the disk, run on a background thread (the `checkpoint` module), not inside commits.
//!
//! A useful consequence of one writer at a time: outbox positions become visible in order, so
//! a consumer that remembers the last position it handled never skips an event.
//!
//! # Personal data
//!
//! NIK and KK are stored in full (the detail view needs them), but no error or log line this
//! crate produces contains one: SQLite's own messages name columns, never values, and stored
//! JSON that cannot be read is reported by its position only.

mod checkpoint;
mod codec;
mod notify;
mod outbox;
pub mod private;
mod registry;
mod requests;
pub mod schema;
mod sms;
mod stock;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, params};
use shared::ports::StoreError;

pub use sms::FileSms;

#[doc(no_inline)]
pub use shared::fulfilment_ports::StockStore;
#[doc(no_inline)]
pub use shared::notify::{Directory, NotificationLog};
#[doc(no_inline)]
pub use shared::ports::{IdempotencyStore, Outbox, RegistryStore, RequestStore, SubmitReads};

/// Threads for tokio's blocking pool in a process that runs this store (`basoka serve`, the
/// benchmarks). The pool runs the reads (on at most [`POOL_SIZE`] pooled connections) and the
/// SMS file's appends; the writes have a thread of their own. More threads than the machine can
/// run at once only wait for a connection or a core, and crowd the run queue in front of the
/// writer thread that every write waits for: on 2 cores, 4 threads instead of tokio's default
/// (up to 512) gave the submit benchmark about 15% more throughput and a lower p99.
pub fn blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    (2 * cores).clamp(4, POOL_SIZE as usize)
}

/// The database file's name inside the data folder.
pub const DB_FILE: &str = "basoka.sqlite3";

/// How long a write waits for another process holding the database lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Pooled connections, for reads (the writer thread has a connection of its own).
const POOL_SIZE: u32 = 8;
/// Prepared statements kept per connection (the list query alone has eight shapes).
const STATEMENT_CACHE: usize = 64;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error(
        "database {path} has schema version {found}, newer than this program knows ({known}); \
         use a newer BASOKA or another data folder"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("migrating database {path} to schema version {version} failed: {message}")]
    Migration {
        path: PathBuf,
        version: i64,
        message: String,
    },
}

/// The store ports over SQLite in a data folder. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool<SqliteConnectionManager>,
    /// Queues this process's writes for the writer thread, which group-commits them.
    writer: Arc<writer::Writer>,
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Settings every connection gets. `journal_mode` is persistent in the file and set once at
/// open; these are per connection. Checkpoints normally run in the background (see
/// [`checkpoint`]); SQLite's own stay on at a higher threshold (about 40 MB of WAL) as a
/// safety net.
fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 10000;",
    )
}

/// Runs `f`'s statements in one read transaction: they all see one snapshot, and the
/// connection looks at the WAL (and, when other connections wrote since, drops its page cache)
/// once instead of once per statement, which under steady writes is most of a small read's
/// cost. The transaction ends however `f` ends, a panic included, so no pooled connection is
/// ever handed back inside one.
fn in_one_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    /// Ends the read transaction when dropped.
    struct End<'c>(&'c Connection);
    impl Drop for End<'_> {
        fn drop(&mut self) {
            // Ending a read transaction only releases its snapshot; it cannot fail in a way
            // the caller could act on.
            let _ = self
                .0
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]));
        }
    }
    conn.prepare_cached("BEGIN")?.execute([])?;
    let _end = End(conn);
    f(conn)
}

/// Makes the data folder the owner's alone (see [`private`]): creates it `0700`, or sets an
/// existing one that others could use to `0700` and every file in it that others could read
/// to `0600`, saying so in a warning. The runner calls it first thing; [`EmbeddedStore::open`]
/// calls it too. A folder that exists but cannot be changed (owned by someone else) is only
/// warned about.
pub fn secure_data_dir(data_dir: &Path) -> Result<(), OpenError> {
    match private::private_dir(data_dir) {
        Ok(private::DirState::Tightened { was }) => tracing::warn!(
            path = %data_dir.display(),
            "the data folder was open to other users (mode {was:o}); set to 700"
        ),
        Ok(_) => {}
        Err(e) if data_dir.is_dir() => tracing::warn!(
            path = %data_dir.display(),
            error = %e,
            "cannot make the data folder private to its owner"
        ),
        Err(source) => {
            return Err(OpenError::CreateDir {
                path: data_dir.to_path_buf(),
                source,
            });
        }
    }
    match private::tighten_files(data_dir) {
        Ok(changed) => {
            for (file, was) in changed {
                tracing::warn!(
                    path = %file.display(),
                    "a data file was readable by other users (mode {was:o}); set to 600"
                );
            }
        }
        Err(e) => tracing::warn!(
            path = %data_dir.display(),
            error = %e,
            "cannot make the data files private to their owner"
        ),
    }
    Ok(())
}

impl EmbeddedStore {
    /// Opens (creating if needed) the data folder and its database, switches it to WAL and
    /// brings the schema up to date. Blocking: call it once at start-up.
    ///
    /// The folder is made `0700` and its files `0600` ([`secure_data_dir`]); the database
    /// file is created `0600` before SQLite opens it, so that its `-wal` and `-shm` files,
    /// which SQLite creates with the database's mode, are `0600` too.
    pub fn open(data_dir: &Path) -> Result<EmbeddedStore, OpenError> {
        secure_data_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let open_err = |e: rusqlite::Error| OpenError::Open {
            path: path.clone(),
            message: e.to_string(),
        };
        private::open_private_append(&path).map_err(|e| OpenError::Open {
            path: path.clone(),
            message: format!("cannot create the database file: {e}"),
        })?;

        // One plain connection first, so that a bad file fails at once with SQLite's own
        // message (the pool would retry until its timeout).
        let mut conn = Connection::open(&path).map_err(open_err)?;
        configure(&mut conn).map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::Open {
                path: path.clone(),
                message: format!("cannot switch to WAL journal mode (got {mode})"),
            });
        }
        schema::migrate(&mut conn, &path)?;
        drop(conn);

        let manager = SqliteConnectionManager::file(&path).with_init(configure);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(30))
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| OpenError::Open {
                path: path.clone(),
                message: e.to_string(),
            })?;
        // The write turn, shared by the writer thread and the checkpoint thread.
        let turn = Arc::new(std::sync::Mutex::new(()));
        let poke = checkpoint::start(&path, Arc::clone(&turn)).map_err(|e| OpenError::Open {
            path: path.clone(),
            message: format!("cannot start the checkpoint thread: {e}"),
        })?;
        let writer = writer::Writer::start(&path, turn, poke).map_err(|e| OpenError::Open {
            path: path.clone(),
            message: format!("cannot start the writer thread: {e}"),
        })?;
        tracing::debug!(path = %path.display(), "embedded store open");
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                pool,
                writer: Arc::new(writer),
                path,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A small runner setting, e.g. whether the first-run seed has been applied.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_string();
        self.read(move |conn| {
            conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([&key], |r| r.get(0))
                .optional()
                .map_err(Into::into)
        })
        .await
    }

    /// Sets (or replaces) a runner setting.
    pub async fn kv_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
            Ok(())
        })
        .await
    }

    /// Runs a read on a pooled connection, on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner.pool.get().map_err(pool_error)?;
            f(&conn).map_err(DbError::into_store)
        })
        .await
        .map_err(join_error)?
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer thread (see [`writer`]): its
    /// changes are committed if it returns `Ok`, rolled back otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.writer.write(f).await
    }
}

/// What a closure run against the database can fail with: a domain outcome (duplicate,
/// version conflict…) that passes through unchanged, or an SQLite error that becomes
/// [`StoreError::Unavailable`].
#[derive(Debug)]
enum DbError {
    Store(StoreError),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        DbError::Store(e)
    }
}

impl DbError {
    fn into_store(self) -> StoreError {
        match self {
            DbError::Store(e) => e,
            // SQLite's messages name tables and columns, never bound values, so they are safe
            // to pass on (no NIK or KK can be in them).
            DbError::Sqlite(e) => {
                tracing::warn!(error = %e, "embedded store failed");
                StoreError::Unavailable(format!("sqlite: {e}"))
            }
        }
    }
}

fn pool_error(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}

fn join_error(e: tokio::task::JoinError) -> StoreError {
    if e.is_panic() {
        StoreError::Unavailable("store task panicked".into())
    } else {
        StoreError::Unavailable("store task cancelled".into())
    }
}

#[cfg(test)]
mod tests;
