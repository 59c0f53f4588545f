//! The Dinas's report, `GET /v1/reports/summary?from=&to=`, over HTTP: requests of two
//! kelurahan taken to different states are counted by their status now, per kelurahan and in
//! total, as JSON and as a CSV download; the days are days in WIB; only the Dinas may read it;
//! bad dates are refused naming every bad field; and neither body names a household.
//!
//! The server's request clock is frozen (`BASOKA_TEST_FROZEN_CLOCK`) at 4 December 2026
//! 18:30 UTC, which is already 5 December 01:30 in Bekasi: every request is submitted then,
//! so the report's "today" and the requests' day are the WIB date, not the UTC one. Event
//! delivery is off, so an approved request stays `approved`.

use basoka_tests::*;

/// 5 December 2026, 01:30 WIB.
const AT: &str = "2026-12-04T18:30:00Z";
const SUMMARY: &str = "/v1/reports/summary";

fn server() -> Server {
    Server::start_with(
        ServeOptions::new()
            .env("BASOKA_TEST_FROZEN_CLOCK", AT)
            .env("BASOKA_DELIVERY", "off"),
    )
}

/// Takes a submitted request through survey to the Dinas's `decision`.
async fn decide(s: &Server, dinas: &str, surveyor: &str, id: &str, decision: &Value) {
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            dinas,
            &json!({"surveyor": "surveyor-1"}),
        )
        .await;
    assert_eq!(st, 200, "assignment: {v}");
    let mut survey = survey_body("approve");
    // A visit cannot be after the (frozen) now, nor before the assignment.
    survey["visited_at"] = json!(AT);
    let (st, v) = s
        .post(&format!("/v1/requests/{id}/survey"), surveyor, &survey)
        .await;
    assert_eq!(st, 200, "survey: {v}");
    let (st, v) = s
        .post(&format!("/v1/requests/{id}/decision"), dinas, decision)
        .await;
    assert_eq!(st, 200, "decision: {v}");
}

/// `GET path` with a token and extra headers.
async fn get_with(s: &Server, path: &str, token: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = s.client().get(s.url(path)).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    s.send(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dinas_reads_the_period_as_json_and_csv_counted_by_status_and_kelurahan() {
    let s = server();
    let kel_a = s.kelurahan_token(KEL_A);
    let kel_b = s.kelurahan_token(KEL_B);
    let dinas = s.dinas_token();
    let surveyor = s.surveyor_token("surveyor-1");

    // Kelurahan A: one left submitted, one approved (2 packages), one rejected.
    // Kelurahan B: one left submitted (rentan miskin, biasa), one cancelled by its staff.
    let mut bodies = Vec::new();
    let mut submitted = Vec::new();
    for (kel, token) in [
        (KEL_A, &kel_a),
        (KEL_A, &kel_a),
        (KEL_A, &kel_a),
        (KEL_B, &kel_b),
        (KEL_B, &kel_b),
    ] {
        let mut body = submit_body(kel);
        if bodies.len() == 3 {
            body["category"] = json!("rentan_miskin");
            body["urgency"] = json!("biasa");
        }
        let r = s.submit_ok(token, &body).await;
        assert_eq!(utc_key(&r["created_at"]), utc_key(&json!(AT)), "frozen");
        bodies.push(body);
        submitted.push(r);
    }
    let id = |i: usize| submitted[i]["id"].as_str().expect("id").to_string();
    let mut approve = approve_body();
    approve["packages"] = json!(2);
    decide(&s, &dinas, &surveyor, &id(1), &approve).await;
    decide(&s, &dinas, &surveyor, &id(2), &reject_body()).await;
    let (st, v) = s
        .post(
            &format!("/v1/requests/{}/cancel", id(4)),
            &kel_b,
            &json!({"reason": "Keluarga pindah ke luar kota."}),
        )
        .await;
    assert_eq!(st, 200, "cancel: {v}");
    let not_in_registry = submitted
        .iter()
        .filter(|r| {
            r["flags"]
                .as_array()
                .expect("flags")
                .contains(&json!("not_in_registry"))
        })
        .count();

    // The default period: the 30 days up to today in WIB (5 December, not the UTC 4th).
    let json_report = get_with(&s, SUMMARY, &dinas, &[]).await;
    assert_eq!(json_report.status, 200, "{}", json_report.text);
    assert!(
        json_report.content_type.starts_with("application/json"),
        "{}",
        json_report.content_type
    );
    let r = &json_report.json;
    assert_eq!(r["from"], "2026-11-06");
    assert_eq!(r["to"], "2026-12-05");
    assert_eq!(r["timezone"], "Asia/Jakarta");
    assert_eq!(utc_key(&r["generated_at"]), utc_key(&json!(AT)));
    assert_eq!(r["total"], 5);
    let statuses = [
        ("submitted", 2),
        ("survey_assigned", 0),
        ("surveyed", 0),
        ("approved", 1),
        ("rejected", 1),
        ("waitlisted", 0),
        ("allocated", 0),
        ("dispatched", 0),
        ("delivered", 0),
        ("cancelled", 1),
    ];
    assert_eq!(
        r["by_status"].as_object().map(|m| m.len()),
        Some(statuses.len()),
        "every status, zeros included: {}",
        r["by_status"]
    );
    for (status, n) in statuses {
        assert_eq!(r["by_status"][status], n, "{status}: {}", r["by_status"]);
    }
    assert_eq!(r["by_category"]["miskin_ekstrem"], 4);
    assert_eq!(r["by_category"]["rentan_miskin"], 1);
    assert_eq!(r["by_urgency"]["darurat"], 4);
    assert_eq!(r["by_urgency"]["biasa"], 1);
    assert_eq!(r["flags"]["not_in_registry"], not_in_registry);
    assert_eq!(r["packages_approved"], 2);
    // Two decisions, each in the very instant of its submission (the clock is frozen).
    assert_eq!(r["decision_time"]["decided"], 2);
    assert_eq!(r["decision_time"]["median_hours"], 0.0);
    let kel = r["by_kelurahan"].as_array().expect("by_kelurahan");
    assert_eq!(kel.len(), 2, "{}", r["by_kelurahan"]);
    assert_eq!(kel[0]["kelurahan_code"], KEL_A);
    assert_eq!(kel[0]["kelurahan"], "Bekasijaya");
    assert_eq!(kel[0]["kecamatan"], "Bekasi Timur");
    assert_eq!(kel[0]["total"], 3);
    assert_eq!(kel[0]["by_status"]["submitted"], 1);
    assert_eq!(kel[0]["by_status"]["approved"], 1);
    assert_eq!(kel[0]["by_status"]["rejected"], 1);
    assert_eq!(kel[1]["kelurahan_code"], KEL_B);
    assert_eq!(kel[1]["total"], 2);
    assert_eq!(kel[1]["by_status"]["submitted"], 1);
    assert_eq!(kel[1]["by_status"]["cancelled"], 1);

    // The same as CSV: one row per kelurahan, then TOTAL, as a download.
    let csv = get_with(&s, SUMMARY, &dinas, &[("Accept", "text/csv")]).await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        csv.headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"basoka-ringkasan-2026-11-06-2026-12-05.csv\"")
    );
    assert!(csv.text.ends_with("\r\n"), "CRLF line ends");
    let rows: Vec<Vec<&str>> = csv
        .text
        .split_terminator("\r\n")
        .map(|l| l.split(',').collect())
        .collect();
    let mut header = vec!["kelurahan_code", "kelurahan", "total"];
    header.extend(statuses.iter().map(|(s, _)| *s));
    assert_eq!(rows[0], header);
    assert_eq!(rows.len(), 4, "header, two kelurahan, TOTAL: {}", csv.text);
    // Each row says what the JSON says.
    for (row, k) in rows[1..3].iter().zip(kel) {
        assert_eq!(row[0], k["kelurahan_code"]);
        assert_eq!(row[1], k["kelurahan"]);
        assert_eq!(row[2], k["total"].to_string());
        for (i, (status, _)) in statuses.iter().enumerate() {
            assert_eq!(row[3 + i], k["by_status"][status].to_string(), "{status}");
        }
    }
    let mut total = vec!["TOTAL".to_string(), String::new(), "5".to_string()];
    total.extend(statuses.iter().map(|(_, n)| n.to_string()));
    assert_eq!(rows[3], total);

    // Neither body names a household: no NIK or KK (not even masked), name, phone, street
    // or free text.
    for body in &bodies {
        let h = &body["household"];
        let nik = nik_of(body);
        let kk = kk_of(body);
        let mut secrets = vec![masked(&nik), masked(&kk), nik, kk];
        for v in [
            &h["head_name"],
            &h["phone"],
            &h["address"]["street"],
            &body["situation"],
            &body["reported_by"]["name"],
            &body["reported_by"]["phone"],
        ] {
            secrets.push(v.as_str().expect("a string").to_string());
        }
        for secret in secrets {
            for (what, text) in [("JSON", &json_report.text), ("CSV", &csv.text)] {
                assert!(!text.contains(&secret), "{what} contains {secret}: {text}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_are_wib_days_and_only_the_dinas_may_read_them() {
    let s = server();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    s.submit_ok(&kel, &submit_body(KEL_A)).await;

    // Submitted on 5 December in Bekasi (4 December in UTC).
    for (query, total) in [
        ("?from=2026-12-05&to=2026-12-05", 1),
        ("?to=2026-12-05", 1),
        ("?from=2026-12-05", 1),
        ("?to=2026-12-04", 0),
        ("?from=2026-12-06&to=2026-12-31", 0),
        ("?from=2025-12-05&to=2026-12-05", 1),
    ] {
        let r = get_with(&s, &format!("{SUMMARY}{query}"), &dinas, &[]).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(r.json["total"], total, "{query}: {}", r.text);
        let kelurahan = r.json["by_kelurahan"].as_array().map(Vec::len);
        assert_eq!(kelurahan, Some(total), "only kelurahan with requests");
    }
    // An empty CSV still has its header and TOTAL row.
    let r = get_with(
        &s,
        &format!("{SUMMARY}?to=2026-12-04"),
        &dinas,
        &[("Accept", "text/csv")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.text);
    assert!(lines[1].starts_with("TOTAL,,0,"), "{}", r.text);

    // Other roles get the problem the other Dinas routes give; no token is 401.
    for token in [kel, s.surveyor_token("surveyor-1"), s.gudang_token()] {
        for accept in ["application/json", "text/csv"] {
            let r = get_with(&s, SUMMARY, &token, &[("Accept", accept)]).await;
            r.problem(403, "FORBIDDEN");
        }
    }
    s.get_resp(SUMMARY, None)
        .await
        .problem(401, "UNAUTHENTICATED");
    let r = s.post_resp(SUMMARY, Some(&dinas), &json!({})).await;
    r.problem(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn bad_dates_are_refused_naming_every_bad_field_in_either_language() {
    let s = server();
    let dinas = s.dinas_token();
    let path = format!("{SUMMARY}?from=kemarin&to=2026-13-01");
    let r = get_with(&s, &path, &dinas, &[]).await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(r.error_fields(), ["from", "to"], "{}", r.text);
    assert_eq!(r.error_code("from").as_deref(), Some("DATE_INVALID"));
    assert_eq!(r.error_code("to").as_deref(), Some("DATE_INVALID"));
    assert!(
        r.text.contains("TTTT-BB-HH"),
        "Bahasa Indonesia: {}",
        r.text
    );
    let en = get_with(&s, &path, &dinas, &[("Accept-Language", "en")]).await;
    en.problem(400, "VALIDATION_FAILED");
    assert!(en.text.contains("YYYY-MM-DD"), "English: {}", en.text);
    assert!(!en.text.contains("TTTT-BB-HH"), "{}", en.text);
    // Asked for CSV: the problem is a problem document all the same.
    let r = get_with(&s, &path, &dinas, &[("Accept", "text/csv")]).await;
    r.problem(400, "VALIDATION_FAILED");

    for (query, code) in [
        ("?from=2026-12-06&to=2026-12-05", "PERIOD_REVERSED"),
        // After today (5 December in WIB), with `to` defaulting to today.
        ("?from=2026-12-06", "PERIOD_REVERSED"),
        ("?from=2025-12-04&to=2026-12-05", "PERIOD_TOO_LONG"),
    ] {
        let r = get_with(&s, &format!("{SUMMARY}{query}"), &dinas, &[]).await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(r.error_fields(), ["from"], "{query}: {}", r.text);
        assert_eq!(r.error_code("from").as_deref(), Some(code), "{query}");
    }
}
