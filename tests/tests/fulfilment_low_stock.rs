//! The warehouse is told by SMS when an item falls below its low-stock threshold, once per
//! fall, also when many writes take part in the fall at the same time (each of which, alone,
//! would leave the item above it), and again after a restock when it falls once more.

use std::sync::Arc;

use basoka_tests::fulfil::*;
use basoka_tests::*;

/// `POST /v1/stock/adjustments` of BERAS by `delta`; 200 or panics.
async fn adjust(s: &Server, gudang: &str, delta: i64) {
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(gudang),
            &json!({"warehouse": WAREHOUSE, "sku": "BERAS", "delta": delta,
                    "reason": "Stok opname."}),
        )
        .await;
    assert_eq!(r.status, 200, "adjust BERAS by {delta}: {}", r.text);
}

/// The low-stock SMS about BERAS sent to the warehouse so far, once every SMS already due
/// has gone out.
async fn beras_alerts(s: &Server, c: &Cast) -> Vec<Sms> {
    sms_barrier(s, &c.kel, DINAS_PHONE)
        .await
        .into_iter()
        .filter(|m| m.to == GUDANG_PHONE && m.text.contains("menipis") && m.text.contains("BERAS"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fall_below_the_threshold_is_told_once_even_when_many_writes_make_it() {
    let s = Arc::new(Server::start_with(journey_options()));
    let c = Cast::new(&s);
    // BERAS's threshold is 100 kg: start from 120 available.
    let available = level(&stock(&s, &c.gudang).await, "BERAS").2;
    adjust(&s, &c.gudang, 120 - available).await;
    assert_eq!(level(&stock(&s, &c.gudang).await, "BERAS").2, 120);
    assert_eq!(beras_alerts(&s, &c).await.len(), 0, "120 kg is not low");

    // Twenty write-offs of 2 kg at once: each reads 120 and alone would leave 118; together
    // they leave 80.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (s, gudang) = (Arc::clone(&s), c.gudang.clone());
            tokio::spawn(async move { adjust(&s, &gudang, -2).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("adjustment task");
    }
    assert_eq!(level(&stock(&s, &c.gudang).await, "BERAS").2, 80);
    let alerts = beras_alerts(&s, &c).await;
    assert_eq!(
        alerts.len(),
        1,
        "one low-stock SMS for the fall from 120 to 80: {alerts:?}"
    );

    // Still low: another write-off tells nothing new.
    adjust(&s, &c.gudang, -5).await;
    assert_eq!(beras_alerts(&s, &c).await.len(), 1, "still the one SMS");

    // Restocked to 175, then down to 90: told again, with the level.
    adjust(&s, &c.gudang, 100).await;
    adjust(&s, &c.gudang, -85).await;
    let alerts = beras_alerts(&s, &c).await;
    assert_eq!(alerts.len(), 2, "the next fall is told: {alerts:?}");
    assert!(
        alerts[1].text.contains("tersedia 90 kg") && alerts[1].text.contains("batas 100"),
        "{}",
        alerts[1].text
    );
}

/// `PUT /v1/items/{sku}` with another threshold starts afresh: a threshold raised above the
/// stock is told at once, and after it is set back (a typo corrected) the next real fall is
/// told again, not swallowed by the alert about the mistyped one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_threshold_is_judged_afresh() {
    let s = Server::start_with(journey_options());
    let c = Cast::new(&s);
    let put = |threshold: u64| {
        let (s, gudang) = (&s, c.gudang.clone());
        async move {
            let r = s
                .send(
                    s.client()
                        .put(s.url("/v1/items/SAUS-SAMBAL"))
                        .bearer_auth(&gudang)
                        .json(&json!({"name": "Saus sambal 140 ml", "unit": "botol",
                                      "low_threshold": threshold})),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    let told = |all: Vec<Sms>| -> Vec<String> {
        all.into_iter()
            .filter(|m| m.to == GUDANG_PHONE && m.text.contains("SAUS-SAMBAL"))
            .map(|m| m.text)
            .collect()
    };
    let available = level(&stock(&s, &c.gudang).await, "SAUS-SAMBAL").2;
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&c.gudang),
            &json!({"sku": "SAUS-SAMBAL", "delta": 36 - available, "reason": "Stok opname."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    put(1000).await;
    let sms = told(sms_barrier(&s, &c.kel, DINAS_PHONE).await);
    assert_eq!(sms.len(), 1, "36 is below a threshold of 1000: {sms:?}");
    assert!(
        sms[0].contains("tersedia 36 botol, batas 1000"),
        "{}",
        sms[0]
    );

    put(10).await;
    assert_eq!(told(sms_barrier(&s, &c.kel, DINAS_PHONE).await).len(), 1);
    let r = s
        .post_resp(
            "/v1/stock/adjustments",
            Some(&c.gudang),
            &json!({"sku": "SAUS-SAMBAL", "delta": -31, "reason": "Rusak."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sms = told(sms_barrier(&s, &c.kel, DINAS_PHONE).await);
    assert_eq!(sms.len(), 2, "the fall to 5 under 10 is told: {sms:?}");
    assert!(sms[1].contains("tersedia 5 botol, batas 10"), "{}", sms[1]);
}
