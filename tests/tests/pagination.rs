//! Listing requests: newest first, pages joined by `next_cursor` that neither skip nor repeat
//! a request, and bad query parameters refused with the parameter named.
//!
//! Equal `created_at` timestamps (requests submitted in the same instant) are ordered by id;
//! the server's request clock is frozen for that test (`BASOKA_TEST_FROZEN_CLOCK`), so every
//! request carries the same timestamp and paging rests on the id alone. The store conformance
//! suite checks the same on both adapters.

use std::collections::HashSet;

use basoka_tests::*;

#[tokio::test]
async fn fifty_five_requests_come_back_in_three_pages_newest_first() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let mut submitted = HashSet::new();
    for _ in 0..55 {
        let r = s.submit_ok(&kel, &submit_body(KEL_A)).await;
        submitted.insert(r["id"].as_str().expect("id").to_string());
    }
    assert_eq!(submitted.len(), 55);

    for token in [&kel, &dinas] {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/v1/requests?limit=20".to_string();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", encode_query(c)));
            }
            let (st, page) = s.get(&path, token).await;
            assert_eq!(st, 200, "{path}: {page}");
            let items = page["items"].as_array().expect("items").clone();
            pages.push(items);
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(c) => {
                    assert!(pages.len() < 10, "the cursor never ends");
                    cursor = Some(c.to_string());
                }
                None => break,
            }
        }
        let sizes: Vec<_> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![20, 20, 15], "three pages of limit=20");

        let all: Vec<Value> = pages.concat();
        let ids: HashSet<String> = all
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(ids.len(), 55, "no request repeated");
        assert_eq!(ids, submitted, "every request listed");
        for pair in all.windows(2) {
            assert!(
                utc_key(&pair[0]["created_at"]) >= utc_key(&pair[1]["created_at"]),
                "newest first: {} before {}",
                pair[0]["created_at"],
                pair[1]["created_at"]
            );
        }
        // Lists carry masked NIKs only.
        for r in &all {
            let nik = r["household"]["head_nik"].as_str().expect("nik");
            assert!(nik.contains("********"), "masked in lists: {nik}");
        }
    }

    // The default page size is 20.
    let (st, page) = s.get("/v1/requests", &kel).await;
    assert_eq!(st, 200);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(20));
}

#[tokio::test]
async fn fifty_five_requests_with_equal_timestamps_page_without_loss_or_repeat() {
    const AT: &str = "2026-12-04T03:00:00Z";
    let s = Server::start_with(ServeOptions::new().env("BASOKA_TEST_FROZEN_CLOCK", AT));
    let kel = s.kelurahan_token(KEL_A);
    let mut submitted = HashSet::new();
    for _ in 0..55 {
        let r = s.submit_ok(&kel, &submit_body(KEL_A)).await;
        assert_eq!(
            utc_key(&r["created_at"]),
            utc_key(&json!(AT)),
            "the frozen time"
        );
        submitted.insert(r["id"].as_str().expect("id").to_string());
    }
    assert_eq!(submitted.len(), 55);

    let mut listed = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/requests?limit=20".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode_query(c)));
        }
        let (st, page) = s.get(&path, &kel).await;
        assert_eq!(st, 200, "{path}: {page}");
        let items = page["items"].as_array().expect("items");
        sizes.push(items.len());
        listed.extend(
            items
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_string()),
        );
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => {
                assert!(sizes.len() < 10, "the cursor never ends");
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    assert_eq!(sizes, vec![20, 20, 15]);
    let distinct: HashSet<String> = listed.iter().cloned().collect();
    assert_eq!(distinct.len(), 55, "55 distinct ids, none repeated");
    assert_eq!(distinct, submitted, "every request listed");
    let mut by_id = listed.clone();
    by_id.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        listed, by_id,
        "equal times: by id, descending, across pages"
    );
}

#[tokio::test]
async fn the_status_filter_returns_only_that_status() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = s.submit_ok(&kel, &submit_body(KEL_A)).await;
        ids.push(r["id"].as_str().expect("id").to_string());
    }
    let (st, v) = s
        .post(
            &format!("/v1/requests/{}/cancel", ids[1]),
            &kel,
            &json!({"reason": "keluarga pindah domisili"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let cancelled = s.list_all(&kel, "status=cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["id"], ids[1].as_str());
    let submitted = s.list_all(&kel, "status=submitted").await;
    assert_eq!(submitted.len(), 2);
    assert!(submitted.iter().all(|r| r["status"] == "submitted"));
}

#[tokio::test]
async fn bad_list_parameters_are_refused_naming_the_parameter() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    s.submit_ok(&kel, &submit_body(KEL_A)).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=-5", "limit"),
        ("limit=101", "limit"),
        ("cursor=zzz", "cursor"),
        ("status=done", "status"),
        ("kelurahan_code=32.75.99.9999", "kelurahan_code"),
    ] {
        let r = s
            .get_resp(&format!("/v1/requests?{query}"), Some(&kel))
            .await;
        r.problem(400, "VALIDATION_FAILED");
        assert!(
            r.error_fields().iter().any(|f| f == field),
            "{query}: `{field}` should be named in {}",
            r.text
        );
    }
    // Several bad parameters are reported together, a bad cursor with the others.
    let r = s
        .get_resp("/v1/requests?limit=0&status=done", Some(&kel))
        .await;
    r.problem(400, "VALIDATION_FAILED");
    let fields = r.error_fields();
    assert!(fields.contains(&"limit".to_string()) && fields.contains(&"status".to_string()));
    let r = s
        .get_resp(
            "/v1/requests?limit=0&status=done&kelurahan_code=Menteng&cursor=zzz",
            Some(&kel),
        )
        .await;
    r.problem(400, "VALIDATION_FAILED");
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["cursor", "kelurahan_code", "limit", "status"],
        "{}",
        r.text
    );
    assert_eq!(r.error_code("cursor").as_deref(), Some("CURSOR_INVALID"));
}

/// A cursor continues the listing that handed it out: with other filters it is refused
/// (rather than silently paging another listing), and a good one still pages.
#[tokio::test]
async fn a_cursor_belongs_to_its_listing() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    for _ in 0..3 {
        s.submit_ok(&kel, &submit_body(KEL_A)).await;
    }
    let (st, page) = s.get("/v1/requests?status=submitted&limit=1", &kel).await;
    assert_eq!(st, 200, "{page}");
    let cursor = encode_query(page["next_cursor"].as_str().expect("a next page"));
    let (st, next) = s
        .get(
            &format!("/v1/requests?status=submitted&limit=1&cursor={cursor}"),
            &kel,
        )
        .await;
    assert_eq!(st, 200, "{next}");
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);
    for other in ["status=cancelled&", ""] {
        let r = s
            .get_resp(
                &format!("/v1/requests?{other}limit=1&cursor={cursor}"),
                Some(&kel),
            )
            .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(
            r.error_code("cursor").as_deref(),
            Some("CURSOR_INVALID"),
            "{other}"
        );
    }
}
