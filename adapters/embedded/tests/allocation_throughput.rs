//! How many allocations per second [`StockStore::apply`] sustains on this machine: 1000
//! requests, each approved, each allocating 1 unit of the one lot that holds 500, all sent at
//! once. Exactly 500 must be written; the rate is printed, not asserted (it depends on the
//! machine and on what else runs on it).
//!
//! ```text
//! cargo test --release -p basoka-embedded --test allocation_throughput -- --ignored --nocapture
//! ```
//!
//! Each allocation is the whole write `allocate` makes: the ledger entry and lot change, the
//! allocation, the shipment, the request transition with its history row, and the event.

use std::sync::Arc;
use std::time::Instant;

use basoka_conformance::Ports;
use basoka_conformance::fixtures::{allocation_write, approved, at, receipt, take, warehouse};
use basoka_embedded::EmbeddedStore;
use shared::fulfilment_ports::StockStore;
use shared::ports::StoreError;

const REQUESTS: u16 = 1000;
const STOCK: i64 = 500;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
async fn allocations_per_second() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    let ports = Ports::of(store.clone());

    let prepare = Instant::now();
    let tasks: Vec<_> = (1..=REQUESTS)
        .map(|serial| {
            let ports = ports.clone();
            tokio::spawn(async move { approved(&ports, serial, at(i64::from(serial))).await })
        })
        .collect();
    let mut requests = Vec::new();
    for t in tasks {
        requests.push(t.await.expect("prepare"));
    }
    let (write, ids) = receipt(&warehouse(), &[("BERAS", STOCK, None)], at(5000));
    store.apply(write).await.expect("receipt");
    let writes: Vec<_> = requests
        .iter_mut()
        .map(|r| allocation_write(r, &[take(&ids[0], "BERAS", 1)], at(6000)).0)
        .collect();
    println!(
        "prepared {REQUESTS} approved requests ({} writes) in {:.2?}",
        u32::from(REQUESTS) * 4,
        prepare.elapsed()
    );

    let barrier = Arc::new(tokio::sync::Barrier::new(writes.len() + 1));
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|write| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                store.apply(write).await
            })
        })
        .collect();
    barrier.wait().await;
    let start = Instant::now();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("allocation task"));
    }
    let elapsed = start.elapsed();

    let ok = results.iter().filter(|r| r.is_ok()).count();
    let short = results
        .iter()
        .filter(|r| **r == Err(StoreError::InsufficientStock))
        .count();
    assert_eq!((ok, short), (500, 500), "exactly the stock is allocated");
    let lot = &store.lots(&warehouse(), None).await.expect("lots")[0];
    assert_eq!((lot.on_hand, lot.allocated), (500, 500));
    let secs = elapsed.as_secs_f64();
    println!(
        "{REQUESTS} concurrent allocations against stock for {STOCK}: {ok} written, {short} \
         refused, in {elapsed:.2?}: {:.0} allocations/s attempted, {:.0}/s written",
        f64::from(REQUESTS) / secs,
        ok as f64 / secs
    );
}
