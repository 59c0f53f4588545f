//! The store conformance suite ([`basoka_conformance`]) against [`EmbeddedStore`], one test
//! per case, each on a fresh database in its own temporary folder; plus what only a store on
//! disk promises: the data is still there after the store is closed and opened again.

use basoka_conformance::Ports;
use basoka_conformance::fixtures::{
    KELURAHAN_A, TO_DELIVERED, at, drive, idempotency, kk, nik, registry_row, submission,
};
use std::sync::Arc;

use basoka_embedded::{EmbeddedStore, FileSms};
use shared::Status;
use shared::ports::{ImportCounts, ListQuery, StoreError};
use tempfile::TempDir;

async fn fresh() -> (TempDir, Ports) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = EmbeddedStore::open(dir.path()).expect("open a fresh store");
    let sms = FileSms::new(dir.path().join("sms-outbox.jsonl"));
    let reader = sms.clone();
    let ports = ports(store).with_sms(Arc::new(sms), move |to| {
        let reader = reader.clone();
        async move { reader.sent_to(&to) }
    });
    (dir, ports)
}

/// Every port, and the store's own contact writer for the directory case.
fn ports(store: EmbeddedStore) -> Ports {
    let contacts = store.clone();
    Ports::of(store).with_contacts(move |c| {
        let store = contacts.clone();
        async move { store.put_contact(&c.sub, &c.name, &c.role, &c.phone).await }
    })
}

basoka_conformance::conformance_tests!(fresh);

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let data = dir.path().join("data"); // open creates the folder

    let store = EmbeddedStore::open(&data).expect("first open");
    let p = Ports::of(store.clone());
    let mut first = submission(1, KELURAHAN_A, at(0));
    let key = idempotency("kelurahan-1:key-1", "fp-1", at(0));
    first.idempotency = Some(key.clone());
    let mut a = first.request.clone();
    p.requests.insert(first).await.expect("insert");
    drive(&p, &mut a, &TO_DELIVERED, at(10)).await;
    let b_new = submission(2, KELURAHAN_A, at(20));
    let b = b_new.request.clone();
    p.requests.insert(b_new).await.expect("insert");
    let rows = vec![registry_row(1, "Siti Aminah", KELURAHAN_A, 1)];
    p.registry.upsert(&rows).await.expect("registry");
    let events = p.outbox.pending("notify", 100).await.expect("pending");
    p.outbox
        .ack("notify", events[2].position)
        .await
        .expect("ack");
    store.kv_set("seeded", "2026-03-01").await.expect("kv_set");
    let first_page = p.requests.list(&newest(1)).await.expect("list");
    assert_eq!(first_page.items, vec![b.clone()]);
    let cursor = first_page.next_cursor.expect("a second page follows");
    drop(p);
    drop(store);

    let store = EmbeddedStore::open(&data).expect("second open");
    let p = Ports::of(store.clone());
    assert_eq!(p.requests.get(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(a.status, Status::Delivered);
    assert_eq!(p.requests.history(&a.id).await.unwrap().len(), 7);
    assert_eq!(
        p.requests.last_delivery(&nik(1), &kk(1)).await.unwrap(),
        Some(a.updated_at)
    );
    assert_eq!(
        p.requests.active_for(&nik(2), &kk(2)).await.unwrap(),
        Some(b.id.clone()),
        "the household guard survives"
    );
    assert_eq!(
        p.requests.insert(submission(2, KELURAHAN_A, at(30))).await,
        Err(StoreError::DuplicateActive(b.id.clone()))
    );
    assert_eq!(p.idempotency.get(&key.key).await.unwrap(), Some(key));
    assert_eq!(
        p.registry.lookup(&nik(1)).await.unwrap(),
        Some(rows[0].clone())
    );
    assert_eq!(
        p.registry.upsert(&rows).await.unwrap(),
        ImportCounts {
            unchanged: 1,
            ..ImportCounts::default()
        }
    );
    assert_eq!(
        p.outbox.pending("notify", 100).await.unwrap(),
        events[3..],
        "the consumer offset survives"
    );
    assert_eq!(
        store.kv_get("seeded").await.unwrap().as_deref(),
        Some("2026-03-01")
    );
    // A cursor handed out before the restart still works after it.
    let rest = p
        .requests
        .list(&ListQuery {
            cursor: Some(cursor),
            ..newest(10)
        })
        .await
        .unwrap();
    assert_eq!(rest.items, vec![a]);
    assert_eq!(rest.next_cursor, None);
}

fn newest(limit: u32) -> ListQuery {
    ListQuery {
        kelurahan: None,
        status: None,
        created_from: None,
        created_before: None,
        limit,
        cursor: None,
    }
}
