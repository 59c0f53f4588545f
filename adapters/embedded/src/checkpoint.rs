//! Background WAL checkpoints, so that commits do not pay for them.
//!
//! In WAL mode a commit appends pages to `basoka.sqlite3-wal`; a checkpoint copies them back
//! into the database file and, with `synchronous=NORMAL`, is the only step that waits for the
//! disk (`fsync`). SQLite's automatic checkpoint runs inside whichever commit crosses the
//! threshold, holding up that commit and every write queued behind it. Here a thread of its
//! own checkpoints instead: the writer pokes it after each commit, it waits a moment to gather
//! more commits, then runs a `PASSIVE` checkpoint, which never blocks readers or writers.
//!
//! # Restarting the WAL
//!
//! Copying pages back is not enough to keep the WAL small: SQLite writes the WAL from its
//! start again only when a write transaction begins while every frame is already copied and
//! no reader still looks at the WAL. Under steady writes a passive checkpoint never quite
//! catches up (frames arrive while it copies), so the WAL would grow until SQLite's automatic
//! checkpoint (still on, at a high threshold, as a safety net) ran inside a commit: tens of
//! milliseconds during which every write waits. So once the WAL holds [`RESTART_FRAMES`]
//! frames, this thread catches up with further passive passes and then, holding the writer
//! thread's *write turn* (so that no batch starts meanwhile), runs a `RESTART` checkpoint:
//! it copies the few frames left, waits briefly for readers to leave the WAL, and leaves it
//! ready to be written from its start. The writer waits only for that last step (a few
//! milliseconds under the submit benchmark, most of it the two `fsync`s a checkpoint makes);
//! with a short busy timeout it gives up rather than wait for a long reader, and tries again
//! later. (A higher threshold makes the pauses rarer but not shorter, and lets the WAL reach
//! SQLite's own threshold under the benchmark.)
//!
//! The thread ends when the store (its last clone) is dropped.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

/// How long the thread gathers commits before checkpointing them together.
const GATHER: Duration = Duration::from_millis(20);
/// WAL frames (pages) from which the WAL is restarted: 2,048 frames of 4 KiB, about 8 MB.
const RESTART_FRAMES: i64 = 2048;
/// Frames still to copy below which the final (writer-blocking) step is taken.
const CATCH_UP_FRAMES: i64 = 512;
/// Passive passes at most before the final step, whatever is left.
const CATCH_UP_PASSES: usize = 3;
/// How long the final step waits for readers to leave the WAL before giving up.
const RESTART_BUSY_TIMEOUT: Duration = Duration::from_millis(5);

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

/// Starts the checkpoint thread on its own connection to `path`; `turn` is the writer
/// thread's write turn (see the `writer` module).
pub(crate) fn start(path: &Path, turn: Arc<Mutex<()>>) -> std::io::Result<Poke> {
    let conn = Connection::open(path)
        .and_then(|mut c| crate::configure(&mut c).map(|()| c))
        .map_err(std::io::Error::other)?;
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("basoka-checkpoint".into())
        .spawn(move || run(&conn, &rx, &turn))?;
    Ok(Poke(tx))
}

fn run(conn: &Connection, pokes: &Receiver<()>, turn: &Mutex<()>) {
    while pokes.recv().is_ok() {
        std::thread::sleep(GATHER);
        let closing = matches!(pokes.try_recv(), Err(TryRecvError::Disconnected));
        if let Err(e) = checkpoint(conn, turn) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        if closing {
            return;
        }
    }
}

/// A passive checkpoint; then, if the WAL has grown large, the catch-up and the restart.
fn checkpoint(conn: &Connection, turn: &Mutex<()>) -> rusqlite::Result<()> {
    let mut state = wal_checkpoint(conn, "PASSIVE")?;
    if state.frames < RESTART_FRAMES {
        return Ok(());
    }
    for _ in 0..CATCH_UP_PASSES {
        if state.frames - state.copied <= CATCH_UP_FRAMES {
            break;
        }
        state = wal_checkpoint(conn, "PASSIVE")?;
    }
    // No batch starts while the turn is held; the writer thread finishes the one it runs
    // first. A poisoned turn (a panicking batch) is still a good turn.
    let _turn = turn.lock().unwrap_or_else(PoisonError::into_inner);
    conn.busy_handler(Some(restart_busy))?;
    let restarted = wal_checkpoint(conn, "RESTART");
    conn.busy_timeout(crate::BUSY_TIMEOUT)?;
    // Busy (a reader stayed in the WAL, or another process writes) is not an error: the next
    // round tries again.
    restarted.map(|_| ())
}

/// The busy handler of the restart step: SQLite's own (behind `busy_timeout`) sleeps 1, then
/// 2, then 5 ms between tries, while the readers it waits for finish within microseconds; each
/// of those milliseconds would be a millisecond more that every write waits. This one looks
/// again every 50 µs, up to [`RESTART_BUSY_TIMEOUT`] in all.
fn restart_busy(tries: i32) -> bool {
    const PAUSE: Duration = Duration::from_micros(50);
    let waited = PAUSE * u32::try_from(tries).unwrap_or(u32::MAX);
    if waited >= RESTART_BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(PAUSE);
    true
}

/// What `PRAGMA wal_checkpoint` reports: frames in the WAL, and how many are copied.
struct WalState {
    frames: i64,
    copied: i64,
}

fn wal_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<WalState> {
    // Returns (busy, frames in the WAL, frames copied); a busy or partial checkpoint is simply
    // continued next time.
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(WalState {
            frames: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}
