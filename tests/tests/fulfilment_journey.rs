//! The whole journey of a request over HTTP, from submission to the handover of the food
//! package: submitted → survey_assigned → surveyed → approved → allocated (by the
//! allocate-stock consumer, on its own) → dispatched (the warehouse finds the shipment in
//! `GET /v1/shipments?status=ready` and dispatches it) → delivered (the kelurahan records
//! the handover) — with the SMS everyone involved must get, read back from the local outbox
//! `<data dir>/sms-outbox.jsonl`: submitted → Dinas duty number, survey assigned → surveyor,
//! approved → kelurahan staff and PSM, dispatched → kelurahan staff (and the household when
//! the package goes to the house), delivered → PSM. Every SMS fits one GSM-7 segment, names
//! the request code, gives its time in WIB and never carries the NIK, KK or the head's name.

use basoka_tests::fulfil::*;
use basoka_tests::*;

/// `HH:MM` (or `HH.MM`, the Indonesian way of writing it) appears in `text`.
fn has_clock(text: &str, hhmm: &str) -> bool {
    text.contains(hhmm) || text.contains(&hhmm.replace(':', "."))
}

/// The request SMS rules, and this SMS carries a time (in WIB).
fn assert_timed_sms(m: &Sms, code: &str, secrets: &[&str]) {
    assert_request_sms(m, code, secrets);
    assert!(
        has_time(&m.text) && m.text.contains("WIB"),
        "SMS to {} should tell when, in WIB: {}",
        m.to,
        m.text
    );
}

async fn journey(delivery: &str) {
    let s = Server::start_with(journey_options());
    let c = Cast::new(&s);
    let (nik, kk) = unique_nik_kk();
    let body = submit_body_with(KEL_A, &nik, &kk);
    let secrets = [nik.as_str(), kk.as_str(), HEAD_NAME, "Sumiati", "Mawar"];
    let household_sms = delivery == "household";

    // Submitted → the Dinas duty number, with the submission time in WIB.
    let created = s.submit_ok(&c.kel, &body).await;
    let id = id_of(&created);
    let code = code_of(&created);
    let all = s
        .wait_for_sms(
            &format!("the `submitted` SMS of {code} to the Dinas duty number {DINAS_PHONE}"),
            AUTO_TIMEOUT,
            |a| count_about(a, DINAS_PHONE, &code) >= 1,
        )
        .await;
    let submitted = sms_about(&all, DINAS_PHONE, &code)[0].clone();
    assert_timed_sms(&submitted, &code, &secrets);
    let (_, hhmm) = wib_parts(&created["created_at"]);
    assert!(
        has_clock(&submitted.text, &hhmm),
        "the `submitted` SMS should give the submission time {hhmm} WIB (created_at {} UTC): {}",
        created["created_at"],
        submitted.text
    );

    // Survey assigned → the surveyor's phone (recorded by `basoka token --phone`), with the
    // due time in WIB: 10:00 UTC is 17:00 WIB.
    let due = format!(
        "{}T10:00:00Z",
        (chrono::Utc::now() + chrono::Duration::days(3)).date_naive()
    );
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            &c.dinas,
            &json!({"surveyor": Cast::SURVEYOR, "due_at": due}),
        )
        .await;
    assert_eq!(st, 200, "assign the survey: {v}");
    assert_eq!(v["status"], "survey_assigned");
    let all = s
        .wait_for_sms(
            &format!("the `survey assigned` SMS of {code} to the surveyor {SURVEYOR_PHONE}"),
            AUTO_TIMEOUT,
            |a| count_about(a, SURVEYOR_PHONE, &code) >= 1,
        )
        .await;
    let assigned = sms_about(&all, SURVEYOR_PHONE, &code)[0].clone();
    assert_timed_sms(&assigned, &code, &secrets);
    assert!(
        has_clock(&assigned.text, "17:00"),
        "the due time {due} is 17:00 WIB: {}",
        assigned.text
    );

    // Surveyed.
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &c.surveyor,
            &survey_body("approve"),
        )
        .await;
    assert_eq!(st, 200, "record the survey: {v}");
    assert_eq!(v["status"], "surveyed");

    // Approved → kelurahan staff (their token's phone_number) and the PSM (reported_by.phone).
    approve(&s, &c.dinas, &id, &approve_with(1, delivery)).await;
    let all = s
        .wait_for_sms(
            &format!("the `approved` SMS of {code} to the kelurahan staff and the PSM"),
            AUTO_TIMEOUT,
            |a| count_about(a, STAFF_PHONE, &code) >= 1 && count_about(a, PSM_PHONE, &code) >= 1,
        )
        .await;
    let approved_staff = sms_about(&all, STAFF_PHONE, &code)[0].clone();
    let approved_psm = sms_about(&all, PSM_PHONE, &code)[0].clone();
    assert_timed_sms(&approved_staff, &code, &secrets);
    assert_timed_sms(&approved_psm, &code, &secrets);

    // Allocated, by the allocate-stock consumer on its own.
    let v = wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;
    assert_eq!(v["code"], code.as_str());

    // The warehouse finds the shipment among the ready ones and dispatches it.
    let shipment = wait_shipment(&s, &c.gudang, "ready", &id).await;
    assert_eq!(shipment["request_code"], code.as_str(), "{shipment}");
    assert_eq!(shipment["status"], "ready", "{shipment}");
    assert_eq!(shipment["destination"], delivery, "{shipment}");
    assert_eq!(shipment["package_code"], PACKAGE, "{shipment}");
    assert_eq!(shipment["packages"], 1, "{shipment}");
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    let shipped: std::collections::BTreeMap<String, i64> = shipment["lines"]
        .as_array()
        .expect("shipment lines")
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().expect("sku").to_string(),
                num(l, "quantity"),
            )
        })
        .collect();
    assert_eq!(shipped, lines, "the shipment carries one package's lines");
    let shipment_id = shipment["id"].as_str().expect("shipment id").to_string();
    let r = dispatch(&s, &c.gudang, &shipment_id).await;
    assert_eq!(r.status, 200, "dispatch: {}", r.text);
    assert_eq!(r.json["status"], "dispatched", "{}", r.text);
    let v = wait_status(&s, &c.dinas, &id, &["dispatched"], AUTO_TIMEOUT).await;
    assert_eq!(v["status"], "dispatched");
    let again = dispatch(&s, &c.gudang, &shipment_id).await;
    again.problem(409, "INVALID_TRANSITION");
    assert!(
        shipments_of(&s, &c.gudang, Some("ready"), &id)
            .await
            .is_empty(),
        "a dispatched shipment is no longer `ready`"
    );

    // Dispatched → kelurahan staff (a second SMS to them), and the household when the
    // package goes to the house.
    let all = s
        .wait_for_sms(
            &format!(
                "the `dispatched` SMS of {code} to the kelurahan staff{}",
                if household_sms {
                    " and the household"
                } else {
                    ""
                }
            ),
            AUTO_TIMEOUT,
            |a| {
                count_about(a, STAFF_PHONE, &code) >= 2
                    && (!household_sms || count_about(a, HOUSEHOLD_PHONE, &code) >= 1)
            },
        )
        .await;
    let to_staff = sms_about(&all, STAFF_PHONE, &code);
    let dispatched_staff = to_staff[1].clone();
    assert_ne!(
        dispatched_staff.text, approved_staff.text,
        "the dispatch SMS says something else than the approval SMS"
    );
    assert_timed_sms(&dispatched_staff, &code, &secrets);
    // The staff are told where the package really goes.
    if household_sms {
        assert!(
            !dispatched_staff.text.contains("kantor"),
            "a package sent to the house is not going to the kelurahan office: {}",
            dispatched_staff.text
        );
        assert!(
            dispatched_staff.text.contains("rumah"),
            "the staff hear that it goes to the household: {}",
            dispatched_staff.text
        );
    } else {
        assert!(
            dispatched_staff.text.contains("kantor Kel."),
            "{}",
            dispatched_staff.text
        );
    }
    if household_sms {
        let m = sms_about(&all, HOUSEHOLD_PHONE, &code)[0].clone();
        assert_timed_sms(&m, &code, &secrets);
        assert!(m.text.contains("rumah Anda"), "{}", m.text);
    }

    // Delivered: the kelurahan records who received the package → PSM.
    let r = handover(&s, &c.kel, &id, &handover_body()).await;
    assert_eq!(r.status, 200, "handover: {}", r.text);
    assert_eq!(r.json["status"], "delivered", "{}", r.text);
    let delivered = wait_shipment(&s, &c.gudang, "delivered", &id).await;
    assert_eq!(delivered["id"], shipment_id.as_str());
    assert_eq!(
        delivered["delivered"]["received_by"], HEAD_NAME,
        "{delivered}"
    );
    assert_eq!(
        delivered["delivered"]["relation"], "kepala keluarga",
        "{delivered}"
    );
    let all = s
        .wait_for_sms(
            &format!("the `delivered` SMS of {code} to the PSM"),
            AUTO_TIMEOUT,
            |a| count_about(a, PSM_PHONE, &code) >= 2,
        )
        .await;
    let delivered_psm = sms_about(&all, PSM_PHONE, &code)[1].clone();
    assert_ne!(delivered_psm.text, approved_psm.text);
    assert_timed_sms(&delivered_psm, &code, &secrets);

    // History: every transition, in order, with who did it.
    let (st, h) = s.get(&format!("/v1/requests/{id}/history"), &c.kel).await;
    assert_eq!(st, 200, "{h}");
    let h = h.as_array().expect("history").clone();
    let steps: Vec<(String, String)> = h
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("?").to_string(),
                e["to"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    let expected = [
        ("submit", "submitted"),
        ("assign_survey", "survey_assigned"),
        ("record_survey", "surveyed"),
        ("approve", "approved"),
        ("allocate", "allocated"),
        ("dispatch", "dispatched"),
        ("handover", "delivered"),
    ];
    assert_eq!(
        steps,
        expected
            .iter()
            .map(|(a, t)| (a.to_string(), t.to_string()))
            .collect::<Vec<_>>(),
        "history: {h:?}"
    );
    assert!(h[0]["from"].is_null(), "{}", h[0]);
    for pair in h.windows(2) {
        assert_eq!(pair[1]["from"], pair[0]["to"], "history chain: {pair:?}");
        assert!(
            utc_key(&pair[0]["at"]) <= utc_key(&pair[1]["at"]),
            "history oldest first: {pair:?}"
        );
    }
    for (e, role) in h.iter().zip([
        "kelurahan",
        "dinas",
        "surveyor",
        "dinas",
        "",
        "gudang",
        "kelurahan",
    ]) {
        if !role.is_empty() {
            assert_eq!(e["actor"]["role"], role, "{e}");
        }
    }

    // Final account, once every event before a sentinel request was handled: each person
    // got exactly their SMS about this request, none twice, none to anyone else's number.
    let all = sms_barrier(&s, &c.kel, DINAS_PHONE).await;
    for (to, n) in [
        (DINAS_PHONE, 1),
        (SURVEYOR_PHONE, 1),
        (STAFF_PHONE, 2),
        (PSM_PHONE, 2),
        (HOUSEHOLD_PHONE, usize::from(household_sms)),
    ] {
        assert_eq!(
            count_about(&all, to, &code),
            n,
            "SMS about {code} to {to}: {:?}",
            sms_about(&all, to, &code)
        );
    }
    assert!(
        duplicate_sms(&all).is_empty(),
        "an SMS was sent twice: {:?}",
        duplicate_sms(&all)
    );
    for m in all.iter().filter(|m| m.text.contains(&code)) {
        assert_request_sms(m, &code, &secrets);
        assert!(!m.id.is_empty(), "outbox line without id: {}", m.raw);
        utc_key(&json!(m.sent_at));
        assert!(
            m.sent_at_wib.contains("WIB") || m.sent_at_wib.contains("+07:00"),
            "sent_at_wib should be in WIB: {}",
            m.raw
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_goes_from_submission_to_handover_at_the_kelurahan_and_everyone_hears_by_sms() {
    journey("kelurahan").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_sent_to_the_house_also_tells_the_household_by_sms() {
    journey("household").await;
}
