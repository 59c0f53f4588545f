//! Durability: what the server answered before a SIGKILL is still there after a restart on
//! the same data folder, and tokens issued before the restart still work.

use basoka_tests::*;

#[tokio::test]
async fn requests_history_rules_and_tokens_survive_a_kill() {
    let mut s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let body = submit_body(KEL_A);
    let created = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Idempotency-Key", "before-the-crash")
                .json(&body),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().expect("id").to_string();
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            &dinas,
            &json!({"surveyor": "surveyor-1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let before = s.url("");

    s.kill();
    assert!(
        s.client()
            .get(format!("{before}/v1/health"))
            .send()
            .await
            .is_err(),
        "the killed server must not answer"
    );
    s.restart();

    // The old tokens still work, the request and its history are there.
    let (st, got) = s.get(&format!("/v1/requests/{id}"), &kel).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["status"], "survey_assigned");
    assert_eq!(got["code"], created.json["code"]);
    assert_eq!(got["survey"]["surveyor"], "surveyor-1");
    let (st, h) = s.get(&format!("/v1/requests/{id}/history"), &dinas).await;
    assert_eq!(st, 200, "{h}");
    let h = h.as_array().expect("history").clone();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0]["to"], "submitted");
    assert_eq!(h[1]["to"], "survey_assigned");

    // The duplicate rule and the idempotency record survived too.
    let replay = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Idempotency-Key", "before-the-crash")
                .json(&body),
        )
        .await;
    assert_eq!(replay.status, 201, "{}", replay.text);
    assert_eq!(replay.json["id"], id.as_str());
    let dup = s.post_resp("/v1/requests", Some(&kel), &body).await;
    assert_eq!(
        dup.problem(409, "DUPLICATE_ACTIVE_REQUEST")["existing_request_id"],
        id.as_str()
    );

    // And the journey goes on.
    let surveyor = s.surveyor_token("surveyor-1");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &surveyor,
            &survey_body("approve"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "surveyed");
    assert_eq!(s.list_all(&dinas, "limit=100").await.len(), 1);
}
