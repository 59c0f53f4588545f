//! The AWS adapter: every store port of [`shared`] over **one DynamoDB table**
//! ([`DynamoStore`]), SMS through **SNS** ([`SnsSms`]), and the event transport's steps:
//! which **stream records** the pipe publishes ([`stream_record_to_message`]) and the event a
//! consumer takes out of one ([`outbox_event`]). The same conformance suite as the embedded adapter runs
//! against it on moto (`tests/conformance.rs`). The full design, with one row per access
//! pattern and the operation it uses, is `docs/dynamodb.md`; this is its summary.
//!
//! # Configuration ([`config`])
//!
//! `BASOKA_TABLE`, `BASOKA_HASH_KEY` (HMAC secret, required), `BASOKA_SMS_SENDER_ID`,
//! `BASOKA_IDEMPOTENCY_TTL_HOURS`, `BASOKA_OUTBOX_TTL_DAYS`, `AWS_REGION`, `AWS_ENDPOINT_URL`.
//! [`AwsConfig::from_env`] reads them, [`AwsConfig::connect`] builds the clients once (ring-only
//! rustls, explicit HTTP client).
//!
//! # Table (defined once in [`table`])
//!
//! Keys `PK`/`SK` (strings); on-demand; stream `NEW_IMAGE`; TTL attribute `ttl`; five GSIs
//! with string keys `GSInPK`/`GSInSK`, projection ALL:
//!
//! | index | partition | sort | used for |
//! |---|---|---|---|
//! | GSI1 | `REQ#KEL#<kel>#ST#<status>` | `<created_at>#<id>` | requests by kelurahan and status |
//! | GSI2 | `REQ#ST#<status>`, `SHIP#ST#<status>` | `<created_at>#<id>` | requests / shipments by status |
//! | GSI3 | `REQ#KEL#<kel>` | `<created_at>#<id>` | requests by kelurahan |
//! | GSI4 | `REQ`, `SHIP` | `<created_at>#<id>` | all requests / shipments |
//! | GSI5 | `NOTIF#FAILED#<attempts>`, `NOTIF#PENDING` (sparse) | `<updated_at>#<event>#<to>` | notifications to retry, claims whose sender stopped |
//!
//! | item | PK | SK |
//! |---|---|---|
//! | request (aggregate JSON in `data`, `status`, `version`) | `REQ#<id>` | `REQ` |
//! | history entry | `REQ#<id>` | `HIST#<version, 10 digits>` |
//! | allocation | `REQ#<id>` | `ALLOC` |
//! | human code (uniqueness) | `CODE#<code>` | `CODE` |
//! | active-household guard | `ACTIVE#NIK#<hmac>` / `ACTIVE#KK#<hmac>` | `ACTIVE` |
//! | delivery (cool-down) | `DELIV#NIK#<hmac>` / `DELIV#KK#<hmac>` | `<delivered_at>#<request id>` |
//! | idempotency record (`ttl`) | `IDEM#<sub>:<key>` | `IDEM` |
//! | registry row | `REG#<hmac(NIK)>` | `REG` |
//! | outbox event, unsequenced (`entity=outbox`, `event`, `event_type`, `ttl`) | `OUTBOX#NEW` | `<event id>` |
//! | outbox event, sequenced | `OUTBOX#LOG` | `<position, 20 digits>` |
//! | outbox counter / consumer offset | `OUTBOX#SEQ` / `OUTBOX#CONSUMER#<name>` | `SEQ` / `OFFSET` |
//! | catalogue item / package / version / item-used marker | `CATALOG` | `ITEM#<sku>` / `PACKAGE#<code>` / `VERSION` / `USED#<sku>` |
//! | lot (`on_hand`, `allocated`, `available`) | `STOCK#<warehouse>` | `LOT#<sku>#<lot id>` |
//! | ledger entry | `LEDGER#<warehouse>#<sku>` | `<entry id>` |
//! | shipment | `SHIP#<id>` | `SHIP` |
//! | notification | `NOTIF#<event id>` | `TO#<recipient>` (`+62…` or `staff:<sub>`) |
//! | staff contact | `STAFF#<sub>` | `CONTACT` |
//!
//! # Guarantees, and how
//!
//! * **All or nothing**: a submission, a transition and a [`StockWrite`] are each one
//!   `TransactWriteItems`, state + history + outbox event(s) (+ idempotency record, guards,
//!   lots, ledger, allocation, shipment). Each action carries its condition: the request
//!   `version` read, the allocation/shipment `status` read, `attribute_not_exists` for what
//!   must be new, and the lot conditions of [`stock`]. The first failed condition in the
//!   order of precedence decides the [`StoreError`] ([`tx`]); `TransactionConflict` is retried.
//! * **Duplicate active household**: two guard items keyed by the HMAC of the head NIK and of
//!   the KK, put with `attribute_not_exists(PK)` in the submission's transaction; the refusal
//!   names the holder (the old item comes back with the cancellation reason).
//! * **Never below zero**: conditional `ADD` on lots with an `available` attribute kept equal
//!   to `on_hand - allocated`, because a condition cannot subtract two attributes.
//! * **Listing** newest first from the index partition of the filter, `ScanIndexForward =
//!   false`, `Limit = limit + 1`; the cursor is base64url of the last item's key (the
//!   `LastEvaluatedKey` shape), checked against the listing on the way back
//!   (`InvalidCursor`). Index reads are eventually consistent (DynamoDB's rule): a request
//!   written a moment ago may be missing from a list for a moment; `get`, `history` and every
//!   read used for a decision read the table itself, strongly consistent.
//! * **No `Scan`** on any path (a unit test greps the sources).
//! * **NIK / KK**: never in a key or an index key (keyed hashes, [`keys::KeyHasher`]); in full
//!   only inside the request's and the registry row's attributes (the detail view and the
//!   registry lookup need them; DynamoDB encrypts at rest); masked in events; never in an
//!   error or a log line of this crate.
//!
//! # Limits
//!
//! * `TransactWriteItems` holds **100 items**. The domain's stock limits (at most 25 lines per
//!   receipt or package, at most 25 lots per write: `shared::stock::MAX_LINES`, with the
//!   arithmetic) keep every write at 80 items at most; see [`stock`] for
//!   allocations spanning many lots. A write that would still need more is refused before
//!   anything is written with `StoreError::TooLarge` (422 `WRITE_TOO_LARGE`, not retried).
//! * A registry load is batched, not one transaction (it is idempotent: load again).
//! * The single-partition index keys `REQ` / `SHIP` (all requests / shipments) and the
//!   `OUTBOX#NEW` partition take every write of their kind: about 1 000 writes per second,
//!   far above what a city or a province produces.
//!
//! [`StockWrite`]: shared::fulfilment_ports::StockWrite
//! [`StoreError`]: shared::ports::StoreError

pub mod calls;
pub mod codec;
pub mod config;
pub mod keys;
mod notify;
pub mod outbox;
mod registry;
mod requests;
pub mod sns;
pub mod stock;
pub mod store;
pub mod stream;
pub mod table;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tx;
mod wiring;

pub use calls::{CallRecorder, Port};
pub use config::{AwsAdapters, AwsConfig, ConfigError};
pub use keys::KeyHasher;
pub use sns::SnsSms;
pub use store::DynamoStore;
pub use stream::{
    StreamError, event_record_to_message, outbox_event, outbox_insert_record,
    stream_record_to_message,
};
pub use table::{cloudformation_properties, create_table_if_missing};
