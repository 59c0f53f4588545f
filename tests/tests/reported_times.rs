//! Times people report for what already happened: a package cannot have been received before
//! it left the warehouse nor in the future (`received_at`), a household cannot have been
//! visited before the survey was assigned nor in the future (`visited_at`). Refusals are 400
//! naming the field, with a clear message, and change nothing. The "delivered" SMS tells the
//! PSM when the package was received, not when the kelurahan recorded it.

use basoka_tests::fulfil::*;
use basoka_tests::*;

fn handover_at(received_at: &str) -> Value {
    let mut body = handover_body();
    body["received_at"] = json!(received_at);
    body
}

/// A fresh request taken to `dispatched`; returns its id and the time of dispatch.
async fn dispatched(s: &Server, c: &Cast, delivery: &str) -> (String, Value) {
    let id = approved_until(s, c, delivery, &["allocated"]).await;
    let shipment = wait_shipment(s, &c.gudang, "ready", &id).await;
    let r = dispatch(s, &c.gudang, shipment["id"].as_str().expect("id")).await;
    assert_eq!(r.status, 200, "dispatch: {}", r.text);
    (id, r.json["dispatched_at"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_cannot_be_received_before_the_dispatch_nor_in_the_future() {
    let s = Server::start();
    let c = Cast::new(&s);
    let (id, dispatched_at) = dispatched(&s, &c, "kelurahan").await;
    let an_hour_before = rfc3339_utc(unix_of(&dispatched_at) - 3600);
    let tomorrow = rfc3339_utc(unix_now() + 86_400);
    for (received_at, code) in [
        ("2020-01-01T00:00:00Z", "RECEIVED_AT_BEFORE_DISPATCH"),
        (an_hour_before.as_str(), "RECEIVED_AT_BEFORE_DISPATCH"),
        (tomorrow.as_str(), "RECEIVED_AT_IN_FUTURE"),
    ] {
        for lang in ["id", "en"] {
            let r = s
                .send(
                    s.client()
                        .post(s.url(&format!("/v1/requests/{id}/handover")))
                        .bearer_auth(&c.kel)
                        .header("Accept-Language", lang)
                        .json(&handover_at(received_at)),
                )
                .await;
            r.problem(400, "VALIDATION_FAILED");
            assert_eq!(
                r.error_fields(),
                vec!["received_at".to_string()],
                "{received_at}: {}",
                r.text
            );
            assert_eq!(r.error_code("received_at").as_deref(), Some(code));
            let message = r.json["errors"][0]["message"].as_str().unwrap_or("");
            let word = match (code, lang) {
                ("RECEIVED_AT_BEFORE_DISPATCH", "id") => "sebelum paket dikirim",
                ("RECEIVED_AT_BEFORE_DISPATCH", _) => "before the package left",
                (_, "id") => "masa depan",
                _ => "future",
            };
            assert!(message.contains(word), "{lang} {received_at}: {message}");
        }
    }
    // Every bad field at once, the time among them.
    let r = handover(
        &s,
        &c.kel,
        &id,
        &json!({"received_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_fields(),
        ["received_by", "relation", "received_at"]
            .map(String::from)
            .to_vec(),
        "{}",
        r.text
    );
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &c.kel).await;
    assert_eq!(
        v["status"], "dispatched",
        "refused handovers change nothing"
    );

    // At the dispatch (to the minute) and a little ahead of the server's clock (a phone
    // running fast) is fine.
    let r = handover(
        &s,
        &c.kel,
        &id,
        &handover_at(&rfc3339_utc(unix_now() + 120)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "delivered");

    // Handing over again is refused for the state, whatever time it names: not a time
    // compared with a dispatch that is long done.
    for received_at in ["2020-01-01T00:00:00Z", an_hour_before.as_str()] {
        let r = handover(&s, &c.kel, &id, &handover_at(received_at)).await;
        r.problem(409, "INVALID_TRANSITION");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_cannot_be_visited_before_its_assignment_nor_in_the_future() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let id = submit_and_assign(&s, &kel, &dinas, "surveyor-1").await;
    let surveyor = s.surveyor_token("surveyor-1");
    let tomorrow = rfc3339_utc(unix_now() + 86_400);
    for (visited_at, code) in [
        ("2025-01-15T09:30:00+07:00", "VISITED_AT_BEFORE_ASSIGNMENT"),
        (tomorrow.as_str(), "VISITED_AT_IN_FUTURE"),
    ] {
        let mut body = survey_body("approve");
        body["visited_at"] = json!(visited_at);
        body["members_verified"] = json!("empat");
        let r = s
            .post_resp(&format!("/v1/requests/{id}/survey"), Some(&surveyor), &body)
            .await;
        r.problem(400, "VALIDATION_FAILED");
        let mut fields = r.error_fields();
        fields.sort();
        assert_eq!(
            fields,
            ["members_verified", "visited_at"]
                .map(String::from)
                .to_vec(),
            "every bad field at once: {}",
            r.text
        );
        assert_eq!(
            r.error_code("visited_at").as_deref(),
            Some(code),
            "{}",
            r.text
        );
    }
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &dinas).await;
    assert_eq!(v["status"], "survey_assigned", "{v}");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &surveyor,
            &survey_body("approve"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivered_sms_says_when_the_package_was_received() {
    let s = Server::start_with(journey_options());
    let c = Cast::new(&s);
    let (id, _) = dispatched(&s, &c, "kelurahan").await;
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &c.kel).await;
    let code = code_of(&v);
    // Received by a phone whose clock runs four minutes fast: the SMS shows that minute, not
    // the minute the server recorded the handover.
    let received_at = json!(rfc3339_utc(unix_now() + 240));
    let r = handover(&s, &c.kel, &id, &handover_at(received_at.as_str().unwrap())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let all = s
        .wait_for_sms(
            &format!("the `delivered` SMS of {code} to the PSM"),
            AUTO_TIMEOUT,
            |a| {
                sms_about(a, PSM_PHONE, &code)
                    .iter()
                    .any(|m| m.text.contains("diterima"))
            },
        )
        .await;
    let delivered = sms_about(&all, PSM_PHONE, &code)
        .into_iter()
        .find(|m| m.text.contains("diterima"))
        .expect("delivered SMS")
        .clone();
    let (day, minute) = wib_parts(&received_at);
    assert!(
        delivered.text.contains(&format!("{day} {minute} WIB")),
        "the time of receipt ({day} {minute} WIB) in: {}",
        delivered.text
    );
    assert_request_sms(&delivered, &code, &[HEAD_NAME]);
}
