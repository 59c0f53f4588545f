//! One conformance suite for the store ports of [`shared::ports`]: every adapter (the embedded
//! SQLite store now, a DynamoDB one later) runs the same cases and so keeps the same promises
//! to the use cases: all-or-nothing writes, the duplicate-active guard, optimistic versions,
//! idempotency records, deterministic keyset paging, the cool-down record, registry loads and
//! the outbox.
//!
//! Each case is a public `async fn` taking [`Ports`] over a fresh, empty store and panicking
//! with a message that says which promise broke. An adapter runs them all with one macro:
//!
//! ```text
//! async fn fresh() -> (tempfile::TempDir, basoka_conformance::Ports) {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = MyStore::open(dir.path()).unwrap();
//!     (dir, basoka_conformance::Ports::of(store))
//! }
//! basoka_conformance::conformance_tests!(fresh);
//! ```
//!
//! which expands to one `#[tokio::test(flavor = "multi_thread")]` per case, named after the
//! case (the calling crate needs `tokio` with the `macros` and `rt-multi-thread` features).
//! The first value `fresh` returns is kept alive for the test (a temporary folder, a table
//! name to drop…).

pub mod cases;
pub mod fixtures;

use std::sync::Arc;

use shared::ports::{IdempotencyStore, Outbox, RegistryStore, RequestStore};

pub use cases::*;

/// The store ports one adapter provides, as the use cases and consumers hold them.
#[derive(Clone)]
pub struct Ports {
    pub requests: Arc<dyn RequestStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub registry: Arc<dyn RegistryStore>,
    pub outbox: Arc<dyn Outbox>,
}

impl Ports {
    /// All four ports from one store that implements them all.
    pub fn of<S>(store: S) -> Ports
    where
        S: RequestStore + IdempotencyStore + RegistryStore + Outbox + 'static,
    {
        let store = Arc::new(store);
        Ports {
            requests: store.clone(),
            idempotency: store.clone(),
            registry: store.clone(),
            outbox: store,
        }
    }
}

/// Calls `$callback!($($args)*; case, case, …)` with every case of the suite: the one list
/// of cases, so that an adapter cannot miss one.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_cases {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback!($($args)*;
            insert_and_get,
            duplicate_active_by_nik,
            duplicate_active_by_kk,
            guard_released_after_cancel_and_rejection,
            version_conflict_writes_nothing,
            idempotency_record_written_atomically,
            code_taken,
            list_newest_first_and_invalid_cursor,
            list_pagination_with_equal_timestamps,
            list_filters_by_kelurahan_and_status,
            history_oldest_first,
            last_delivery_for_cooldown,
            registry_upsert_counts_and_idempotent_reimport,
            outbox_pending_and_ack_in_order,
            concurrent_inserts_same_household_exactly_one_wins,
            concurrent_updates_exactly_one_wins,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __test_per_case {
    ($fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (_keep, ports) = ($fresh)().await;
                $crate::$case(&ports).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per conformance case, each on the fresh store that `$fresh()`
/// (an async fn returning `(keep_alive, Ports)`) opens. See the crate documentation.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::__with_cases!(__test_per_case!($fresh));
    };
}
