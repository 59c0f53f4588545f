//! Background WAL checkpoints, so that commits do not pay for them.
//!
//! In WAL mode a commit appends pages to `basoka.sqlite3-wal`; a checkpoint copies them back
//! into the database file and, with `synchronous=NORMAL`, is the only step that waits for the
//! disk (`fsync`). SQLite's automatic checkpoint runs inside whichever commit crosses the
//! threshold, holding up that commit and every write queued behind it. Here a thread of its
//! own checkpoints instead: the writer pokes it after each commit, it waits a moment to gather
//! more commits, then runs a `PASSIVE` checkpoint, which never blocks readers or writers.
//! SQLite's own automatic checkpoint stays on at a higher threshold as a safety net.
//!
//! The thread ends when the store (its last clone) is dropped.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::time::Duration;

use rusqlite::Connection;

/// How long the thread gathers commits before checkpointing them together.
const GATHER: Duration = Duration::from_millis(100);

/// Wakes the checkpoint thread; cheap, never blocks, and closes the thread when dropped.
#[derive(Debug)]
pub(crate) struct Poke(SyncSender<()>);

impl Poke {
    /// Something was committed.
    pub fn poke(&self) {
        // Full means a poke is already pending: nothing to add.
        let _ = self.0.try_send(());
    }
}

/// Starts the checkpoint thread on its own connection to `path`.
pub(crate) fn start(path: &Path) -> std::io::Result<Poke> {
    let conn = Connection::open(path)
        .and_then(|mut c| crate::configure(&mut c).map(|()| c))
        .map_err(std::io::Error::other)?;
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("basoka-checkpoint".into())
        .spawn(move || run(conn, rx))?;
    Ok(Poke(tx))
}

fn run(conn: Connection, pokes: Receiver<()>) {
    while pokes.recv().is_ok() {
        std::thread::sleep(GATHER);
        let closing = matches!(pokes.try_recv(), Err(TryRecvError::Disconnected));
        // Returns (busy, frames in the WAL, frames copied); a busy or partial checkpoint is
        // simply continued at the next poke.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        if closing {
            return;
        }
    }
}
