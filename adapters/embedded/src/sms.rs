//! [`FileSms`]: the local runner's SMS "gateway" (DESIGN §8: "locally: the SMS is written to a
//! local outbox file and the log").
//!
//! Each SMS becomes one JSON line appended to a file in the data folder (the runner uses
//! `<data dir>/sms-outbox.jsonl`):
//!
//! ```text
//! {"id":"0197…","to":"+6281234567890","text":"BASOKA: …","sent_at":"2026-03-01T01:00:00.000Z","sent_at_wib":"2026-03-01T08:00:00.000+07:00"}
//! ```
//!
//! A send is acknowledged only once its line is on disk: the file is opened in append mode,
//! the line is written with `write_all` and flushed with `sync_data` before `Ok` is returned,
//! so that an SMS reported as sent is never lost with a crash. The line holds the full number
//! (it is what a real gateway would be given); the log line names the recipient masked only.
//!
//! # Group commit
//!
//! An `fsync` costs far more than the write before it, so sends that arrive together share
//! one. A send queues its line and waits for its answer. Whoever finds no append running
//! starts one blocking task (on tokio's blocking pool, so no async worker waits on the disk),
//! which takes every line queued by then, writes them in queue order with one `write_all` (so
//! lines never interleave), calls `sync_data` once, answers each of their senders, and goes on
//! until the queue is empty. At most one such task runs at a time (the `appending` flag, read
//! and set under the queue's mutex, which is never held across an `.await` or the disk). Alone,
//! a send is one write and one `fsync`, as before; when the notify consumer sends a batch of
//! SMS at once, they cost one `fsync` together. A failed write or `fsync` fails every send of
//! its group: none of them is reported as sent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use shared::Phone;
use shared::notify::SmsSender;
use shared::sms::SmsText;
use shared::time::wib_offset;
use tokio::sync::oneshot;

/// Appends every SMS as a JSON line to a local file. Cheap to clone: clones share the queue
/// of lines waiting to be appended.
#[derive(Debug, Clone)]
pub struct FileSms {
    path: PathBuf,
    appends: Arc<Mutex<Appends>>,
}

/// A line waiting to be appended, and who waits for it to be on disk.
type Queued = (Vec<u8>, oneshot::Sender<Result<(), String>>);

/// The lines waiting for the append task, and whether one runs.
#[derive(Debug, Default)]
struct Appends {
    queue: Vec<Queued>,
    appending: bool,
}

/// One line of the outbox file.
#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    to: &'a str,
    text: &'a str,
    /// UTC, RFC 3339.
    sent_at: String,
    /// The same instant in WIB (UTC+7), RFC 3339, as people in Bekasi read it.
    sent_at_wib: String,
}

impl FileSms {
    /// An outbox at `path` (created at the first send; its folder too).
    pub fn new(path: impl Into<PathBuf>) -> FileSms {
        FileSms {
            path: path.into(),
            appends: Arc::new(Mutex::new(Appends::default())),
        }
    }

    /// The outbox file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SMS in the outbox for `to`, oldest first: `(id, text)`. Lines that cannot be read
    /// (a torn last line after a crash) are skipped.
    pub fn sent_to(&self, to: &Phone) -> Vec<(String, String)> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["to"] == to.as_str())
            .map(|v| {
                let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                (field("id"), field("text"))
            })
            .collect()
    }
}

/// Appends `lines` to `path` and waits until they are on disk. The file holds phone numbers:
/// it is created `0600`, its folder (if missing) `0700` (see [`crate::private`]).
fn append(path: &Path, lines: &[u8]) -> std::io::Result<()> {
    let open = || crate::private::open_private_append(path);
    let mut file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                crate::private::private_dir(dir)?;
            }
            open()?
        }
        other => other?,
    };
    file.write_all(lines)?;
    file.sync_data()
}

/// The append task: writes what is queued, one group at a time, until the queue is empty.
fn append_queued(path: &Path, appends: &Mutex<Appends>) {
    loop {
        let group = {
            // A poisoned lock still guards a consistent queue (nothing panics while holding it).
            let mut a = appends.lock().unwrap_or_else(PoisonError::into_inner);
            if a.queue.is_empty() {
                a.appending = false;
                return;
            }
            std::mem::take(&mut a.queue)
        };
        let mut lines = Vec::with_capacity(group.iter().map(|(l, _)| l.len()).sum());
        for (line, _) in &group {
            lines.extend_from_slice(line);
        }
        let outcome = append(path, &lines).map_err(|e| {
            // The error names the file, never a recipient.
            tracing::warn!(path = %path.display(), error = %e, "cannot write the SMS outbox");
            format!("cannot write the SMS outbox {}: {e}", path.display())
        });
        for (_, reply) in group {
            // A sender that went away (its task was cancelled) needs no answer.
            let _ = reply.send(outcome.clone());
        }
    }
}

impl FileSms {
    /// Queues `line` and waits until it is on disk, starting the append task if none runs.
    async fn append_line(&self, line: Vec<u8>) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut a = self.appends.lock().unwrap_or_else(PoisonError::into_inner);
            a.queue.push((line, reply));
            !std::mem::replace(&mut a.appending, true)
        };
        if start {
            let (path, appends) = (self.path.clone(), Arc::clone(&self.appends));
            let task = tokio::task::spawn_blocking(move || {
                let _guard = PanicGuard(&appends);
                append_queued(&path, &appends);
            });
            // Each sender hears from the task through its reply, not through this handle.
            drop(task);
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the SMS outbox task failed".to_string()))
    }
}

/// If the append task unwinds, the flag must not stay set, or no append would ever start
/// again: this clears it, and fails the lines still queued (their senders hear that the task
/// failed, as do those of the group it held, whose replies were dropped).
struct PanicGuard<'a>(&'a Mutex<Appends>);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut a = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            a.appending = false;
            a.queue.clear();
        }
    }
}

#[async_trait]
impl SmsSender for FileSms {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<String, String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = Utc::now();
        let mut line = serde_json::to_vec(&Line {
            id: &id,
            to: to.as_str(),
            text: text.as_str(),
            sent_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            sent_at_wib: now
                .with_timezone(&wib_offset())
                .to_rfc3339_opts(SecondsFormat::Millis, false),
        })
        .map_err(|e| format!("cannot encode the SMS: {e}"))?;
        line.push(b'\n');
        self.append_line(line).await?;
        tracing::info!(
            id = %id,
            to = %to.masked(),
            text = %text.as_str(),
            "SMS written to the local outbox"
        );
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;

    fn phone(n: u32) -> Phone {
        Phone::parse(&format!("0812{n:08}")).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_sms_is_one_json_line() {
        let dir = tempfile::tempdir().unwrap();
        // The folder does not exist yet: the first send creates it.
        let sms = FileSms::new(dir.path().join("data").join("sms-outbox.jsonl"));
        let text = SmsText::fit("BASOKA: permohonan BSK-000001 disetujui, 1 paket. \"Kutip\" {x}");
        let id = sms.send(&phone(1), &text).await.unwrap();
        let raw = std::fs::read_to_string(sms.path()).unwrap();
        assert!(raw.ends_with('\n'));
        let lines: Vec<&str> = raw.lines().collect();
        assert_eq!(lines.len(), 1);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["id"], id.as_str());
        assert_eq!(v["to"], "+6281200000001");
        assert_eq!(v["text"], text.as_str());
        let utc = chrono::DateTime::parse_from_rfc3339(v["sent_at"].as_str().unwrap()).unwrap();
        let wib = chrono::DateTime::parse_from_rfc3339(v["sent_at_wib"].as_str().unwrap()).unwrap();
        assert_eq!(utc, wib, "the same instant");
        assert!(v["sent_at"].as_str().unwrap().ends_with('Z'));
        assert!(v["sent_at_wib"].as_str().unwrap().ends_with("+07:00"));
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_do_not_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let sms = Arc::new(FileSms::new(dir.path().join("sms-outbox.jsonl")));
        // Long lines (a full segment each), so that interleaved writes would show.
        let text = SmsText::fit(&"x".repeat(200));
        let tasks: Vec<_> = (0..200)
            .map(|n| {
                let (sms, text) = (Arc::clone(&sms), text.clone());
                tokio::spawn(async move { (n, sms.send(&phone(n), &text).await.unwrap()) })
            })
            .collect();
        let mut sent = HashSet::new();
        for t in tasks {
            let (n, id) = t.await.unwrap();
            sent.insert((phone(n).as_str().to_string(), id));
        }
        let raw = std::fs::read_to_string(sms.path()).unwrap();
        let mut seen = HashSet::new();
        for line in raw.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
            assert_eq!(v["text"], text.as_str());
            seen.insert((
                v["to"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            ));
        }
        assert_eq!(raw.lines().count(), 200);
        assert_eq!(seen, sent, "every send is its own line, with its own id");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unwritable_outbox_is_an_error_without_the_number() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be.
        let sms = FileSms::new(dir.path());
        let err = sms
            .send(&phone(7), &SmsText::fit("BASOKA: tes"))
            .await
            .expect_err("a folder cannot be appended to");
        assert!(!err.contains("81200000007"), "{err}");
        assert!(err.contains("SMS outbox"), "{err}");
    }
}
