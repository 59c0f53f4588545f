//! Helpers for the fulfilment side (DESIGN §3, §6, §8, §9): the people of a journey with
//! their mobile numbers, stock levels and the ledger, receipts, shipments, the journey steps
//! up to `surveyed` and the decision, waiting for the automatic allocation, and the rules
//! every SMS must keep.
//!
//! Everything goes through the HTTP API or the data folder, like the other black-box tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{Resp, ServeOptions, Server, Sms, Value, encode_query, json, utc_key};

/// The seeded warehouse.
pub const WAREHOUSE: &str = "GUDANG-DINSOS-BKS";
/// The seeded package.
pub const PACKAGE: &str = "PAKET-SEMBAKO";
/// The seeded items (the 2020 Kota Bekasi package).
pub const SEED_SKUS: [&str; 7] = [
    "BERAS",
    "MINYAK-GORENG",
    "KECAP-MANIS",
    "SAUS-SAMBAL",
    "MAKANAN-KALENG",
    "MIE-INSTAN",
    "BISKUIT",
];
/// Packages' worth of opening stock a first run receives (unless `--no-opening-stock`).
pub const OPENING_PACKAGES: u64 = 50;

/// The Dinas duty number the journey tests configure with `--dinas-phone`.
pub const DINAS_PHONE: &str = "+6281311110001";
/// The warehouse number the journey tests configure with `--gudang-phone`.
pub const GUDANG_PHONE: &str = "+6281311110002";
/// The `serve` defaults (DESIGN demo numbers).
pub const DEFAULT_DINAS_PHONE: &str = "+6281100000001";
pub const DEFAULT_GUDANG_PHONE: &str = "+6281100000002";
/// The surveyor's mobile as typed (`08…`) and as stored (E.164).
pub const SURVEYOR_PHONE_INPUT: &str = "081355550001";
pub const SURVEYOR_PHONE: &str = "+6281355550001";
/// The kelurahan staff member's mobile as typed and as stored.
pub const STAFF_PHONE_INPUT: &str = "081366660001";
pub const STAFF_PHONE: &str = "+6281366660001";
/// The PSM's mobile of [`crate::submit_body`] (`reported_by.phone` = 081298765432).
pub const PSM_PHONE: &str = "+6281298765432";
/// The household's mobile of [`crate::submit_body`] (`household.phone` = 081234567890).
pub const HOUSEHOLD_PHONE: &str = "+6281234567890";
/// The household head's name in [`crate::submit_body`].
pub const HEAD_NAME: &str = "Ibu Sumiati";

/// How long the automatic steps (allocation, SMS) may take for one request.
pub const AUTO_TIMEOUT: Duration = Duration::from_secs(30);

/// `serve` flags for the journey numbers.
pub fn journey_options() -> ServeOptions {
    ServeOptions::new().args(&["--dinas-phone", DINAS_PHONE, "--gudang-phone", GUDANG_PHONE])
}

/// The people of a journey, with tokens; the surveyor and the kelurahan staff have mobile
/// numbers ([`SURVEYOR_PHONE`], [`STAFF_PHONE`]).
pub struct Cast {
    /// Kelurahan staff of [`crate::KEL_A`], with `phone_number` [`STAFF_PHONE`].
    pub kel: String,
    pub dinas: String,
    /// `sub` = [`Cast::SURVEYOR`], phone [`SURVEYOR_PHONE`] recorded in the directory.
    pub surveyor: String,
    pub gudang: String,
}

impl Cast {
    pub const SURVEYOR: &'static str = "surveyor-1";

    pub fn new(s: &Server) -> Cast {
        Cast {
            kel: s.token_args(&[
                "--role",
                "kelurahan",
                "--kelurahan",
                crate::KEL_A,
                "--phone",
                STAFF_PHONE_INPUT,
            ]),
            dinas: s.dinas_token(),
            surveyor: s.token_args(&[
                "--role",
                "surveyor",
                "--sub",
                Cast::SURVEYOR,
                "--phone",
                SURVEYOR_PHONE_INPUT,
            ]),
            gudang: s.gudang_token(),
        }
    }
}

/// The id of a request view.
pub fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// The code of a request view.
pub fn code_of(v: &Value) -> String {
    v["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {v}"))
        .to_string()
}

/// Submits `body` as `kel`, assigns the survey to `surveyor_sub` and records it as the
/// surveyor (recommendation approve); returns the request, now `surveyed`.
pub async fn to_surveyed(
    s: &Server,
    kel: &str,
    dinas: &str,
    surveyor: &str,
    surveyor_sub: &str,
    body: &Value,
) -> Value {
    let created = s.submit_ok(kel, body).await;
    let id = id_of(&created);
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            dinas,
            &json!({ "surveyor": surveyor_sub }),
        )
        .await;
    assert_eq!(st, 200, "assign the survey of {id}: {v}");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            surveyor,
            &crate::survey_body("approve"),
        )
        .await;
    assert_eq!(st, 200, "record the survey of {id}: {v}");
    assert_eq!(v["status"], "surveyed", "{v}");
    v
}

/// The decision approving `packages` × [`PACKAGE`] delivered to `delivery`.
pub fn approve_with(packages: u32, delivery: &str) -> Value {
    json!({
        "decision": "approve",
        "reason": "Hasil survei sesuai, keluarga miskin ekstrem.",
        "package_code": PACKAGE,
        "packages": packages,
        "delivery": delivery
    })
}

/// Posts the decision `body` as the Dinas and expects 200 `approved`; returns the request.
pub async fn approve(s: &Server, dinas: &str, id: &str, body: &Value) -> Value {
    let (st, v) = s
        .post(&format!("/v1/requests/{id}/decision"), dinas, body)
        .await;
    assert_eq!(st, 200, "approve {id}: {v}");
    assert_eq!(
        v["status"], "approved",
        "the decision answers `approved`: {v}"
    );
    v
}

/// A fresh request of [`crate::KEL_A`] taken through the survey to approval (one package, delivered
/// to `delivery`), then polled until `allocate-stock` made it one of `statuses`; returns its id.
pub async fn approved_until(s: &Server, c: &Cast, delivery: &str, statuses: &[&str]) -> String {
    let v = to_surveyed(
        s,
        &c.kel,
        &c.dinas,
        &c.surveyor,
        Cast::SURVEYOR,
        &crate::submit_body(crate::KEL_A),
    )
    .await;
    let id = id_of(&v);
    approve(s, &c.dinas, &id, &approve_with(1, delivery)).await;
    wait_status(s, &c.dinas, &id, statuses, AUTO_TIMEOUT).await;
    id
}

/// Takes the `surveyed` request `id` to `delivered`: approved for one package to `delivery`,
/// allocated by `allocate-stock`, its shipment dispatched by the warehouse, and handed over by
/// the kelurahan ([`handover_body`]). Returns the handover's answer, the request.
pub async fn deliver(s: &Server, c: &Cast, id: &str, delivery: &str) -> Value {
    approve(s, &c.dinas, id, &approve_with(1, delivery)).await;
    wait_status(s, &c.dinas, id, &["allocated"], AUTO_TIMEOUT).await;
    let shipment = wait_shipment(s, &c.gudang, "ready", id).await;
    let r = dispatch(s, &c.gudang, shipment["id"].as_str().expect("shipment id")).await;
    assert_eq!(r.status, 200, "dispatch: {}", r.text);
    let r = handover(s, &c.kel, id, &handover_body()).await;
    assert_eq!(r.status, 200, "handover: {}", r.text);
    assert_eq!(r.json["status"], "delivered", "{}", r.text);
    r.json
}

/// Polls `GET /v1/requests/{id}` until its status is one of `statuses` (at most `timeout`).
pub async fn wait_status(
    s: &Server,
    token: &str,
    id: &str,
    statuses: &[&str],
    timeout: Duration,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (st, v) = s.get(&format!("/v1/requests/{id}"), token).await;
        assert_eq!(st, 200, "GET /v1/requests/{id}: {v}");
        if statuses.iter().any(|x| v["status"] == *x) {
            return v;
        }
        if Instant::now() >= deadline {
            panic!(
                "request {id} did not become {statuses:?} within {}s; it is `{}`\nserver stderr (tail):\n{}",
                timeout.as_secs(),
                v["status"],
                s.stderr_tail(40)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until `count(status)` of every listed status adds up to `total`; returns the counts.
pub async fn wait_counts(
    s: &Server,
    token: &str,
    statuses: &[&str],
    total: usize,
    timeout: Duration,
) -> BTreeMap<String, Vec<Value>> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut by_status = BTreeMap::new();
        for st in statuses {
            by_status.insert(
                st.to_string(),
                s.list_all(token, &format!("status={st}&limit=100")).await,
            );
        }
        let n: usize = by_status.values().map(Vec::len).sum();
        if n == total {
            return by_status;
        }
        if Instant::now() >= deadline {
            let counts: BTreeMap<_, _> = by_status.iter().map(|(k, v)| (k, v.len())).collect();
            panic!(
                "waited {}s for {total} requests in {statuses:?}; found {counts:?}\nserver stderr (tail):\n{}",
                timeout.as_secs(),
                s.stderr_tail(40)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `GET /v1/stock` as `token`: level per sku (`on_hand`, `allocated`, `available`…).
pub async fn stock(s: &Server, token: &str) -> BTreeMap<String, Value> {
    let (st, v) = s.get("/v1/stock", token).await;
    assert_eq!(st, 200, "GET /v1/stock: {v}");
    v.as_array()
        .unwrap_or_else(|| panic!("GET /v1/stock is a list: {v}"))
        .iter()
        .map(|l| {
            (
                l["sku"]
                    .as_str()
                    .unwrap_or_else(|| panic!("sku in {l}"))
                    .to_string(),
                l.clone(),
            )
        })
        .collect()
}

/// A whole-number field of a JSON object.
pub fn num(v: &Value, field: &str) -> i64 {
    v[field]
        .as_i64()
        .unwrap_or_else(|| panic!("`{field}` is not a whole number in {v}"))
}

/// `(on_hand, allocated, available)` of one stock level.
pub fn level(levels: &BTreeMap<String, Value>, sku: &str) -> (i64, i64, i64) {
    let l = levels
        .get(sku)
        .unwrap_or_else(|| panic!("{sku} missing in GET /v1/stock: {levels:?}"));
    (num(l, "on_hand"), num(l, "allocated"), num(l, "available"))
}

/// `GET /v1/stock/ledger?sku=SKU`: every movement of the item, oldest first, read page by
/// page (100 a page) as a client does.
pub async fn ledger(s: &Server, token: &str, sku: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut path = format!("/v1/stock/ledger?sku={}&limit=100", encode_query(sku));
    loop {
        let (st, v) = s.get(&path, token).await;
        assert_eq!(st, 200, "GET {path}: {v}");
        all.extend(
            v["items"]
                .as_array()
                .unwrap_or_else(|| panic!("GET {path} is a page: {v}"))
                .iter()
                .cloned(),
        );
        match v["next_cursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/v1/stock/ledger?sku={}&limit=100&cursor={}",
                    encode_query(sku),
                    encode_query(c)
                )
            }
            None => return all,
        }
    }
}

/// The sum of `field` over ledger entries.
pub fn ledger_sum(entries: &[Value], field: &str) -> i64 {
    entries.iter().map(|e| num(e, field)).sum()
}

/// The ledger entries of one movement (`receipt`, `allocation`, `release`, `dispatch`,
/// `adjustment`), optionally only those whose `reference` is `reference`.
pub fn movements<'a>(
    entries: &'a [Value],
    movement: &str,
    reference: Option<&str>,
) -> Vec<&'a Value> {
    entries
        .iter()
        .filter(|e| e["movement"] == movement)
        .filter(|e| reference.is_none_or(|r| e["reference"] == r))
        .collect()
}

/// Asserts, for every item, that the ledger adds up to the stock levels: on hand is the sum
/// of `delta_on_hand`, allocated the sum of `delta_allocated`; nothing is negative.
pub async fn assert_ledger_matches_stock(s: &Server, token: &str) {
    let levels = stock(s, token).await;
    for sku in SEED_SKUS {
        let (on_hand, allocated, available) = level(&levels, sku);
        let entries = ledger(s, token, sku).await;
        assert_eq!(
            ledger_sum(&entries, "delta_on_hand"),
            on_hand,
            "{sku}: the ledger's delta_on_hand must add up to on_hand"
        );
        assert_eq!(
            ledger_sum(&entries, "delta_allocated"),
            allocated,
            "{sku}: the ledger's delta_allocated must add up to allocated"
        );
        assert!(
            on_hand >= 0 && allocated >= 0 && available >= 0 && allocated <= on_hand,
            "{sku}: stock must never be negative or over-allocated: {}",
            levels[sku]
        );
    }
}

/// The lines of `code` from `GET /v1/packages`: sku → quantity per package.
pub async fn package_lines(s: &Server, token: &str, code: &str) -> BTreeMap<String, i64> {
    let (st, v) = s.get("/v1/packages", token).await;
    assert_eq!(st, 200, "GET /v1/packages: {v}");
    let p = v
        .as_array()
        .and_then(|a| a.iter().find(|p| p["code"] == code))
        .unwrap_or_else(|| panic!("package {code} missing in GET /v1/packages: {v}"))
        .clone();
    let mut out = BTreeMap::new();
    for l in p["lines"].as_array().expect("package lines") {
        *out.entry(l["sku"].as_str().expect("sku").to_string())
            .or_insert(0) += num(l, "quantity");
    }
    out
}

/// `POST /v1/stock/receipts` with an optional `Idempotency-Key`.
pub async fn receive(s: &Server, token: &str, key: Option<&str>, body: &Value) -> Resp {
    let mut req = s
        .client()
        .post(s.url("/v1/stock/receipts"))
        .bearer_auth(token)
        .json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    s.send(req).await
}

/// A receipt body of `packages` packages' worth of every line of `lines`.
pub fn receipt_for_packages(
    reference: &str,
    lines: &BTreeMap<String, i64>,
    packages: i64,
) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, q)| json!({"sku": sku, "quantity": q * packages, "expires_on": "2099-12-31"}))
        .collect();
    json!({"warehouse": WAREHOUSE, "reference": reference, "lines": lines})
}

/// Receives `packages` packages' worth of stock as the warehouse and expects 201.
pub async fn receive_packages(
    s: &Server,
    gudang: &str,
    reference: &str,
    lines: &BTreeMap<String, i64>,
    packages: i64,
) -> Value {
    let r = receive(
        s,
        gudang,
        Some(reference),
        &receipt_for_packages(reference, lines, packages),
    )
    .await;
    assert_eq!(r.status, 201, "receipt {reference}: {}", r.text);
    r.json
}

/// Every shipment of `GET /v1/shipments?status=` (all statuses when `None`), all pages.
pub async fn shipments(s: &Server, token: &str, status: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = String::from("/v1/shipments?limit=100");
        if let Some(st) = status {
            path.push_str(&format!("&status={st}"));
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode_query(c)));
        }
        let (st, page) = s.get(&path, token).await;
        assert_eq!(st, 200, "GET {path}: {page}");
        out.extend(
            page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("`items` in {page}"))
                .iter()
                .cloned(),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("more than 100 pages of shipments");
}

/// The shipments of request `id` among `GET /v1/shipments?status=`.
pub async fn shipments_of(s: &Server, token: &str, status: Option<&str>, id: &str) -> Vec<Value> {
    shipments(s, token, status)
        .await
        .into_iter()
        .filter(|sh| sh["request_id"] == id)
        .collect()
}

/// Polls `GET /v1/shipments?status=` until the shipment of request `id` is listed.
pub async fn wait_shipment(s: &Server, token: &str, status: &str, id: &str) -> Value {
    let deadline = Instant::now() + AUTO_TIMEOUT;
    loop {
        let mut found = shipments_of(s, token, Some(status), id).await;
        if found.len() == 1 {
            return found.remove(0);
        }
        assert!(
            found.len() < 2,
            "request {id} has {} `{status}` shipments: {found:?}",
            found.len()
        );
        if Instant::now() >= deadline {
            panic!(
                "no `{status}` shipment for request {id} within {}s; all shipments: {:?}",
                AUTO_TIMEOUT.as_secs(),
                shipments(s, token, None).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `POST /v1/shipments/{id}/dispatch`.
pub async fn dispatch(s: &Server, token: &str, shipment_id: &str) -> Resp {
    s.post_resp(
        &format!("/v1/shipments/{shipment_id}/dispatch"),
        Some(token),
        &json!({}),
    )
    .await
}

/// A handover body: received by the household head just now (a handover cannot be before the
/// dispatch, and tests dispatch moments before).
pub fn handover_body() -> Value {
    json!({
        "received_by": HEAD_NAME,
        "relation": "kepala keluarga",
        "received_at": rfc3339_utc(unix_now()),
        "note": "Diterima di kantor kelurahan."
    })
}

/// `POST /v1/requests/{id}/handover`.
pub async fn handover(s: &Server, token: &str, id: &str, body: &Value) -> Resp {
    s.post_resp(&format!("/v1/requests/{id}/handover"), Some(token), body)
        .await
}

// ---------------------------------------------------------------------------------------------
// Time (no date library: the civil-date arithmetic of Howard Hinnant's algorithms)
// ---------------------------------------------------------------------------------------------

/// Seconds since 1970-01-01T00:00:00Z.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds.
pub fn rfc3339_utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Unix seconds of a UTC RFC 3339 time from the API.
pub fn unix_of(t: &Value) -> i64 {
    let (secs, _) = utc_key(t);
    let n = |r: std::ops::Range<usize>| secs[r].parse::<i64>().expect("digits");
    days_from_civil(n(0..4), n(5..7), n(8..10)) * 86_400
        + n(11..13) * 3600
        + n(14..16) * 60
        + n(17..19)
}

/// `(DD-MM-YYYY, HH:MM)` of a UTC time from the API, in WIB (UTC+7).
pub fn wib_parts(t: &Value) -> (String, String) {
    let secs = unix_of(t) + 7 * 3600;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (
        format!("{d:02}-{m:02}-{y:04}"),
        format!("{:02}:{:02}", s / 3600, s / 60 % 60),
    )
}

// ---------------------------------------------------------------------------------------------
// SMS rules (DESIGN §8)
// ---------------------------------------------------------------------------------------------

/// The GSM 03.38 basic character set: anything else makes an SMS UCS-2 (70 characters).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Whether `text` carries a clock time (`HH:MM` or `HH.MM`).
pub fn has_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(5).any(|w| {
        w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && (w[2] == b':' || w[2] == b'.')
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
    })
}

/// Asserts the rules every SMS about a request keeps: one GSM-7 segment (≤ 160 basic
/// characters), names the request `code`, gives a time it carries in WIB, and contains none
/// of `secrets` (the NIK, the KK, the household head's name…).
pub fn assert_request_sms(m: &Sms, code: &str, secrets: &[&str]) {
    let n = m.text.chars().count();
    assert!(
        n <= 160,
        "SMS to {} has {n} characters (> 160): {}",
        m.to,
        m.text
    );
    assert!(
        m.text.chars().all(|c| GSM7_BASIC.contains(c)),
        "SMS to {} has characters outside GSM-7 (curly quotes, emoji…): {}",
        m.to,
        m.text
    );
    assert!(
        m.text.contains(code),
        "SMS to {} must name {code}: {}",
        m.to,
        m.text
    );
    assert!(
        !has_time(&m.text) || m.text.contains("WIB"),
        "SMS to {} must give its time in WIB: {}",
        m.to,
        m.text
    );
    for secret in secrets {
        assert!(
            !m.text.contains(secret),
            "SMS to {} must not contain `{secret}`: {}",
            m.to,
            m.text
        );
    }
}

/// The SMS to `to` that name `code`.
pub fn sms_about<'a>(all: &'a [Sms], to: &str, code: &str) -> Vec<&'a Sms> {
    all.iter()
        .filter(|m| m.to == to && m.text.contains(code))
        .collect()
}

/// How many SMS to `to` name `code`.
pub fn count_about(all: &[Sms], to: &str, code: &str) -> usize {
    sms_about(all, to, code).len()
}

/// Every (recipient, text) pair that appears more than once.
pub fn duplicate_sms(all: &[Sms]) -> Vec<(String, String)> {
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in all {
        *seen.entry((m.to.clone(), m.text.clone())).or_insert(0) += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect()
}

/// A barrier for the SMS consumer: submits a fresh request as `kel` and waits for its
/// "submitted" SMS to the Dinas duty number `dinas_phone`. Events reach the SMS consumer in
/// outbox order, so once this SMS is written every earlier event was handled (however often
/// it was delivered): what the outbox holds about earlier requests is final.
pub async fn sms_barrier(s: &Server, kel: &str, dinas_phone: &str) -> Vec<Sms> {
    let sentinel = s.submit_ok(kel, &crate::submit_body(crate::KEL_A)).await;
    let code = code_of(&sentinel);
    s.wait_for_sms(
        &format!("the SMS of sentinel request {code} to {dinas_phone}"),
        AUTO_TIMEOUT,
        |all| count_about(all, dinas_phone, &code) >= 1,
    )
    .await
}
