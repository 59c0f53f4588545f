//! The limits of stock input, as the warehouse and the Dinas meet them: a quantity is a
//! positive whole number of at most 1,000,000 units per line (and per lot or package line,
//! when lines of one item add up), an adjustment at most 1,000,000 either way. Anything
//! beyond is 400 naming the line, nothing is written, and the stock figures, the ledger and
//! the allocations keep working (no overflow, no panic, no false low-stock SMS).
//!
//! Every bad line is named by its index in the request.
//!
//! A refused adjustment tells the client, as members of the problem, which item in which
//! warehouse and how much is available.
//!
//! The ledger of an item that is not in the catalogue is an error naming `sku`, as for
//! adjustments.

use basoka_tests::fulfil::*;
use basoka_tests::*;

const HUGE: i64 = i64::MAX;

/// `PUT /v1/items/{sku}` as `token`.
async fn put_item(s: &Server, token: &str, sku: &str, body: &Value) -> Resp {
    s.send(
        s.client()
            .put(s.url(&format!("/v1/items/{sku}")))
            .bearer_auth(token)
            .json(body),
    )
    .await
}

/// `PUT /v1/packages/{code}` as `token`.
async fn put_package(s: &Server, token: &str, code: &str, body: &Value) -> Resp {
    s.send(
        s.client()
            .put(s.url(&format!("/v1/packages/{code}")))
            .bearer_auth(token)
            .json(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantities_beyond_a_million_per_line_are_refused_naming_the_line_and_nothing_breaks() {
    let s = Server::start_with(journey_options());
    let c = Cast::new(&s);
    let stock0 = stock(&s, &c.gudang).await;

    // The tester's receipts: one line of i64::MAX, two and three lines of it for one item.
    for (reference, lines, bad) in [
        (
            "SJ-HUGE-1",
            json!([{"sku": "BERAS", "quantity": HUGE}]),
            vec!["lines[0].quantity"],
        ),
        (
            "SJ-HUGE-2",
            json!([{"sku": "BERAS", "quantity": HUGE}, {"sku": "BERAS", "quantity": HUGE}]),
            vec!["lines[0].quantity", "lines[1].quantity"],
        ),
        (
            "SJ-HUGE-3",
            json!([{"sku": "BERAS", "quantity": HUGE}, {"sku": "MIE-INSTAN", "quantity": 5},
                   {"sku": "BERAS", "quantity": 18446744073709551615u64}]),
            vec!["lines[0].quantity", "lines[2].quantity"],
        ),
        (
            "SJ-JUST-OVER",
            json!([{"sku": "BERAS", "quantity": 1_000_001}]),
            vec!["lines[0].quantity"],
        ),
        (
            // Two lines of one item and date become one lot: together at most a million,
            // refused at the line that goes over.
            "SJ-ADDS-UP",
            json!([{"sku": "BERAS", "quantity": 600_000, "expires_on": "2099-01-31"},
                   {"sku": "MIE-INSTAN", "quantity": 5},
                   {"sku": "BERAS", "quantity": 600_000, "expires_on": "2099-01-31"}]),
            vec!["lines[2].quantity"],
        ),
    ] {
        let r = receive(
            &s,
            &c.gudang,
            Some(reference),
            &json!({"warehouse": WAREHOUSE, "reference": reference, "lines": lines}),
        )
        .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(r.error_fields(), bad, "{reference}: {}", r.text);
        for f in &bad {
            assert_eq!(
                r.error_code(f).as_deref(),
                Some("QUANTITY_TOO_LARGE"),
                "{reference} {f}: {}",
                r.text
            );
        }
    }
    assert_eq!(
        stock(&s, &c.gudang).await,
        stock0,
        "refused receipts receive nothing"
    );

    // Adjustments: at most a million either way.
    for delta in [
        json!(HUGE),
        json!(i64::MIN),
        json!(1_000_001),
        json!(-1_000_001),
    ] {
        let r = s
            .post_resp(
                "/v1/stock/adjustments",
                Some(&c.gudang),
                &json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": delta, "reason": "Stok opname."}),
            )
            .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(r.error_fields(), vec!["delta".to_string()], "{}", r.text);
        assert_eq!(r.error_code("delta").as_deref(), Some("QUANTITY_TOO_LARGE"));
    }
    assert_eq!(stock(&s, &c.gudang).await, stock0);

    // Packages: the same bound per line, and per item when lines add up.
    for (lines, bad) in [
        (
            json!([{"sku": "BERAS", "quantity": HUGE}, {"sku": "MIE-INSTAN", "quantity": HUGE},
                   {"sku": "BISKUIT", "quantity": 1}]),
            vec!["lines[0].quantity", "lines[1].quantity"],
        ),
        (
            json!([{"sku": "BERAS", "quantity": 700_000}, {"sku": "BERAS", "quantity": 700_000}]),
            vec!["lines[1].quantity"],
        ),
    ] {
        let r = put_package(
            &s,
            &c.dinas,
            "PAKET-RAKSASA",
            &json!({"name": "Paket raksasa", "lines": lines}),
        )
        .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(r.error_fields(), bad, "{}", r.text);
    }
    let (_, packages) = s.get("/v1/packages", &c.dinas).await;
    assert!(
        !packages.to_string().contains("PAKET-RAKSASA"),
        "a refused package is not stored: {packages}"
    );

    // At the bound, everything is taken and adds up: a million of an item received, a
    // package of a million, allocation still works and no low-stock SMS is sent for it.
    let r = receive(
        &s,
        &c.gudang,
        Some("SJ-MILLION"),
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-MILLION", "lines": [
            {"sku": "BERAS", "quantity": 1_000_000}, {"sku": "BERAS", "quantity": 1_000_000, "expires_on": "2099-01-31"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = put_package(
        &s,
        &c.dinas,
        "PAKET-BESAR",
        &json!({"name": "Paket besar", "lines": [{"sku": "BERAS", "quantity": 1_000_000}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&c.gudang),
            &json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": 1_000_000, "reason": "Hibah."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let beras = level(&stock(&s, &c.gudang).await, "BERAS");
    assert_eq!(
        beras.0,
        level(&stock0, "BERAS").0 + 3_000_000,
        "on hand: {beras:?}"
    );
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
    let mut decision = approve_with(2, "kelurahan");
    decision["package_code"] = json!("PAKET-BESAR");
    approve(&s, &c.dinas, &id, &decision).await;
    wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;
    let after = stock(&s, &c.gudang).await;
    assert_eq!(level(&after, "BERAS").1, 2_000_000, "{:?}", after["BERAS"]);
    assert_ledger_matches_stock(&s, &c.gudang).await;
    let all = sms_barrier(&s, &c.kel, DINAS_PHONE).await;
    assert!(
        all.iter()
            .all(|m| m.to != GUDANG_PHONE || !m.text.contains("menipis")),
        "no low-stock SMS: BERAS never fell below its threshold: {:?}",
        all.iter()
            .filter(|m| m.to == GUDANG_PHONE)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn every_bad_receipt_line_is_named_by_its_index_in_the_request() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let stock0 = stock(&s, &gudang).await;
    let r = receive(
        &s,
        &gudang,
        None,
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-EXP", "lines": [
            {"sku": "BERAS", "quantity": 0},
            {"sku": "BERAS", "quantity": 1, "expires_on": "2020-01-01"},
        ]}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_fields(),
        vec![
            "lines[0].quantity".to_string(),
            "lines[1].expires_on".to_string()
        ],
        "{}",
        r.text
    );
    assert_eq!(
        r.error_code("lines[1].expires_on").as_deref(),
        Some("ALREADY_EXPIRED")
    );

    // A line bad in several ways is named for each; lines around it keep their index.
    let r = receive(
        &s,
        &gudang,
        None,
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-EXP-2", "lines": [
            {"sku": "BERAS", "quantity": 3},
            {"sku": "NOPE", "quantity": -1, "expires_on": "2020-01-01"},
            {"sku": "BERAS", "quantity": 2.5, "expires_on": "2099-01-01"},
            {"sku": "MIE-INSTAN", "quantity": 2, "expires_on": "2021-06-30"},
        ]}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_fields(),
        [
            "lines[1].sku",
            "lines[1].quantity",
            "lines[1].expires_on",
            "lines[2].quantity",
            "lines[3].expires_on"
        ]
        .map(String::from)
        .to_vec(),
        "{}",
        r.text
    );
    assert_eq!(stock(&s, &gudang).await, stock0);
}

#[tokio::test]
async fn a_refused_adjustment_says_which_item_where_and_how_much_is_available_as_members() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let (_, _, available) = level(&stock(&s, &gudang).await, "MIE-INSTAN");
    for lang in ["id", "en"] {
        let r = s
            .send(
                s.client()
                    .post(s.url("/v1/stock/adjustments"))
                    .bearer_auth(&gudang)
                    .header("Accept-Language", lang)
                    .json(&json!({"sku": "MIE-INSTAN", "delta": -(available + 1), "reason": "Rusak."})),
            )
            .await;
        let p = r.problem(409, "INSUFFICIENT_STOCK");
        assert_eq!(p["sku"], "MIE-INSTAN", "{}", r.text);
        assert_eq!(p["available"], available, "{}", r.text);
        assert_eq!(p["warehouse"], WAREHOUSE, "{}", r.text);
    }

    // The OpenAPI description documents the members.
    let spec = s.get_resp("/v1/openapi.json", None).await;
    let props = &spec.json["components"]["schemas"]["Problem"]["properties"];
    for member in ["sku", "available", "warehouse"] {
        assert!(
            props[member].is_object(),
            "Problem.{member} in the OpenAPI document: {props}"
        );
    }
    let adjust_409 = &spec.json["paths"]["/v1/stock/adjustments"]["post"]["responses"]["409"];
    assert!(
        adjust_409["description"]
            .as_str()
            .is_some_and(|d| d.contains("available") && d.contains("sku")),
        "{adjust_409}"
    );
}

#[tokio::test]
async fn the_ledger_of_an_item_not_in_the_catalogue_is_an_error_naming_sku() {
    let s = Server::start();
    let gudang = s.gudang_token();
    for (sku, code) in [("NOPE", "SKU_UNKNOWN"), ("beras", "SKU_INVALID")] {
        let r = s
            .get_resp(&format!("/v1/stock/ledger?sku={sku}"), Some(&gudang))
            .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(r.error_fields(), vec!["sku".to_string()], "{}", r.text);
        assert_eq!(r.error_code("sku").as_deref(), Some(code), "{}", r.text);
    }
    // As the adjustments say of the same sku.
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&gudang),
            &json!({"sku": "NOPE", "delta": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(
        r.error_code("sku").as_deref(),
        Some("SKU_UNKNOWN"),
        "{}",
        r.text
    );

    // An item of the catalogue without movements has an empty ledger.
    let r = s
        .send(
            s.client()
                .put(s.url("/v1/items/GULA-PASIR"))
                .bearer_auth(&gudang)
                .json(&json!({"name": "Gula pasir", "unit": "kg"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (st, v) = s.get("/v1/stock/ledger?sku=GULA-PASIR", &gudang).await;
    assert_eq!((st, v), (200, json!({"items": [], "next_cursor": null})));
}

/// An item code of sixteen digits is a NIK or KK pasted into the wrong field: refused, never
/// echoed, and no item is created (its code would travel in SMS and logs).
#[tokio::test]
async fn an_item_code_shaped_like_a_nik_is_refused() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let r = put_item(
        &s,
        &gudang,
        "3275014508750001",
        &json!({"name": "Salah tempel", "unit": "kg", "low_threshold": 1}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("sku").as_deref(),
        Some("SKU_LOOKS_LIKE_NIK"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("3275014508750001"), "{}", r.text);
    let (st, items) = s.get("/v1/items", &gudang).await;
    assert_eq!(st, 200);
    assert!(!items.to_string().contains("3275014508750001"), "{items}");
    // A barcode (EAN-13) is a fine item code.
    let r = put_item(
        &s,
        &gudang,
        "8991234567890",
        &json!({"name": "Gula pasir 1 kg", "unit": "kg"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The unit of an item that has stock or is in a package cannot change (500 kg would become
/// "500 karung", and every package's quantity with it); its name and threshold can, and so
/// can the unit of an item not used yet, or the case of a unit.
#[tokio::test]
async fn the_unit_of_an_item_in_use_cannot_change() {
    let s = Server::start();
    let gudang = s.gudang_token();
    let before = stock(&s, &gudang).await;
    let r = put_item(
        &s,
        &gudang,
        "BERAS",
        &json!({"name": "Beras", "unit": "karung", "low_threshold": 100}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("unit").as_deref(),
        Some("UNIT_LOCKED"),
        "{}",
        r.text
    );
    assert_eq!(stock(&s, &gudang).await, before, "nothing changed");
    for body in [
        json!({"name": "Beras medium", "unit": "kg", "low_threshold": 120}),
        json!({"name": "Beras medium", "unit": "KG", "low_threshold": 120}),
    ] {
        let r = put_item(&s, &gudang, "BERAS", &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    for unit in ["kg", "karung"] {
        let r = put_item(
            &s,
            &gudang,
            "GULA-PASIR",
            &json!({"name": "Gula pasir", "unit": unit}),
        )
        .await;
        assert_eq!(r.status, 200, "a new item's unit can change: {}", r.text);
    }
}
