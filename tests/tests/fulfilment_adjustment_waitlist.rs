//! Stock that becomes available through an adjustment (found in a count, returned, donated)
//! serves the waitlist exactly as a receipt does: `darurat` first, then the oldest approval,
//! as many requests as the stock makes packages, and only whole packages.

use basoka_tests::fulfil::*;
use basoka_tests::*;

/// Takes a fresh request of `urgency` to `approved` for one package; returns its id.
async fn approved_request(s: &Server, c: &Cast, urgency: &str) -> String {
    let mut body = submit_body(KEL_A);
    body["urgency"] = json!(urgency);
    let v = to_surveyed(s, &c.kel, &c.dinas, &c.surveyor, Cast::SURVEYOR, &body).await;
    let id = id_of(&v);
    approve(s, &c.dinas, &id, &approve_with(1, "kelurahan")).await;
    id
}

async fn adjust(s: &Server, token: &str, sku: &str, delta: i64) {
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(token),
            &json!({"warehouse": WAREHOUSE, "sku": sku, "delta": delta,
                    "reason": "Stok opname: ditemukan di rak belakang."}),
        )
        .await;
    assert_eq!(r.status, 200, "adjust {sku} by {delta}: {}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_positive_adjustment_serves_the_waitlist_darurat_first_then_oldest_approval() {
    let s = Server::start_with(ServeOptions::new().args(&["--no-opening-stock"]));
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;

    // Nothing in stock: an older `biasa` and a newer `darurat` request wait.
    let biasa = approved_request(&s, &c, "biasa").await;
    wait_status(&s, &c.dinas, &biasa, &["waitlisted"], AUTO_TIMEOUT).await;
    let darurat = approved_request(&s, &c, "darurat").await;
    wait_status(&s, &c.dinas, &darurat, &["waitlisted"], AUTO_TIMEOUT).await;

    // One package's worth comes in by adjustments, item by item (each one an event for
    // allocate-stock; until the last, no package is complete).
    for (sku, q) in &lines {
        adjust(&s, &c.gudang, sku, *q).await;
    }
    wait_status(&s, &c.dinas, &darurat, &["allocated"], AUTO_TIMEOUT).await;
    let (_, v) = s.get(&format!("/v1/requests/{biasa}"), &c.dinas).await;
    assert_eq!(
        v["status"], "waitlisted",
        "one package's worth serves one request, darurat first: {v}"
    );
    for sku in lines.keys() {
        assert_eq!(
            level(&stock(&s, &c.gudang).await, sku).2,
            0,
            "{sku} all allocated"
        );
    }

    // A second package's worth serves the older request.
    for (sku, q) in &lines {
        adjust(&s, &c.gudang, sku, *q).await;
    }
    wait_status(&s, &c.dinas, &biasa, &["allocated"], AUTO_TIMEOUT).await;
    assert_ledger_matches_stock(&s, &c.gudang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adjustment_allocates_a_waiting_request_only_once_its_whole_package_is_there() {
    let s = Server::start_with(ServeOptions::new().args(&["--no-opening-stock"]));
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    // Enough of everything but BERAS, then BERAS short by 1.
    receive_packages(&s, &c.gudang, "SJ-HAMPIR", &lines, 1).await;
    adjust(&s, &c.gudang, "BERAS", -1).await;
    let id = approved_request(&s, &c, "darurat").await;
    wait_status(&s, &c.dinas, &id, &["waitlisted"], AUTO_TIMEOUT).await;
    // A write-off of noodles, then the kilo of rice found again: the noodles are now short,
    // so the request keeps waiting; the noodles found again complete the package.
    adjust(&s, &c.gudang, "MIE-INSTAN", -1).await;
    adjust(&s, &c.gudang, "BERAS", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &c.dinas).await;
    assert_eq!(v["status"], "waitlisted", "{v}");
    adjust(&s, &c.gudang, "MIE-INSTAN", 1).await;
    wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;
    assert_ledger_matches_stock(&s, &c.gudang).await;
}
