//! The size of one stock write is a domain rule, the same on both backends, chosen so that the
//! largest write fits one DynamoDB transaction (100 items) with room to spare
//! (`shared::stock::MAX_LINES` has the arithmetic):
//!
//! * a receipt or a package has at most 25 lines: 26 is 400 naming `lines`, in Bahasa
//!   Indonesia; 25 lines of 25 different items are received (77 DynamoDB items);
//! * one write touches at most 25 lots: an adjustment that would take from more is 400 naming
//!   `delta` (with how much one adjustment can remove); an approval whose stock is spread over
//!   more lots is waitlisted with that reason, not failed, and is allocated once the small lots
//!   are gone.
//!
//! Run over the embedded store and over `--backend aws` on moto (`BASOKA_TEST_AWS_ENDPOINT`),
//! where a receipt of more than about 45 lines used to fail with a misleading 503.

use basoka_aws::testkit;
use basoka_tests::fulfil::*;
use basoka_tests::*;

/// The limits of `shared::stock`.
const MAX_LINES: usize = 25;

fn item_sku(i: usize) -> String {
    format!("LIMIT-{i:02}")
}

async fn put(s: &Server, token: &str, path: &str, body: &Value) -> Resp {
    s.send(s.client().put(s.url(path)).bearer_auth(token).json(body))
        .await
}

fn field_errors(r: &Resp) -> Vec<(String, String, String)> {
    r.json["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_string(),
                        e["code"].as_str().unwrap_or_default().to_string(),
                        e["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One line per `(sku, expires_on)`, one unit each.
fn lines(of: &[(String, String)]) -> Vec<Value> {
    of.iter()
        .map(|(sku, exp)| json!({"sku": sku, "quantity": 1, "expires_on": exp}))
        .collect()
}

async fn limits(s: &Server) {
    let dinas = s.dinas_token();
    let gudang = s.gudang_token();
    let kel = s.kelurahan_token(KEL_A);
    let surveyor = s.surveyor_token(Cast::SURVEYOR);

    // 26 new items.
    for i in 1..=MAX_LINES + 1 {
        let r = put(
            s,
            &dinas,
            &format!("/v1/items/{}", item_sku(i)),
            &json!({"name": format!("Barang uji {i}"), "unit": "pcs"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    // ---- receipts: 26 lines refused naming `lines`, 25 lines of 25 items received ----
    let many: Vec<(String, String)> = (1..=MAX_LINES + 1)
        .map(|i| (item_sku(i), "2099-01-01".to_string()))
        .collect();
    let r = receive(
        s,
        &gudang,
        Some("SJ-LIMIT-26"),
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-LIMIT-26", "lines": lines(&many)}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json["code"], "VALIDATION_FAILED", "{}", r.text);
    let errors = field_errors(&r);
    let on_lines: Vec<_> = errors.iter().filter(|(f, _, _)| f == "lines").collect();
    assert_eq!(on_lines.len(), 1, "{errors:?}");
    assert_eq!(on_lines[0].1, "LINES_TOO_MANY");
    assert!(
        on_lines[0].2.contains("Paling banyak 25 baris"),
        "in Bahasa Indonesia: {}",
        on_lines[0].2
    );
    let r = receive(
        s,
        &gudang,
        Some("SJ-LIMIT-25"),
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-LIMIT-25", "lines": lines(&many[..MAX_LINES])}),
    )
    .await;
    assert_eq!(r.status, 201, "25 lines of 25 items: {}", r.text);

    // ---- packages: the same bound ----
    let package_lines = |n: usize| -> Vec<Value> {
        (1..=n)
            .map(|i| json!({"sku": item_sku(i), "quantity": 1}))
            .collect()
    };
    let r = put(
        s,
        &dinas,
        "/v1/packages/PAKET-BESAR",
        &json!({"name": "Paket 26", "lines": package_lines(MAX_LINES + 1)}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        field_errors(&r)
            .iter()
            .any(|(f, c, _)| f == "lines" && c == "LINES_TOO_MANY"),
        "{}",
        r.text
    );
    let r = put(
        s,
        &dinas,
        "/v1/packages/PAKET-BESAR",
        &json!({"name": "Paket 25", "lines": package_lines(MAX_LINES)}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // ---- lots: 30 lots of one unit of the 26th item ----
    let spread = item_sku(MAX_LINES + 1);
    let dated: Vec<(String, String)> = (1..=30)
        .map(|d| {
            (
                spread.clone(),
                format!("2099-{:02}-{:02}", 1 + d / 28, 1 + d % 28),
            )
        })
        .collect();
    for (n, chunk) in dated.chunks(MAX_LINES).enumerate() {
        let reference = format!("SJ-SERPIH-{n}");
        let r = receive(
            s,
            &gudang,
            Some(&reference),
            &json!({"warehouse": WAREHOUSE, "reference": reference, "lines": lines(chunk)}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    // An adjustment taking from 26 lots is refused naming `delta` and what one can remove.
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&gudang),
            &json!({"warehouse": WAREHOUSE, "sku": spread, "delta": -26, "reason": "Rusak."}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let errors = field_errors(&r);
    assert!(
        errors
            .iter()
            .any(|(f, c, m)| f == "delta" && c == "TOO_MANY_LOTS" && m.contains("25")),
        "{errors:?}"
    );

    // An approval needing 26 of those lots is waitlisted, with the reason, not failed.
    let r = put(
        s,
        &dinas,
        "/v1/packages/PAKET-SERPIH",
        &json!({"name": "Paket serpih", "lines": [{"sku": spread, "quantity": 26}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let surveyed = to_surveyed(
        s,
        &kel,
        &dinas,
        &surveyor,
        Cast::SURVEYOR,
        &submit_body(KEL_A),
    )
    .await;
    let id = id_of(&surveyed);
    let mut decision = approve_with(1, "kelurahan");
    decision["package_code"] = json!("PAKET-SERPIH");
    approve(s, &dinas, &id, &decision).await;
    wait_status(s, &kel, &id, &["waitlisted"], AUTO_TIMEOUT).await;
    let (st, history) = s.get(&format!("/v1/requests/{id}/history"), &kel).await;
    assert_eq!(st, 200, "{history}");
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to"], "waitlisted", "{history}");
    assert!(
        last["reason"].as_str().unwrap_or_default().contains("lot"),
        "the reason says the stock is spread over lots: {last}"
    );

    // Written off in a step of 25 lots (allowed), then one lot of 100 comes in: the request is
    // served from the 5 small lots left and the new one.
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&gudang),
            &json!({"warehouse": WAREHOUSE, "sku": spread, "delta": -25, "reason": "Rusak."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = receive(
        s,
        &gudang,
        Some("SJ-SERPIH-BESAR"),
        &json!({"warehouse": WAREHOUSE, "reference": "SJ-SERPIH-BESAR",
                "lines": [{"sku": spread, "quantity": 100, "expires_on": "2099-12-31"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    wait_status(s, &kel, &id, &["allocated"], AUTO_TIMEOUT).await;
    assert_ledger_matches_stock(s, &gudang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_write_limits_on_the_embedded_store() {
    let s = Server::start_with(journey_options());
    limits(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_write_limits_on_dynamodb() {
    let endpoint = testkit::endpoint();
    let table = testkit::unique_table("basoka-limits");
    let s = Server::start_with(journey_options().args(&[
        "--backend",
        "aws",
        "--endpoint-url",
        endpoint.as_str(),
        "--table",
        table.as_str(),
        "--create-table",
    ]));
    limits(&s).await;
}
