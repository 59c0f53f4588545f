//! Unit tests of what only this adapter promises: the connection settings, the schema
//! version, query plans that never scan or sort `requests`, append-only history, registry
//! rows that keep their `updated_at`, errors without personal data, the settings table, and
//! durability across `kill -9`. The behaviour of the ports is the conformance suite's
//! (`tests/conformance.rs`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use basoka_conformance::Ports;
use basoka_conformance::fixtures::{KELURAHAN_A, at, nik, registry_row, submission};
use shared::ports::{ImportCounts, ListQuery, RegistryStore, RequestStore};
use shared::{RequestId, Status};

use super::*;
use crate::requests::{ListShape, list_sql};

fn open() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    (dir, store)
}

fn conn(store: &EmbeddedStore) -> r2d2::PooledConnection<SqliteConnectionManager> {
    store.inner.pool.get().expect("pooled connection")
}

/// The plan's detail lines, with every parameter bound to a dummy value.
fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    let args: Vec<String> = (0..stmt.parameter_count()).map(|_| "x".into()).collect();
    stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        r.get::<_, String>(3)
    })
    .expect("plan rows")
    .collect::<Result<_, _>>()
    .expect("plan rows")
}

#[test]
fn pooled_connections_are_wal_normal_with_foreign_keys() {
    let (_dir, store) = open();
    assert_eq!(store.path().file_name().unwrap(), DB_FILE);
    // More than one connection, so that the per-connection settings are seen on several.
    let conns: Vec<_> = (0..3).map(|_| conn(&store)).collect();
    for c in &conns {
        let get = |pragma: &str| -> String {
            c.pragma_query_value(None, pragma, |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(get("journal_mode"), "wal");
        assert_eq!(get("synchronous"), "1", "NORMAL");
        assert_eq!(get("foreign_keys"), "1");
        assert_eq!(get("busy_timeout"), "5000");
        assert_eq!(get("user_version"), schema::SCHEMA_VERSION.to_string());
    }
}

#[test]
fn every_listing_is_an_index_range_without_a_sort() {
    let (_dir, store) = open();
    let c = conn(&store);
    let flags = [false, true];
    for kelurahan in flags {
        for status in flags {
            for (from, before) in [(false, false), (true, false), (false, true), (true, true)] {
                for cursor in flags {
                    let shape = ListShape {
                        kelurahan,
                        status,
                        from,
                        before,
                        cursor,
                    };
                    let index = match (kelurahan, status) {
                        (true, true) => "requests_by_kelurahan_status",
                        (true, false) => "requests_by_kelurahan",
                        (false, true) => "requests_by_status",
                        (false, false) => "requests_by_created",
                    };
                    let p = plan(&c, &list_sql(shape));
                    assert_eq!(p.len(), 1, "{shape:?}: {p:?}");
                    assert!(
                        p[0].contains(&format!("USING INDEX {index}")),
                        "{shape:?}: {p:?}"
                    );
                    if cursor && !(from || before) {
                        assert!(
                            p[0].starts_with("SEARCH") && p[0].contains("(created_at,id)<(?,?)"),
                            "the cursor must be a range of the index: {shape:?}: {p:?}"
                        );
                    } else if cursor || from || before {
                        // SQLite bounds the index range by one of the created_at constraints
                        // and checks the others on the rows of that range.
                        assert!(
                            p[0].starts_with("SEARCH") && p[0].contains("created_at"),
                            "the creation range must be a range of the index: {shape:?}: {p:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn point_reads_use_keys() {
    let (_dir, store) = open();
    let c = conn(&store);
    for (sql, table) in [
        (requests::GET_REQUEST, "requests"),
        (requests::ID_BY_CODE, "requests"),
        (requests::GET_HISTORY, "history"),
        (requests::ACTIVE_FOR, "active_households"),
        (requests::HOUSEHOLD_HOLDER, "active_households"),
        (requests::LAST_DELIVERY, "deliveries"),
        (requests::GET_IDEMPOTENCY, "idempotency"),
        (requests::UPDATE_REQUEST, "requests"),
        (requests::RELEASE_HOUSEHOLD, "active_households"),
        (outbox::PENDING, "outbox"),
        (registry::LOOKUP, "registry"),
        (stock::GET_RECEIPT_REF, "receipt_refs"),
    ] {
        let p = plan(&c, sql);
        let on_table: Vec<_> = p
            .iter()
            .filter(|d| d.contains(&format!(" {table} ")) || d.ends_with(&format!(" {table}")))
            .collect();
        assert!(!on_table.is_empty(), "{sql}: {p:?}");
        for d in on_table {
            assert!(
                d.starts_with("SEARCH"),
                "{sql} must seek by key, not scan: {p:?}"
            );
        }
    }
    // History is read in key order: no sort.
    assert!(
        !plan(&c, requests::GET_HISTORY)
            .iter()
            .any(|d| d.contains("TEMP B-TREE")),
    );
}

#[test]
fn reopening_keeps_the_schema_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(dir.path()).unwrap());
    let store = EmbeddedStore::open(dir.path()).expect("reopen runs no migration twice");
    conn(&store)
        .pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1)
        .unwrap();
    drop(store);
    match EmbeddedStore::open(dir.path()) {
        Err(OpenError::TooNew { found, known, .. }) => {
            assert_eq!(
                (found, known),
                (schema::SCHEMA_VERSION + 1, schema::SCHEMA_VERSION)
            );
        }
        other => panic!("a database from a newer build must be refused, got {other:?}"),
    }
}

#[test]
fn a_data_dir_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = EmbeddedStore::open(&file).expect_err("a file is not a data folder");
    assert!(matches!(err, OpenError::CreateDir { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

/// The database holds full NIKs and KKs: its folder is the owner's alone and the database,
/// its WAL and shared-memory files and the SMS outbox are `0600`, also when the folder and
/// files were left open by an older version.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_data_folder_and_its_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let store = EmbeddedStore::open(&dir).unwrap();
    store
        .insert(submission(1, KELURAHAN_A, at(0)))
        .await
        .unwrap();
    let sms = FileSms::new(dir.join("sms-outbox.jsonl"));
    shared::notify::SmsSender::send(
        &sms,
        &shared::Phone::parse("081211110001").unwrap(),
        &shared::sms::SmsText::fit("BASOKA: uji"),
    )
    .await
    .unwrap();
    let mode = |name: &str| private::mode_of(&dir.join(name)).unwrap();
    assert_eq!(private::mode_of(&dir).unwrap(), 0o700, "the folder");
    for name in [
        DB_FILE,
        "basoka.sqlite3-wal",
        "basoka.sqlite3-shm",
        "sms-outbox.jsonl",
    ] {
        assert_eq!(mode(name), 0o600, "{name}");
    }
    drop(store);

    // An older version's folder: 0755 with 0644 files. Opening makes them private again.
    let open_up = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    open_up(&dir, 0o755);
    for entry in std::fs::read_dir(&dir).unwrap() {
        open_up(&entry.unwrap().path(), 0o644);
    }
    let store = EmbeddedStore::open(&dir).unwrap();
    assert_eq!(
        private::mode_of(&dir).unwrap(),
        0o700,
        "the folder, tightened"
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            private::mode_of(&path).unwrap(),
            0o600,
            "{}",
            path.display()
        );
    }
    drop(store);
}

#[tokio::test(flavor = "multi_thread")]
async fn history_is_append_only() {
    let (_dir, store) = open();
    store
        .insert(submission(1, KELURAHAN_A, at(0)))
        .await
        .unwrap();
    let c = conn(&store);
    for sql in ["UPDATE history SET json = '{}'", "DELETE FROM history"] {
        let err = c.execute(sql, []).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identical_registry_row_keeps_its_updated_at() {
    let (_dir, store) = open();
    let updated_at = |store: &EmbeddedStore| -> Vec<String> {
        conn(store)
            .prepare("SELECT updated_at FROM registry ORDER BY nik")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let mut rows = vec![
        registry_row(1, "Siti Aminah", KELURAHAN_A, 1),
        registry_row(2, "Budi Santoso", KELURAHAN_A, 3),
    ];
    store.upsert(&rows).await.unwrap();
    let first = updated_at(&store);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    rows[1].nama = "Budi S.".into();
    assert_eq!(
        store.upsert(&rows).await.unwrap(),
        ImportCounts {
            inserted: 0,
            updated: 1,
            unchanged: 1
        }
    );
    let second = updated_at(&store);
    assert_eq!(second[0], first[0], "the unchanged row keeps its time");
    assert!(second[1] > first[1], "the changed row gets a new time");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_rows_fail_without_quoting_personal_data() {
    let (_dir, store) = open();
    let new = submission(1, KELURAHAN_A, at(0));
    let id = new.request.id.clone();
    store.insert(new).await.unwrap();
    let full_nik = nik(1).as_str().to_string();
    // Damage the stored JSON so that serde's own message would quote the NIK.
    let changed = conn(&store)
        .execute(
            "UPDATE requests SET json = replace(json, '\"members\":4', '\"members\":\"' || head_nik || '\"')",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let get_err = RequestStore::get(&store, &id)
        .await
        .expect_err("a damaged row cannot be read");
    let list_err = store
        .list(&ListQuery {
            kelurahan: None,
            status: Some(Status::Submitted),
            created_from: None,
            created_before: None,
            limit: 10,
            cursor: None,
        })
        .await
        .expect_err("a damaged row cannot be listed");
    for err in [get_err, list_err] {
        let StoreError::Unavailable(msg) = &err else {
            panic!("expected Unavailable, got {err:?}");
        };
        assert!(msg.contains("unreadable"), "{msg}");
        assert!(!msg.contains(&full_nik), "{msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_round_trip() {
    let (_dir, store) = open();
    assert_eq!(store.kv_get("seeded").await.unwrap(), None);
    store.kv_set("seeded", "1").await.unwrap();
    store.kv_set("other", "x").await.unwrap();
    store.kv_set("seeded", "2").await.unwrap();
    assert_eq!(store.kv_get("seeded").await.unwrap().as_deref(), Some("2"));
    assert_eq!(store.kv_get("other").await.unwrap().as_deref(), Some("x"));
}

/// Set for the child process of [`committed_writes_survive_kill_9`].
const CRASH_DIR: &str = "BASOKA_EMBEDDED_CRASH_DIR";

/// Not a test: the child process of [`committed_writes_survive_kill_9`]. It writes requests as
/// fast as it can and prints the id of each one whose insert returned `Ok`, until killed.
#[test]
#[ignore = "child process of committed_writes_survive_kill_9"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(std::path::Path::new(&dir)).unwrap();
        let mut out = std::io::stdout().lock();
        for serial in 1..=9999 {
            let new = submission(serial, KELURAHAN_A, at(i64::from(serial)));
            let id = new.request.id.clone();
            store.insert(new).await.unwrap();
            writeln!(out, "committed {id}").unwrap();
            out.flush().unwrap();
        }
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tests::crash_child", "--ignored", "--nocapture"])
        .env(CRASH_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let mut committed = Vec::new();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("committed ") {
            committed.push(RequestId::parse(id).unwrap());
            if committed.len() == 300 {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL the child mid-write"); // Child::kill is SIGKILL on Unix
    child.wait().unwrap();
    assert_eq!(committed.len(), 300, "the child stopped before 300 commits");

    let store = EmbeddedStore::open(dir.path()).expect("reopen after kill -9");
    let integrity: String = conn(&store)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    for id in &committed {
        assert!(
            RequestStore::get(&store, id).await.unwrap().is_some(),
            "request {id} was committed before the kill and must survive it"
        );
    }
    let ports = Ports::of(store);
    let events = ports.outbox.pending("probe", 100_000).await.unwrap();
    assert!(events.len() >= committed.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_write_rolls_back_alone_within_its_batch() {
    let (_dir, store) = open();
    // Hold the write turn until three writes are queued, so that they run as one batch.
    let writer = Arc::clone(&store.inner.writer);
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let _turn = writer.turn_for_test();
        locked.send(()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while writer.queued() < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "writes were not queued"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
    is_locked.recv().unwrap();
    let set = |key: &'static str, refuse: bool| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |conn| {
                    conn.execute("INSERT INTO settings (key, value) VALUES (?1, 'v')", [key])?;
                    if refuse {
                        return Err(StoreError::CodeTaken.into());
                    }
                    Ok(key)
                })
                .await
        })
    };
    let (a, b, c) = (set("a", false), set("b", true), set("c", false));
    assert_eq!(a.await.unwrap(), Ok("a"));
    assert_eq!(b.await.unwrap(), Err(StoreError::CodeTaken));
    assert_eq!(c.await.unwrap(), Ok("c"));
    tokio::task::spawn_blocking(move || holder.join().unwrap())
        .await
        .unwrap();
    assert_eq!(store.kv_get("a").await.unwrap().as_deref(), Some("v"));
    assert_eq!(
        store.kv_get("b").await.unwrap(),
        None,
        "the refused write left nothing"
    );
    assert_eq!(store.kv_get("c").await.unwrap().as_deref(), Some("v"));
}

#[tokio::test(flavor = "multi_thread")]
async fn commits_are_checkpointed_in_the_background() {
    let (dir, store) = open();
    let db_size = || std::fs::metadata(dir.path().join(DB_FILE)).unwrap().len();
    let before = db_size();
    for serial in 1..=100 {
        store
            .insert(submission(serial, KELURAHAN_A, at(i64::from(serial))))
            .await
            .unwrap();
    }
    // SQLite's own checkpoint would wait for 10,000 WAL pages; these writes are far fewer, so
    // only the background thread can have copied them into the database file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db_size() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint within 10 s (database file still {before} bytes)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Fulfilment and notifications (migration 2)
// ---------------------------------------------------------------------------------------------

mod fulfilment {
    use basoka_conformance::fixtures::{
        allocation_write, approved, at, dispatch_write, ledger_entry, receipt, release_write, take,
        warehouse,
    };
    use shared::fulfilment_ports::{StockStore, StockWrite};
    use shared::stock::Movement;

    use super::*;
    use crate::stock::{self as stock_sql, shipments_sql};

    #[test]
    fn shipment_listings_are_index_ranges_without_a_sort() {
        let (_dir, store) = open();
        let c = conn(&store);
        for status in [false, true] {
            for cursor in [false, true] {
                let index = if status {
                    "shipments_by_status"
                } else {
                    "shipments_by_created"
                };
                let p = plan(&c, &shipments_sql(status, cursor));
                assert_eq!(p.len(), 1, "{p:?}");
                assert!(
                    p[0].contains(&format!("USING INDEX {index}")),
                    "status {status}, cursor {cursor}: {p:?}"
                );
                if cursor {
                    assert!(
                        p[0].starts_with("SEARCH") && p[0].contains("(created_at,id)<(?,?)"),
                        "the cursor must be a range of the index: {p:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn stock_and_notification_reads_use_keys_in_order() {
        let (_dir, store) = open();
        let c = conn(&store);
        for (sql, table, index) in [
            (stock_sql::LOTS_OF_ITEM, "lots", Some("lots_by_item")),
            (stock_sql::LOT_OF_SKU, "lots", Some("lots_by_sku")),
            (stock_sql::CHANGE_LOT, "lots", None),
            (stock_sql::GET_LOT, "lots", None),
            (stock_sql::LEDGER_OF_ITEM, "ledger", Some("ledger_by_item")),
            (
                stock_sql::PACKAGE_USING,
                "package_lines",
                Some("package_lines_by_sku"),
            ),
            (stock_sql::GET_PACKAGE, "packages", None),
            (stock_sql::GET_ALLOCATION, "allocations", None),
            (stock_sql::UPDATE_ALLOCATION, "allocations", None),
            (stock_sql::GET_SHIPMENT, "shipments", None),
            (stock_sql::UPDATE_SHIPMENT, "shipments", None),
            (
                notify::RETRYABLE,
                "notifications",
                Some("notifications_by_status"),
            ),
            (
                notify::STALE_CLAIMS,
                "notifications",
                Some("notifications_by_status"),
            ),
            (notify::REPLACE, "notifications", None),
            (notify::GET, "notifications", None),
            (notify::FOR_EVENT, "notifications", None),
            (notify::PHONE_OF, "contacts", None),
        ] {
            let p = plan(&c, sql);
            let on_table: Vec<_> = p
                .iter()
                .filter(|d| d.contains(&format!(" {table} ")) || d.ends_with(&format!(" {table}")))
                .collect();
            assert!(!on_table.is_empty(), "{sql}: {p:?}");
            for d in on_table {
                assert!(d.starts_with("SEARCH"), "{sql} must seek, not scan: {p:?}");
                if let Some(index) = index {
                    assert!(d.contains(index), "{sql} must use {index}: {p:?}");
                }
            }
            assert!(
                !p.iter().any(|d| d.contains("TEMP B-TREE")),
                "{sql} must be read in index order, without a sort: {p:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_ledger_is_append_only_and_lots_never_hold_more_allocated_than_on_hand() {
        let (_dir, store) = open();
        let (write, ids) = receipt(&warehouse(), &[("BERAS", 10, None)], at(0));
        store.apply(write).await.unwrap();
        let c = conn(&store);
        for sql in ["UPDATE ledger SET json = '{}'", "DELETE FROM ledger"] {
            let err = c.execute(sql, []).expect_err(sql);
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        // The CHECK behind the write path's own condition.
        for sql in [
            "UPDATE lots SET allocated = on_hand + 1",
            "UPDATE lots SET allocated = -1, on_hand = 0",
        ] {
            let err = c.execute(sql, []).expect_err(sql);
            assert!(err.to_string().contains("CHECK"), "{sql}: {err}");
        }
        let lots = store.lots(&warehouse(), None).await.unwrap();
        assert_eq!(
            (lots[0].lot_id.as_str(), lots[0].on_hand),
            (ids[0].as_str(), 10)
        );
    }

    /// The outbox, ledger and lots as rows, to compare before and after a refused write.
    fn tables(store: &EmbeddedStore) -> Vec<String> {
        let c = conn(store);
        [
            "SELECT lot_id || ':' || on_hand || ':' || allocated FROM lots ORDER BY lot_id",
            "SELECT id FROM ledger ORDER BY id",
            "SELECT event_id FROM outbox ORDER BY position",
        ]
        .iter()
        .flat_map(|sql| {
            c.prepare(sql)
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        })
        .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_ledger_entry_that_contradicts_its_lot_or_its_movement_is_refused() {
        let (_dir, store) = open();
        let (write, ids) = receipt(&warehouse(), &[("BERAS", 10, None)], at(0));
        store.apply(write).await.unwrap();
        let before = tables(&store);

        // Another item's entry on the BERAS lot.
        let wrong_item = ledger_entry(
            &warehouse(),
            &ids[0],
            "BISKUIT",
            None,
            Movement::Allocation,
            1,
            at(1),
            "ref",
        );
        // Deltas that do not follow from the movement (a dispatch that only lowers on hand).
        let mut wrong_deltas = ledger_entry(
            &warehouse(),
            &ids[0],
            "BERAS",
            None,
            Movement::Dispatch,
            1,
            at(1),
            "ref",
        );
        wrong_deltas.delta_allocated = 0;
        for (what, entry) in [("another item", wrong_item), ("wrong deltas", wrong_deltas)] {
            let err = store
                .apply(StockWrite {
                    ledger: vec![entry],
                    ..StockWrite::default()
                })
                .await
                .expect_err(what);
            assert!(matches!(err, StoreError::Unavailable(_)), "{what}: {err:?}");
            assert_eq!(tables(&store), before, "{what}: nothing written");
        }
    }

    /// The tester's database: lots of `i64::MAX` written before quantities were bounded
    /// (three receipts of 9223372036854775807 BERAS). The use cases over them answer and never
    /// panic or wrap: an approval is still allocated, without a false low-stock alert; the
    /// stock levels, whose totals cannot be told, are a store problem (503); an adjustment is
    /// refused the same way before anything is written.
    #[tokio::test(flavor = "multi_thread")]
    async fn use_cases_over_lots_written_before_the_bounds_answer_and_never_panic() {
        use std::sync::Arc;

        use shared::auth::{Caller, Role};
        use shared::fulfilment::{self, AllocationOutcome, FulfilDeps};
        use shared::ports::{RandomIds, SystemClock};

        let (_dir, store) = open();
        let now = chrono::Utc::now();
        for item in shared::stock::seed_items() {
            store.put_item(&item).await.unwrap();
        }
        store
            .put_package(&shared::stock::seed_package(now))
            .await
            .unwrap();
        {
            let c = conn(&store);
            let mut lot = c
                .prepare(
                    "INSERT INTO lots (lot_id, warehouse, sku, expires_on, on_hand, allocated)
                     VALUES (?1, ?2, ?3, NULL, ?4, 0)",
                )
                .unwrap();
            for (i, item) in shared::stock::seed_items().iter().enumerate() {
                let big = if item.sku.as_str() == "BERAS" {
                    i64::MAX
                } else {
                    1000
                };
                let copies = if item.sku.as_str() == "BERAS" { 3 } else { 1 };
                for n in 0..copies {
                    lot.execute(params![
                        format!("0190000{i}-000{n}-7000-8000-000000000000"),
                        warehouse().as_str(),
                        item.sku.as_str(),
                        big
                    ])
                    .unwrap();
                }
            }
        }
        let ports = Ports::of(store.clone());
        let request = approved(&ports, 1, at(0)).await;
        let deps = FulfilDeps {
            requests: ports.requests.clone(),
            stock: ports.stock.clone(),
            allocation_reads: ports.allocation_reads.clone(),
            idempotency: ports.idempotency.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            warehouses: vec![warehouse()],
        };
        assert_eq!(
            fulfilment::allocate(&deps, &request.id).await,
            Ok(AllocationOutcome::Allocated)
        );
        let events: Vec<String> = ports
            .outbox
            .pending("notify", 100)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.event.type_name().to_string())
            .collect();
        assert!(
            !events.iter().any(|t| t == "StockLow"),
            "no false low-stock alert: {events:?}"
        );

        let gudang = Caller {
            sub: "gudang-1".into(),
            name: "Petugas Gudang".into(),
            role: Role::Gudang,
            kelurahan: None,
            phone: None,
        };
        assert!(matches!(
            fulfilment::stock_levels(&deps, &gudang, None).await,
            Err(shared::AppError::Unavailable(_))
        ));
        let before = tables(&store);
        let adjust = fulfilment::adjust(
            &deps,
            &gudang,
            None,
            &serde_json::json!({"sku": "BERAS", "delta": 5, "reason": "Stok opname."}),
        )
        .await;
        assert!(
            matches!(adjust, Err(shared::AppError::Unavailable(_))),
            "{adjust:?}"
        );
        assert_eq!(tables(&store), before, "nothing written");
    }

    /// The scheduled check tells a fall that only the calendar made: BERAS (threshold 100)
    /// holds 50 kg that keep and 150 kg that expire on the 6th; on the 5th nothing is told,
    /// on the 7th one alert with the 50 kg left, and the next check tells nothing new.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_scheduled_check_tells_stock_that_fell_by_expiry_once() {
        use shared::fulfilment::{self, FulfilDeps};
        use shared::ports::{FrozenClock, Outbox, RandomIds};

        let (_dir, store) = open();
        for item in shared::stock::seed_items() {
            store.put_item(&item).await.unwrap();
        }
        let ports = Ports::of(store.clone());
        let deps_on = |day: &str| FulfilDeps {
            requests: ports.requests.clone(),
            stock: ports.stock.clone(),
            allocation_reads: ports.allocation_reads.clone(),
            idempotency: ports.idempotency.clone(),
            clock: Arc::new(FrozenClock(
                format!("{day}T01:00:00Z").parse().expect("a time"),
            )),
            ids: Arc::new(RandomIds),
            warehouses: vec![warehouse()],
        };
        let gudang = shared::Caller {
            sub: "gudang-1".into(),
            name: "Petugas Gudang".into(),
            role: shared::Role::Gudang,
            kelurahan: None,
            phone: None,
        };
        fulfilment::receive(
            &deps_on("2026-12-04"),
            &gudang,
            None,
            &serde_json::json!({"reference": "SJ-EXP-1", "lines": [
                {"sku": "BERAS", "quantity": 50},
                {"sku": "BERAS", "quantity": 150, "expires_on": "2026-12-06"}]}),
        )
        .await
        .expect("receipt");
        let alerts = || async {
            Outbox::pending(&store, "probe", 10_000)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|o| match o.event.kind {
                    shared::events::EventKind::StockLow { sku, available, .. } => {
                        Some((sku, available))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let beras_only = |all: Vec<(String, u64)>| {
            all.into_iter()
                .filter(|(sku, _)| sku == "BERAS")
                .collect::<Vec<_>>()
        };
        assert_eq!(beras_only(alerts().await), [], "200 kg is not low");

        fulfilment::check_low_stock(&deps_on("2026-12-05"))
            .await
            .unwrap();
        assert_eq!(beras_only(alerts().await), [], "on the 5th all 200 kg keep");
        let looked_at = fulfilment::check_low_stock(&deps_on("2026-12-07"))
            .await
            .unwrap();
        assert_eq!(looked_at, 7, "every seed item has a threshold");
        assert_eq!(
            beras_only(alerts().await),
            [("BERAS".to_string(), 50)],
            "on the 7th 150 kg have expired"
        );
        fulfilment::check_low_stock(&deps_on("2026-12-08"))
            .await
            .unwrap();
        assert_eq!(beras_only(alerts().await).len(), 1, "told once");
    }

    /// Reads every lot and, per lot, the sums of its ledger deltas, straight from the tables.
    fn lots_against_ledger(store: &EmbeddedStore) -> Vec<(String, i64, i64, i64, i64)> {
        conn(store)
            .prepare(
                "SELECT l.lot_id, l.on_hand, l.allocated,
                        coalesce(sum(e.delta_on_hand), 0), coalesce(sum(e.delta_allocated), 0)
                 FROM lots l LEFT JOIN ledger e ON e.lot_id = l.lot_id
                 GROUP BY l.lot_id ORDER BY l.lot_id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    /// A small deterministic generator (xorshift), so that a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Hundreds of random movements (receipts, write-offs, allocations, releases, dispatches),
    /// many of them refused for stock, some concurrent: afterwards every lot's `on_hand` is
    /// the sum of its ledger entries' `delta_on_hand` and `allocated` the sum of their
    /// `delta_allocated`, and every ledger entry's lot exists.
    #[tokio::test(flavor = "multi_thread")]
    async fn lots_always_equal_the_sum_of_their_ledger_entries() {
        let (_dir, store) = open();
        let mut rng = Rng(0x5eed_ba50_ca00_0001);
        let items = ["BERAS", "MINYAK-GORENG", "BISKUIT"];
        let mut lot_ids: Vec<(String, &str)> = Vec::new();
        let (mut written, mut refused) = (0, 0);
        for round in 0..40 {
            let mut writes = Vec::new();
            for _ in 0..10 {
                let t = at(round * 10);
                let write = if lot_ids.is_empty() || rng.below(4) == 0 {
                    let item = items[rng.below(3) as usize];
                    let (write, ids) =
                        receipt(&warehouse(), &[(item, 1 + rng.below(20) as i64, None)], t);
                    lot_ids.push((ids[0].clone(), item));
                    write
                } else {
                    let entries = (0..1 + rng.below(3))
                        .map(|_| {
                            let (lot, item) = &lot_ids[rng.below(lot_ids.len() as u64) as usize];
                            let movement = [
                                Movement::Adjustment,
                                Movement::Allocation,
                                Movement::Release,
                                Movement::Dispatch,
                            ][rng.below(4) as usize];
                            let q = 1 + rng.below(8) as i64;
                            let q = if movement == Movement::Adjustment && rng.below(2) == 0 {
                                -q
                            } else {
                                q
                            };
                            ledger_entry(&warehouse(), lot, item, None, movement, q, t, "acak")
                        })
                        .collect();
                    StockWrite {
                        ledger: entries,
                        ..StockWrite::default()
                    }
                };
                let store = store.clone();
                writes.push(tokio::spawn(async move { store.apply(write).await }));
            }
            for w in writes {
                match w.await.unwrap() {
                    Ok(()) => written += 1,
                    Err(StoreError::InsufficientStock) => refused += 1,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        }
        assert!(
            written > 100 && refused > 20,
            "{written} written, {refused} refused"
        );
        let rows = lots_against_ledger(&store);
        assert_eq!(rows.len(), lot_ids.len(), "one lot per receipt");
        for (lot, on_hand, allocated, sum_on_hand, sum_allocated) in rows {
            assert_eq!(
                (on_hand, allocated),
                (sum_on_hand, sum_allocated),
                "lot {lot} differs from its ledger"
            );
            assert!(0 <= allocated && allocated <= on_hand, "lot {lot}");
        }
        let orphans: i64 = conn(&store)
            .query_row(
                "SELECT count(*) FROM ledger WHERE lot_id NOT IN (SELECT lot_id FROM lots)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
    }

    /// The full path of one request through stock, checked against the tables themselves.
    #[tokio::test(flavor = "multi_thread")]
    async fn allocation_release_and_dispatch_keep_the_ledger_sums() {
        let (_dir, store) = open();
        let ports = Ports::of(store.clone());
        let (write, ids) = receipt(&warehouse(), &[("BERAS", 30, None)], at(0));
        store.apply(write).await.unwrap();
        let mut a = approved(&ports, 1, at(1)).await;
        let mut b = approved(&ports, 2, at(2)).await;
        let (w, alloc_a, ship_a) = allocation_write(&mut a, &[take(&ids[0], "BERAS", 10)], at(10));
        store.apply(w).await.unwrap();
        let (w, alloc_b, ship_b) = allocation_write(&mut b, &[take(&ids[0], "BERAS", 15)], at(11));
        store.apply(w).await.unwrap();
        let (w, _, _) = release_write(&alloc_a, &ship_a, at(12));
        store.apply(w).await.unwrap();
        let (w, _, _) = dispatch_write(&mut b, &alloc_b, &ship_b, at(13));
        store.apply(w).await.unwrap();
        assert_eq!(
            lots_against_ledger(&store),
            vec![(ids[0].clone(), 15, 0, 15, 0)],
            "30 received, 15 dispatched, the released 10 back"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_version_1_database_is_migrated_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let new = submission(1, KELURAHAN_A, at(0));
        let id = new.request.id.clone();
        {
            // A file as the first release created it: migration 1 only.
            let mut c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            c.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
                .unwrap();
            let tx = c.transaction().unwrap();
            tx.execute_batch(schema::MIGRATIONS[0]).unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.commit().unwrap();
        }
        {
            // Opening migrates it; a request is written (its tables are still migration 1's);
            // then what migrations 2 to 4 added is dropped again: a version 1 database with
            // data.
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store.insert(new).await.unwrap();
            let c = conn(&store);
            for table in [
                "low_stock_marks",
                "receipt_refs",
                "items",
                "packages",
                "package_lines",
                "lots",
                "ledger",
                "allocations",
                "shipments",
                "notifications",
                "contacts",
            ] {
                c.execute_batch(&format!("DROP TABLE {table}")).unwrap();
            }
            c.pragma_update(None, "user_version", 1).unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).expect("migrate 1 -> 4");
        let version: i64 = conn(&store)
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
        assert_eq!(schema::SCHEMA_VERSION, 4);
        assert!(RequestStore::get(&store, &id).await.unwrap().is_some());
        assert!(
            store.items().await.unwrap().is_empty(),
            "the new tables exist"
        );
        let (w, _) = receipt(&warehouse(), &[("BERAS", 1, None)], at(1));
        store.apply(w).await.expect("receipt_refs exists too");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_version_2_store_with_stock_opens_and_then_receives_each_delivery_note_once() {
        use basoka_conformance::fixtures::receipt_of;
        let dir = tempfile::tempdir().unwrap();
        let ids = {
            // A store as version 2 left it: stock received, no `receipt_refs` table.
            let store = EmbeddedStore::open(dir.path()).unwrap();
            let (w, ids) = receipt_of(&warehouse(), "DO-LAMA-1", &[("BERAS", 40, None)], at(0));
            store.apply(w).await.unwrap();
            let c = conn(&store);
            c.execute_batch("DROP TABLE receipt_refs; DROP TABLE low_stock_marks")
                .unwrap();
            c.pragma_update(None, "user_version", 2).unwrap();
            ids
        };
        let store = EmbeddedStore::open(dir.path()).expect("migrate 2 -> 4");
        let version: i64 = conn(&store)
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
        let lots = store.lots(&warehouse(), None).await.unwrap();
        assert_eq!(
            (lots.len(), lots[0].lot_id.as_str(), lots[0].on_hand),
            (1, ids[0].as_str(), 40),
            "the stock is kept"
        );
        let (w, _) = receipt_of(&warehouse(), "DO-BARU-1", &[("BERAS", 5, None)], at(1));
        store.apply(w).await.unwrap();
        let (w, _) = receipt_of(&warehouse(), "do-baru-1", &[("BERAS", 5, None)], at(2));
        assert_eq!(
            store.apply(w).await,
            Err(StoreError::ReceiptReferenceTaken {
                received_at: Some(at(1))
            }),
            "from now on a delivery note is received once"
        );
        drop(store);
        // Opening again migrates nothing more.
        let store = EmbeddedStore::open(dir.path()).expect("reopen");
        assert_eq!(store.lots(&warehouse(), None).await.unwrap().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn contacts_round_trip_and_a_damaged_phone_is_an_error_without_the_number() {
        use shared::notify::Directory;
        let (_dir, store) = open();
        let phone = shared::Phone::parse("081234567890").unwrap();
        store
            .put_contact("surveyor-1", "Tim Survei", "surveyor", &phone)
            .await
            .unwrap();
        assert_eq!(store.phone_of("surveyor-1").await.unwrap(), Some(phone));
        conn(&store)
            .execute("UPDATE contacts SET phone = '0211234567'", [])
            .unwrap();
        let err = store.phone_of("surveyor-1").await.unwrap_err();
        assert!(!format!("{err:?}").contains("1234567"), "{err:?}");
    }
}
