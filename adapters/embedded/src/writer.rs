//! The write path: every write is a job run by one dedicated writer thread, inside a
//! `BEGIN IMMEDIATE` transaction, with group commit.
//!
//! A write pushes its job onto a queue and waits (asynchronously) for its answer. The writer
//! thread, which owns one connection of its own, takes everything queued by then (at most
//! [`MAX_BATCH`] jobs), opens one `BEGIN IMMEDIATE` transaction, runs each job in its own
//! savepoint, and commits once. A job that fails (a duplicate household, a stale version…) is
//! rolled back to its savepoint and fails alone; the others are unaffected, exactly as if each
//! had run in its own transaction one after the other. Each caller hears its result only after
//! the commit, so "Ok" still means committed.
//!
//! Under load this turns many small commits into few larger ones, which is what SQLite is fast
//! at: the index pages that consecutive submissions touch are written to the WAL once per
//! batch instead of once per submission. Without load a batch is one job and this is a plain
//! transaction per write.
//!
//! # Threads and wake-ups
//!
//! The queue is a mutex-protected `Vec` with a condition variable. The writer thread sleeps on
//! the condition variable only when the queue is empty, and says so in `State::sleeping`; a
//! caller signals the condition variable only when that flag is set. Under load the thread
//! finds new jobs every time it finishes a batch, so a write costs one short lock and no
//! system call to wake anyone; the only other hand-off is the answer, a `oneshot` that wakes
//! the waiting task on tokio's workers. (An earlier design started a blocking-pool task per
//! write, each of which then queued on a mutex for the write turn: most of the server's time
//! went into those thread wake-ups.)
//!
//! No async worker ever waits here: the mutexes are held only to push or take jobs, never
//! across an `.await` or a database call. The writer thread holds the *write turn* (a mutex
//! shared with the checkpoint thread) while it runs a batch: the checkpoint thread takes it for
//! the short step that lets the WAL start over (see the `checkpoint` module), and tests take it
//! to hold the thread back and so gather several writes into one batch.
//!
//! A job that panics must not take the writer down with it: each batch runs under
//! `catch_unwind`. The panicking batch's transaction is rolled back (dropping a rusqlite
//! transaction rolls it back), its callers are told the write failed (their reply channels
//! are dropped), and the thread goes on with the next batch.
//!
//! The thread ends once the store's last clone is dropped ([`Writer`]'s `Drop`), after running
//! whatever was still queued.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, TransactionBehavior};
use shared::ports::StoreError;
use tokio::sync::oneshot;

use crate::DbError;
use crate::checkpoint::Poke;

/// Most jobs in one transaction, so that one commit stays short.
const MAX_BATCH: usize = 256;

/// A queued write, type-erased.
trait Job: Send {
    /// Runs the write inside the batch's transaction (in the job's own savepoint).
    fn run(&mut self, conn: &Connection) -> Result<(), DbError>;
    /// Tells the caller: its own result if the batch committed, the batch's error if not.
    fn finish(self: Box<Self>, batch: Result<(), StoreError>);
}

struct TypedJob<T, F> {
    write: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> Result<(), DbError> {
        let write = self.write.take().expect("a job runs once");
        match write(conn) {
            Ok(value) => {
                self.result = Some(Ok(value));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn finish(self: Box<Self>, batch: Result<(), StoreError>) {
        let TypedJob { result, reply, .. } = *self;
        let outcome = match (batch, result) {
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(StoreError::Unavailable("write was not run".into())),
            (Err(e), _) => Err(e),
        };
        // The caller may have gone away (its request was cancelled); the write stands.
        let _ = reply.send(outcome);
    }
}

/// The queue between the callers and the writer thread.
struct State {
    queue: Vec<Box<dyn Job>>,
    /// The writer thread waits on `Shared::wake` (set by the thread, cleared by the caller
    /// that wakes it, so that one wake-up is signalled once).
    sleeping: bool,
    /// The store was dropped: the thread runs what is queued and ends.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Held by the writer thread while it runs a batch.
    turn: Arc<Mutex<()>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing that can panic runs while this lock is held; a poisoned lock still guards a
        // consistent queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The handle the store keeps: queues writes for the writer thread, and stops the thread when
/// dropped.
pub(crate) struct Writer {
    shared: Arc<Shared>,
}

impl Writer {
    /// Starts the writer thread on a connection of its own to `path`. It holds `turn` while it
    /// runs a batch, and pokes `committed` after each commit (both for the checkpoint thread).
    pub fn start(path: &Path, turn: Arc<Mutex<()>>, committed: Poke) -> std::io::Result<Writer> {
        let conn = Connection::open(path)
            .and_then(|mut c| crate::configure(&mut c).map(|()| c))
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: Vec::new(),
                sleeping: false,
                closed: false,
            }),
            wake: Condvar::new(),
            turn,
        });
        let thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("basoka-writer".into())
            .spawn(move || run(&thread, conn, &committed))?;
        Ok(Writer { shared })
    }

    /// Runs `write` in a `BEGIN IMMEDIATE` transaction (shared with other writes queued at the
    /// same moment); its changes are committed if it returns `Ok` and rolled back otherwise.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let wake = {
            let mut state = self.shared.state();
            state.queue.push(Box::new(TypedJob {
                write: Some(write),
                result: None,
                reply,
            }));
            std::mem::take(&mut state.sleeping)
        };
        if wake {
            self.shared.wake.notify_one();
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("store write task failed".into())))
    }

    /// Takes the write turn, so that a test can queue writes into one batch.
    #[cfg(test)]
    pub fn turn_for_test(&self) -> MutexGuard<'_, ()> {
        self.shared
            .turn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many writes wait for the turn.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.shared.state().queue.len()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The writer thread: waits for jobs, then runs them in batches until the store is dropped.
fn run(shared: &Shared, mut conn: Connection, committed: &Poke) {
    loop {
        {
            let mut state = shared.state();
            while state.queue.is_empty() {
                if state.closed {
                    return;
                }
                state.sleeping = true;
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.sleeping = false;
        }
        // The turn first, then the jobs: whatever is queued while the turn is held (by a test)
        // goes into this batch.
        let _turn = shared.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let batch: Vec<Box<dyn Job>> = {
            let mut state = shared.state();
            let n = state.queue.len().min(MAX_BATCH);
            state.queue.drain(..n).collect()
        };
        match catch_unwind(AssertUnwindSafe(|| run_batch(&mut conn, batch))) {
            Ok(true) => committed.poke(),
            Ok(false) => {}
            // The batch was rolled back and its callers told it failed, as its jobs were
            // dropped; the connection is usable again.
            Err(_) => tracing::error!("a store write panicked; its batch was rolled back"),
        }
    }
}

/// Runs one of the savepoint statements below, prepared once per connection (rusqlite's own
/// savepoints parse their SQL each time, twice per job on the writer thread).
fn savepoint_step(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

const SAVEPOINT: &str = "SAVEPOINT job";
const RELEASE: &str = "RELEASE job";
const ROLLBACK_TO: &str = "ROLLBACK TO job";

/// One transaction for the whole batch, one savepoint per job. Whether it committed.
fn run_batch(conn: &mut Connection, mut batch: Vec<Box<dyn Job>>) -> bool {
    let mut outcomes: Vec<Result<(), StoreError>> = Vec::with_capacity(batch.len());
    let committed = (|| -> Result<(), StoreError> {
        // Dropped without a commit (an error below, or a panic), it rolls the batch back.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| DbError::from(e).into_store())?;
        for job in batch.iter_mut() {
            savepoint_step(&tx, SAVEPOINT).map_err(|e| DbError::from(e).into_store())?;
            let outcome = job.run(&tx);
            let end = match outcome {
                Ok(()) => savepoint_step(&tx, RELEASE),
                // Undo this job only; if even that fails, the whole batch is given up below.
                Err(_) => {
                    savepoint_step(&tx, ROLLBACK_TO).and_then(|()| savepoint_step(&tx, RELEASE))
                }
            };
            end.map_err(|e| DbError::from(e).into_store())?;
            outcomes.push(outcome.map_err(DbError::into_store));
        }
        tx.commit().map_err(|e| DbError::from(e).into_store())
    })();
    match committed {
        Ok(()) => {
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                job.finish(outcome);
            }
            true
        }
        // Nothing of the batch was written: every job fails with the batch's error.
        Err(e) => {
            for job in batch {
                job.finish(Err(e.clone()));
            }
            false
        }
    }
}
