//! The request journeys end to end over HTTP: a kelurahan submits, the Dinas assigns the
//! survey, the surveyor records it and the Dinas approves or rejects — with the history that
//! every step leaves — and the registry check against a DTKS/DTSEN file imported with
//! `basoka registry import` before the server starts.

use basoka_tests::*;

/// Request codes are `BSK-` and six Crockford base32 characters (no I, L, O, U).
fn assert_request_code(code: &Value) {
    let code = code.as_str().unwrap_or_else(|| panic!("code: {code}"));
    let rest = code
        .strip_prefix("BSK-")
        .unwrap_or_else(|| panic!("code `{code}` should start with BSK-"));
    assert_eq!(rest.len(), 6, "code `{code}`");
    assert!(
        rest.chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c))),
        "code `{code}` should be upper-case letters and digits without I, L, O, U"
    );
}

fn assert_history_entry(e: &Value, action: &str, from: Option<&str>, to: &str, role: &str) {
    assert_eq!(e["action"], action, "{e}");
    match from {
        Some(f) => assert_eq!(e["from"], f, "{e}"),
        None => assert!(e["from"].is_null(), "first entry has no `from`: {e}"),
    }
    assert_eq!(e["to"], to, "{e}");
    assert_eq!(e["actor"]["role"], role, "{e}");
    assert!(
        !e["actor"]["sub"].as_str().unwrap_or("").is_empty(),
        "actor sub: {e}"
    );
    utc_key(&e["at"]);
}

fn assert_oldest_first(history: &[Value]) {
    for pair in history.windows(2) {
        assert!(
            utc_key(&pair[0]["at"]) <= utc_key(&pair[1]["at"]),
            "history should be oldest first: {} then {}",
            pair[0]["at"],
            pair[1]["at"]
        );
    }
}

#[tokio::test]
async fn a_request_goes_from_submitted_to_approved_and_the_history_tells_who_did_what() {
    // Event delivery off: the request stays where the decision leaves it (`approved`)
    // instead of moving on to `allocated` on its own; that part of the journey is
    // `fulfilment_journey.rs`.
    let s = Server::start_with(ServeOptions::new().env("BASOKA_DELIVERY", "off"));
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let surveyor = s.surveyor_token("surveyor-1");
    let nik = "3275014101900003";
    let kk = "3275010203040005";
    let body = submit_body_with(KEL_A, nik, kk);

    // Submit.
    let r = s.post_resp("/v1/requests", Some(&kel), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let created = &r.json;
    assert_eq!(created["status"], "submitted");
    assert_request_code(&created["code"]);
    assert_eq!(created["household"]["head_nik"], "3275********0003");
    assert_eq!(created["household"]["kk"], "3275********0005");
    assert!(
        !r.text.contains(nik) && !r.text.contains(kk),
        "the POST response must not carry the full NIK/KK: {}",
        r.text
    );
    assert_eq!(created["kelurahan_code"], KEL_A);
    assert_eq!(
        created["household"]["address"]["kelurahan_name"],
        "Bekasijaya"
    );
    assert_eq!(created["household"]["phone"], "+6281234567890");
    assert_eq!(created["registry"]["found"], false, "no registry loaded");
    utc_key(&created["created_at"]);
    let id = created["id"].as_str().expect("id").to_string();

    // Read back.
    let (st, got) = s.get(&format!("/v1/requests/{id}"), &kel).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["code"], created["code"]);
    assert_eq!(got["status"], "submitted");

    // The warehouse has no need for the household's identity.
    let gudang = s.gudang_token();
    let g = s
        .get_resp(&format!("/v1/requests/{id}"), Some(&gudang))
        .await;
    assert_eq!(g.status, 200, "every role may read a request: {}", g.text);
    assert_eq!(g.json["household"]["head_nik"], "3275********0003");
    assert!(
        !g.text.contains(nik) && !g.text.contains(kk),
        "gudang must see NIK/KK masked: {}",
        g.text
    );

    // Assign the survey.
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            &dinas,
            &json!({"surveyor": "surveyor-1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "survey_assigned");
    assert_eq!(v["survey"]["surveyor"], "surveyor-1");

    // Record the survey.
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &surveyor,
            &survey_body("approve"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "surveyed");
    assert_eq!(v["survey_report"]["recommendation"], "approve");
    assert_eq!(v["survey_report"]["members_verified"], 4);

    // Decide.
    let decision = approve_body();
    let (st, v) = s
        .post(&format!("/v1/requests/{id}/decision"), &dinas, &decision)
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "approved");
    assert_eq!(v["decision"]["decision"], "approve");
    assert_eq!(v["decision"]["package_code"], "PAKET-SEMBAKO");
    assert_eq!(v["decision"]["packages"], 1);
    assert_eq!(v["decision"]["delivery"], "kelurahan");
    assert_eq!(v["decision"]["reason"], decision["reason"]);

    let (st, got) = s.get(&format!("/v1/requests/{id}"), &kel).await;
    assert_eq!(st, 200);
    assert_eq!(got["status"], "approved");

    // History: four entries, oldest first, each with its actor.
    let (st, h) = s.get(&format!("/v1/requests/{id}/history"), &kel).await;
    assert_eq!(st, 200, "{h}");
    let h = h.as_array().expect("history is an array").clone();
    assert_eq!(h.len(), 4, "{h:?}");
    assert_history_entry(&h[0], "submit", None, "submitted", "kelurahan");
    assert_history_entry(
        &h[1],
        "assign_survey",
        Some("submitted"),
        "survey_assigned",
        "dinas",
    );
    assert_history_entry(
        &h[2],
        "record_survey",
        Some("survey_assigned"),
        "surveyed",
        "surveyor",
    );
    assert_eq!(h[2]["actor"]["sub"], "surveyor-1");
    assert_history_entry(&h[3], "approve", Some("surveyed"), "approved", "dinas");
    assert_eq!(h[3]["reason"], decision["reason"]);
    assert_oldest_first(&h);
    for e in &h {
        assert_eq!(e["request_id"], id.as_str());
    }

    // A second decision on an approved request is not a transition.
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/decision"),
            Some(&dinas),
            &reject_body(),
        )
        .await;
    assert_eq!(
        r.problem(409, "INVALID_TRANSITION")["current_status"],
        "approved"
    );
}

#[tokio::test]
async fn a_rejected_request_records_the_reason_and_frees_the_household() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let surveyor = s.surveyor_token("surveyor-1");
    let body = submit_body(KEL_A);
    let id = s.submit_ok(&kel, &body).await["id"]
        .as_str()
        .expect("id")
        .to_string();

    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            &dinas,
            &json!({"surveyor": "surveyor-1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &surveyor,
            &survey_body("reject"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["survey_report"]["recommendation"], "reject");

    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/decision"),
            &dinas,
            &reject_body(),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["decision"]["decision"], "reject");
    assert_eq!(v["decision"]["reason"], reject_body()["reason"]);

    let (st, h) = s.get(&format!("/v1/requests/{id}/history"), &dinas).await;
    assert_eq!(st, 200, "{h}");
    let h = h.as_array().expect("history").clone();
    assert_eq!(h.len(), 4, "{h:?}");
    assert_history_entry(&h[3], "reject", Some("surveyed"), "rejected", "dinas");
    assert_eq!(h[3]["reason"], reject_body()["reason"]);
    assert_oldest_first(&h);

    // Rejected is not active: the household may be submitted again.
    let again = s.submit_ok(&kel, &body).await;
    assert_ne!(again["id"], id.as_str());
    assert_eq!(again["status"], "submitted");
}

#[tokio::test]
async fn the_imported_registry_decides_found_desil_and_flags() {
    let dir = TempDir::new().expect("data folder");
    let in_registry = ("3275015507800002", "3275011111110001"); // desil 2
    let above_target = ("3275011003700004", "3275011111110002"); // desil 6
    let not_in_registry = ("3275012104900005", "3275011111110003");
    let csv = format!(
        "nik,kk,nama,kelurahan_code,desil\n\
         {},{},Siti Maesaroh,32.75.01.1001,2\n\
         {},{},Ujang Supriatna,32.75.01.1001,6\n",
        in_registry.0, in_registry.1, above_target.0, above_target.1
    );
    let file = dir.path().join("dtks.csv");
    std::fs::write(&file, csv).expect("write registry");
    let out = import_registry(dir.path(), &file);
    assert_eq!(
        out.code(),
        0,
        "import of a clean file should succeed: {}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        count_before(&out.stdout, "baru"),
        Some(2),
        "two new rows: {}",
        out.stdout
    );

    let s = Server::start_in(dir);
    let kel = s.kelurahan_token(KEL_A);

    let found = s
        .submit_ok(&kel, &submit_body_with(KEL_A, in_registry.0, in_registry.1))
        .await;
    assert_eq!(found["registry"], json!({"found": true, "desil": 2}));
    let flags = found["flags"].as_array().expect("flags");
    assert!(
        !flags.contains(&json!("not_in_registry")),
        "found in the registry: {flags:?}"
    );
    assert!(
        !flags.contains(&json!("desil_above_target")),
        "desil 2 is targeted: {flags:?}"
    );

    let high = s
        .submit_ok(
            &kel,
            &submit_body_with(KEL_A, above_target.0, above_target.1),
        )
        .await;
    assert_eq!(high["registry"], json!({"found": true, "desil": 6}));
    let flags = high["flags"].as_array().expect("flags");
    assert!(flags.contains(&json!("desil_above_target")), "{flags:?}");
    assert!(!flags.contains(&json!("not_in_registry")), "{flags:?}");

    let missing = s
        .submit_ok(
            &kel,
            &submit_body_with(KEL_A, not_in_registry.0, not_in_registry.1),
        )
        .await;
    assert_eq!(missing["registry"]["found"], false);
    assert!(missing["registry"]["desil"].is_null(), "{missing}");
    let flags = missing["flags"].as_array().expect("flags");
    assert!(flags.contains(&json!("not_in_registry")), "{flags:?}");
}
