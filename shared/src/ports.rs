//! Ports: what the use cases need from the outside world, as traits. The embedded adapter
//! (SQLite, for the local runner) and the AWS adapter (DynamoDB) implement the same traits
//! and pass the same conformance tests.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::events::Event;
use crate::ids::{EventId, RequestCode, RequestId};
use crate::lifecycle::Status;
use crate::policy::Policy;
use crate::registry::RegistryRecord;
use crate::request::{AidRequest, HistoryEntry};
use crate::{KelurahanCode, Kk, Nik};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The household (head NIK or KK) already has an active request: this one.
    #[error("household already has active request {0}")]
    DuplicateActive(RequestId),
    /// The human code is taken; draw another.
    #[error("request code already taken")]
    CodeTaken,
    /// An idempotency record with this key was written first by someone else.
    #[error("idempotency key already recorded")]
    IdempotencyKeyTaken,
    /// The warehouse already received a delivery note with this reference (compared by
    /// `fulfilment_ports::reference_key`), at `received_at` when the store could tell.
    #[error("delivery note already received in this warehouse")]
    ReceiptReferenceTaken { received_at: Option<DateTime<Utc>> },
    /// The request changed since it was read (its version moved on).
    #[error("request was modified concurrently")]
    VersionConflict,
    /// A pagination cursor that this store did not hand out.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A stock change would take a lot below zero (on hand < allocated, or either negative).
    #[error("insufficient stock")]
    InsufficientStock,
    /// An allocation or shipment was not in the state the writer read.
    #[error("state changed concurrently")]
    StateConflict,
    /// The record is still used by others (an item by a package or the ledger).
    #[error("still in use")]
    InUse,
    /// The write is larger than the store can apply all or nothing (DynamoDB: more than 100
    /// items in one transaction). Nothing was written, and trying again cannot help: the
    /// domain's limits (`stock::MAX_LINES`, `stock::MAX_LOTS_PER_WRITE`) keep sound writes far
    /// below it, so this is a bug or data written before those limits.
    #[error("the write needs {items} items, more than the {limit} one transaction holds")]
    TooLarge { items: usize, limit: usize },
    /// The store could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A stored answer to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// `{caller sub}:{Idempotency-Key}`: keys are per caller.
    pub key: String,
    /// SHA-256 of the canonical request body.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Everything a submission writes, in one transaction.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub request: AidRequest,
    pub entry: HistoryEntry,
    pub event: Event,
    pub idempotency: Option<IdempotencyRecord>,
}

/// A filter for listing requests, newest first (then by id, descending).
///
/// `created_from` and `created_before` narrow any listing to the requests submitted in the
/// half-open range `[created_from, created_before)` (either bound alone is fine). Stores read
/// it as a range of the listing's own index (SQLite: `created_at` after the equality columns;
/// DynamoDB: the index sort key `<created_at>#<id>`), never by scanning and filtering. A
/// cursor whose position lies outside the range was not handed out by this listing:
/// [`StoreError::InvalidCursor`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub kelurahan: Option<KelurahanCode>,
    pub status: Option<Status>,
    /// Only requests created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Only requests created strictly before this instant.
    pub created_before: Option<DateTime<Utc>>,
    pub limit: u32,
    /// Opaque, from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Requests, their history and their outbox events.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Writes a new request, its first history entry, its event and (if given) the
    /// idempotency record, and marks the head NIK and the KK as having an active request, all
    /// or nothing. Fails with [`StoreError::DuplicateActive`] naming the request that holds
    /// either, [`StoreError::CodeTaken`] or [`StoreError::IdempotencyKeyTaken`].
    async fn insert(&self, new: NewRequest) -> Result<(), StoreError>;

    /// Writes a transition of `request` (already moved to its new state and version) with its
    /// history entry and event, only if the stored version is still `request.version - 1`;
    /// otherwise [`StoreError::VersionConflict`] and nothing is written. Leaving the active
    /// states releases the household; reaching `delivered` records the delivery date for the
    /// cool-down.
    async fn update(
        &self,
        request: &AidRequest,
        entry: &HistoryEntry,
        event: &Event,
    ) -> Result<(), StoreError>;

    async fn get(&self, id: &RequestId) -> Result<Option<AidRequest>, StoreError>;

    /// The id of the request with this human code (codes are unique).
    async fn id_by_code(&self, code: &RequestCode) -> Result<Option<RequestId>, StoreError>;

    async fn list(&self, query: &ListQuery) -> Result<Page<AidRequest>, StoreError>;

    /// Transitions of a request, oldest first.
    async fn history(&self, id: &RequestId) -> Result<Vec<HistoryEntry>, StoreError>;

    /// The active request of a household, by head NIK or by KK.
    async fn active_for(&self, nik: &Nik, kk: &Kk) -> Result<Option<RequestId>, StoreError>;

    /// When aid was last delivered to the household (head NIK or KK).
    async fn last_delivery(&self, nik: &Nik, kk: &Kk) -> Result<Option<DateTime<Utc>>, StoreError>;
}

/// Stored answers to requests that carried an `Idempotency-Key`.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
}

/// What the submit decision reads before it writes (see [`SubmitReads`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubmitFacts {
    /// The stored answer for the submission's `Idempotency-Key`, when it carries one. When
    /// there is one, the submission is a replay and nothing else is read: the other fields
    /// are then `None`.
    pub prior: Option<IdempotencyRecord>,
    /// The head of household's registry row.
    pub registry: Option<RegistryRecord>,
    /// The household's active request, as [`RequestStore::active_for`] answers.
    pub active: Option<RequestId>,
    /// When aid last reached the household, as [`RequestStore::last_delivery`] answers.
    pub last_delivery: Option<DateTime<Utc>>,
}

/// Everything the submit decision reads, in one store round trip where the store can: the
/// keyed submission's stored answer, the registry row, the active request and the last
/// delivery of the household. The default implementation makes the separate port calls one
/// after the other; a store that can answer them all at once overrides it (the embedded store
/// reads them in one blocking task on one connection, DynamoDB in parallel requests), and the
/// conformance suite checks that both answer as the separate calls do.
#[async_trait]
pub trait SubmitReads: RequestStore + IdempotencyStore + RegistryStore {
    /// `key` is the caller-scoped idempotency key (`{sub}:{Idempotency-Key}`), if any.
    async fn submit_facts(
        &self,
        key: Option<&str>,
        nik: &Nik,
        kk: &Kk,
    ) -> Result<SubmitFacts, StoreError> {
        if let Some(key) = key
            && let Some(prior) = IdempotencyStore::get(self, key).await?
        {
            return Ok(SubmitFacts {
                prior: Some(prior),
                ..SubmitFacts::default()
            });
        }
        Ok(SubmitFacts {
            prior: None,
            registry: self.lookup(nik).await?,
            active: self.active_for(nik, kk).await?,
            last_delivery: self.last_delivery(nik, kk).await?,
        })
    }
}

/// How many registry rows a load changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// The imported DTKS/DTSEN registry.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    async fn lookup(&self, nik: &Nik) -> Result<Option<RegistryRecord>, StoreError>;
    /// Inserts or replaces rows by NIK; a row identical to the stored one changes nothing.
    async fn upsert(&self, rows: &[RegistryRecord]) -> Result<ImportCounts, StoreError>;
}

/// An event waiting in the outbox, with its position (increasing in write order).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub position: u64,
    pub event: Event,
}

/// The events written with state changes, for delivery to consumers at least once.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Events after the consumer's last acknowledged position, in write order.
    async fn pending(&self, consumer: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;
    /// Records that the consumer has handled everything up to `position`.
    async fn ack(&self, consumer: &str, position: u64) -> Result<(), StoreError>;
}

/// The time. Injected so tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always says the same instant: for tests that need equal timestamps (the
/// list order's tie-break by id).
#[derive(Debug, Clone, Copy)]
pub struct FrozenClock(pub DateTime<Utc>);

impl Clock for FrozenClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// New identifiers. Injected so tests can fix them.
pub trait Ids: Send + Sync {
    fn request_id(&self) -> RequestId;
    fn request_code(&self) -> RequestCode;
    fn event_id(&self) -> EventId;
    /// A fresh UUIDv7 (time-sortable) for any other record: lots, ledger entries, shipments.
    fn uuid(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

/// UUIDv7 ids and random human codes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl Ids for RandomIds {
    fn request_id(&self) -> RequestId {
        RequestId::new()
    }
    fn request_code(&self) -> RequestCode {
        RequestCode::random()
    }
    fn event_id(&self) -> EventId {
        EventId::new()
    }
}

/// Everything the request use cases need, wired once at start-up.
#[derive(Clone)]
pub struct Deps {
    pub requests: Arc<dyn RequestStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub registry: Arc<dyn RegistryStore>,
    /// The three above in one round trip, for the submit path (the same store).
    pub submit_reads: Arc<dyn SubmitReads>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    pub policy: Policy,
    /// The package catalogue, when this function can read it: a decision naming a package
    /// that does not exist is then refused at once instead of waiting for stock forever.
    pub catalog: Option<Arc<dyn crate::fulfilment_ports::StockStore>>,
}
