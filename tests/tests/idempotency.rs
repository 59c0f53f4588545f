//! `Idempotency-Key` on `POST /v1/requests`: a retry with the same key and body gets the first
//! answer again and creates nothing; the same key with another body is 422.

use basoka_tests::*;

async fn submit_with_key(s: &Server, token: &str, key: &str, body: &Value) -> Resp {
    s.send(
        s.client()
            .post(s.url("/v1/requests"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body),
    )
    .await
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_answer() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let body = submit_body(KEL_A);

    let first = submit_with_key(&s, &kel, "kel-1001-2025-0001", &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second = submit_with_key(&s, &kel, "kel-1001-2025-0001", &body).await;
    assert_eq!(
        second.status, first.status,
        "a replay must not be a duplicate: {}",
        second.text
    );
    assert_eq!(second.json, first.json, "the replay is the first answer");
    assert_eq!(second.json["id"], first.json["id"]);
    let third = submit_with_key(&s, &kel, "kel-1001-2025-0001", &body).await;
    assert_eq!(third.json, first.json);

    let all = s.list_all(&kel, "limit=100").await;
    assert_eq!(all.len(), 1, "one request only: {all:?}");
    assert_eq!(all[0]["id"], first.json["id"]);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let first = submit_with_key(&s, &kel, "retry-42", &submit_body(KEL_A)).await;
    assert_eq!(first.status, 201, "{}", first.text);

    let other = submit_body(KEL_A);
    let r = submit_with_key(&s, &kel, "retry-42", &other).await;
    r.problem(422, "IDEMPOTENCY_KEY_REUSED");
    assert!(
        !r.text.contains(&nik_of(&other)) && !r.text.contains(&kk_of(&other)),
        "{}",
        r.text
    );

    let all = s.list_all(&kel, "limit=100").await;
    assert_eq!(all.len(), 1, "{all:?}");
    // A new key for that other body works.
    let ok = submit_with_key(&s, &kel, "retry-43", &other).await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_ne!(ok.json["id"], first.json["id"]);
}

/// Twenty clients retrying the same submission with the same key at the same moment (a phone
/// app retrying over a bad connection): every one gets the first answer, 201 with the same
/// request; none gets 409 for the request its own key created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_the_same_key_all_get_the_first_answer() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    for round in 0..3 {
        let body = submit_body(KEL_A);
        let key = format!("race-{round}");
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let request = s
                    .client()
                    .post(s.url("/v1/requests"))
                    .bearer_auth(&kel)
                    .header("Idempotency-Key", &key)
                    .json(&body);
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let res = request.send().await.expect("the server answers");
                    let status = res.status().as_u16();
                    let replayed = res
                        .headers()
                        .get("idempotent-replayed")
                        .map(|v| v.to_str().unwrap_or("").to_string());
                    let json: Value = res.json().await.unwrap_or(Value::Null);
                    (status, replayed, json)
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.expect("client task"));
        }
        for (status, _, json) in &answers {
            assert_eq!(
                *status, 201,
                "a retry with its own key must replay the first answer, got {json}"
            );
            assert_eq!(json, &answers[0].2, "every retry gets the same answer");
        }
        let replays: Vec<_> = answers.iter().filter_map(|(_, r, _)| r.clone()).collect();
        assert_eq!(
            replays.len(),
            19,
            "one first answer, 19 replays: {replays:?}"
        );
        assert!(replays.iter().all(|r| r == "true"), "{replays:?}");
        let id = &answers[0].2["id"];
        let stored = s.list_all(&kel, "limit=100").await;
        assert_eq!(
            stored.iter().filter(|r| &r["id"] == id).count(),
            1,
            "one request stored"
        );
        assert_eq!(stored.len(), round + 1, "nothing else stored");
    }
}
