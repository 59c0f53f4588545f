//! Survey scope and the open routes: a surveyor cannot record a survey assigned to someone
//! else (404, as if it did not exist); `/v1/health` and `/v1/openapi.json` need no token and
//! the OpenAPI document lists every request route; the server's first stdout line is the URL
//! scripts read.

use basoka_tests::*;

#[tokio::test]
async fn a_survey_assigned_to_another_surveyor_is_not_found() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let id = submit_and_assign(&s, &kel, &dinas, "surveyor-1").await;

    let other = s.surveyor_token("surveyor-2");
    s.post_resp(
        &format!("/v1/requests/{id}/survey"),
        Some(&other),
        &survey_body("approve"),
    )
    .await
    .problem(404, "NOT_FOUND");
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &dinas).await;
    assert_eq!(v["status"], "survey_assigned");
    assert!(v["survey_report"].is_null(), "{v}");

    // Reassigned to surveyor-2, it is theirs and no longer surveyor-1's.
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            &dinas,
            &json!({"surveyor": "surveyor-2"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let first = s.surveyor_token("surveyor-1");
    s.post_resp(
        &format!("/v1/requests/{id}/survey"),
        Some(&first),
        &survey_body("approve"),
    )
    .await
    .problem(404, "NOT_FOUND");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &other,
            &survey_body("approve"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "surveyed");
    assert_eq!(v["survey_report"]["recorded_by"]["sub"], "surveyor-2");
}

#[tokio::test]
async fn survey_fields_are_validated_together() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let id = submit_and_assign(&s, &kel, &dinas, "surveyor-1").await;
    let surveyor = s.surveyor_token("surveyor-1");
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/survey"),
            Some(&surveyor),
            &json!({"visited_at": "kemarin", "members_verified": "4", "recommendation": "maybe"}),
        )
        .await;
    r.problem(400, "VALIDATION_FAILED");
    let fields = r.error_fields();
    for f in [
        "visited_at",
        "findings",
        "members_verified",
        "recommendation",
    ] {
        assert!(fields.iter().any(|x| x == f), "`{f}` missing in {fields:?}");
    }
    // Approving needs the package fields.
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/decision"),
            Some(&dinas),
            &json!({"decision": "approve"}),
        )
        .await;
    r.problem(400, "VALIDATION_FAILED");
    let fields = r.error_fields();
    for f in ["reason", "package_code", "packages", "delivery"] {
        assert!(fields.iter().any(|x| x == f), "`{f}` missing in {fields:?}");
    }
}

#[tokio::test]
async fn health_and_openapi_are_open_and_the_spec_lists_every_route() {
    let s = Server::start();
    let health = s.get_resp("/v1/health", None).await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert!(
        health.json.is_object(),
        "health answers JSON: {}",
        health.text
    );

    let spec = s.get_resp("/v1/openapi.json", None).await;
    assert_eq!(spec.status, 200, "{}", spec.text);
    assert!(
        spec.json["openapi"].as_str().unwrap_or("").starts_with('3'),
        "an OpenAPI 3 document"
    );
    let paths = &spec.json["paths"];
    for (path, methods) in [
        ("/v1/requests", &["get", "post"][..]),
        ("/v1/requests/{id}", &["get"][..]),
        ("/v1/requests/{id}/history", &["get"][..]),
        ("/v1/requests/{id}/cancel", &["post"][..]),
        ("/v1/requests/{id}/survey-assignment", &["post"][..]),
        ("/v1/requests/{id}/survey", &["post"][..]),
        ("/v1/requests/{id}/decision", &["post"][..]),
        ("/v1/reports/summary", &["get"][..]),
        ("/v1/health", &["get"][..]),
        ("/v1/openapi.json", &["get"][..]),
        ("/v1/kelurahan", &["get"][..]),
    ] {
        assert!(paths[path].is_object(), "`{path}` missing from the spec");
        for m in methods {
            assert!(
                paths[path][*m].is_object(),
                "`{} {path}` missing from the spec",
                m.to_uppercase()
            );
        }
    }
}

#[tokio::test]
async fn the_first_stdout_line_is_the_url_even_on_a_first_run() {
    let mut s = Server::start();
    let first = s.first_stdout_line().to_string();
    assert!(
        first.starts_with("BASOKA listening on http://127.0.0.1:"),
        "scripts read the first stdout line; on a fresh data folder it was `{first}`"
    );
    assert_eq!(first, format!("BASOKA listening on {}", s.base_url()));
    s.restart();
    let first = s.first_stdout_line().to_string();
    assert_eq!(first, format!("BASOKA listening on {}", s.base_url()));
}
