//! Kelurahan scope: staff of one kelurahan can neither read, list nor cancel another
//! kelurahan's requests, and are told "not found" rather than learning that they exist.

use basoka_tests::*;

#[tokio::test]
async fn kelurahan_a_cannot_see_or_touch_kelurahan_b_requests() {
    let s = Server::start();
    let a = s.kelurahan_token(KEL_A);
    let b = s.kelurahan_token(KEL_B);

    let theirs = s.submit_ok(&b, &submit_body(KEL_B)).await;
    let b_id = theirs["id"].as_str().expect("id").to_string();
    let ours = s.submit_ok(&a, &submit_body(KEL_A)).await;
    let a_id = ours["id"].as_str().expect("id").to_string();

    s.get_resp(&format!("/v1/requests/{b_id}"), Some(&a))
        .await
        .problem(404, "NOT_FOUND");
    s.get_resp(&format!("/v1/requests/{b_id}/history"), Some(&a))
        .await
        .problem(404, "NOT_FOUND");
    s.post_resp(
        &format!("/v1/requests/{b_id}/cancel"),
        Some(&a),
        &json!({"reason": "bukan warga kami"}),
    )
    .await
    .problem(404, "NOT_FOUND");

    // The 404 for B's request reads exactly like the one for a request that does not exist.
    let hidden = s.get_resp(&format!("/v1/requests/{b_id}"), Some(&a)).await;
    let absent = s
        .get_resp(&format!("/v1/requests/{UNKNOWN_ID}"), Some(&a))
        .await;
    assert_eq!(hidden.json, absent.json);

    // B's request is unchanged.
    let (st, v) = s.get(&format!("/v1/requests/{b_id}"), &b).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "submitted");
    assert!(v["cancellation"].is_null(), "{v}");
    let (st, h) = s.get(&format!("/v1/requests/{b_id}/history"), &b).await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h.as_array().map(Vec::len), Some(1), "{h}");

    // Listing: each sees only their own; the Dinas sees both.
    let a_items = s.list_all(&a, "limit=100").await;
    let a_ids: Vec<_> = a_items.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(a_ids, vec![json!(a_id)]);
    assert!(a_items.iter().all(|r| r["kelurahan_code"] == KEL_A));
    let b_items = s.list_all(&b, "limit=100").await;
    assert_eq!(b_items.len(), 1);
    assert_eq!(b_items[0]["id"], b_id.as_str());
    let all = s.list_all(&s.dinas_token(), "limit=100").await;
    assert_eq!(all.len(), 2);
    let only_b = s
        .list_all(&s.dinas_token(), &format!("kelurahan_code={KEL_B}"))
        .await;
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0]["id"], b_id.as_str());

    // A asking for B's list is refused, naming the field.
    let r = s
        .get_resp(&format!("/v1/requests?kelurahan_code={KEL_B}"), Some(&a))
        .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("kelurahan_code").as_deref(),
        Some("KELURAHAN_OUT_OF_SCOPE"),
        "{}",
        r.text
    );
    // Their own code is fine.
    let (st, page) = s
        .get(&format!("/v1/requests?kelurahan_code={KEL_A}"), &a)
        .await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn kelurahan_staff_cannot_submit_for_another_kelurahan() {
    let s = Server::start();
    let a = s.kelurahan_token(KEL_A);
    let r = s
        .post_resp("/v1/requests", Some(&a), &submit_body(KEL_B))
        .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("household.address.kelurahan_code").as_deref(),
        Some("KELURAHAN_OUT_OF_SCOPE"),
        "{}",
        r.text
    );
    assert!(s.list_all(&s.dinas_token(), "limit=100").await.is_empty());
}

/// DESIGN §5: a kelurahan is matched by name too, ignoring case and spaces ("Bekasi Jaya" =
/// "Bekasijaya"), wherever a kelurahan code is taken; the answer carries the canonical code.
/// An unknown one is still `KELURAHAN_UNKNOWN`, and a name does not widen a kelurahan's scope.
#[tokio::test]
async fn kelurahan_names_are_accepted_wherever_a_code_is() {
    let s = Server::start();
    let a = s.kelurahan_token(KEL_A);
    let b = s.kelurahan_token(KEL_B);
    let dinas = s.dinas_token();

    let mut ids = Vec::new();
    for name in ["Bekasi Jaya", "bekasijaya", "  BEKASI jaya "] {
        let r = s.submit_ok(&a, &submit_body(name)).await;
        assert_eq!(r["kelurahan_code"], KEL_A, "{name}: {r}");
        assert_eq!(r["household"]["address"]["kelurahan_code"], KEL_A, "{name}");
        ids.push(r["id"].clone());
    }
    for query in ["Bekasi%20Jaya", "bekasijaya", "32.75.01.1001"] {
        for token in [&a, &dinas] {
            let items = s.list_all(token, &format!("kelurahan_code={query}")).await;
            let got: Vec<_> = items.iter().map(|r| r["id"].clone()).collect();
            assert_eq!(got.len(), 3, "{query}: {got:?}");
            assert!(ids.iter().all(|id| got.contains(id)), "{query}");
        }
    }

    let mut unknown = submit_body("Menteng");
    let r = s.post_resp("/v1/requests", Some(&a), &unknown).await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("household.address.kelurahan_code").as_deref(),
        Some("KELURAHAN_UNKNOWN")
    );
    let r = s
        .get_resp("/v1/requests?kelurahan_code=Menteng", Some(&dinas))
        .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("kelurahan_code").as_deref(),
        Some("KELURAHAN_UNKNOWN")
    );

    // Margahayu staff naming Bekasijaya: out of scope, as with the code.
    unknown["household"]["address"]["kelurahan_code"] = json!("Bekasi Jaya");
    let r = s.post_resp("/v1/requests", Some(&b), &unknown).await;
    assert_eq!(
        r.error_code("household.address.kelurahan_code").as_deref(),
        Some("KELURAHAN_OUT_OF_SCOPE"),
        "{}",
        r.text
    );
    let r = s
        .get_resp("/v1/requests?kelurahan_code=Bekasi%20Jaya", Some(&b))
        .await;
    assert_eq!(
        r.error_code("kelurahan_code").as_deref(),
        Some("KELURAHAN_OUT_OF_SCOPE")
    );
}

/// The code an SMS or a phone call carries opens the request and its history, typed as people
/// type it (any case, without the prefix, O for 0), within the same scope as the id. Changes
/// name the request by its id.
#[tokio::test]
async fn a_request_can_be_opened_by_its_code_within_the_callers_scope() {
    let s = Server::start();
    let a = s.kelurahan_token(KEL_A);
    let b = s.kelurahan_token(KEL_B);
    let r = s.submit_ok(&a, &submit_body(KEL_A)).await;
    let (id, code) = (
        r["id"].as_str().expect("id"),
        r["code"].as_str().expect("code"),
    );
    let typed_by_phone = code.to_lowercase().replace('0', "o");
    let bare = code.trim_start_matches("BSK-").to_string();
    for typed in [code.to_string(), typed_by_phone, bare] {
        let (st, v) = s.get(&format!("/v1/requests/{typed}"), &a).await;
        assert_eq!(st, 200, "{typed}: {v}");
        assert_eq!(v["id"], id, "{typed}");
        let (st, h) = s.get(&format!("/v1/requests/{typed}/history"), &a).await;
        assert_eq!(st, 200, "{typed}: {h}");
        assert_eq!(h.as_array().map(Vec::len), Some(1), "{h}");
    }
    let (st, v) = s
        .get(&format!("/v1/requests/{code}"), &s.dinas_token())
        .await;
    assert_eq!((st, v["id"].as_str()), (200, Some(id)), "{v}");

    // Another kelurahan: the same 404 as for a code nobody has.
    let hidden = s.get_resp(&format!("/v1/requests/{code}"), Some(&b)).await;
    hidden.problem(404, "NOT_FOUND");
    let unknown = if code == "BSK-000000" {
        "BSK-000001"
    } else {
        "BSK-000000"
    };
    let absent = s
        .get_resp(&format!("/v1/requests/{unknown}"), Some(&b))
        .await;
    absent.problem(404, "NOT_FOUND");
    assert_eq!(hidden.json, absent.json);
    // A change names the request by its id: by code it is not found, and nothing changes.
    s.post_resp(
        &format!("/v1/requests/{code}/cancel"),
        Some(&a),
        &json!({"reason": "salah input"}),
    )
    .await
    .problem(404, "NOT_FOUND");
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &a).await;
    assert_eq!(v["status"], "submitted");
}
