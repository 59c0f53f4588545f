//! `--backend embedded|aws`: where the runner's commands keep their data.
//!
//! * `embedded` (the default): the SQLite store in the data folder, SMS to the outbox file.
//! * `aws`: the DynamoDB table and SNS, through the same adapters as the Lambda functions:
//!   `--table` (`BASOKA_TABLE`), `--region` (`AWS_REGION`), `--endpoint-url`
//!   (`AWS_ENDPOINT_URL`, e.g. a moto server; AWS itself when absent) and `--create-table`
//!   (create the table if it is missing: emulators and sandboxes). The NIK/KK hash key is
//!   `BASOKA_HASH_KEY`; against an emulator, when it is not set, a random key kept in the data
//!   folder (`hash-key`). Credentials come from the SDK's default chain; against an emulator
//!   with none configured, moto's `test`/`test`.

use std::path::Path;
use std::sync::Arc;

use basoka_aws::{AwsAdapters, AwsConfig};
use basoka_embedded::EmbeddedStore;
use clap::{Args, ValueEnum};
use shared::Phone;
use shared::fulfilment::FulfilDeps;
use shared::ports::{RandomIds, RegistryStore, StoreError, SystemClock};
use shared::stock::WarehouseCode;

use crate::datadir;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// SQLite in the data folder; SMS to the outbox file.
    Embedded,
    /// DynamoDB and SNS (AWS, or an emulator with --endpoint-url).
    Aws,
}

#[derive(Args, Debug, Clone)]
pub struct BackendArgs {
    /// Where the data lives.
    #[arg(long, value_enum, env = "BASOKA_BACKEND", default_value_t = Backend::Embedded)]
    pub backend: Backend,
    /// DynamoDB table (--backend aws).
    #[arg(long, env = "BASOKA_TABLE", default_value = basoka_aws::config::DEFAULT_TABLE)]
    pub table: String,
    /// AWS region (--backend aws).
    #[arg(long, env = "AWS_REGION", default_value = basoka_aws::config::DEFAULT_REGION)]
    pub region: String,
    /// An AWS emulator's URL, e.g. http://127.0.0.1:5000 for moto (--backend aws).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Create the DynamoDB table if it does not exist (emulators and sandboxes).
    #[arg(long)]
    pub create_table: bool,
    /// SNS sender id for SMS (--backend aws).
    #[arg(long, env = "BASOKA_SMS_SENDER_ID")]
    pub sms_sender_id: Option<String>,
}

impl BackendArgs {
    /// The AWS configuration these flags describe.
    pub fn aws_config(&self, data_dir: &Path) -> Result<AwsConfig, String> {
        let emulator = self
            .endpoint_url
            .as_deref()
            .filter(|u| !u.trim().is_empty());
        let hash_key = match (std::env::var("BASOKA_HASH_KEY"), emulator) {
            (Ok(k), _) => k,
            (Err(_), Some(_)) => datadir::emulator_hash_key(data_dir)?,
            (Err(_), None) => {
                return Err(
                    "BASOKA_HASH_KEY is not set: against AWS the NIK/KK hash key comes from \
                     the environment (the stack's secret; see docs/deploy.md)"
                        .into(),
                );
            }
        };
        let mut config =
            AwsConfig::from_env_with(&self.table, &hash_key).map_err(|e| e.to_string())?;
        config.region = self.region.clone();
        config.sms_sender_id = self.sms_sender_id.clone().filter(|s| !s.trim().is_empty());
        if let Some(url) = emulator {
            config.endpoint_url = Some(url.trim().to_string());
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
                && std::env::var_os("AWS_PROFILE").is_none()
            {
                config.static_credentials = Some(("test".into(), "test".into()));
            }
        }
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// Connects to AWS (or the emulator), creating the table when asked.
    pub async fn connect(&self, data_dir: &Path) -> Result<AwsAdapters, String> {
        let config = self.aws_config(data_dir)?;
        let adapters = config.connect().await.map_err(|e| e.to_string())?;
        if self.create_table {
            adapters
                .store
                .create_table_if_missing()
                .await
                .map_err(|e| format!("cannot create table {}: {e}", config.table))?;
        }
        Ok(adapters)
    }

    /// Where the data is, for people.
    pub fn describe(&self, data_dir: &Path) -> String {
        match self.backend {
            Backend::Embedded => format!("embedded store in {}", data_dir.display()),
            Backend::Aws => format!(
                "DynamoDB table {} in {}{}",
                self.table,
                self.region,
                self.endpoint_url
                    .as_deref()
                    .map(|u| format!(" at {u}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// An open store of either backend, for the one-shot commands (`seed`, `registry import`,
/// `token --phone`).
pub enum Store {
    Embedded(EmbeddedStore),
    Aws(Box<AwsAdapters>),
}

impl BackendArgs {
    /// Opens the store these flags name.
    pub async fn open(&self, data_dir: &Path) -> Result<Store, String> {
        match self.backend {
            Backend::Embedded => EmbeddedStore::open(data_dir)
                .map(Store::Embedded)
                .map_err(|e| format!("cannot open the store in {}: {e}", data_dir.display())),
            Backend::Aws => self
                .connect(data_dir)
                .await
                .map(|a| Store::Aws(Box::new(a))),
        }
    }
}

/// What `allocate-stock` needs, over the embedded store.
pub fn embedded_fulfil_deps(store: &EmbeddedStore) -> FulfilDeps {
    let store = Arc::new(store.clone());
    FulfilDeps {
        requests: store.clone(),
        stock: store.clone(),
        idempotency: store,
        clock: Arc::new(SystemClock),
        ids: Arc::new(RandomIds),
        warehouses: vec![WarehouseCode::default_warehouse()],
    }
}

impl Store {
    pub fn registry(&self) -> Arc<dyn RegistryStore> {
        match self {
            Store::Embedded(s) => Arc::new(s.clone()),
            Store::Aws(a) => Arc::new(a.store.clone()),
        }
    }

    pub fn fulfil_deps(&self) -> FulfilDeps {
        match self {
            Store::Embedded(s) => embedded_fulfil_deps(s),
            Store::Aws(a) => a.fulfil_deps(),
        }
    }

    /// Records a staff member's mobile number for the SMS `notify` sends them.
    pub async fn put_contact(
        &self,
        sub: &str,
        name: &str,
        role: &str,
        phone: &Phone,
    ) -> Result<(), StoreError> {
        match self {
            Store::Embedded(s) => s.put_contact(sub, name, role, phone).await,
            Store::Aws(a) => a.store.put_contact(sub, name, role, phone).await,
        }
    }
}
