//! No event is lost when the runner dies between a state change and its delivery: with event
//! delivery off (`BASOKA_DELIVERY=off`) an approval is committed but nobody acts on it — the
//! request stays `approved`, nothing is allocated, nobody gets an SMS. After a SIGKILL and a
//! normal restart on the same data folder the outbox is delivered: the request becomes
//! `allocated` and the SMS of every step appear, each once. The `serve` defaults for the
//! Dinas duty number are used here.

use std::time::Duration;

use basoka_tests::fulfil::*;
use basoka_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_before_a_kill_are_delivered_after_the_restart() {
    let mut s = Server::start_with(ServeOptions::new().env("BASOKA_DELIVERY", "off"));
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    let before = stock(&s, &c.gudang).await;
    let (nik, kk) = unique_nik_kk();
    let v = to_surveyed(
        &s,
        &c.kel,
        &c.dinas,
        &c.surveyor,
        Cast::SURVEYOR,
        &submit_body_with(KEL_A, &nik, &kk),
    )
    .await;
    let id = id_of(&v);
    let code = code_of(&v);
    approve(&s, &c.dinas, &id, &approve_with(1, "kelurahan")).await;

    // Without delivery nothing follows the approval.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, v) = s.get(&format!("/v1/requests/{id}"), &c.dinas).await;
    assert_eq!(v["status"], "approved", "no consumer runs: {v}");
    assert_eq!(stock(&s, &c.gudang).await, before, "nothing allocated");
    assert!(shipments_of(&s, &c.gudang, None, &id).await.is_empty());
    let none: Vec<Sms> = s
        .sms_outbox()
        .into_iter()
        .filter(|m| m.text.contains(&code))
        .collect();
    assert!(none.is_empty(), "no SMS without delivery: {none:?}");

    // SIGKILL, then a normal start on the same data folder.
    s.kill();
    s.restart_with(ServeOptions::new());

    let v = wait_status(&s, &c.dinas, &id, &["allocated"], AUTO_TIMEOUT).await;
    assert_eq!(v["code"], code.as_str());
    wait_shipment(&s, &c.gudang, "ready", &id).await;
    let after = stock(&s, &c.gudang).await;
    for (sku, q) in &lines {
        let (on0, al0, av0) = level(&before, sku);
        assert_eq!(level(&after, sku), (on0, al0 + q, av0 - q), "{sku}");
    }
    s.wait_for_sms(
        &format!("the `approved` SMS of {code} after the restart"),
        AUTO_TIMEOUT,
        |a| count_about(a, STAFF_PHONE, &code) >= 1 && count_about(a, PSM_PHONE, &code) >= 1,
    )
    .await;

    // Every SMS of the journey so far, once each.
    let all = sms_barrier(&s, &c.kel, DEFAULT_DINAS_PHONE).await;
    for (to, n) in [
        (DEFAULT_DINAS_PHONE, 1),
        (SURVEYOR_PHONE, 1),
        (STAFF_PHONE, 1),
        (PSM_PHONE, 1),
    ] {
        assert_eq!(
            count_about(&all, to, &code),
            n,
            "SMS about {code} to {to}: {:?}",
            sms_about(&all, to, &code)
        );
    }
    assert!(duplicate_sms(&all).is_empty(), "{:?}", duplicate_sms(&all));
    for m in all.iter().filter(|m| m.text.contains(&code)) {
        assert_request_sms(m, &code, &[nik.as_str(), kk.as_str(), HEAD_NAME]);
    }
    assert_ledger_matches_stock(&s, &c.gudang).await;
}
