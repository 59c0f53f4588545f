//! At-least-once delivery: with every event handed twice to each consumer
//! (`BASOKA_DELIVERY_REPEAT=2`, as a queue may redeliver), a full journey still allocates
//! once (one shipment per request, one set of allocation ledger entries, stock set aside
//! once) and sends every SMS once per (event, recipient).

use basoka_tests::fulfil::*;
use basoka_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_delivered_twice_allocate_once_and_send_each_sms_once() {
    let s = Server::start_with(journey_options().env("BASOKA_DELIVERY_REPEAT", "2"));
    let c = Cast::new(&s);
    let lines = package_lines(&s, &c.gudang, PACKAGE).await;
    let before = stock(&s, &c.gudang).await;
    let (nik, kk) = unique_nik_kk();
    let secrets = [nik.as_str(), kk.as_str(), HEAD_NAME];

    // Submit → survey → approve for the household; the consumers see each event twice.
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
    deliver(&s, &c, &id, "household").await;

    // Every event of the journey has been handled twice once the sentinel's SMS is out.
    let all = sms_barrier(&s, &c.kel, DINAS_PHONE).await;

    // One allocation: one shipment, one set of allocation entries, stock moved once.
    let mine = shipments_of(&s, &c.gudang, None, &id).await;
    assert_eq!(mine.len(), 1, "one shipment for {id}: {mine:?}");
    assert_eq!(mine[0]["status"], "delivered");
    for (sku, q) in &lines {
        let entries = ledger(&s, &c.gudang, sku).await;
        let alloc: Vec<Value> = movements(&entries, "allocation", Some(&id))
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(
            ledger_sum(&alloc, "delta_allocated"),
            *q,
            "{sku}: one package allocated once for {id}: {alloc:?}"
        );
    }
    let after = stock(&s, &c.gudang).await;
    for (sku, q) in &lines {
        let (on0, _, av0) = level(&before, sku);
        assert_eq!(
            level(&after, sku),
            (on0 - q, 0, av0 - q),
            "{sku}: one package left the warehouse"
        );
    }
    assert_ledger_matches_stock(&s, &c.gudang).await;
    let (_, h) = s.get(&format!("/v1/requests/{id}/history"), &c.dinas).await;
    let allocations = h
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| e["action"] == "allocate")
        .count();
    assert_eq!(allocations, 1, "one `allocate` transition: {h}");

    // Each (event, recipient) once (the warehouse's SMS included: no (recipient, text) twice).
    assert!(
        duplicate_sms(&all).is_empty(),
        "SMS sent twice: {:?}",
        duplicate_sms(&all)
    );
    for (to, n) in [
        (DINAS_PHONE, 1),
        (SURVEYOR_PHONE, 1),
        (STAFF_PHONE, 2),
        (PSM_PHONE, 2),
        (HOUSEHOLD_PHONE, 1),
    ] {
        assert_eq!(
            count_about(&all, to, &code),
            n,
            "SMS about {code} to {to}: {:?}",
            sms_about(&all, to, &code)
        );
    }
    for m in all.iter().filter(|m| m.text.contains(&code)) {
        assert_request_sms(m, &code, &secrets);
    }
}
