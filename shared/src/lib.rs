//! BASOKA domain crate: everything the four functions agree on.
//!
//! * value types that parse and cannot hold invalid data ([`Nik`], [`Kk`], [`Phone`],
//!   [`KelurahanCode`], [`Desil`], [`Category`], [`Urgency`]);
//! * the aid request aggregate and its lifecycle, written as one transition table
//!   ([`lifecycle::TRANSITIONS`]);
//! * the policies (duplicates, cool-down, registry targeting);
//! * the ports (traits) that storage, clock and id adapters implement;
//! * the use cases the HTTP functions call ([`usecases`], [`reports`]).
//!
//! It depends on no HTTP framework and no AWS crate, so the same rules run behind the
//! local runner and behind AWS Lambda.

pub mod auth;
pub mod csvfile;
pub mod error;
pub mod events;
pub mod fulfilment;
pub mod fulfilment_ports;
pub mod household;
pub mod i18n;
pub mod ids;
pub mod input;
pub mod lifecycle;
pub mod nik;
pub mod notify;
pub mod phone;
pub mod policy;
pub mod ports;
pub mod receipt_csv;
pub mod registry;
pub mod reported_time;
pub mod reports;
pub mod request;
pub mod sms;
pub mod stock;
pub mod time;
pub mod usecases;
pub mod validation;
pub mod wilayah;

pub use auth::{Caller, Role};
pub use error::AppError;
pub use household::{Category, Desil, Urgency};
pub use ids::{EventId, RequestCode, RequestId};
pub use lifecycle::{Action, Status};
pub use nik::{Kk, Nik};
pub use phone::Phone;
pub use wilayah::KelurahanCode;
