//! Who may do what on the fulfilment side, and what is refused: only the warehouse receives
//! stock and only the warehouse and the Dinas see it; a kelurahan hands over only its own
//! requests (another kelurahan's is 404, so nobody learns it exists) and only after the
//! package was dispatched (409 `INVALID_TRANSITION`); only the Dinas defines packages, and a
//! package it defines is what gets allocated; a decision naming a package that does not exist
//! is 400 on `package_code`; an item a package uses cannot be deleted (409 `ITEM_IN_USE`).

use basoka_tests::fulfil::*;
use basoka_tests::*;

#[tokio::test]
async fn only_the_warehouse_receives_stock_and_only_warehouse_and_dinas_see_it() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let stock0 = stock(&s, &gudang).await;
    let body = json!({"warehouse": WAREHOUSE, "reference": "SJ-KEL", "lines": [
        {"sku": "BERAS", "quantity": 50}
    ]});
    let kel = s.kelurahan_token(KEL_A);
    let surveyor = s.surveyor_token("surveyor-1");
    for (who, token) in [("kelurahan", &kel), ("surveyor", &surveyor)] {
        let r = receive(&s, token, Some(&format!("key-{who}")), &body).await;
        r.problem(403, "FORBIDDEN");
        let r = s.get_resp("/v1/stock", Some(token)).await;
        r.problem(403, "FORBIDDEN");
        let r = s.get_resp("/v1/stock/ledger?sku=BERAS", Some(token)).await;
        r.problem(403, "FORBIDDEN");
        let r = s
            .post_resp(
                "/v1/stock/adjustments",
                Some(token),
                &json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": 5, "reason": "coba"}),
            )
            .await;
        r.problem(403, "FORBIDDEN");
        let r = s.get_resp("/v1/shipments", Some(token)).await;
        r.problem(403, "FORBIDDEN");
    }
    assert_eq!(stock(&s, &gudang).await, stock0, "nothing received");
    // Without a token: 401.
    let r = s.post_resp("/v1/stock/receipts", None, &body).await;
    r.problem(401, "UNAUTHENTICATED");
    // The warehouse itself may.
    let r = receive(&s, &gudang, Some("key-gudang"), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        level(&stock(&s, &gudang).await, "BERAS").0,
        level(&stock0, "BERAS").0 + 50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kelurahan_hands_over_only_its_own_requests_and_only_after_dispatch() {
    let s = Server::start();
    let c = Cast::new(&s);
    let kel_b = s.kelurahan_token(KEL_B);
    let v = to_surveyed(
        &s,
        &c.kel,
        &c.dinas,
        &c.surveyor,
        Cast::SURVEYOR,
        &submit_body(KEL_A),
    )
    .await;
    let id = id_of(&v);
    approve(&s, &c.dinas, &id, &approve_with(1, "kelurahan")).await;
    wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;

    // Before dispatch: 409, the request stays allocated.
    let r = handover(&s, &c.kel, &id, &handover_body()).await;
    assert_eq!(
        r.problem(409, "INVALID_TRANSITION")["current_status"],
        "allocated",
        "{}",
        r.text
    );

    let shipment = wait_shipment(&s, &c.gudang, "ready", &id).await;
    let r = dispatch(&s, &c.gudang, shipment["id"].as_str().expect("id")).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Kelurahan B: 404, as if the request did not exist.
    let r = handover(&s, &kel_b, &id, &handover_body()).await;
    r.problem(404, "NOT_FOUND");
    let r = handover(&s, &kel_b, UNKNOWN_ID, &handover_body()).await;
    r.problem(404, "NOT_FOUND");
    // Other roles may not record a handover at all.
    let r = handover(&s, &c.dinas, &id, &handover_body()).await;
    r.problem(403, "FORBIDDEN");
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &c.dinas).await;
    assert_eq!(
        v["status"], "dispatched",
        "refused handovers change nothing"
    );

    // A handover lists every missing field at once.
    let r = handover(&s, &c.kel, &id, &json!({})).await;
    r.problem(400, "VALIDATION_FAILED");
    let fields = r.error_fields();
    for f in ["received_by", "relation", "received_at"] {
        assert!(fields.iter().any(|x| x == f), "`{f}` missing in {fields:?}");
    }

    // Kelurahan A: delivered; and only once.
    let r = handover(&s, &c.kel, &id, &handover_body()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "delivered");
    let r = handover(&s, &c.kel, &id, &handover_body()).await;
    assert_eq!(
        r.problem(409, "INVALID_TRANSITION")["current_status"],
        "delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_dinas_defines_packages_and_a_defined_package_is_what_gets_allocated() {
    let s = Server::start();
    let c = Cast::new(&s);
    let package = json!({"name": "Paket balita", "lines": [
        {"sku": "BISKUIT", "quantity": 2},
        {"sku": "MIE-INSTAN", "quantity": 5},
    ]});
    let put = |token: String| {
        let s = &s;
        let package = package.clone();
        async move {
            s.send(
                s.client()
                    .put(s.url("/v1/packages/PAKET-BALITA"))
                    .bearer_auth(token)
                    .json(&package),
            )
            .await
        }
    };
    for token in [c.kel.clone(), c.surveyor.clone(), c.gudang.clone()] {
        put(token).await.problem(403, "FORBIDDEN");
    }
    let (_, packages) = s.get("/v1/packages", &c.gudang).await;
    assert!(
        !packages
            .as_array()
            .expect("packages")
            .iter()
            .any(|p| p["code"] == "PAKET-BALITA"),
        "a refused PUT defines nothing: {packages}"
    );
    let r = put(c.dinas.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lines = package_lines(&s, &c.kel, "PAKET-BALITA").await;
    assert_eq!(
        lines.into_iter().collect::<Vec<_>>(),
        vec![("BISKUIT".to_string(), 2), ("MIE-INSTAN".to_string(), 5)]
    );

    // A request approved with it gets exactly its lines.
    let before = stock(&s, &c.gudang).await;
    let v = to_surveyed(
        &s,
        &c.kel,
        &c.dinas,
        &c.surveyor,
        Cast::SURVEYOR,
        &submit_body(KEL_A),
    )
    .await;
    let id = id_of(&v);
    let mut body = approve_with(1, "kelurahan");
    body["package_code"] = json!("PAKET-BALITA");
    approve(&s, &c.dinas, &id, &body).await;
    wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;
    let after = stock(&s, &c.gudang).await;
    for sku in SEED_SKUS {
        let want = match sku {
            "BISKUIT" => 2,
            "MIE-INSTAN" => 5,
            _ => 0,
        };
        assert_eq!(
            level(&after, sku).1 - level(&before, sku).1,
            want,
            "{sku} allocated for PAKET-BALITA"
        );
    }
}

#[tokio::test]
async fn a_decision_naming_an_unknown_package_is_refused_on_package_code() {
    let s = Server::start();
    let c = Cast::new(&s);
    let v = to_surveyed(
        &s,
        &c.kel,
        &c.dinas,
        &c.surveyor,
        Cast::SURVEYOR,
        &submit_body(KEL_A),
    )
    .await;
    let id = id_of(&v);
    let mut body = approve_with(1, "kelurahan");
    body["package_code"] = json!("PAKET-LEBARAN");
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/decision"),
            Some(&c.dinas),
            &body,
        )
        .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_fields(),
        vec!["package_code".to_string()],
        "{}",
        r.text
    );
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &c.dinas).await;
    assert_eq!(
        v["status"], "surveyed",
        "a refused decision changes nothing"
    );
}

#[tokio::test]
async fn an_item_a_package_uses_cannot_be_deleted_but_an_unused_one_can() {
    let s = Server::start();
    let dinas = s.dinas_token();
    let gudang = s.gudang_token();
    for token in [&dinas, &gudang] {
        let r = s
            .send(
                s.client()
                    .delete(s.url("/v1/items/BERAS"))
                    .bearer_auth(token),
            )
            .await;
        r.problem(409, "ITEM_IN_USE");
    }
    let (st, items) = s.get("/v1/items", &gudang).await;
    assert_eq!(st, 200, "{items}");
    assert!(
        items
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["sku"] == "BERAS"),
        "BERAS is still in the catalogue: {items}"
    );
    assert!(stock(&s, &gudang).await.contains_key("BERAS"));

    // An item nothing uses yet can be deleted.
    let r = s
        .send(
            s.client()
                .put(s.url("/v1/items/GULA-PASIR"))
                .bearer_auth(&gudang)
                .json(&json!({"name": "Gula pasir", "unit": "kg", "low_threshold": 20})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .send(
            s.client()
                .delete(s.url("/v1/items/GULA-PASIR"))
                .bearer_auth(&gudang),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(!stock(&s, &gudang).await.contains_key("GULA-PASIR"));
}
