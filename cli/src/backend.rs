//! `--backend embedded|aws`: where the runner's commands keep their data.
//!
//! * `embedded` (the default): the SQLite store in the data folder, SMS to the outbox file.
//! * `aws`: the DynamoDB table and SNS, through the same adapters as the Lambda functions:
//!   `--table` (`BASOKA_TABLE`), `--region` (`AWS_REGION`), `--endpoint-url`
//!   (`AWS_ENDPOINT_URL`, e.g. a moto server; AWS itself when absent) ([`StoreArgs`], all
//!   that `token` needs) and, for `serve`, `seed` and `registry import`, `--create-table`
//!   (create the table if it is missing: emulators and sandboxes) ([`BackendArgs`]). The NIK/KK hash key is
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

/// Where the data lives: what every command that opens the store needs (`token --phone`
/// records the number there).
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
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
}

/// [`StoreArgs`] plus `--create-table`, for the commands that may set a store up (`serve`,
/// `seed`, `registry import`).
#[derive(Args, Debug, Clone)]
pub struct BackendArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Create the DynamoDB table if it does not exist (emulators and sandboxes).
    #[arg(long)]
    pub create_table: bool,
}

impl StoreArgs {
    fn emulator(&self) -> Option<&str> {
        self.endpoint_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    /// The AWS configuration these flags describe (the SMS sender id from
    /// `BASOKA_SMS_SENDER_ID`; `serve --sms-sender-id` overrides it).
    pub fn aws_config(&self, data_dir: &Path) -> Result<AwsConfig, String> {
        let emulator = self.emulator();
        // Read exactly as the functions read it (trimmed), or the CLI's keys would differ.
        let hash_key = match (basoka_aws::config::hash_key_from_env(), emulator) {
            (Some(k), _) => k,
            (None, Some(_)) => datadir::emulator_hash_key(data_dir)?,
            (None, None) => {
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
        if let Some(url) = emulator {
            config.endpoint_url = Some(url.to_string());
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
                && std::env::var_os("AWS_PROFILE").is_none()
            {
                config.static_credentials = Some(("test".into(), "test".into()));
            }
        }
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// Where the data is, for people.
    pub fn describe(&self, data_dir: &Path) -> String {
        match self.backend {
            Backend::Embedded => format!("embedded store in {}", data_dir.display()),
            Backend::Aws => format!(
                "DynamoDB table {} in {}{}",
                self.table,
                self.region,
                self.emulator()
                    .map(|u| format!(" at {u}"))
                    .unwrap_or_default()
            ),
        }
    }

    /// The flags another command needs to reach the same store (none for the embedded one:
    /// `--data-dir` says it), for the banner's token commands.
    pub fn flags(&self) -> Vec<String> {
        match self.backend {
            Backend::Embedded => Vec::new(),
            Backend::Aws => {
                let mut f = vec![
                    "--backend".into(),
                    "aws".into(),
                    "--table".into(),
                    self.table.clone(),
                    "--region".into(),
                    self.region.clone(),
                ];
                if let Some(u) = self.emulator() {
                    f.extend(["--endpoint-url".into(), u.to_string()]);
                }
                f
            }
        }
    }

    /// Opens the store these flags name (the DynamoDB table must exist).
    pub async fn open(&self, data_dir: &Path) -> Result<Store, String> {
        match self.backend {
            Backend::Embedded => EmbeddedStore::open(data_dir)
                .map(Store::Embedded)
                .map_err(|e| format!("cannot open the store in {}: {e}", data_dir.display())),
            Backend::Aws => connect(self.aws_config(data_dir)?, false)
                .await
                .map(|a| Store::Aws(Box::new(a))),
        }
    }
}

/// Connects to AWS (or the emulator), creating the table when asked.
pub async fn connect(config: AwsConfig, create_table: bool) -> Result<AwsAdapters, String> {
    let table = config.table.clone();
    let adapters = config.connect().await.map_err(|e| e.to_string())?;
    if create_table {
        adapters
            .store
            .create_table_if_missing()
            .await
            .map_err(|e| format!("cannot create table {table}: {e}"))?;
    }
    Ok(adapters)
}

impl BackendArgs {
    /// Opens the store these flags name, creating the table when asked.
    pub async fn open(&self, data_dir: &Path) -> Result<Store, String> {
        match self.store.backend {
            Backend::Embedded => self.store.open(data_dir).await,
            Backend::Aws => connect(self.store.aws_config(data_dir)?, self.create_table)
                .await
                .map(|a| Store::Aws(Box::new(a))),
        }
    }

    /// Where the data is, for people.
    pub fn describe(&self, data_dir: &Path) -> String {
        self.store.describe(data_dir)
    }
}

/// An open store of either backend, for the one-shot commands (`seed`, `registry import`,
/// `token --phone`).
pub enum Store {
    Embedded(EmbeddedStore),
    Aws(Box<AwsAdapters>),
}

/// What `allocate-stock` needs, over the embedded store.
pub fn embedded_fulfil_deps(store: &EmbeddedStore) -> FulfilDeps {
    let store = Arc::new(store.clone());
    FulfilDeps {
        requests: store.clone(),
        stock: store.clone(),
        allocation_reads: store.clone(),
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
