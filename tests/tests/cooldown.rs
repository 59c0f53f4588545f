//! The cool-down after a delivery (DESIGN §6), end to end over HTTP: once a household has
//! received its package, a new request for the same head NIK — or the same KK under another
//! head — is 409 `RECENTLY_ASSISTED` with the end of the cool-down (default 30 days after the
//! handover, an RFC 3339 UTC time), and stores nothing; with an `override_reason` it goes
//! through, flagged `cooldown_override`, with the reason on the request and in its history.

use basoka_tests::fulfil::*;
use basoka_tests::*;

#[tokio::test]
async fn a_household_served_recently_needs_an_override_reason() {
    let s = Server::start_with(journey_options());
    let c = Cast::new(&s);
    let body = submit_body(KEL_A);

    // Submitted → … → delivered.
    let v = to_surveyed(&s, &c.kel, &c.dinas, &c.surveyor, Cast::SURVEYOR, &body).await;
    let id = id_of(&v);
    deliver(&s, &c, &id, "kelurahan").await;
    let handed_over = unix_now();

    // The same household again, by its head NIK; then by its KK under another head.
    let (other_nik, _) = unique_nik_kk();
    let mut same_kk = body.clone();
    same_kk["household"]["head_nik"] = json!(other_nik);
    for again in [&body, &same_kk] {
        let r = s.post_resp("/v1/requests", Some(&c.kel), again).await;
        r.problem(409, "RECENTLY_ASSISTED");
        let until = r.json["cooldown_until"].as_str().expect("cooldown_until");
        assert!(until.ends_with('Z'), "a UTC time like every other: {until}");
        let days = (unix_of(&r.json["cooldown_until"]) - handed_over) as f64 / 86_400.0;
        assert!(
            (29.9..=30.1).contains(&days),
            "30 days after the handover, got {days:.2}: {}",
            r.text
        );
        assert!(
            !r.text.contains(&nik_of(again)) && !r.text.contains(&kk_of(again)),
            "no full NIK or KK in the problem: {}",
            r.text
        );
    }
    let listed = s.list_all(&c.kel, "").await;
    assert_eq!(listed.len(), 1, "the refused requests stored nothing");

    // With a reason it goes through, flagged, and the reason is kept where auditors look.
    let reason = "Rumah terbakar kemarin; semua bantuan sebelumnya habis.";
    let mut with_reason = body.clone();
    with_reason["override_reason"] = json!(reason);
    let created = s.submit_ok(&c.kel, &with_reason).await;
    let flags: Vec<&str> = created["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(flags.contains(&"cooldown_override"), "{created}");
    assert_eq!(created["override_reason"], reason, "{created}");
    let new_id = id_of(&created);
    let (st, history) = s
        .get(&format!("/v1/requests/{new_id}/history"), &c.dinas)
        .await;
    assert_eq!(st, 200, "{history}");
    assert!(
        history.to_string().contains(reason),
        "the override reason is in the history: {history}"
    );

    // A household never served is not held back.
    s.submit_ok(&c.kel, &submit_body(KEL_A)).await;
}
