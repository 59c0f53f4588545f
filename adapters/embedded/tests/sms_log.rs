//! The local SMS outbox logs every SMS at INFO with the recipient masked, never the full
//! number (DESIGN §5, §8).
//!
//! Alone in its own test binary on purpose: `tracing` caches each call site's interest
//! process-wide, so a thread-scoped subscriber (`set_default`) can miss a line that another
//! test thread's call site registered at the same moment. With no other test in the process,
//! nothing races it.

use std::sync::{Arc, Mutex};

use basoka_embedded::FileSms;
use shared::Phone;
use shared::notify::SmsSender;
use shared::sms::SmsText;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: the log line is written on this thread, where the subscriber is
// set.
#[tokio::test]
async fn each_sms_is_logged_at_info_with_the_number_masked() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let sms = FileSms::new(dir.path().join("sms-outbox.jsonl"));
    let to = Phone::parse("081200000042").unwrap();
    let id = sms.send(&to, &SmsText::fit("BASOKA: tes")).await.unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains(" INFO "), "{log}");
    assert!(log.contains(&id), "{log}");
    assert!(log.contains(&to.masked()), "{log}");
    assert!(
        !log.contains(to.as_str()) && !log.contains("81200000042"),
        "the full number must not be logged: {log}"
    );
}
