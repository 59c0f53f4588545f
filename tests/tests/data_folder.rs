//! The data folder holds full NIKs and KKs (the store, the registry), phone numbers (the SMS
//! outbox) and the token secret: on Unix only its owner may read it. A new folder is created
//! `0700` with `0600` files; a folder left open (an older version, a careless `cp -r`) is
//! made private again when `basoka` starts, with a log line.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use basoka_tests::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn set_mode(path: &Path, m: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Every entry of the data folder with its mode.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                mode(&e.path()),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_new_data_folder_is_private_to_its_owner() {
    let root = TempDir::new().unwrap();
    let dir = root.path().join("fresh").join("data");
    token_for_dir(&dir, "dinas", None, None);
    assert_eq!(mode(&dir), 0o700, "the folder");
    assert_eq!(mode(&dir.join("jwt-secret")), 0o600);
    // With --phone the store is opened too.
    token_args_for_dir(&dir, &["--role", "surveyor", "--phone", "081211110002"]);
    for (name, m) in modes(&dir) {
        assert_eq!(m, 0o600, "{name}");
    }
}

#[tokio::test]
async fn the_server_keeps_and_makes_its_data_folder_private() {
    let dir = TempDir::new().unwrap();
    set_mode(dir.path(), 0o755);
    let mut s = Server::start_in(dir);
    assert_eq!(mode(s.data_dir()), 0o700, "an open folder is made private");
    assert!(
        s.stderr_text()
            .contains("data folder was open to other users"),
        "with a log line:\n{}",
        s.stderr_text()
    );
    // A submission: the store and its WAL get NIKs, the SMS outbox the Dinas duty SMS.
    let kel = s.kelurahan_token(KEL_A);
    s.submit_ok(&kel, &submit_body(KEL_A)).await;
    s.wait_for_sms("the Dinas SMS", Duration::from_secs(30), |all| {
        !all.is_empty()
    })
    .await;
    let files = modes(s.data_dir());
    for name in [
        "basoka.sqlite3",
        "basoka.sqlite3-wal",
        "sms-outbox.jsonl",
        "jwt-secret",
    ] {
        assert!(files.iter().any(|(n, _)| n == name), "{name} in {files:?}");
    }
    for (name, m) in &files {
        assert_eq!(*m, 0o600, "{name}: {files:?}");
    }

    // Left open while it was stopped: private again on the next start, each change logged.
    s.kill();
    set_mode(s.data_dir(), 0o755);
    for (name, _) in modes(s.data_dir()) {
        set_mode(&s.data_dir().join(name), 0o644);
    }
    s.restart();
    assert_eq!(mode(s.data_dir()), 0o700);
    for (name, m) in modes(s.data_dir()) {
        assert_eq!(m, 0o600, "{name}");
    }
    assert!(
        s.stderr_text().contains("sms-outbox.jsonl") && s.stderr_text().contains("set to 600"),
        "{}",
        s.stderr_text()
    );
}
