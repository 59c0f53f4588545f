//! The four Lambda entry points, fed the event fixtures of `events/` (API Gateway HTTP API v2
//! with authorizer claims, SQS batches, the scheduled task, a stream record), over one
//! DynamoDB table and SNS on moto: the journey from submission to delivery as Lambda would
//! run it, every route and every queue message kind, and the failure cases (no claims, another
//! kelurahan, bad input, a message that is not an event).
//!
//! Each function gets its own adapters with a [`CallRecorder`], as separate Lambdas have their
//! own clients: at the end, every call a function made must be in the IAM actions of the
//! ports it declares (`<function>::lambda::PORTS`), which is what `infra/template.yaml` grants
//! (checked by `infra_drift.rs`). And every fixture file must have been fed to a handler here.
//!
//! Fixtures name a sample request id, code and shipment id; the test puts the real ones in.
//! Needs a moto server (`BASOKA_TEST_AWS_ENDPOINT`; `scripts/test` starts one).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use basoka_aws::testkit;
use basoka_aws::{AwsAdapters, CallRecorder, Port};
use basoka_lambda::Function;
use basoka_lambda::queue::failed_ids;
use lambda_runtime::Context;
use serde_json::{Value, json};
use shared::fulfilment_ports::StockStore;

const SAMPLE_REQUEST: &str = "01939d6e-7b9a-7c35-9d7e-3f1c2b4a5d60";
const SAMPLE_CODE: &str = "BSK-7K3M9Q";
const SAMPLE_SHIPMENT: &str = "01939d6e-9c1f-7d21-8a4e-5b6c7d8e9f01";
/// The fixtures' personas' phone numbers.
const KELURAHAN_PHONE: &str = "+6281211110001";
const SURVEYOR_PHONE: &str = "+6281211110002";
const PSM_PHONE: &str = "+6281298765432";
const HEAD_NIK: &str = "3275014101900003";
/// The fixtures' visit and handover times: a visit cannot be before the survey's assignment
/// nor a handover before the dispatch, which happen when the test runs, so the test puts the
/// time of the run in (same length: the fixtures' content-length stays true).
const SAMPLE_VISITED_AT: &str = "2026-12-04T10:00:00+07:00";
const SAMPLE_RECEIVED_AT: &str = "2026-12-04T09:00:00+07:00";

/// Now, as the fixtures write times (WIB, to the second).
fn now_wib() -> String {
    chrono_now()
        .with_timezone(&shared::time::wib_offset())
        .format("%Y-%m-%dT%H:%M:%S+07:00")
        .to_string()
}

fn events_dir() -> PathBuf {
    basoka_tests::workspace_root().join("events")
}

/// One function under test: its entry point and what its clients called.
struct Under {
    function: Function,
    calls: CallRecorder,
    ports: &'static [Port],
}

struct Rig {
    table: String,
    submit: Under,
    survey: Under,
    stock: Under,
    notify: Under,
    /// Real ids for the fixtures' samples: (sample, real).
    swaps: Mutex<Vec<(String, String)>>,
    used: Mutex<BTreeSet<PathBuf>>,
}

/// An HTTP answer of a function.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    text: String,
    json: Value,
}

async fn adapters(table: &str) -> (AwsAdapters, CallRecorder) {
    let calls = CallRecorder::new();
    let a = testkit::adapters_on(table, Some(calls.clone())).await;
    // Creating (or finding) the table is the test's doing, not the function's.
    calls.clear();
    (a, calls)
}

impl Rig {
    async fn new() -> Rig {
        let table = testkit::unique_table("basoka-lambda");
        let (a, submit_calls) = adapters(&table).await;
        let policy = shared::policy::Policy::default();
        let submit = Under {
            function: submit_request::lambda::function(&a, policy),
            calls: submit_calls,
            ports: submit_request::lambda::PORTS,
        };
        let (a, survey_calls) = adapters(&table).await;
        let survey = Under {
            function: verify_survey::lambda::function(&a, policy),
            calls: survey_calls,
            ports: verify_survey::lambda::PORTS,
        };
        let (a, stock_calls) = adapters(&table).await;
        let stock = Under {
            function: allocate_stock::lambda::function(&a),
            calls: stock_calls,
            ports: allocate_stock::lambda::PORTS,
        };
        let (a, notify_calls) = adapters(&table).await;
        let config = shared::notify::NotifyConfig {
            dinas_duty: Some(shared::Phone::parse("+6281100000001").unwrap()),
            gudang: Some(shared::Phone::parse("+6281100000002").unwrap()),
            max_attempts: 5,
        };
        let notify = Under {
            function: notify::lambda::function(&a, config),
            calls: notify_calls,
            ports: notify::lambda::PORTS,
        };
        Rig {
            table,
            submit,
            survey,
            stock,
            notify,
            swaps: Mutex::new(Vec::new()),
            used: Mutex::new(BTreeSet::new()),
        }
    }

    fn swap(&self, sample: &str, real: &str) {
        let mut swaps = self.swaps.lock().unwrap();
        swaps.retain(|(s, _)| s != sample);
        swaps.push((sample.to_string(), real.to_string()));
    }

    /// A fixture with the real ids in.
    fn load(&self, rel: &str) -> Value {
        let path = events_dir().join(rel);
        let mut text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for (sample, real) in self.swaps.lock().unwrap().iter() {
            text = text.replace(sample.as_str(), real);
        }
        self.used.lock().unwrap().insert(path);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
    }

    async fn invoke(&self, under: &Under, event: Value) -> Value {
        under
            .function
            .handle(event, Context::default())
            .await
            .unwrap_or_else(|e| panic!("{} failed: {e}", under.function.name()))
    }

    async fn http_event(&self, under: &Under, event: Value) -> Answer {
        let out = self.invoke(under, event).await;
        let status = out["statusCode"]
            .as_u64()
            .expect("a v2 response has statusCode") as u16;
        let raw = out["body"].as_str().unwrap_or_default();
        let text = if out["isBase64Encoded"] == json!(true) {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .expect("base64 body"),
            )
            .expect("UTF-8 body")
        } else {
            raw.to_string()
        };
        let content_type = out["headers"]["content-type"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            text,
            json,
        }
    }

    async fn http(&self, under: &Under, rel: &str) -> Answer {
        let event = self.load(rel);
        self.http_event(under, event).await
    }

    /// Feeds an SQS fixture; returns the message ids the handler asked to get again.
    async fn sqs(&self, under: &Under, rel: &str) -> Vec<String> {
        let event = self.load(rel);
        failed_ids(&self.invoke(under, event).await)
    }
}

fn expect(a: &Answer, status: u16, what: &str) {
    assert_eq!(a.status, status, "{what}: {} {}", a.status, a.text);
}

/// SMS moto holds for `phone` that name `code`.
async fn sms_naming(phone: &str, code: &str) -> Vec<String> {
    testkit::sms_to(phone)
        .await
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| m.contains(code))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_through_the_real_lambda_handlers() {
    let rig = Rig::new().await;
    let s = &rig;

    // ---- open routes ----
    let a = s.http(&s.submit, "submit-request/get-health.json").await;
    expect(&a, 200, "health");
    assert_eq!(a.json["status"], "ok");
    let a = s.http(&s.submit, "submit-request/get-openapi.json").await;
    expect(&a, 200, "openapi");
    for path in [
        "/v1/requests",
        "/v1/requests/{id}/decision",
        "/v1/stock/receipts",
    ] {
        assert!(
            a.json["paths"][path].is_object(),
            "the document lists {path}"
        );
    }
    let a = s.http(&s.submit, "submit-request/get-kelurahan.json").await;
    expect(&a, 200, "kelurahan");
    assert_eq!(a.json["items"].as_array().map(Vec::len), Some(56));

    // ---- the catalogue the journey needs (what `basoka seed` does), then stock by receipt ----
    {
        let (store, _) = adapters(&s.table).await;
        for item in shared::stock::seed_items() {
            store.store.put_item(&item).await.unwrap();
        }
        store
            .store
            .put_package(&shared::stock::seed_package(chrono_now()))
            .await
            .unwrap();
    }
    let a = s.http(&s.stock, "allocate-stock/post-receipts.json").await;
    expect(&a, 201, "receipt");
    let again = s.http(&s.stock, "allocate-stock/post-receipts.json").await;
    assert_eq!(
        again.json, a.json,
        "the same Idempotency-Key answers the first receipt again"
    );
    let a = s.http(&s.stock, "allocate-stock/get-stock.json").await;
    expect(&a, 200, "stock");
    let beras = a
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == "BERAS")
        .cloned()
        .unwrap();
    assert_eq!(beras["on_hand"], 200, "20 packages of 10 kg: {beras}");
    let a = s.http(&s.stock, "allocate-stock/get-ledger.json").await;
    expect(&a, 200, "ledger");
    assert!(
        !a.json["items"].as_array().unwrap().is_empty(),
        "a page of entries: {}",
        a.text
    );
    let a = s
        .http(&s.stock, "allocate-stock/post-adjustments.json")
        .await;
    expect(&a, 200, "adjustment");
    // An adjustment below zero: 409 with the item, warehouse and available amount as members,
    // as the local server answers (the same problem document).
    let mut below = s.load("allocate-stock/post-adjustments.json");
    let mut adj: Value = serde_json::from_str(below["body"].as_str().unwrap()).unwrap();
    adj["sku"] = json!("BERAS");
    adj["delta"] = json!(-1_000_000);
    below["body"] = json!(adj.to_string());
    below["headers"]["content-length"] = json!(adj.to_string().len().to_string());
    let a = s.http_event(&s.stock, below).await;
    expect(&a, 409, "adjustment below zero");
    assert_eq!(a.content_type, "application/problem+json");
    assert_eq!(a.json["code"], "INSUFFICIENT_STOCK", "{}", a.text);
    assert_eq!(a.json["sku"], "BERAS", "{}", a.text);
    assert_eq!(a.json["warehouse"], "GUDANG-DINSOS-BKS", "{}", a.text);
    assert!(a.json["available"].is_u64(), "{}", a.text);
    expect(
        &s.http(&s.stock, "allocate-stock/get-items.json").await,
        200,
        "items",
    );
    expect(
        &s.http(&s.stock, "allocate-stock/put-item.json").await,
        200,
        "put item",
    );
    expect(
        &s.http(&s.stock, "allocate-stock/post-retire-item.json")
            .await,
        200,
        "retire item",
    );
    let a = s.http(&s.stock, "allocate-stock/delete-item.json").await;
    assert!(
        matches!(a.status, 200 | 204),
        "delete unused item: {} {}",
        a.status,
        a.text
    );
    expect(
        &s.http(&s.stock, "allocate-stock/put-package.json").await,
        200,
        "put package",
    );
    let a = s.http(&s.stock, "allocate-stock/get-packages.json").await;
    expect(&a, 200, "packages");
    assert!(
        a.text.contains("PAKET-LANSIA") && a.text.contains("PAKET-SEMBAKO"),
        "{}",
        a.text
    );

    // ---- intake ----
    let bad = s
        .http(&s.submit, "submit-request/post-requests-invalid.json")
        .await;
    expect(&bad, 400, "invalid submission");
    assert_eq!(bad.content_type, "application/problem+json");
    assert_eq!(bad.json["code"], "VALIDATION_FAILED");
    let fields: BTreeSet<&str> = bad.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for f in [
        "household.head_nik",
        "household.phone",
        "household.members",
        "household.address.kelurahan_code",
    ] {
        assert!(fields.contains(f), "{f} is named: {fields:?}");
    }
    let created = s.http(&s.submit, "submit-request/post-requests.json").await;
    expect(&created, 201, "submission");
    assert!(!created.text.contains(HEAD_NIK), "NIK masked in the answer");
    let id = created.json["id"].as_str().unwrap().to_string();
    let code = created.json["code"].as_str().unwrap().to_string();
    s.swap(SAMPLE_REQUEST, &id);
    s.swap(SAMPLE_CODE, &code);
    let replay = s.http(&s.submit, "submit-request/post-requests.json").await;
    assert_eq!(replay.json["id"], created.json["id"], "idempotent replay");

    let a = s.http(&s.submit, "submit-request/get-request.json").await;
    expect(&a, 200, "get");
    assert_eq!(a.json["status"], "submitted");
    let a = s.http(&s.submit, "submit-request/get-requests.json").await;
    expect(&a, 200, "list");
    assert!(a.text.contains(&id), "{}", a.text);
    let a = s
        .http(&s.submit, "submit-request/get-requests-staging-stage.json")
        .await;
    expect(&a, 200, "list through the named stage /staging");
    assert!(a.text.contains(&id), "{}", a.text);
    let a = s
        .http(&s.submit, "submit-request/get-request-other-kelurahan.json")
        .await;
    expect(&a, 404, "another kelurahan's request");
    assert!(!a.text.contains(&code), "a 404 says nothing of the request");
    let a = s
        .http(&s.submit, "submit-request/get-request-without-claims.json")
        .await;
    expect(&a, 401, "no authorizer claims");
    assert_eq!(a.json["code"], "UNAUTHENTICATED");
    // A Cognito access token passes the JWT authorizer; the function says what to send.
    let a = s
        .http(&s.submit, "submit-request/get-request-access-token.json")
        .await;
    expect(&a, 401, "an access token");
    assert_eq!(a.json["code"], "UNAUTHENTICATED");
    assert!(
        a.json["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("ID token"),
        "{}",
        a.text
    );

    // ---- API Gateway's $default route: what no route matches reaches submit-request ----
    let a = s
        .http(&s.submit, "submit-request/default-route-unknown-path.json")
        .await;
    expect(&a, 404, "an unknown path");
    assert_eq!(a.content_type, "application/problem+json");
    assert_eq!(a.json["code"], "NOT_FOUND");
    assert!(
        a.json["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("/v1/openapi.json"),
        "an unknown path points to the list of paths: {}",
        a.text
    );
    let out = s
        .invoke(
            &s.submit,
            s.load("submit-request/default-route-wrong-method.json"),
        )
        .await;
    assert_eq!(out["statusCode"], 405, "{out}");
    assert_eq!(out["headers"]["allow"], "POST", "{out}");
    assert_eq!(
        out["headers"]["content-type"], "application/problem+json",
        "{out}"
    );

    // ---- survey and decision ----
    let early = s.http(&s.survey, "verify-survey/post-decision.json").await;
    expect(&early, 409, "decision before the survey");
    assert_eq!(early.json["code"], "INVALID_TRANSITION");
    expect(
        &s.http(&s.survey, "verify-survey/post-survey-assignment.json")
            .await,
        200,
        "assignment",
    );
    s.swap(SAMPLE_VISITED_AT, &now_wib());
    expect(
        &s.http(&s.survey, "verify-survey/post-survey.json").await,
        200,
        "survey",
    );
    let a = s.http(&s.survey, "verify-survey/post-decision.json").await;
    expect(&a, 200, "decision");
    assert_eq!(a.json["status"], "approved");
    let a = s.http(&s.submit, "submit-request/get-history.json").await;
    expect(&a, 200, "history");
    assert_eq!(a.json.as_array().map(Vec::len), Some(4), "{}", a.text);

    // ---- the queue: approval → allocation (delivered twice: one allocation) ----
    assert_eq!(
        s.sqs(&s.stock, "allocate-stock/sqs-request-approved.json")
            .await,
        Vec::<String>::new()
    );
    assert_eq!(
        s.sqs(&s.stock, "allocate-stock/sqs-request-approved.json")
            .await,
        Vec::<String>::new()
    );
    let a = s.http(&s.submit, "submit-request/get-request.json").await;
    assert_eq!(a.json["status"], "allocated", "{}", a.text);
    let a = s.http(&s.stock, "allocate-stock/get-shipments.json").await;
    expect(&a, 200, "shipments");
    let mine: Vec<&Value> = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|sh| sh["request_id"] == id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "one shipment per request: {}", a.text);
    s.swap(SAMPLE_SHIPMENT, mine[0]["id"].as_str().unwrap());
    let a = s.http(&s.stock, "allocate-stock/post-dispatch.json").await;
    expect(&a, 200, "dispatch");
    s.swap(SAMPLE_RECEIVED_AT, &now_wib());
    let a = s.http(&s.stock, "allocate-stock/post-handover.json").await;
    expect(&a, 200, "handover");
    assert_eq!(a.json["status"], "delivered", "{}", a.text);

    // Cancelled (after delivery: nothing to release) and a receipt (no waitlist): handled.
    assert!(
        s.sqs(&s.stock, "allocate-stock/sqs-request-cancelled.json")
            .await
            .is_empty()
    );
    assert!(
        s.sqs(&s.stock, "allocate-stock/sqs-stock-received.json")
            .await
            .is_empty()
    );
    // An adjustment that adds stock serves the waitlist too (empty here): handled.
    assert!(
        s.sqs(&s.stock, "allocate-stock/sqs-stock-adjusted.json")
            .await
            .is_empty()
    );
    // Bad messages fail alone (JSON that is no event; the stream record of an item that is
    // not an outbox insert); the good ones around them are handled.
    let failed = s
        .sqs(&s.stock, "allocate-stock/sqs-batch-with-bad-message.json")
        .await;
    let batch = s.load("allocate-stock/sqs-batch-with-bad-message.json");
    assert_eq!(
        failed,
        [
            batch["Records"][1]["messageId"].as_str().unwrap(),
            batch["Records"][3]["messageId"].as_str().unwrap()
        ]
    );

    // ---- notify: every event kind, each twice; SMS once per (event, recipient) ----
    let kinds = [
        "request-submitted",
        "survey-assigned",
        "survey-recorded",
        "request-approved",
        "request-rejected",
        "request-waitlisted",
        "request-allocated",
        "request-dispatched",
        "request-delivered",
        "request-cancelled",
        "stock-received",
        "stock-adjusted",
        "stock-low",
    ];
    for kind in kinds {
        let rel = format!("notify/sqs-{kind}.json");
        assert!(s.sqs(&s.notify, &rel).await.is_empty(), "{rel}");
        assert!(s.sqs(&s.notify, &rel).await.is_empty(), "{rel} again");
    }
    let to_surveyor = sms_naming(SURVEYOR_PHONE, &code).await;
    assert_eq!(
        to_surveyor.len(),
        1,
        "survey assignment, once: {to_surveyor:?}"
    );
    let to_staff = sms_naming(KELURAHAN_PHONE, &code).await;
    // Approved, rejected, dispatched: one each (the fixtures' kelurahan staff submitted it).
    assert_eq!(to_staff.len(), 3, "{to_staff:?}");
    let to_psm = sms_naming(PSM_PHONE, &code).await;
    // Approved, rejected, delivered, cancelled.
    assert_eq!(to_psm.len(), 4, "{to_psm:?}");
    // Delivered: when the household received it (01:40 UTC), not when it was recorded.
    assert!(
        to_psm
            .iter()
            .any(|m| m.contains("diterima") && m.contains("05-12-2026 08:40 WIB")),
        "{to_psm:?}"
    );
    for m in to_surveyor.iter().chain(&to_staff).chain(&to_psm) {
        assert!(m.chars().count() <= 160, "one segment: {m}");
        assert!(
            !m.contains(HEAD_NIK) && !m.contains("Siti"),
            "no NIK or name: {m}"
        );
    }
    // A bare event body (a hand re-publish, a local invocation) is the same event: handled,
    // and no SMS is sent twice.
    let low_before = testkit::sms_to("+6281100000002").await.len();
    assert!(
        s.sqs(&s.notify, "notify/sqs-bare-event.json")
            .await
            .is_empty()
    );
    assert_eq!(
        testkit::sms_to("+6281100000002").await.len(),
        low_before,
        "the bare StockLow is the stream record's event: already told"
    );
    let retried = s
        .invoke(&s.notify, s.load("notify/schedule-retry-failed-sms.json"))
        .await;
    assert_eq!(retried["retried_and_sent"], 0, "{retried}");
    // allocate-stock's daily look at every item's stock runs as its schedule invokes it.
    let checked = s
        .invoke(
            &s.stock,
            s.load("allocate-stock/schedule-check-low-stock.json"),
        )
        .await;
    assert!(
        checked["items_checked"].as_u64().is_some_and(|n| n >= 1),
        "{checked}"
    );

    // ---- a second request, cancelled through its route ----
    let mut second = s.load("submit-request/post-requests.json");
    let body = second["body"]
        .as_str()
        .unwrap()
        .replace(HEAD_NIK, "3275015507850002")
        .replace("3275010203040005", "3275010203040099");
    second["body"] = json!(body);
    second["headers"]["idempotency-key"] = json!("2026-12-04-bekasijaya-009");
    let a = s.http_event(&s.submit, second).await;
    expect(&a, 201, "second submission");
    s.swap(SAMPLE_REQUEST, a.json["id"].as_str().unwrap());
    let a = s.http(&s.submit, "submit-request/post-cancel.json").await;
    expect(&a, 200, "cancel");
    assert_eq!(a.json["status"], "cancelled");

    // ---- re-publishing from the outbox (docs/deploy.md, section 9) ----
    // `aws dynamodb query` of the outbox items (projection SK, entity, event_type, event),
    // each wrapped by the documented jq as {eventName, eventSource, dynamodb: {NewImage}}:
    // allocate-stock's filter passes exactly its event types, and the consumers handle them.
    {
        let (a, _) = adapters(&s.table).await;
        let out = a
            .store
            .client()
            .query()
            .table_name(&s.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S("OUTBOX#NEW".into()),
            )
            .projection_expression("SK, #e, #t, #v")
            .expression_attribute_names("#e", "entity")
            .expression_attribute_names("#t", "event_type")
            .expression_attribute_names("#v", "event")
            .send()
            .await
            .expect("query the outbox");
        let filter =
            basoka_aws::stream::subscription_filter_policy(&shared::fulfilment::CONSUMED_EVENTS);
        let mut approvals = Vec::new();
        for item in out.items() {
            let record = json!({
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"NewImage": basoka_aws::stream::item_json(item)}
            });
            let body = record.to_string();
            let event = basoka_lambda::queue::event_of(&body).expect("a consumer reads it");
            let consumed = shared::fulfilment::CONSUMED_EVENTS.contains(&event.type_name());
            assert_eq!(
                basoka_aws::stream::filter_policy_accepts(&filter, &record),
                consumed,
                "{}",
                event.type_name()
            );
            if event.type_name() == "RequestApproved" {
                approvals.push(body);
            }
        }
        assert!(!approvals.is_empty(), "the outbox holds the approval");
        let ids: Vec<String> = (0..approvals.len())
            .map(|i| format!("republished-{i}"))
            .collect();
        let batch = basoka_lambda::queue::sqs_batch(
            "allocate-stock",
            ids.iter()
                .map(String::as_str)
                .zip(approvals.iter().map(String::as_str)),
        );
        let answer = s.invoke(&s.stock, batch).await;
        assert!(failed_ids(&answer).is_empty(), "{answer}");
    }

    // ---- a third request, rejected: a decision that ends a request releases its guards ----
    let mut third = s.load("submit-request/post-requests.json");
    let body = third["body"]
        .as_str()
        .unwrap()
        .replace(HEAD_NIK, "3275016809800001")
        .replace("3275010203040005", "3275010203040077");
    third["body"] = json!(body);
    third["headers"]["idempotency-key"] = json!("2026-12-04-bekasijaya-010");
    let a = s.http_event(&s.submit, third).await;
    expect(&a, 201, "third submission");
    s.swap(SAMPLE_REQUEST, a.json["id"].as_str().unwrap());
    expect(
        &s.http(&s.survey, "verify-survey/post-survey-assignment.json")
            .await,
        200,
        "assignment of the third",
    );
    s.swap(SAMPLE_VISITED_AT, &now_wib());
    expect(
        &s.http(&s.survey, "verify-survey/post-survey.json").await,
        200,
        "survey of the third",
    );
    let mut reject = s.load("verify-survey/post-decision.json");
    let decision = json!({"decision": "reject", "reason": "Tidak memenuhi syarat."}).to_string();
    reject["headers"]["content-length"] = json!(decision.len().to_string());
    reject["body"] = json!(decision);
    let a = s.http_event(&s.survey, reject).await;
    expect(&a, 200, "rejection");
    assert_eq!(a.json["status"], "rejected", "{}", a.text);

    // ---- the Dinas's report of the period: the three requests above, by their status now ----
    // The fixtures ask for 5 November to 4 December 2026; the requests were submitted today,
    // so the test asks for the days around today in WIB instead.
    let today = chrono_now()
        .with_timezone(&shared::time::wib_offset())
        .date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let period = |mut event: Value, query: &str| {
        event["rawQueryString"] = json!(query);
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
        event
    };
    let query = format!("from={from}&to={to}");
    let report = s
        .http_event(
            &s.survey,
            period(s.load("verify-survey/get-report-summary.json"), &query),
        )
        .await;
    expect(&report, 200, "report");
    assert_eq!(report.content_type, "application/json", "{}", report.text);
    let r = &report.json;
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (
            Some(from.to_string().as_str()),
            Some(to.to_string().as_str())
        )
    );
    assert_eq!(r["total"], 3, "{}", report.text);
    for (status, n) in [
        ("delivered", 1),
        ("cancelled", 1),
        ("rejected", 1),
        ("submitted", 0),
    ] {
        assert_eq!(r["by_status"][status], n, "{status}: {}", report.text);
    }
    assert_eq!(r["packages_approved"], 1, "{}", report.text);
    assert_eq!(r["by_kelurahan"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["by_kelurahan"][0]["kelurahan_code"], "32.75.01.1001");
    assert!(
        !report.text.contains(HEAD_NIK) && !report.text.contains("Siti"),
        "no NIK or name: {}",
        report.text
    );
    let csv = s
        .http_event(
            &s.survey,
            period(s.load("verify-survey/get-report-summary-csv.json"), &query),
        )
        .await;
    expect(&csv, 200, "report as CSV");
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 3, "header, Bekasijaya, TOTAL: {}", csv.text);
    assert!(lines[0].starts_with("kelurahan_code,kelurahan,total,submitted,"));
    assert!(
        lines[1].starts_with("32.75.01.1001,Bekasijaya,3,"),
        "{}",
        csv.text
    );
    assert!(lines[2].starts_with("TOTAL,,3,"), "{}", csv.text);
    // Not the Dinas: 403, as on the other Dinas routes; bad dates: 400 naming both.
    let mut staff = s.load("verify-survey/get-report-summary.json");
    let claims = &mut staff["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["custom:role"] = json!("kelurahan");
    claims["custom:kelurahan"] = json!("32.75.01.1001");
    let a = s.http_event(&s.survey, staff).await;
    expect(&a, 403, "report for kelurahan staff");
    assert_eq!(a.json["code"], "FORBIDDEN");
    let bad = period(
        s.load("verify-survey/get-report-summary.json"),
        "from=kemarin&to=2026-13-01",
    );
    let a = s.http_event(&s.survey, bad).await;
    expect(&a, 400, "report with bad dates");
    assert_eq!(a.content_type, "application/problem+json");
    let fields: Vec<&str> = a.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["from", "to"], "{}", a.text);

    // ---- each function called exactly what its IAM policy allows ----
    // Nothing beyond its ports' actions (AccessDenied on AWS), and nothing of them unused (a
    // grant no path needs): the journey above takes every path that makes a distinct call.
    for under in [&s.submit, &s.survey, &s.stock, &s.notify] {
        let allowed: BTreeSet<String> = basoka_aws::calls::iam_actions(under.ports)
            .into_iter()
            .map(str::to_string)
            .collect();
        let made = under.calls.actions();
        let beyond: Vec<_> = made.difference(&allowed).collect();
        assert!(
            beyond.is_empty(),
            "{} made calls its ports do not declare: {beyond:?} (made {made:?})",
            under.function.name()
        );
        let unused: Vec<_> = allowed.difference(&made).collect();
        assert!(
            unused.is_empty(),
            "{} may call {unused:?}, which none of its paths called (made {made:?})",
            under.function.name()
        );
    }

    // ---- and every fixture was fed to a handler ----
    let used = s.used.lock().unwrap().clone();
    let mut unused = Vec::new();
    for dir in [
        "submit-request",
        "verify-survey",
        "allocate-stock",
        "notify",
    ] {
        for f in std::fs::read_dir(events_dir().join(dir)).unwrap() {
            let p = f.unwrap().path();
            if !used.contains(&p) {
                unused.push(p);
            }
        }
    }
    assert!(unused.is_empty(), "fixtures no test feeds: {unused:?}");
}

/// The stream side of the transport: the table's real stream on moto, as the pipe reads it.
/// The pipe publishes every outbox insert record as it is and drops everything else; the
/// record, as the SQS body the topic delivers raw, is what the consumers handle; and
/// `allocate-stock`'s subscription filter reads the record's nested event type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_stream_records_become_the_messages_consumers_receive() {
    // The committed stream fixture is what notify's StockLow fixture carries.
    let record: Value = read_json(&events_dir().join("stream/outbox-insert.json"));
    let message = basoka_aws::stream_record_to_message(&record)
        .expect("an outbox insert")
        .expect("kept by the pipe filter");
    let sqs: Value = read_json(&events_dir().join("notify/sqs-stock-low.json"));
    let body: Value = serde_json::from_str(sqs["Records"][0]["body"].as_str().unwrap()).unwrap();
    let published: Value = serde_json::from_str(&message).unwrap();
    assert_eq!(body, published, "the SQS body is the stream record");
    let allocate_filter =
        basoka_aws::stream::subscription_filter_policy(&shared::fulfilment::CONSUMED_EVENTS);
    assert!(
        !basoka_aws::stream::filter_policy_accepts(&allocate_filter, &published),
        "StockLow is notify's only"
    );

    // The real stream: a submission writes request, history, guards… and one outbox item.
    let rig = Rig::new().await;
    let created = rig
        .http(&rig.submit, "submit-request/post-requests.json")
        .await;
    expect(&created, 201, "submission");
    let code = created.json["code"].as_str().unwrap().to_string();
    let records = testkit::stream_records(&rig.table).await;
    assert!(records.len() > 1, "the stream has the whole transaction");
    let mut messages = Vec::new();
    for r in &records {
        if let Some(m) = basoka_aws::stream_record_to_message(r).expect("stream records read") {
            messages.push(m);
        }
    }
    assert_eq!(
        messages.len(),
        1,
        "one event per state change: {messages:?}"
    );
    let published: Value = serde_json::from_str(&messages[0]).unwrap();
    let event = basoka_aws::outbox_event(&published).expect("the record carries the event");
    assert_eq!(event.type_name(), "RequestSubmitted");
    assert_eq!(event.request.as_ref().unwrap().code.as_str(), code.as_str());
    assert!(
        !messages[0].contains(HEAD_NIK),
        "events carry the NIK masked"
    );
    assert!(
        !basoka_aws::stream::filter_policy_accepts(&allocate_filter, &published),
        "allocate-stock does not get submissions"
    );

    // Handed to notify as its queue would (the record, raw): the Dinas duty number is told.
    let batch = basoka_lambda::queue::sqs_batch("notify", [("m-1", messages[0].as_str())]);
    let out = rig.invoke(&rig.notify, batch).await;
    assert!(failed_ids(&out).is_empty(), "{out}");
    let duty = sms_naming("+6281100000001", &code).await;
    assert_eq!(duty.len(), 1, "{duty:?}");
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
