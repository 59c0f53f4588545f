//! One conformance suite for the store ports of [`shared::ports`],
//! [`shared::fulfilment_ports`] and [`shared::notify`]: every adapter (the embedded SQLite
//! store now, a DynamoDB one later) runs the same cases and so keeps the same promises to the
//! use cases: all-or-nothing writes, the duplicate-active guard, optimistic versions,
//! idempotency records, deterministic keyset paging, the cool-down record, registry loads and
//! the outbox; the SMS sender; on the fulfilment side, stock writes that never take a lot below zero (not even
//! under 200 concurrent allocations), a ledger that always adds up to the lots, allocations and
//! shipments that change only from the state the writer read, a delivery note received once
//! per warehouse; and the notification log's
//! claim-once and compare-and-set semantics (also through the `notify` use case: concurrent
//! deliveries, a stale claim, a staff SMS waiting for the number) and the staff directory.
//!
//! Each case is a public `async fn` taking [`Ports`] over a fresh, empty store and panicking
//! with a message that says which promise broke. An adapter runs them all with one macro:
//!
//! ```text
//! async fn fresh() -> (tempfile::TempDir, basoka_conformance::Ports) {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = MyStore::open(dir.path()).unwrap();
//!     let contacts = store.clone();
//!     let ports = basoka_conformance::Ports::of(store).with_contacts(move |c| {
//!         let store = contacts.clone();
//!         async move { store.put_contact(&c.sub, &c.name, &c.role, &c.phone).await }
//!     });
//!     (dir, ports)
//! }
//! basoka_conformance::conformance_tests!(fresh);
//! ```
//!
//! which expands to one `#[tokio::test(flavor = "multi_thread")]` per case, named after the
//! case (the calling crate needs `tokio` with the `macros` and `rt-multi-thread` features).
//! The first value `fresh` returns is kept alive for the test (a temporary folder, a table
//! name to drop…).
//!
//! The ports have no write for the staff directory (contacts come from the CLI or the identity
//! provider, through each adapter's own method), so an adapter hands the suite its writer with
//! [`Ports::with_contacts`]; without one the directory case fails.

pub mod cases;
pub mod fixtures;
pub mod fulfilment;
pub mod notifications;
pub mod notifier;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use shared::Phone;
use shared::fulfilment_ports::{AllocationReads, StockStore};
use shared::notify::{Directory, NotificationLog, SmsSender};
use shared::ports::{
    IdempotencyStore, Outbox, RegistryStore, RequestStore, StoreError, SubmitReads,
};

pub use cases::*;
pub use fulfilment::*;
pub use notifications::*;
pub use notifier::*;

/// A staff member's phone number, as the directory is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub sub: String,
    pub name: String,
    pub role: String,
    pub phone: Phone,
}

/// The adapter's own way of recording a [`Contact`] (the ports have none).
pub type ContactWriter = Arc<
    dyn Fn(Contact) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>> + Send + Sync,
>;

/// The adapter's window on what its SMS sender sent to a number: `(message id, text)`,
/// oldest first.
pub type SentSms =
    Arc<dyn Fn(Phone) -> Pin<Box<dyn Future<Output = Vec<(String, String)>> + Send>> + Send + Sync>;

/// The store ports one adapter provides, as the use cases and consumers hold them.
#[derive(Clone)]
pub struct Ports {
    pub requests: Arc<dyn RequestStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub registry: Arc<dyn RegistryStore>,
    pub submit_reads: Arc<dyn SubmitReads>,
    pub outbox: Arc<dyn Outbox>,
    pub stock: Arc<dyn StockStore>,
    pub allocation_reads: Arc<dyn AllocationReads>,
    pub notifications: Arc<dyn NotificationLog>,
    pub directory: Arc<dyn Directory>,
    /// Records a contact for [`Ports::directory`]; see [`Ports::with_contacts`].
    pub contacts: ContactWriter,
    /// The adapter's SMS sender and its window on what it sent; see [`Ports::with_sms`].
    pub sms: Arc<dyn SmsSender>,
    pub sent_sms: SentSms,
}

/// Stands in until an adapter gives its SMS sender: every send fails, saying so.
struct NoSms;

#[async_trait::async_trait]
impl SmsSender for NoSms {
    async fn send(&self, _: &Phone, _: &shared::sms::SmsText) -> Result<String, String> {
        Err("the adapter gave the conformance suite no SMS sender (Ports::with_sms)".into())
    }
}

impl Ports {
    /// Every port from one store that implements them all. The contact writer fails until
    /// [`Ports::with_contacts`] gives one.
    pub fn of<S>(store: S) -> Ports
    where
        S: RequestStore
            + IdempotencyStore
            + RegistryStore
            + SubmitReads
            + Outbox
            + StockStore
            + AllocationReads
            + NotificationLog
            + Directory
            + 'static,
    {
        let store = Arc::new(store);
        Ports {
            requests: store.clone(),
            idempotency: store.clone(),
            registry: store.clone(),
            submit_reads: store.clone(),
            outbox: store.clone(),
            stock: store.clone(),
            allocation_reads: store.clone(),
            notifications: store.clone(),
            directory: store,
            contacts: Arc::new(|_| {
                Box::pin(async {
                    Err(StoreError::Unavailable(
                        "the adapter gave the conformance suite no contact writer \
                         (Ports::with_contacts)"
                            .into(),
                    ))
                })
            }),
            sms: Arc::new(NoSms),
            sent_sms: Arc::new(|_| Box::pin(async { Vec::new() })),
        }
    }

    /// The adapter's SMS sender and its way of reading back what was sent to a number, for
    /// the notifier case.
    pub fn with_sms<F, Fut>(mut self, sender: Arc<dyn SmsSender>, sent: F) -> Ports
    where
        F: Fn(Phone) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<(String, String)>> + Send + 'static,
    {
        self.sms = sender;
        self.sent_sms = Arc::new(move |p| Box::pin(sent(p)));
        self
    }

    /// The adapter's way of recording a contact, for the directory case.
    pub fn with_contacts<F, Fut>(mut self, put: F) -> Ports
    where
        F: Fn(Contact) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        self.contacts = Arc::new(move |c| Box::pin(put(c)));
        self
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
            list_by_creation_range_with_exact_boundaries,
            history_oldest_first,
            last_delivery_for_cooldown,
            submit_facts_agree_with_the_separate_reads,
            registry_upsert_counts_and_idempotent_reimport,
            outbox_pending_and_ack_in_order,
            concurrent_inserts_same_household_exactly_one_wins,
            concurrent_updates_exactly_one_wins,
            concurrent_keyed_retries_replay_the_first_answer,
            catalogue_items_and_packages,
            delete_item_refused_while_in_use,
            receipt_creates_lots_and_ledger,
            lots_oldest_first_by_warehouse_and_item,
            below_zero_is_refused_and_writes_nothing,
            unsound_ledger_entries_are_refused_and_write_nothing,
            allocation_expected_absent_twice_is_state_conflict,
            shipment_and_allocation_change_only_from_the_expected_status,
            concurrent_allocations_never_oversell,
            low_stock_alerts_once_per_fall,
            ledger_pages_oldest_first_with_item_bound_cursors,
            allocation_facts_agree_with_the_separate_reads,
            release_returns_allocated_units,
            dispatch_and_handover_move_stock_and_request,
            stock_write_version_conflict_writes_nothing,
            stock_write_idempotency_key_taken_writes_nothing,
            receipt_reference_received_once_per_warehouse,
            stock_events_without_request_in_order,
            shipments_newest_first_with_paging_and_status,
            notification_claim_replace_and_retryable,
            notification_concurrent_claims_exactly_one_wins,
            notification_concurrent_take_overs_exactly_one_wins,
            notify_concurrent_deliveries_send_each_sms_once,
            notify_stale_claim_taken_over_once,
            notify_staff_sms_waits_for_their_number,
            directory_put_and_get,
            sms_sent_and_read_back_exactly,
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
