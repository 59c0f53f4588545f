//! Configuration from the environment and the AWS clients built from it, once per process.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `BASOKA_TABLE` | `basoka` | the DynamoDB table (single-table design, see [`crate::table`]) |
//! | `BASOKA_HASH_KEY` | — (required) | the HMAC-SHA256 secret for NIK/KK keys, at least 32 characters; keep it in Secrets Manager / SSM and never change it on a live table (every household key would change) |
//! | `BASOKA_SMS_SENDER_ID` | none | SNS `AWS.SNS.SMS.SenderID` (1–11 letters and digits, at least one letter) |
//! | `BASOKA_IDEMPOTENCY_TTL_HOURS` | `24` | how long a stored idempotent answer is kept (`ttl` attribute) |
//! | `BASOKA_OUTBOX_TTL_DAYS` | `7` | how long an outbox item waits for the local runner's sequencer before DynamoDB's TTL removes it (`0`: never) |
//! | `AWS_REGION` | `ap-southeast-3` (Jakarta) | the region |
//! | `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_DYNAMODB`, `…_SNS`) | AWS | an emulator such as moto; read by the SDK itself |
//!
//! Credentials come from the SDK's default chain (environment, profile, the Lambda role).
//!
//! The SDK is used with rustls on *ring* only (no aws-lc, no legacy hyper 0.14), so the
//! HTTP client is built explicitly here; without it every call fails with "No HTTP client was
//! available".

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::Builder as HttpBuilder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::calls::CallRecorder;
use crate::keys::KeyHasher;
use crate::sns::SnsSms;
use crate::store::DynamoStore;

/// Every variable [`AwsConfig::from_env`] reads (the infrastructure drift test checks that
/// the template sets no other). Keep in step with the table above.
pub const ENVIRONMENT: [&str; 7] = [
    "BASOKA_TABLE",
    "BASOKA_HASH_KEY",
    "BASOKA_SMS_SENDER_ID",
    "BASOKA_IDEMPOTENCY_TTL_HOURS",
    "BASOKA_OUTBOX_TTL_DAYS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

/// Whether `id` is an SMS sender ID the functions accept: 1–11 ASCII letters and digits, at
/// least one of them a letter (an alphanumeric sender ID; a digits-only one would be a
/// number). The template's `SmsSenderId` parameter refuses exactly what this refuses (the
/// drift test compares them), so that a bad ID stops the deployment, not every cold start of
/// `notify`.
pub fn sms_sender_id_is_valid(id: &str) -> bool {
    (1..=11).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric())
        && id.chars().any(|c| c.is_ascii_alphabetic())
}

/// The region when none is configured: Asia Pacific (Jakarta).
pub const DEFAULT_REGION: &str = "ap-southeast-3";
/// The table name when `BASOKA_TABLE` is not set.
pub const DEFAULT_TABLE: &str = "basoka";

/// Why the configuration cannot be used. Never quotes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {why}")]
    Invalid { name: &'static str, why: String },
}

/// Everything the AWS adapters need to know, read once at start-up.
#[derive(Clone)]
pub struct AwsConfig {
    pub table: String,
    /// The HMAC secret for household keys.
    pub hash_key: String,
    pub sms_sender_id: Option<String>,
    pub region: String,
    /// Overrides `AWS_ENDPOINT_URL` (tests point this at moto).
    pub endpoint_url: Option<String>,
    pub idempotency_ttl: Duration,
    /// `None`: outbox items never expire.
    pub outbox_ttl: Option<Duration>,
    /// Static credentials instead of the default chain (emulators only).
    pub static_credentials: Option<(String, String)>,
    /// Notes every call's IAM action (tests: the infrastructure drift test).
    pub recorder: Option<CallRecorder>,
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsConfig")
            .field("table", &self.table)
            .field("hash_key", &"<redacted>")
            .field("sms_sender_id", &self.sms_sender_id)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("outbox_ttl", &self.outbox_ttl)
            .finish_non_exhaustive()
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
            name,
            why: "not a whole number".into(),
        }),
    }
}

/// A hash key as read from the environment: trimmed (a pasted secret often carries a
/// newline), and none when empty.
fn hash_key_of(raw: Option<String>) -> Option<String> {
    raw.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// `BASOKA_HASH_KEY` exactly as every reader takes it: the functions' cold start
/// ([`AwsConfig::from_env`]) and the `basoka` CLI. Two readers that disagreed on a space would
/// hash every NIK to other keys, silently (docs/deploy.md, section 11).
pub fn hash_key_from_env() -> Option<String> {
    hash_key_of(std::env::var("BASOKA_HASH_KEY").ok())
}

impl AwsConfig {
    /// Reads the variables in the module documentation.
    pub fn from_env() -> Result<AwsConfig, ConfigError> {
        let hash_key = hash_key_from_env().ok_or(ConfigError::Missing("BASOKA_HASH_KEY"))?;
        let table = var("BASOKA_TABLE").unwrap_or_else(|| DEFAULT_TABLE.to_string());
        AwsConfig::from_env_with(&table, &hash_key)
    }

    /// The configuration of the environment, with the table and hash key given (the CLI takes
    /// them from flags and the data folder).
    pub fn from_env_with(table: &str, hash_key: &str) -> Result<AwsConfig, ConfigError> {
        let outbox_days = number("BASOKA_OUTBOX_TTL_DAYS", 7)?;
        let config = AwsConfig {
            table: table.to_string(),
            hash_key: hash_key.to_string(),
            sms_sender_id: var("BASOKA_SMS_SENDER_ID"),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| DEFAULT_REGION.to_string()),
            endpoint_url: None,
            idempotency_ttl: Duration::from_secs(
                3600 * number("BASOKA_IDEMPOTENCY_TTL_HOURS", 24)?.max(1),
            ),
            outbox_ttl: (outbox_days > 0).then(|| Duration::from_secs(86_400 * outbox_days)),
            static_credentials: None,
            recorder: None,
        };
        config.validate()?;
        Ok(config)
    }

    /// A configuration for an emulator at `endpoint` (moto): static `test` credentials.
    pub fn for_emulator(endpoint: &str, table: &str, hash_key: &str) -> AwsConfig {
        AwsConfig {
            table: table.to_string(),
            hash_key: hash_key.to_string(),
            sms_sender_id: Some("BASOKA".into()),
            region: DEFAULT_REGION.to_string(),
            endpoint_url: Some(endpoint.to_string()),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            outbox_ttl: Some(Duration::from_secs(7 * 86_400)),
            static_credentials: Some(("test".into(), "test".into())),
            recorder: None,
        }
    }

    /// Checks what can be checked without calling AWS.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hash_key.chars().count() < 32 {
            return Err(ConfigError::Invalid {
                name: "BASOKA_HASH_KEY",
                why: "must be at least 32 characters (a random secret)".into(),
            });
        }
        let table_ok = (3..=255).contains(&self.table.len())
            && self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !table_ok {
            return Err(ConfigError::Invalid {
                name: "BASOKA_TABLE",
                why: "3–255 characters of letters, digits, '_', '-', '.'".into(),
            });
        }
        if let Some(id) = &self.sms_sender_id
            && !sms_sender_id_is_valid(id)
        {
            return Err(ConfigError::Invalid {
                name: "BASOKA_SMS_SENDER_ID",
                why: "1–11 letters and digits, at least one letter".into(),
            });
        }
        Ok(())
    }

    /// The SDK configuration: region, endpoint, credentials and the ring-only HTTPS client.
    pub async fn sdk_config(&self) -> SdkConfig {
        let http = HttpBuilder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(self.region.clone()));
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some((id, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "basoka-static",
            ));
        }
        loader.load().await
    }

    /// Builds the clients once and returns the store and the SMS sender.
    pub async fn connect(&self) -> Result<AwsAdapters, ConfigError> {
        self.validate()?;
        let sdk = self.sdk_config().await;
        let hasher = KeyHasher::new(self.hash_key.as_bytes());
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk);
        let mut sns = aws_sdk_sns::config::Builder::from(&sdk);
        if let Some(r) = &self.recorder {
            dynamodb = dynamodb.interceptor(r.clone());
            sns = sns.interceptor(r.clone());
        }
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            &self.table,
            hasher,
            self.idempotency_ttl,
            self.outbox_ttl,
        );
        let sms = SnsSms::new(
            aws_sdk_sns::Client::from_conf(sns.build()),
            self.sms_sender_id.clone(),
        );
        Ok(AwsAdapters { sdk, store, sms })
    }
}

/// The adapters built from one [`AwsConfig`], sharing one SDK configuration.
#[derive(Clone)]
pub struct AwsAdapters {
    pub sdk: SdkConfig,
    pub store: DynamoStore,
    pub sms: SnsSms,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_variable_never_the_secret() {
        let mut c = AwsConfig::for_emulator("http://127.0.0.1:1", "basoka", "short-secret");
        let err = c.validate().unwrap_err();
        assert!(err.to_string().contains("BASOKA_HASH_KEY"), "{err}");
        assert!(!err.to_string().contains("short-secret"), "{err}");
        assert!(!format!("{c:?}").contains("short-secret"));
        c.hash_key = "0123456789abcdef0123456789abcdef".into();
        c.validate().unwrap();
        c.sms_sender_id = Some("BASOKA-BEKASI".into());
        assert!(
            c.validate().is_err(),
            "sender ids are at most 11 alphanumerics"
        );
        c.sms_sender_id = None;
        c.table = "bad table".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn the_hash_key_is_trimmed_the_same_for_every_reader() {
        assert_eq!(
            hash_key_of(Some("  secret-0123456789abcdef0123456789\n".into())),
            Some("secret-0123456789abcdef0123456789".into())
        );
        assert_eq!(hash_key_of(Some(" \t\n".into())), None);
        assert_eq!(hash_key_of(None), None);
    }
}
