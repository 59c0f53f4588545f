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
