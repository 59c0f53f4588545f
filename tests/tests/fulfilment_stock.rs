//! Warehouse stock as the warehouse and the Dinas see it through `GET /v1/stock` and
//! `GET /v1/stock/ledger`: the opening stock of a first run, what an allocation sets aside
//! and a dispatch takes out, what a cancellation gives back, adjustments that can never take
//! stock below zero, receipts checked line by line, received once per `Idempotency-Key` and a
//! delivery note once per warehouse, and allocation from the lot that expires first (FEFO). The ledger always adds up to the
//! stock levels.

use std::collections::BTreeMap;

use basoka_tests::fulfil::*;
use basoka_tests::*;

/// Approves a fresh request for `packages` packages and waits until it is allocated.
async fn allocated_request(s: &Server, c: &Cast, packages: u32) -> Value {
    let v = to_surveyed(
        s,
        &c.kel,
        &c.dinas,
        &c.surveyor,
        Cast::SURVEYOR,
        &submit_body(KEL_A),
    )
    .await;
    let id = id_of(&v);
    approve(s, &c.dinas, &id, &approve_with(packages, "kelurahan")).await;
    wait_status(s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocation_sets_stock_aside_dispatch_takes_it_out_and_the_ledger_adds_up() {
    let s = Server::start();
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    assert_eq!(
        lines.len(),
        SEED_SKUS.len(),
        "{PACKAGE} has the 7 seeded items: {lines:?}"
    );
    assert_eq!(lines["BERAS"], 10, "beras 10 kg per package");

    // The first run received 50 packages' worth; nothing allocated yet.
    let before = stock(&s, &c.gudang).await;
    for (sku, q) in &lines {
        let (on_hand, allocated, available) = level(&before, sku);
        assert_eq!(on_hand, q * OPENING_PACKAGES as i64, "{sku} opening stock");
        assert_eq!(allocated, 0, "{sku}");
        assert_eq!(available, on_hand, "{sku}");
    }
    assert_ledger_matches_stock(&s, &c.gudang).await;
    // The Dinas sees the same figures.
    assert_eq!(stock(&s, &c.dinas).await, before);

    // Allocation of 2 packages: allocated rises by the package lines × 2, available falls,
    // on hand stays.
    let req = allocated_request(&s, &c, 2).await;
    let id = id_of(&req);
    let after_alloc = stock(&s, &c.gudang).await;
    for (sku, q) in &lines {
        let (on0, al0, av0) = level(&before, sku);
        let (on1, al1, av1) = level(&after_alloc, sku);
        assert_eq!(on1, on0, "{sku}: allocating does not move stock out");
        assert_eq!(al1, al0 + 2 * q, "{sku}: allocated rises by 2 packages");
        assert_eq!(av1, av0 - 2 * q, "{sku}: available falls by 2 packages");
    }
    let beras = ledger(&s, &c.gudang, "BERAS").await;
    let alloc = movements(&beras, "allocation", Some(&id));
    assert_eq!(
        ledger_sum(
            &alloc.into_iter().cloned().collect::<Vec<_>>(),
            "delta_allocated"
        ),
        20,
        "the BERAS allocation entries of {id}: {beras:?}"
    );
    assert_ledger_matches_stock(&s, &c.gudang).await;

    // Dispatch: on hand and allocated both fall; available stays.
    let shipment = wait_shipment(&s, &c.gudang, "ready", &id).await;
    let r = dispatch(&s, &c.gudang, shipment["id"].as_str().expect("id")).await;
    assert_eq!(r.status, 200, "dispatch: {}", r.text);
    let after_dispatch = stock(&s, &c.gudang).await;
    for (sku, q) in &lines {
        let (on1, al1, av1) = level(&after_alloc, sku);
        let (on2, al2, av2) = level(&after_dispatch, sku);
        assert_eq!(on2, on1 - 2 * q, "{sku}: on hand falls by what left");
        assert_eq!(al2, al1 - 2 * q, "{sku}: allocated falls by what left");
        assert_eq!(av2, av1, "{sku}: available does not change on dispatch");
    }
    let beras = ledger(&s, &c.gudang, "BERAS").await;
    let out: Vec<Value> = movements(&beras, "dispatch", None)
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(ledger_sum(&out, "delta_on_hand"), -20, "{beras:?}");
    assert_eq!(ledger_sum(&out, "delta_allocated"), -20, "{beras:?}");
    assert_eq!(
        ledger_sum(&beras, "delta_on_hand"),
        level(&after_dispatch, "BERAS").0,
        "GET /v1/stock/ledger?sku=BERAS sums to on hand"
    );
    assert_ledger_matches_stock(&s, &c.gudang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_allocated_request_releases_its_stock_and_cancels_the_shipment() {
    let s = Server::start();
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    let before = stock(&s, &c.gudang).await;
    let req = allocated_request(&s, &c, 1).await;
    let id = id_of(&req);
    let shipment = wait_shipment(&s, &c.gudang, "ready", &id).await;
    assert_eq!(
        level(&stock(&s, &c.gudang).await, "BERAS").2,
        level(&before, "BERAS").2 - lines["BERAS"]
    );

    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/cancel"),
            &c.dinas,
            &json!({"reason": "Keluarga pindah ke luar kota."}),
        )
        .await;
    assert_eq!(st, 200, "cancel: {v}");
    assert_eq!(v["status"], "cancelled");

    // The release happens on the cancellation event: the shipment is cancelled, the ledger
    // has `release` entries for the request, and available is back where it was.
    let cancelled = wait_shipment(&s, &c.gudang, "cancelled", &id).await;
    assert_eq!(cancelled["id"], shipment["id"]);
    assert!(
        shipments_of(&s, &c.gudang, Some("ready"), &id)
            .await
            .is_empty()
    );
    let beras = ledger(&s, &c.gudang, "BERAS").await;
    let release: Vec<Value> = movements(&beras, "release", Some(&id))
        .into_iter()
        .cloned()
        .collect();
    assert!(
        !release.is_empty(),
        "a `release` ledger entry for {id}: {beras:?}"
    );
    assert_eq!(ledger_sum(&release, "delta_allocated"), -lines["BERAS"]);
    assert_eq!(ledger_sum(&release, "delta_on_hand"), 0);
    let after = stock(&s, &c.gudang).await;
    for sku in lines.keys() {
        assert_eq!(
            level(&after, sku),
            level(&before, sku),
            "{sku} back as before"
        );
    }
    assert_ledger_matches_stock(&s, &c.gudang).await;
    // A cancelled shipment cannot be dispatched.
    dispatch(&s, &c.gudang, shipment["id"].as_str().expect("id"))
        .await
        .problem(409, "INVALID_TRANSITION");
}

#[tokio::test]
async fn an_adjustment_never_takes_stock_below_zero_writes_nothing_when_refused_and_needs_a_reason()
{
    let s = Server::start();
    let gudang = s.gudang_token();
    let stock0 = stock(&s, &gudang).await;
    let ledger0 = ledger(&s, &gudang, "BERAS").await;
    let (on_hand, _, available) = level(&stock0, "BERAS");
    assert_eq!(available, 500, "opening stock: 50 packages × 10 kg");

    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&gudang),
            &json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": -100000, "reason": "Stok opname: beras rusak kena banjir."}),
        )
        .await;
    let p = r.problem(409, "INSUFFICIENT_STOCK");
    match p.get("available") {
        Some(a) => assert_eq!(a, available, "`available` in {}", r.text),
        None => assert!(
            p["detail"]
                .as_str()
                .unwrap_or("")
                .contains(&available.to_string()),
            "the problem should tell the {available} kg available (field `available` or the detail): {}",
            r.text
        ),
    }
    assert_eq!(
        stock(&s, &gudang).await,
        stock0,
        "a refused adjustment changes no stock"
    );
    assert_eq!(
        ledger(&s, &gudang, "BERAS").await,
        ledger0,
        "a refused adjustment writes no ledger entry"
    );

    // No reason: 400 naming `reason`, nothing written.
    for body in [
        json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": -5}),
        json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": -5, "reason": "  "}),
    ] {
        let r = s
            .post_resp("/v1/stock/adjustments", Some(&gudang), &body)
            .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(r.error_fields(), vec!["reason".to_string()], "{}", r.text);
    }
    assert_eq!(stock(&s, &gudang).await, stock0);

    // A correction within stock is taken, with its reason, and the ledger adds up.
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&gudang),
            &json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": -3, "reason": "Karung sobek."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = stock(&s, &gudang).await;
    assert_eq!(level(&after, "BERAS").0, on_hand - 3);
    let entries = ledger(&s, &gudang, "BERAS").await;
    let adj = movements(&entries, "adjustment", None);
    assert_eq!(adj.len(), 1, "{entries:?}");
    assert_eq!(adj[0]["delta_on_hand"], -3);
    assert_eq!(adj[0]["reason"], "Karung sobek.");
    assert_ledger_matches_stock(&s, &gudang).await;
}

/// A stock correction sent again by a client that lost the answer (same `Idempotency-Key`,
/// same body) is answered again and applied once; the same key with another body is 422 and
/// changes nothing; keys are each user's own.
#[tokio::test]
async fn an_adjustment_retried_with_its_key_is_applied_once() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let dinas = s.dinas_token();
    let (on_hand0, _, _) = level(&stock(&s, &gudang).await, "BERAS");
    let body =
        json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": -4, "reason": "Karung sobek."});
    let send = |token: &str, key: &str, body: &Value| {
        s.send(
            s.client()
                .post(s.url("/v1/stock/adjustments"))
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(body),
        )
    };

    let first = send(&gudang, "opname-2026-12-04-1", &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["sku"], "BERAS", "{}", first.text);
    assert_eq!(num(&first.json, "on_hand"), on_hand0 - 4, "{}", first.text);
    let again = send(&gudang, "opname-2026-12-04-1", &body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json, first.json, "the replay is the first answer");
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        level(&stock(&s, &gudang).await, "BERAS").0,
        on_hand0 - 4,
        "applied once"
    );
    let entries = ledger(&s, &gudang, "BERAS").await;
    assert_eq!(
        movements(&entries, "adjustment", None).len(),
        1,
        "{entries:?}"
    );

    let mut other = body.clone();
    other["delta"] = json!(-40);
    send(&gudang, "opname-2026-12-04-1", &other)
        .await
        .problem(422, "IDEMPOTENCY_KEY_REUSED");
    // Another user's same key is another correction.
    let theirs = send(&dinas, "opname-2026-12-04-1", &body).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(level(&stock(&s, &gudang).await, "BERAS").0, on_hand0 - 8);
    assert_ledger_matches_stock(&s, &gudang).await;
}

#[tokio::test]
async fn receipt_lines_are_checked_all_at_once_and_a_bad_receipt_receives_nothing() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let stock0 = stock(&s, &gudang).await;

    let r = receive(
        &s,
        &gudang,
        None,
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-001", "lines": [
            {"sku": "BERAS", "quantity": 0},
            {"sku": "BERAS", "quantity": -3},
            {"sku": "BERAS", "quantity": 2.5},
        ]}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    let fields = r.error_fields();
    for f in [
        "lines[0].quantity",
        "lines[1].quantity",
        "lines[2].quantity",
    ] {
        assert!(
            fields.iter().any(|x| x == f),
            "`{f}` missing in {fields:?}: {}",
            r.text
        );
    }

    let r = receive(
        &s,
        &gudang,
        None,
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-002", "lines": [
            {"sku": "BERAS", "quantity": 5},
            {"sku": "GULA-PASIR", "quantity": 5},
        ]}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_fields(),
        vec!["lines[1].sku".to_string()],
        "{}",
        r.text
    );

    // Stock that has already expired cannot be received.
    let r = receive(
        &s,
        &gudang,
        None,
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-003", "lines": [
            {"sku": "BERAS", "quantity": 5, "expires_on": "2020-01-31"},
        ]}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_fields(),
        vec!["lines[0].expires_on".to_string()],
        "{}",
        r.text
    );

    assert_eq!(
        stock(&s, &gudang).await,
        stock0,
        "refused receipts receive nothing"
    );
    assert_ledger_matches_stock(&s, &gudang).await;
}

#[tokio::test]
async fn a_receipt_is_received_once_per_idempotency_key_and_lines_of_one_item_add_up() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let stock0 = stock(&s, &gudang).await;
    let body = json!({"warehouse": WAREHOUSE, "reference": "SJ-2026-0117", "lines": [
        {"sku": "MIE-INSTAN", "quantity": 7, "expires_on": "2099-06-30"},
        {"sku": "MIE-INSTAN", "quantity": 5, "expires_on": "2099-06-30"},
        {"sku": "BISKUIT", "quantity": 4},
    ]});

    let first = receive(&s, &gudang, Some("terima-sj-0117"), &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let stock1 = stock(&s, &gudang).await;
    assert_eq!(
        level(&stock1, "MIE-INSTAN").0,
        level(&stock0, "MIE-INSTAN").0 + 12,
        "two lines of one item add up"
    );
    assert_eq!(level(&stock1, "BISKUIT").0, level(&stock0, "BISKUIT").0 + 4);

    // The same key and body: the first answer again, nothing received twice.
    let replay = receive(&s, &gudang, Some("terima-sj-0117"), &body).await;
    assert_eq!(replay.status, 201, "{}", replay.text);
    assert_eq!(replay.json, first.json, "the replay is the first answer");
    assert_eq!(
        stock(&s, &gudang).await,
        stock1,
        "a replay receives nothing"
    );
    let mie = ledger(&s, &gudang, "MIE-INSTAN").await;
    let receipts: Vec<Value> = movements(&mie, "receipt", Some("SJ-2026-0117"))
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        ledger_sum(&receipts, "delta_on_hand"),
        12,
        "one receipt's worth in the ledger: {mie:?}"
    );

    // The same key with another body is refused.
    let mut other = body.clone();
    other["lines"][2]["quantity"] = json!(40);
    receive(&s, &gudang, Some("terima-sj-0117"), &other)
        .await
        .problem(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(stock(&s, &gudang).await, stock1);
    assert_ledger_matches_stock(&s, &gudang).await;
}

/// `POST /v1/stock/receipts` with `Accept-Language: en`.
async fn receive_en(s: &Server, token: &str, key: Option<&str>, body: &Value) -> Resp {
    let mut req = s
        .client()
        .post(s.url("/v1/stock/receipts"))
        .bearer_auth(token)
        .header("Accept-Language", "en")
        .json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    s.send(req).await
}

#[tokio::test]
async fn a_delivery_note_is_received_once_per_warehouse_whatever_the_key() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let stock0 = stock(&s, &gudang).await;
    let body = json!({"warehouse": WAREHOUSE, "reference": "DO-2026-12-0042", "lines": [
        {"sku": "BERAS", "quantity": 500, "expires_on": "2099-12-01"},
        {"sku": "MIE-INSTAN", "quantity": 500, "expires_on": "2099-06-01"},
    ]});
    let first = receive(&s, &gudang, Some("DO-2026-12-0042"), &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let stock1 = stock(&s, &gudang).await;
    assert_eq!(level(&stock1, "BERAS").0, level(&stock0, "BERAS").0 + 500);
    let beras1 = ledger(&s, &gudang, "BERAS").await;

    // The same key and body: the first answer again (idempotency comes first).
    let replay = receive(&s, &gudang, Some("DO-2026-12-0042"), &body).await;
    assert_eq!(replay.status, 201, "{}", replay.text);
    assert_eq!(replay.json, first.json, "the replay is the first answer");
    assert_eq!(
        replay
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true"),
        "{:?}",
        replay.headers
    );

    // The same delivery note under a new key, typed another way, or with other lines: 409
    // on `reference`, nothing received.
    let mut typed_again = body.clone();
    typed_again["reference"] = json!("  do-2026-12-0042 ");
    let mut other_lines = body.clone();
    other_lines["lines"] = json!([{"sku": "BISKUIT", "quantity": 3}]);
    for (key, again) in [
        (Some("DO-2026-12-0042-lagi"), &body),
        (Some("kunci-baru"), &typed_again),
        (None, &other_lines),
    ] {
        let r = receive(&s, &gudang, key, again).await;
        let p = r.problem(409, "RECEIPT_REFERENCE_TAKEN");
        assert_eq!(r.error_fields(), ["reference"], "{}", r.text);
        assert_eq!(
            r.error_code("reference").as_deref(),
            Some("RECEIPT_REFERENCE_TAKEN")
        );
        assert_eq!(p["warehouse"], WAREHOUSE, "{}", r.text);
        let detail = p["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(&format!(
                "Surat jalan {} sudah diterima di gudang {WAREHOUSE} pada ",
                again["reference"].as_str().unwrap().trim()
            )) && detail
                .contains(" WIB; periksa nomornya atau catat koreksi lewat penyesuaian stok."),
            "{detail}"
        );
        assert!(r.headers.get("idempotent-replayed").is_none());
    }
    let r = receive_en(&s, &gudang, Some("english"), &body).await;
    let p = r.problem(409, "RECEIPT_REFERENCE_TAKEN");
    assert_eq!(p["title"], "Delivery note already received");
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Delivery note DO-2026-12-0042 was already received at warehouse "),
        "{}",
        r.text
    );
    assert_eq!(stock(&s, &gudang).await, stock1, "nothing received twice");
    assert_eq!(ledger(&s, &gudang, "BERAS").await, beras1);
    // The refused keys stored no answer: with the delivery note fixed, the same key works.
    let mut fixed = body.clone();
    fixed["reference"] = json!("DO-2026-12-0043");
    let r = receive(&s, &gudang, Some("kunci-baru"), &fixed).await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Without a key: the first is received, the second refused.
    let nokey = json!({"warehouse": WAREHOUSE, "reference": "DO-NOKEY", "lines": [
        {"sku": "BERAS", "quantity": 10}
    ]});
    let r = receive(&s, &gudang, None, &nokey).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let stock2 = stock(&s, &gudang).await;
    receive(&s, &gudang, None, &nokey)
        .await
        .problem(409, "RECEIPT_REFERENCE_TAKEN");
    assert_eq!(stock(&s, &gudang).await, stock2);
    assert_eq!(
        level(&stock2, "BERAS").0,
        level(&stock0, "BERAS").0 + 500 + 500 + 10,
        "DO-2026-12-0042, DO-2026-12-0043 and DO-NOKEY, each once"
    );
    assert_ledger_matches_stock(&s, &gudang).await;

    // The API description says so.
    let doc = s.get_resp("/v1/openapi.json", None).await.json;
    let refused = &doc["paths"]["/v1/stock/receipts"]["post"]["responses"]["409"];
    assert!(
        refused["description"]
            .as_str()
            .is_some_and(|d| d.contains("RECEIPT_REFERENCE_TAKEN")),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocation_takes_the_lot_that_expires_first() {
    let s = Server::start_with(ServeOptions::new().args(&["--no-opening-stock"]));
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    let empty = stock(&s, &c.gudang).await;
    for sku in SEED_SKUS {
        assert_eq!(level(&empty, sku), (0, 0, 0), "--no-opening-stock: {sku}");
    }

    // Three lots of every item, one package each, received latest-expiry first so that
    // "oldest lot first" and FEFO differ: late (2095), no date, early (2090).
    let receipt = |reference: &str, expires: Option<&str>| {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(sku, q)| match expires {
                Some(d) => json!({"sku": sku, "quantity": q, "expires_on": d}),
                None => json!({"sku": sku, "quantity": q}),
            })
            .collect();
        json!({"warehouse": WAREHOUSE, "reference": reference, "lines": lines})
    };
    let mut lot_of: BTreeMap<(&str, String), String> = BTreeMap::new();
    for (name, expires) in [
        ("late", Some("2095-01-31")),
        ("nodate", None),
        ("early", Some("2090-06-30")),
    ] {
        let r = receive(
            &s,
            &c.gudang,
            Some(&format!("lot-{name}")),
            &receipt(&format!("SJ-{name}"), expires),
        )
        .await;
        assert_eq!(r.status, 201, "receipt {name}: {}", r.text);
        for l in r.json["lines"].as_array().expect("received lots") {
            lot_of.insert(
                (name, l["sku"].as_str().expect("sku").to_string()),
                l["lot_id"].as_str().expect("lot_id").to_string(),
            );
        }
    }

    // Each allocation takes the earliest-expiring lot still available: early, late, then
    // the lot without a date.
    for (name, expires) in [
        ("early", json!("2090-06-30")),
        ("late", json!("2095-01-31")),
        ("nodate", Value::Null),
    ] {
        let req = allocated_request(&s, &c, 1).await;
        let id = id_of(&req);
        for sku in SEED_SKUS {
            let entries = ledger(&s, &c.gudang, sku).await;
            let taken = movements(&entries, "allocation", Some(&id));
            assert_eq!(taken.len(), 1, "{sku} for {id} from one lot: {taken:?}");
            assert_eq!(
                taken[0]["lot_id"],
                lot_of[&(name, sku.to_string())].as_str(),
                "{sku} should come from the `{name}` lot: {}",
                taken[0]
            );
            assert_eq!(taken[0]["expires_on"], expires, "{sku}: {}", taken[0]);
            assert_eq!(taken[0]["delta_allocated"], lines[sku], "{}", taken[0]);
        }
    }
    let after = stock(&s, &c.gudang).await;
    for sku in SEED_SKUS {
        assert_eq!(level(&after, sku).2, 0, "{sku}: all three lots allocated");
    }
    assert_ledger_matches_stock(&s, &c.gudang).await;
}

/// The ledger is read a page at a time (it grows with every allocation, for years): oldest
/// first, `limit` entries, `next_cursor` until the last page; the pages together are the
/// whole ledger. A cursor of another item, a made-up one and a limit out of range are 400
/// naming the parameter.
#[tokio::test]
async fn the_ledger_is_read_a_page_at_a_time() {
    let s = Server::start();
    let gudang = s.gudang_token();
    for n in 1..=5 {
        let r = s
            .post_resp(
                "/v1/stock/adjustments",
                Some(&gudang),
                &json!({"warehouse": WAREHOUSE, "sku": "KECAP-MANIS", "delta": n,
                        "reason": "Stok opname."}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let all = ledger(&s, &gudang, "KECAP-MANIS").await;
    assert!(all.len() >= 5, "{all:?}");

    let mut paged = Vec::new();
    let mut path = "/v1/stock/ledger?sku=KECAP-MANIS&limit=2".to_string();
    let mut first_cursor = None;
    loop {
        let (st, v) = s.get(&path, &gudang).await;
        assert_eq!(st, 200, "{v}");
        let items = v["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2 && !items.is_empty(), "{v}");
        paged.extend(items);
        match v["next_cursor"].as_str() {
            Some(c) => {
                first_cursor.get_or_insert_with(|| c.to_string());
                path = format!("/v1/stock/ledger?sku=KECAP-MANIS&limit=2&cursor={c}");
            }
            None => break,
        }
    }
    assert_eq!(
        paged, all,
        "the pages together are the whole ledger, in order"
    );
    let ids: Vec<&str> = paged.iter().filter_map(|e| e["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "oldest first");

    let other_item = format!(
        "/v1/stock/ledger?sku=BERAS&cursor={}",
        first_cursor.expect("more than one page")
    );
    for (path, field, code) in [
        (other_item.as_str(), "cursor", "CURSOR_INVALID"),
        (
            "/v1/stock/ledger?sku=KECAP-MANIS&cursor=abc",
            "cursor",
            "CURSOR_INVALID",
        ),
        (
            "/v1/stock/ledger?sku=KECAP-MANIS&limit=0",
            "limit",
            "LIMIT_OUT_OF_RANGE",
        ),
        (
            "/v1/stock/ledger?sku=KECAP-MANIS&limit=101",
            "limit",
            "LIMIT_OUT_OF_RANGE",
        ),
    ] {
        let r = s.get_resp(path, Some(&gudang)).await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(
            r.error_code(field).as_deref(),
            Some(code),
            "{path}: {}",
            r.text
        );
    }
}
