//! For tests against moto (feature `testkit`; never in a Lambda build): the moto endpoint from
//! `BASOKA_TEST_AWS_ENDPOINT` (a test without it fails, saying how to start moto), a fresh
//! table per test, and moto's own view of what was sent (`/moto-api/data.json`). Used by this
//! crate's conformance tests, the Lambda handler tests and the `--backend aws` journey.

use crate::{AwsAdapters, AwsConfig, CallRecorder};

/// The HMAC secret of every test table.
pub const TEST_HASH_KEY: &str = "conformance-test-secret-0123456789abcdef";

/// The moto server to test against. Panics with instructions when none is given: CI must not
/// pass without these tests (`BASOKA_SKIP_AWS_TESTS=1` compiles them out explicitly).
pub fn endpoint() -> String {
    match std::env::var("BASOKA_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_string(),
        _ => panic!(
            "BASOKA_TEST_AWS_ENDPOINT is not set: these tests run the AWS adapter against a \
             moto server. Start one with\n\n    eval \"$(scripts/moto)\"\n\n(it installs \
             moto[server] into .venv/ if needed and prints the export), run the tests, then \
             `scripts/moto stop`. To skip them on purpose, set BASOKA_SKIP_AWS_TESTS=1."
        ),
    }
}

/// A table name no other test uses.
pub fn unique_table(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// The adapters over a fresh table on moto.
pub async fn fresh_adapters() -> AwsAdapters {
    fresh_adapters_with(None).await
}

/// The adapters over a fresh table on moto, recording their calls in `recorder`.
pub async fn fresh_adapters_with(recorder: Option<CallRecorder>) -> AwsAdapters {
    adapters_on(&unique_table("basoka-test"), recorder).await
}

/// The adapters over `table` on moto (created if missing), recording their calls in
/// `recorder`: several adapters on one table stand for several functions.
pub async fn adapters_on(table: &str, recorder: Option<CallRecorder>) -> AwsAdapters {
    let url = endpoint();
    let mut config = AwsConfig::for_emulator(&url, table, TEST_HASH_KEY);
    config.recorder = recorder;
    let adapters = config.connect().await.expect("test configuration is valid");
    if let Err(e) = adapters.store.create_table_if_missing().await {
        panic!(
            "cannot create a table on moto at {url} (is it running? `eval \"$(scripts/moto)\"`): {e}"
        );
    }
    adapters
}

/// moto's record of everything it holds (`GET /moto-api/data.json`).
pub async fn moto_data() -> serde_json::Value {
    let url = format!("{}/moto-api/data.json", endpoint());
    reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .expect("moto answers /moto-api/data.json")
        .json()
        .await
        .expect("moto's data.json is JSON")
}

/// The SMS moto recorded for `phone` (E.164), oldest first: `(message_id, message)`.
pub async fn sms_to(phone: &str) -> Vec<(String, String)> {
    let data = moto_data().await;
    let list = data["sns"]["SMS"].as_array().cloned().unwrap_or_default();
    list.into_iter()
        .filter(|m| m["phone_number"] == phone)
        .map(|m| {
            (
                m["message_id"].as_str().unwrap_or_default().to_string(),
                m["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The records of `table`'s stream on moto, oldest first, in the JSON shape DynamoDB Streams
/// (and so Lambda and EventBridge Pipes) give them. moto answers the Streams API on its one
/// endpoint; the SDK for Streams is not a dependency of this project, so this speaks its JSON
/// protocol directly (moto does not check signatures).
pub async fn stream_records(table: &str) -> Vec<serde_json::Value> {
    let url = endpoint();
    let http = reqwest::Client::new();
    let call = |target: &'static str, body: serde_json::Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(format!("{url}/"))
                .header("X-Amz-Target", format!("DynamoDBStreams_20120810.{target}"))
                .header("Content-Type", "application/x-amz-json-1.0")
                .header(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20260101/ap-southeast-3/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                )
                .body(body.to_string())
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .unwrap_or_else(|e| panic!("moto DynamoDB Streams {target}: {e}"))
                .json::<serde_json::Value>()
                .await
                .unwrap_or_else(|e| panic!("moto DynamoDB Streams {target} answer: {e}"))
        }
    };
    let streams = call("ListStreams", serde_json::json!({ "TableName": table })).await;
    let arn = streams["Streams"][0]["StreamArn"]
        .as_str()
        .unwrap_or_else(|| panic!("table {table} has no stream on moto: {streams}"))
        .to_string();
    let description = call("DescribeStream", serde_json::json!({ "StreamArn": arn })).await;
    let mut records = Vec::new();
    for shard in description["StreamDescription"]["Shards"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let iterator = call(
            "GetShardIterator",
            serde_json::json!({
                "StreamArn": arn,
                "ShardId": shard["ShardId"],
                "ShardIteratorType": "TRIM_HORIZON"
            }),
        )
        .await;
        let mut next = iterator["ShardIterator"].as_str().map(str::to_string);
        while let Some(it) = next.take() {
            let page = call(
                "GetRecords",
                serde_json::json!({ "ShardIterator": it, "Limit": 1000 }),
            )
            .await;
            let batch = page["Records"].as_array().cloned().unwrap_or_default();
            let done = batch.is_empty();
            records.extend(batch);
            if !done {
                next = page["NextShardIterator"].as_str().map(str::to_string);
            }
        }
    }
    records
}
