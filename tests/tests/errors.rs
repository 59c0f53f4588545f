//! Every error a client can meet on the request routes, as the client sees it: the HTTP
//! status, an RFC 9457 `application/problem+json` document with `type`, `title`, `status`,
//! `detail` and the stable `code`, every bad field listed at once, Bahasa Indonesia by default
//! and English on `Accept-Language: en` — and never a full NIK or KK echoed back.

use basoka_tests::*;

/// A body with five bad fields at once.
fn five_bad_fields() -> Value {
    let mut body = submit_body(KEL_A);
    body["household"]["head_nik"] = json!("3.275E+15");
    body["household"]["kk"] = json!("327501020304000"); // 15 digits
    body["household"]["phone"] = json!("0213456789"); // a Jakarta landline
    body["household"]["address"]["kelurahan_code"] = json!("32.75.99.1001");
    body["category"] = json!("kaya");
    body
}

#[tokio::test]
async fn validation_lists_every_bad_field_in_indonesian_or_english() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let body = five_bad_fields();

    let id = s.post_resp("/v1/requests", Some(&kel), &body).await;
    id.problem(400, "VALIDATION_FAILED");
    let en = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Accept-Language", "en")
                .json(&body),
        )
        .await;
    en.problem(400, "VALIDATION_FAILED");

    for r in [&id, &en] {
        let fields = r.error_fields();
        for f in [
            "household.head_nik",
            "household.kk",
            "household.phone",
            "household.address.kelurahan_code",
            "category",
        ] {
            assert!(fields.iter().any(|x| x == f), "`{f}` missing in {fields:?}");
        }
        for e in r.json["errors"].as_array().expect("errors") {
            assert!(!e["code"].as_str().unwrap_or("").is_empty(), "{e}");
            assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{e}");
        }
        assert!(
            !r.text.contains("327501020304000"),
            "the KK sent must not be echoed: {}",
            r.text
        );
    }
    assert_eq!(
        id.error_code("household.head_nik").as_deref(),
        Some("NIK_SCIENTIFIC_NOTATION")
    );
    assert_eq!(
        id.error_code("household.phone").as_deref(),
        Some("PHONE_LANDLINE")
    );
    assert_eq!(id.json["type"], en.json["type"], "type is language-neutral");
    assert_eq!(id.json["title"], "Data tidak valid");
    assert_eq!(en.json["title"], "Invalid data");
    assert_ne!(id.json["detail"], en.json["detail"]);
    for field in ["household.head_nik", "household.phone", "category"] {
        let msg = |r: &Resp| {
            r.json["errors"]
                .as_array()
                .and_then(|a| a.iter().find(|e| e["field"] == field))
                .map(|e| e["message"].clone())
                .expect("field listed")
        };
        assert_ne!(
            msg(&id),
            msg(&en),
            "`{field}` should be explained in each language"
        );
    }
}

#[tokio::test]
async fn a_refused_submission_never_echoes_a_full_nik_or_kk() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    // 16 digits each, but the NIK's month is 13 and the other fields are bad too.
    let nik = "3275011513900003";
    let kk = "3275010203040005";
    let mut body = submit_body_with(KEL_A, nik, kk);
    body["household"]["members"] = json!(0);
    body["urgency"] = json!("segera");
    let r = s.post_resp("/v1/requests", Some(&kel), &body).await;
    r.problem(400, "VALIDATION_FAILED");
    let fields = r.error_fields();
    assert!(
        fields.contains(&"household.head_nik".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"household.members".to_string()),
        "{fields:?}"
    );
    assert!(fields.contains(&"urgency".to_string()), "{fields:?}");
    assert!(
        !r.text.contains(nik) && !r.text.contains(kk),
        "no full NIK/KK in: {}",
        r.text
    );
}

#[tokio::test]
async fn a_nik_sent_as_a_json_number_is_refused_without_echoing_it() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let mut body = submit_body(KEL_A);
    body["household"]["head_nik"] = json!(3275014101900003_u64);
    let r = s.post_resp("/v1/requests", Some(&kel), &body).await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("household.head_nik").as_deref(),
        Some("FIELD_NOT_STRING"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("3275014101900003"), "{}", r.text);
    assert!(!r.text.contains("3.275014101900003"), "{}", r.text);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    for raw in ["this is not json", "{\"household\": ", "[1, 2, 3]"] {
        let r = s
            .send(
                s.client()
                    .post(s.url("/v1/requests"))
                    .bearer_auth(&kel)
                    .header("Content-Type", "application/json")
                    .body(raw),
            )
            .await;
        r.problem(400, "MALFORMED_BODY");
    }
    let r = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Accept-Language", "en")
                .header("Content-Type", "application/json")
                .body("nope"),
        )
        .await;
    r.problem(400, "MALFORMED_BODY");
    assert_eq!(r.json["title"], "Body is not valid JSON");
}

/// A field the API does not know (a misspelt `override_reason`, an extra key inside
/// `reported_by`) is named with `FIELD_UNKNOWN` next to the other bad fields, instead of being
/// dropped without a word; nothing is stored, and the corrected body goes through. A body
/// saved by a Windows tool with a UTF-8 byte order mark is read as JSON.
#[tokio::test]
async fn a_misspelt_field_is_named_and_nothing_is_stored() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let mut body = submit_body(KEL_A);
    body["overide_reason"] = json!("dikirim ulang");
    body["reported_by"]["hp"] = json!("081298765432");
    body["category"] = json!("kaya");

    let r = s.post_resp("/v1/requests", Some(&kel), &body).await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("overide_reason").as_deref(),
        Some("FIELD_UNKNOWN")
    );
    assert_eq!(
        r.error_code("reported_by.hp").as_deref(),
        Some("FIELD_UNKNOWN")
    );
    assert_eq!(
        r.error_code("category").as_deref(),
        Some("CATEGORY_INVALID")
    );
    assert_eq!(r.error_fields().len(), 3, "{}", r.text);
    assert!(
        s.list_all(&kel, "").await.is_empty(),
        "a refused body stores nothing"
    );

    let mut fixed = body.clone();
    let obj = fixed.as_object_mut().unwrap();
    obj.remove("overide_reason");
    obj["reported_by"].as_object_mut().unwrap().remove("hp");
    obj["category"] = json!("miskin_ekstrem");
    let mut raw = "\u{feff}".to_string();
    raw.push_str(&fixed.to_string());
    let r = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Content-Type", "application/json")
                .body(raw),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(s.list_all(&kel, "").await.len(), 1);
}

/// A member given twice in one object (two `head_nik`s: which one did the clerk mean?) is a
/// 400 naming it, never the last one taken without a word; the NIKs are not echoed and
/// nothing is stored.
#[tokio::test]
async fn a_member_given_twice_is_named_and_nothing_is_stored() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let body = submit_body(KEL_A).to_string();
    let nik = submit_body(KEL_A)["household"]["head_nik"]
        .as_str()
        .unwrap()
        .to_string();
    let other = "3275014101870099";
    let raw = body.replacen(
        "\"household\":{",
        &format!("\"household\":{{\"head_nik\":\"{other}\","),
        1,
    );
    assert_ne!(
        raw, body,
        "the household object is where the test expects it"
    );
    let raw = format!("{{\"category\":\"miskin_ekstrem\",{}", &raw[1..]);
    let r = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Content-Type", "application/json")
                .body(raw),
        )
        .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        r.error_code("household.head_nik").as_deref(),
        Some("FIELD_REPEATED"),
        "{}",
        r.text
    );
    assert_eq!(r.error_code("category").as_deref(), Some("FIELD_REPEATED"));
    assert!(
        !r.text.contains(&nik) && !r.text.contains(other),
        "no NIK echoed: {}",
        r.text
    );
    assert!(s.list_all(&kel, "").await.is_empty(), "nothing stored");
}

/// A NIK typed where a member or parameter name goes is masked in the error that names it,
/// like every NIK the API shows; a top-level array is malformed, repeated members or not.
#[tokio::test]
async fn a_nik_used_as_a_name_is_masked_in_the_error() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let nik = "3275014508750001";
    let mut body = submit_body(KEL_A);
    body["household"][nik] = json!("x");
    let in_body = s.post_resp("/v1/requests", Some(&kel), &body).await;
    in_body.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        in_body.error_code("household.3275********0001").as_deref(),
        Some("FIELD_UNKNOWN"),
        "{}",
        in_body.text
    );
    let in_query = s
        .get_resp(&format!("/v1/requests?{nik}=1"), Some(&kel))
        .await;
    in_query.problem(400, "VALIDATION_FAILED");
    assert_eq!(
        in_query.error_code("3275********0001").as_deref(),
        Some("FIELD_UNKNOWN")
    );
    for r in [&in_body, &in_query] {
        assert!(!r.text.contains(nik), "{}", r.text);
    }
    let r = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Content-Type", "application/json")
                .body(r#"[{"a": 1, "a": 2}]"#),
        )
        .await;
    r.problem(400, "MALFORMED_BODY");
}

/// A misspelt or repeated query parameter is a 400 naming it, instead of a list that quietly
/// ignores the filter and answers everything.
#[tokio::test]
async fn a_misspelt_or_repeated_query_parameter_is_named() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    s.submit_ok(&kel, &submit_body(KEL_A)).await;
    for (path, token, field, code) in [
        (
            "/v1/requests?stauts=approved",
            &kel,
            "stauts",
            "FIELD_UNKNOWN",
        ),
        (
            "/v1/requests?limit=5&limit=50",
            &kel,
            "limit",
            "FIELD_REPEATED",
        ),
        (
            "/v1/shipments?state=ready",
            &dinas,
            "state",
            "FIELD_UNKNOWN",
        ),
        (
            "/v1/reports/summary?dari=2026-12-01",
            &dinas,
            "dari",
            "FIELD_UNKNOWN",
        ),
    ] {
        let r = s.get_resp(path, Some(token)).await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(
            r.error_code(field).as_deref(),
            Some(code),
            "{path}: {}",
            r.text
        );
    }
    let (st, v) = s.get("/v1/requests?status=approved", &kel).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["items"].as_array().map(Vec::len),
        Some(0),
        "the filter applies: {v}"
    );
}

/// A JSON body sent as another media type, or without a `Content-Type`, is refused with 415
/// `UNSUPPORTED_MEDIA_TYPE` and creates nothing; JSON types with a UTF-8 charset are fine.
#[tokio::test]
async fn a_body_not_sent_as_json_is_an_unsupported_media_type() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let body = submit_body(KEL_A);
    let raw = body.to_string();
    for ct in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = s
            .client()
            .post(s.url("/v1/requests"))
            .bearer_auth(&kel)
            .body(raw.clone());
        if let Some(ct) = ct {
            req = req.header("Content-Type", ct);
        }
        let r = s.send(req).await;
        let p = r.problem(415, "UNSUPPORTED_MEDIA_TYPE");
        assert!(
            p["detail"]
                .as_str()
                .unwrap_or("")
                .contains("application/json"),
            "{}",
            r.text
        );
        assert!(!r.text.contains(&nik_of(&body)), "{}", r.text);
    }
    assert!(
        s.list_all(&dinas, "limit=100").await.is_empty(),
        "a refused body creates nothing"
    );
    // The same on a transition route, in English.
    let id = s.submit_ok(&kel, &body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .send(
            s.client()
                .post(s.url(&format!("/v1/requests/{id}/cancel")))
                .bearer_auth(&kel)
                .header("Accept-Language", "en")
                .header("Content-Type", "text/plain")
                .body(r#"{"reason": "salah input"}"#),
        )
        .await;
    assert_eq!(
        r.problem(415, "UNSUPPORTED_MEDIA_TYPE")["title"],
        "Unsupported media type"
    );
    let (_, now) = s.get(&format!("/v1/requests/{id}"), &kel).await;
    assert_eq!(now["status"], "submitted");
    // JSON with a charset is JSON.
    let r = s
        .send(
            s.client()
                .post(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Content-Type", "application/json; charset=utf-8")
                .body(submit_body(KEL_A).to_string()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn missing_garbage_and_foreign_tokens_are_unauthenticated() {
    let s = Server::start();
    // RFC 6750: a 401 challenges for a bearer token; a refused token is `invalid_token`.
    let challenge = |r: &Resp| {
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("a 401 without WWW-Authenticate: {}", r.text))
            .to_string()
    };
    // No token.
    let r = s.get_resp("/v1/requests", None).await;
    r.problem(401, "UNAUTHENTICATED");
    assert_eq!(challenge(&r), r#"Bearer realm="basoka""#);
    s.post_resp("/v1/requests", None, &submit_body(KEL_A))
        .await
        .problem(401, "UNAUTHENTICATED");
    // Garbage.
    let r = s.get_resp("/v1/requests", Some("garbage.token.here")).await;
    r.problem(401, "UNAUTHENTICATED");
    assert_eq!(
        challenge(&r),
        r#"Bearer realm="basoka", error="invalid_token""#
    );
    let r = s
        .send(
            s.client()
                .get(s.url("/v1/requests"))
                .header("Authorization", "Basic dXNlcjpwYXNz"),
        )
        .await;
    r.problem(401, "UNAUTHENTICATED");
    // Signed by another data folder's secret.
    let other = TempDir::new().expect("other data folder");
    let foreign = token_for_dir(other.path(), "dinas", None, None);
    s.get_resp("/v1/requests", Some(&foreign))
        .await
        .problem(401, "UNAUTHENTICATED");
    let foreign_kel = token_for_dir(other.path(), "kelurahan", Some(KEL_A), None);
    s.post_resp("/v1/requests", Some(&foreign_kel), &submit_body(KEL_A))
        .await
        .problem(401, "UNAUTHENTICATED");
    // The same roles with this server's tokens work.
    let (st, _) = s.get("/v1/requests", &s.dinas_token()).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn roles_that_may_not_use_a_route_are_forbidden() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let gudang = s.gudang_token();
    let surveyor = s.surveyor_token("surveyor-1");
    let dinas = s.dinas_token();

    s.post_resp("/v1/requests", Some(&gudang), &submit_body(KEL_A))
        .await
        .problem(403, "FORBIDDEN");
    s.post_resp("/v1/requests", Some(&dinas), &submit_body(KEL_A))
        .await
        .problem(403, "FORBIDDEN");

    let id = submit_and_assign(&s, &kel, &dinas, "surveyor-1").await;
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &surveyor,
            &survey_body("approve"),
        )
        .await;
    assert_eq!(st, 200, "{v}");

    s.post_resp(
        &format!("/v1/requests/{id}/decision"),
        Some(&surveyor),
        &approve_body(),
    )
    .await
    .problem(403, "FORBIDDEN");
    s.post_resp(
        &format!("/v1/requests/{id}/decision"),
        Some(&kel),
        &approve_body(),
    )
    .await
    .problem(403, "FORBIDDEN");
    s.post_resp(
        &format!("/v1/requests/{id}/survey-assignment"),
        Some(&kel),
        &json!({"surveyor": "surveyor-1"}),
    )
    .await
    .problem(403, "FORBIDDEN");
    s.post_resp(
        &format!("/v1/requests/{id}/cancel"),
        Some(&gudang),
        &json!({"reason": "salah input"}),
    )
    .await
    .problem(403, "FORBIDDEN");

    let en = s
        .send(
            s.client()
                .post(s.url(&format!("/v1/requests/{id}/decision")))
                .bearer_auth(&surveyor)
                .header("Accept-Language", "en")
                .json(&approve_body()),
        )
        .await;
    en.problem(403, "FORBIDDEN");
    assert_eq!(en.json["title"], "Forbidden");

    // None of that changed the request.
    let (st, v) = s.get(&format!("/v1/requests/{id}"), &dinas).await;
    assert_eq!(st, 200);
    assert_eq!(v["status"], "surveyed");
    let (_, h) = s.get(&format!("/v1/requests/{id}/history"), &dinas).await;
    assert_eq!(h.as_array().map(Vec::len), Some(3), "{h}");
}

#[tokio::test]
async fn unknown_and_malformed_ids_and_unknown_routes_are_not_found() {
    let s = Server::start();
    let dinas = s.dinas_token();
    let kel = s.kelurahan_token(KEL_A);
    for path in [
        format!("/v1/requests/{UNKNOWN_ID}"),
        format!("/v1/requests/{UNKNOWN_ID}/history"),
        "/v1/requests/not-an-id".to_string(),
        "/v1/requests/not-an-id/history".to_string(),
        "/v1/requests/0190000000007000800000000000000".to_string(),
        "/v1/no-such-route".to_string(),
    ] {
        s.get_resp(&path, Some(&dinas))
            .await
            .problem(404, "NOT_FOUND");
    }
    s.post_resp(
        &format!("/v1/requests/{UNKNOWN_ID}/decision"),
        Some(&dinas),
        &reject_body(),
    )
    .await
    .problem(404, "NOT_FOUND");
    s.post_resp(
        &format!("/v1/requests/{UNKNOWN_ID}/survey-assignment"),
        Some(&dinas),
        &json!({"surveyor": "surveyor-1"}),
    )
    .await
    .problem(404, "NOT_FOUND");
    s.post_resp(
        "/v1/requests/xyz/cancel",
        Some(&kel),
        &json!({"reason": "salah input"}),
    )
    .await
    .problem(404, "NOT_FOUND");

    let id = s.get_resp("/v1/requests/not-an-id", Some(&dinas)).await;
    let en = s
        .send(
            s.client()
                .get(s.url("/v1/requests/not-an-id"))
                .bearer_auth(&dinas)
                .header("Accept-Language", "en"),
        )
        .await;
    assert_eq!(id.json["title"], "Tidak ditemukan");
    assert_eq!(en.json["title"], "Not found");
}

/// A known path with a method it does not have: 405 problem+json `METHOD_NOT_ALLOWED`, with
/// an `Allow` header listing the methods it has, in either language; nothing is changed.
#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let created = s.submit_ok(&kel, &submit_body(KEL_A)).await;
    let id = created["id"].as_str().expect("id");
    let c = s.client();
    for (what, req, allowed) in [
        (
            "DELETE /v1/requests",
            c.delete(s.url("/v1/requests")),
            &["GET", "POST"][..],
        ),
        (
            "PUT /v1/requests/{id}",
            c.put(s.url(&format!("/v1/requests/{id}")))
                .json(&submit_body(KEL_A)),
            &["GET"][..],
        ),
        ("POST /v1/health", c.post(s.url("/v1/health")), &["GET"][..]),
        (
            "GET /v1/requests/{id}/cancel",
            c.get(s.url(&format!("/v1/requests/{id}/cancel"))),
            &["POST"][..],
        ),
    ] {
        let r = s.send(req.bearer_auth(&kel)).await;
        let p = r.problem(405, "METHOD_NOT_ALLOWED");
        assert_eq!(p["title"], "Metode tidak diizinkan", "{what}: {}", r.text);
        let allow = r
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no Allow header"));
        let listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        for m in allowed {
            assert!(listed.contains(m), "{what}: Allow `{allow}` lacks {m}");
        }
    }
    let en = s
        .send(
            c.delete(s.url("/v1/requests"))
                .bearer_auth(&kel)
                .header("Accept-Language", "en"),
        )
        .await;
    assert_eq!(
        en.problem(405, "METHOD_NOT_ALLOWED")["title"],
        "Method not allowed"
    );
    let (_, now) = s.get(&format!("/v1/requests/{id}"), &kel).await;
    assert_eq!(now["status"], "submitted", "nothing changed: {now}");
}

#[tokio::test]
async fn a_decision_before_the_survey_is_an_invalid_transition() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let id = s.submit_ok(&kel, &submit_body(KEL_A)).await["id"]
        .as_str()
        .expect("id")
        .to_string();

    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/decision"),
            Some(&dinas),
            &approve_body(),
        )
        .await;
    assert_eq!(
        r.problem(409, "INVALID_TRANSITION")["current_status"],
        "submitted"
    );
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/decision"),
            Some(&dinas),
            &reject_body(),
        )
        .await;
    assert_eq!(
        r.problem(409, "INVALID_TRANSITION")["current_status"],
        "submitted"
    );
    // A survey cannot be recorded before it is assigned either.
    let surveyor = s.surveyor_token("surveyor-1");
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/survey"),
            Some(&surveyor),
            &survey_body("approve"),
        )
        .await;
    assert_eq!(
        r.problem(409, "INVALID_TRANSITION")["current_status"],
        "submitted"
    );

    let (_, v) = s.get(&format!("/v1/requests/{id}"), &dinas).await;
    assert_eq!(v["status"], "submitted");
    let (_, h) = s.get(&format!("/v1/requests/{id}/history"), &dinas).await;
    assert_eq!(h.as_array().map(Vec::len), Some(1), "{h}");
}

/// A survey due time in the past or more than 90 days ahead (a wrong year) is refused and the
/// request stays submitted; one within the window is taken.
#[tokio::test]
async fn a_survey_due_time_outside_the_window_is_refused() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let id = s.submit_ok(&kel, &submit_body(KEL_A)).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let path = format!("/v1/requests/{id}/survey-assignment");
    let now = chrono::Utc::now();
    for (due, code) in [
        (
            (now - chrono::Duration::hours(1)).to_rfc3339(),
            "DUE_AT_IN_PAST",
        ),
        (
            (now + chrono::Duration::days(91)).to_rfc3339(),
            "DUE_AT_TOO_FAR",
        ),
        ("9999-12-31T23:59:59-23:59".to_string(), "DUE_AT_TOO_FAR"),
    ] {
        let r = s
            .post_resp(
                &path,
                Some(&dinas),
                &json!({"surveyor": "surveyor-1", "due_at": due}),
            )
            .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(
            r.error_code("due_at").as_deref(),
            Some(code),
            "{due}: {}",
            r.text
        );
    }
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &dinas).await;
    assert_eq!(v["status"], "submitted", "nothing changed: {v}");

    let due = (now + chrono::Duration::days(89)).to_rfc3339();
    let (st, v) = s
        .post(
            &path,
            &dinas,
            &json!({"surveyor": "surveyor-1", "due_at": due}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "survey_assigned");
}

#[tokio::test]
async fn a_second_active_request_for_the_same_household_is_a_duplicate() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let nik = "3275014101900003";
    let kk = "3275010203040005";
    let first = s.submit_ok(&kel, &submit_body_with(KEL_A, nik, kk)).await;
    let first_id = first["id"].as_str().expect("id").to_string();

    let (_, other_kk) = unique_nik_kk();
    let (other_nik, _) = unique_nik_kk();
    let attempts = [
        ("same NIK, another KK", nik.to_string(), other_kk.clone()),
        (
            "same NIK typed with dots",
            "3275.0141.0190.0003".to_string(),
            other_kk.clone(),
        ),
        (
            "same NIK typed with spaces",
            "3275 0141 0190 0003".to_string(),
            other_kk.clone(),
        ),
        ("another NIK, same KK", other_nik.clone(), kk.to_string()),
        (
            "same KK typed with dashes",
            other_nik.clone(),
            "3275-0102-0304-0005".to_string(),
        ),
    ];
    for (what, n, k) in attempts {
        let r = s
            .post_resp("/v1/requests", Some(&kel), &submit_body_with(KEL_A, &n, &k))
            .await;
        let p = r.problem(409, "DUPLICATE_ACTIVE_REQUEST");
        assert_eq!(p["existing_request_id"], first_id.as_str(), "{what}");
        assert!(
            p["detail"].as_str().unwrap_or("").contains(&first_id),
            "{what}: the detail should name the existing request: {}",
            r.text
        );
        assert!(
            !r.text.contains(nik) && !r.text.contains(kk),
            "{what}: no full NIK/KK in {}",
            r.text
        );
    }
    let all = s.list_all(&kel, "limit=100").await;
    assert_eq!(all.len(), 1, "duplicates must not be stored");
}

#[tokio::test]
async fn a_body_over_64_kib_is_too_large() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let mut body = submit_body(KEL_A);
    body["situation"] = json!("a".repeat(70 * 1024));
    let r = s.post_resp("/v1/requests", Some(&kel), &body).await;
    r.problem(413, "PAYLOAD_TOO_LARGE");
    let all = s.list_all(&kel, "limit=100").await;
    assert!(all.is_empty(), "nothing may be created: {all:?}");

    // Just under the limit is read (and then refused for the over-long situation only).
    let mut body = submit_body(KEL_A);
    body["situation"] = json!("a".repeat(60 * 1024));
    let r = s.post_resp("/v1/requests", Some(&kel), &body).await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(r.error_fields(), vec!["situation".to_string()]);
}
