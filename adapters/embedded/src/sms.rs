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
//! the whole line is written with one `write_all` and flushed with `sync_data` before `Ok` is
//! returned, so that an SMS reported as sent is never lost with a crash. All of it runs on
//! tokio's blocking pool, one send at a time (a mutex taken inside the blocking task, never
//! across an `.await`), so lines never interleave. The line holds the full number (it is what
//! a real gateway would be given); the log line names the recipient masked only.

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

/// Appends every SMS as a JSON line to a local file. Cheap to clone: clones share the file's
/// lock.
#[derive(Debug, Clone)]
pub struct FileSms {
    path: PathBuf,
    /// Serialises this process's appends (taken inside the blocking task only).
    lock: Arc<Mutex<()>>,
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
            lock: Arc::new(Mutex::new(())),
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

/// Appends `line` to `path` and waits until it is on disk. The file holds phone numbers: it
/// is created `0600`, its folder (if missing) `0700` (see [`crate::private`]).
fn append(path: &Path, line: &[u8]) -> std::io::Result<()> {
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
    file.write_all(line)?;
    file.sync_data()
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
        let (path, lock) = (self.path.clone(), Arc::clone(&self.lock));
        tokio::task::spawn_blocking(move || {
            // A panic while appending poisons the lock; the file itself is still usable.
            let _turn = lock.lock().unwrap_or_else(PoisonError::into_inner);
            append(&path, &line)
        })
        .await
        .map_err(|_| "the SMS outbox task failed".to_string())?
        .map_err(|e| {
            // The error names the file, never the recipient.
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the SMS outbox");
            format!("cannot write the SMS outbox {}: {e}", self.path.display())
        })?;
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
