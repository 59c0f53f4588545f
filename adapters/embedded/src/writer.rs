//! The write path: every write is a job run on tokio's blocking pool, inside a
//! `BEGIN IMMEDIATE` transaction, with group commit.
//!
//! A write pushes its job onto a queue and starts one blocking task. That task takes the
//! process's write turn (a plain mutex, only ever held inside blocking tasks, never across an
//! `.await`) and then drains the queue: it opens one `BEGIN IMMEDIATE` transaction, runs each
//! job queued by then in its own savepoint, and commits once. A job that fails (a duplicate
//! household, a stale version…) is rolled back to its savepoint and fails alone; the others
//! are unaffected, exactly as if each had run in its own transaction one after the other. Each
//! caller hears its result only after the commit, so "Ok" still means durable.
//!
//! Under load this turns many small commits into few larger ones, which is what SQLite is fast
//! at: the index pages that consecutive submissions touch are written to the WAL once per
//! batch instead of once per submission. Without load a batch is one job and this is a plain
//! transaction per write.
//!
//! Every job pushed is followed by a task that drains the queue until it is empty, so no job is
//! left behind even when batches are capped.

use std::sync::{Arc, Mutex, PoisonError};

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
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

/// The queue of pending writes and the write turn.
pub(crate) struct Writer {
    queue: Mutex<Vec<Box<dyn Job>>>,
    turn: Mutex<()>,
    /// Tells the checkpoint thread that something was committed.
    committed: Poke,
}

impl Writer {
    pub fn new(committed: Poke) -> Writer {
        Writer {
            queue: Mutex::new(Vec::new()),
            turn: Mutex::new(()),
            committed,
        }
    }

    /// Runs `write` in a `BEGIN IMMEDIATE` transaction (shared with other writes queued at the
    /// same moment); its changes are committed if it returns `Ok` and rolled back otherwise.
    pub async fn write<T, F>(
        self: &Arc<Self>,
        pool: &Pool<SqliteConnectionManager>,
        write: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(TypedJob {
                write: Some(write),
                result: None,
                reply,
            }));
        let writer = Arc::clone(self);
        let pool = pool.clone();
        // The drain's own outcome is reported through the jobs; a panic shows up below as a
        // dropped reply.
        let _drain = tokio::task::spawn_blocking(move || writer.drain(&pool));
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("store write task failed".into())))
    }

    /// Takes the write turn, so that a test can queue writes into one batch.
    #[cfg(test)]
    pub fn turn_for_test(&self) -> std::sync::MutexGuard<'_, ()> {
        self.turn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many writes wait for the turn.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Runs batches until the queue is empty.
    fn drain(&self, pool: &Pool<SqliteConnectionManager>) {
        // A panic while holding the turn poisons it; that batch was rolled back by then, so
        // the turn itself is still good.
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let batch: Vec<Box<dyn Job>> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let n = queue.len().min(MAX_BATCH);
                queue.drain(..n).collect()
            };
            if batch.is_empty() {
                return;
            }
            if run_batch(pool, batch) {
                self.committed.poke();
            }
        }
    }
}

/// One transaction for the whole batch, one savepoint per job. Whether it committed.
fn run_batch(pool: &Pool<SqliteConnectionManager>, mut batch: Vec<Box<dyn Job>>) -> bool {
    let mut outcomes: Vec<Result<(), StoreError>> = Vec::with_capacity(batch.len());
    let committed = (|| -> Result<(), StoreError> {
        let mut conn = pool.get().map_err(crate::pool_error)?;
        let mut tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| DbError::from(e).into_store())?;
        for job in batch.iter_mut() {
            let mut sp = tx.savepoint().map_err(|e| DbError::from(e).into_store())?;
            let outcome = job.run(&sp);
            let end = match outcome {
                Ok(()) => sp.commit(),
                // Undo this job only; if even that fails, the whole batch is given up below.
                Err(_) => sp.rollback().and_then(|()| sp.commit()),
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
