//! What the moto-backed tests share: the moto endpoint from `BASOKA_TEST_AWS_ENDPOINT` (a test
//! without it fails, saying how to start moto), a fresh table per test, and moto's own view of
//! what was sent (`/moto-api/data.json`).

#![allow(dead_code)]

use basoka_aws::{AwsAdapters, AwsConfig};
use basoka_conformance::Ports;

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
    let url = endpoint();
    let config = AwsConfig::for_emulator(&url, &unique_table("basoka-test"), TEST_HASH_KEY);
    let adapters = config.connect().await.expect("test configuration is valid");
    if let Err(e) = adapters.store.create_table_if_missing().await {
        panic!(
            "cannot create a table on moto at {url} (is it running? `eval \"$(scripts/moto)\"`): {e}"
        );
    }
    adapters
}

/// Every port over a fresh table, with the store's own contact writer.
pub fn ports_of(adapters: &AwsAdapters) -> Ports {
    let contacts = adapters.store.clone();
    Ports::of(adapters.store.clone()).with_contacts(move |c| {
        let store = contacts.clone();
        async move { store.put_contact(&c.sub, &c.name, &c.role, &c.phone).await }
    })
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
