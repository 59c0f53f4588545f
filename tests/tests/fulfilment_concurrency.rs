//! 200 approvals at the same moment against stock for exactly 100 packages: exactly 100
//! requests are allocated and 100 waitlisted, stock never goes below zero nor is promised
//! twice, and the ledger still adds up to the stock on hand. Stock received later goes to the
//! waitlist `darurat` first, then by oldest approval — exactly as many requests as the
//! receipt makes packages.

use std::sync::Arc;
use std::time::Duration;

use basoka_tests::fulfil::*;
use basoka_tests::*;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const REQUESTS: usize = 200;
const STOCKED: i64 = 100;
/// Requests prepared at the same time (the preparation is not what is tested).
const PREPARE_PARALLEL: usize = 16;
/// How long the allocate-stock consumer may take for all 200 approvals.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Every 4th request is `darurat`, the others `biasa`; half in each of two kelurahan.
fn body_for(i: usize) -> (Value, &'static str) {
    let kel = if i.is_multiple_of(2) { KEL_A } else { KEL_B };
    let mut body = submit_body(kel);
    body["urgency"] = json!(if i.is_multiple_of(4) {
        "darurat"
    } else {
        "biasa"
    });
    (body, kel)
}

fn decided_at(r: &Value) -> (String, u32) {
    utc_key(&r["decision"]["decided_at"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_approvals_for_a_hundred_packages_allocate_exactly_a_hundred() {
    let s = Arc::new(Server::start_with(
        ServeOptions::new().args(&["--no-opening-stock"]),
    ));
    let dinas = s.dinas_token();
    let gudang = s.gudang_token();
    let surveyor = s.surveyor_token("surveyor-1");
    let kel_a = s.kelurahan_token(KEL_A);
    let kel_b = s.kelurahan_token(KEL_B);
    let lines = package_lines(&s, &gudang, PACKAGE).await;

    // Stock for exactly 100 packages.
    receive_packages(&s, &gudang, "SJ-SERATUS-PAKET", &lines, STOCKED).await;
    let stocked = stock(&s, &gudang).await;
    for (sku, q) in &lines {
        assert_eq!(level(&stocked, sku), (q * STOCKED, 0, q * STOCKED), "{sku}");
    }

    // 200 requests of 200 households, each `surveyed`.
    let gate = Arc::new(Semaphore::new(PREPARE_PARALLEL));
    let mut prep = JoinSet::new();
    for i in 0..REQUESTS {
        let (s, gate) = (s.clone(), gate.clone());
        let (body, kel) = body_for(i);
        let kel_token = if kel == KEL_A {
            kel_a.clone()
        } else {
            kel_b.clone()
        };
        let (dinas, surveyor) = (dinas.clone(), surveyor.clone());
        prep.spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore");
            let v = to_surveyed(&s, &kel_token, &dinas, &surveyor, "surveyor-1", &body).await;
            (
                id_of(&v),
                body["urgency"].as_str().expect("urgency").to_string(),
            )
        });
    }
    let mut urgency = std::collections::BTreeMap::new();
    while let Some(done) = prep.join_next().await {
        let (id, u) = done.expect("preparing a request panicked");
        urgency.insert(id, u);
    }
    assert_eq!(urgency.len(), REQUESTS);

    // All 200 approvals at once.
    let start = Arc::new(tokio::sync::Barrier::new(REQUESTS));
    let mut approvals = JoinSet::new();
    for id in urgency.keys().cloned() {
        let (s, dinas, start) = (s.clone(), dinas.clone(), start.clone());
        approvals.spawn(async move {
            start.wait().await;
            let (st, v) = s
                .post(
                    &format!("/v1/requests/{id}/decision"),
                    &dinas,
                    &approve_with(1, "kelurahan"),
                )
                .await;
            (id, st, v)
        });
    }
    while let Some(done) = approvals.join_next().await {
        let (id, st, v) = done.expect("an approval task panicked");
        assert_eq!(st, 200, "approve {id}: {v}");
        assert_eq!(v["status"], "approved", "{v}");
    }

    // Eventually: exactly 100 allocated, 100 waitlisted, none left `approved`.
    let settled = wait_counts(
        &s,
        &dinas,
        &["allocated", "waitlisted"],
        REQUESTS,
        SETTLE_TIMEOUT,
    )
    .await;
    assert_eq!(settled["allocated"].len(), STOCKED as usize, "allocated");
    assert_eq!(
        settled["waitlisted"].len(),
        REQUESTS - STOCKED as usize,
        "waitlisted"
    );
    assert!(
        s.list_all(&dinas, "status=approved&limit=100")
            .await
            .is_empty(),
        "no request may stay `approved`"
    );
    let full = stock(&s, &gudang).await;
    for (sku, q) in &lines {
        assert_eq!(
            level(&full, sku),
            (q * STOCKED, q * STOCKED, 0),
            "{sku}: on hand unchanged, allocated = 100 × {q}, available 0"
        );
    }
    assert_ledger_matches_stock(&s, &gudang).await;
    assert_eq!(
        shipments(&s, &gudang, Some("ready")).await.len(),
        STOCKED as usize,
        "one ready shipment per allocated request"
    );

    // The waitlist, as it stands: darurat and biasa, each with its approval time.
    let mut waiting: Vec<Value> = Vec::new();
    for r in &settled["waitlisted"] {
        let (st, v) = s.get(&format!("/v1/requests/{}", id_of(r)), &dinas).await;
        assert_eq!(st, 200, "{v}");
        waiting.push(v);
    }
    let darurat: Vec<&Value> = waiting
        .iter()
        .filter(|r| r["urgency"] == "darurat")
        .collect();
    let mut biasa: Vec<&Value> = waiting.iter().filter(|r| r["urgency"] == "biasa").collect();
    biasa.sort_by_key(|r| decided_at(r));
    // Enough for every waitlisted darurat request and the 5 oldest-approved biasa ones.
    let extra_biasa = biasa.len().min(5);
    let more = darurat.len() + extra_biasa;
    assert!(
        more > 0 && more < waiting.len(),
        "the check needs both served and unserved requests: {} darurat, {} biasa waiting",
        darurat.len(),
        biasa.len()
    );

    receive_packages(&s, &gudang, "SJ-TAMBAHAN", &lines, more as i64).await;
    let after = wait_counts(
        &s,
        &dinas,
        &["allocated"],
        STOCKED as usize + more,
        SETTLE_TIMEOUT,
    )
    .await;
    let allocated_now: std::collections::BTreeSet<String> =
        after["allocated"].iter().map(id_of).collect();
    for r in &darurat {
        assert!(
            allocated_now.contains(&id_of(r)),
            "waitlisted darurat request {} must be served first",
            id_of(r)
        );
    }
    let served: Vec<&&Value> = biasa
        .iter()
        .filter(|r| allocated_now.contains(&id_of(r)))
        .collect();
    let unserved: Vec<&&Value> = biasa
        .iter()
        .filter(|r| !allocated_now.contains(&id_of(r)))
        .collect();
    assert_eq!(
        served.len(),
        extra_biasa,
        "exactly {extra_biasa} biasa served"
    );
    if let (Some(last_served), Some(first_waiting)) = (
        served.iter().map(|r| decided_at(r)).max(),
        unserved.iter().map(|r| decided_at(r)).min(),
    ) {
        assert!(
            last_served <= first_waiting,
            "biasa requests are served oldest approval first: served up to {last_served:?}, but one approved at {first_waiting:?} still waits"
        );
    }
    // Nothing more than the new stock allows, and nothing promised twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waitlisted_now = s.list_all(&dinas, "status=waitlisted&limit=100").await;
    assert_eq!(waitlisted_now.len(), waiting.len() - more);
    let end = stock(&s, &gudang).await;
    let total = STOCKED + more as i64;
    for (sku, q) in &lines {
        assert_eq!(level(&end, sku), (q * total, q * total, 0), "{sku}");
    }
    assert_ledger_matches_stock(&s, &gudang).await;
}
