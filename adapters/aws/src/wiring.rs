//! The use cases' dependencies over the AWS adapters: what a Lambda entry point (and
//! `basoka serve --backend aws`) builds once per cold start from one [`AwsAdapters`].

use std::sync::Arc;

use shared::fulfilment::FulfilDeps;
use shared::notify::{NotifyConfig, NotifyDeps};
use shared::policy::Policy;
use shared::ports::{Deps, RandomIds, SystemClock};
use shared::stock::WarehouseCode;

use crate::config::AwsAdapters;

impl AwsAdapters {
    /// What `submit-request` and `verify-survey` need: requests, idempotency, registry and the
    /// package catalogue (a decision naming an unknown package is refused at once).
    pub fn request_deps(&self, policy: Policy) -> Deps {
        let store = Arc::new(self.store.clone());
        Deps {
            requests: store.clone(),
            idempotency: store.clone(),
            registry: store.clone(),
            submit_reads: store.clone(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            policy,
            catalog: Some(store),
        }
    }

    /// What `allocate-stock` needs; the Dinas warehouse is the one warehouse.
    pub fn fulfil_deps(&self) -> FulfilDeps {
        let store = Arc::new(self.store.clone());
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

    /// What `notify` needs: SMS through SNS.
    pub fn notify_deps(&self, config: NotifyConfig) -> NotifyDeps {
        let store = Arc::new(self.store.clone());
        NotifyDeps {
            requests: store.clone(),
            directory: store.clone(),
            log: store,
            sender: Arc::new(self.sms.clone()),
            clock: Arc::new(SystemClock),
            config,
        }
    }
}
