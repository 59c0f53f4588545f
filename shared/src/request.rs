//! The aid request aggregate: one household's request and everything recorded about it, plus
//! the immutable history entries its transitions leave behind.
//!
//! The aggregate is what the stores persist. What clients see is built from it by the view
//! types at the bottom, which mask NIK and KK unless the caller's role needs the full number.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::household::{Category, Desil, Household, Reporter, Urgency};
use crate::ids::{EventId, RequestCode, RequestId};
use crate::lifecycle::{self, Action, Actor, Refusal, Status};
use crate::{KelurahanCode, Phone};

/// Who did something: a person with a role, or the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActorRef {
    pub sub: String,
    pub name: String,
    /// A role name, or `system`.
    pub role: String,
}

impl ActorRef {
    pub fn system() -> ActorRef {
        ActorRef {
            sub: "system".into(),
            name: "BASOKA".into(),
            role: "system".into(),
        }
    }

    pub fn of(caller: &Caller) -> ActorRef {
        ActorRef {
            sub: caller.sub.clone(),
            name: caller.name.clone(),
            role: caller.role.as_str().into(),
        }
    }

    fn actor(&self) -> Actor {
        match Role::parse(&self.role) {
            Some(r) => Actor::Role(r),
            None => Actor::System,
        }
    }
}

/// What the registry said about the household's head at submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistryCheck {
    pub found: bool,
    #[schema(value_type = Option<u8>)]
    pub desil: Option<Desil>,
}

/// Something a reviewer should notice about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The head's NIK is not in the imported DTKS/DTSEN registry.
    NotInRegistry,
    /// The registry ranks the household above the target deciles.
    DesilAboveTarget,
    /// Submitted within the cool-down after an earlier delivery, with an override reason.
    CooldownOverride,
}

/// The person who submitted the request (kelurahan staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Submitter {
    pub sub: String,
    pub name: String,
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SurveyAssignment {
    /// The surveyor's `sub`.
    pub surveyor: String,
    pub due_at: Option<DateTime<Utc>>,
    pub assigned_at: DateTime<Utc>,
    pub assigned_by: ActorRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SurveyReport {
    pub visited_at: DateTime<Utc>,
    pub findings: String,
    pub members_verified: u32,
    pub recommendation: Recommendation,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: ActorRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Approve,
    Reject,
}

/// Where an approved package goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// To the kelurahan office, which hands it over (today's practice).
    Kelurahan,
    /// Straight to the household.
    Household,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub decision: DecisionKind,
    pub reason: String,
    /// Set when approved.
    pub package_code: Option<String>,
    pub packages: Option<u32>,
    pub delivery: Option<Delivery>,
    pub decided_at: DateTime<Utc>,
    pub decided_by: ActorRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cancellation {
    pub reason: String,
    pub cancelled_at: DateTime<Utc>,
    pub cancelled_by: ActorRef,
    pub previous_status: Status,
}

/// One household's aid request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AidRequest {
    pub id: RequestId,
    pub code: RequestCode,
    pub status: Status,
    /// Increases by one with every transition; stores write only over the version they read.
    pub version: u64,
    pub kelurahan_code: KelurahanCode,
    pub household: Household,
    pub category: Category,
    pub urgency: Urgency,
    pub situation: String,
    pub reported_by: Reporter,
    pub registry: RegistryCheck,
    pub flags: Vec<Flag>,
    pub override_reason: Option<String>,
    pub submitted_by: Submitter,
    pub survey: Option<SurveyAssignment>,
    pub survey_report: Option<SurveyReport>,
    pub decision: Option<Decision>,
    pub cancellation: Option<Cancellation>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of a request's history, written once and never edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    #[schema(value_type = String)]
    pub request_id: RequestId,
    /// Version of the request after this transition (1 for the submission).
    pub version: u64,
    pub at: DateTime<Utc>,
    pub action: Action,
    pub from: Option<Status>,
    pub to: Status,
    pub actor: ActorRef,
    pub reason: Option<String>,
    #[schema(value_type = String)]
    pub event_id: EventId,
}

impl AidRequest {
    /// Moves the request through the lifecycle table, stamping version and time, and returns
    /// the history entry that records it. Fields particular to the action (survey, decision…)
    /// are set by the caller before or after; the status only ever changes here.
    pub fn transition(
        &mut self,
        action: Action,
        actor: &ActorRef,
        reason: Option<String>,
        now: DateTime<Utc>,
        event_id: &EventId,
    ) -> Result<HistoryEntry, Refusal> {
        let from = self.status;
        let to = lifecycle::next(Some(from), action, actor.actor())?;
        self.status = to;
        self.version += 1;
        self.updated_at = now;
        Ok(HistoryEntry {
            request_id: self.id.clone(),
            version: self.version,
            at: now,
            action,
            from: Some(from),
            to,
            actor: actor.clone(),
            reason,
            event_id: event_id.clone(),
        })
    }

    /// The first history entry, for a request just built by submission; its `reason` is the
    /// `override_reason` of a submission inside the cool-down.
    pub fn submission_entry(&self, actor: &ActorRef, event_id: &EventId) -> HistoryEntry {
        HistoryEntry {
            request_id: self.id.clone(),
            version: self.version,
            at: self.created_at,
            action: Action::Submit,
            from: None,
            to: self.status,
            actor: actor.clone(),
            // A submission inside the cool-down is audited like a decision: who, when, why.
            reason: self.override_reason.clone(),
            event_id: event_id.clone(),
        }
    }

    /// Whether `caller` may know that this request exists.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        caller.can_see_kelurahan(&self.kelurahan_code)
    }
}

// ---------------------------------------------------------------------------------------------
// Views: what clients receive.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddressView {
    pub street: String,
    pub rt: String,
    pub rw: String,
    pub kelurahan_code: String,
    pub kelurahan_name: String,
    pub kecamatan_name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HouseholdView {
    /// Masked (`3275********0003`) except in the detail view for roles that need it.
    pub head_nik: String,
    pub kk: String,
    pub head_name: String,
    pub members: u32,
    pub phone: Option<String>,
    pub address: AddressView,
}

/// A request as clients see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    #[schema(value_type = String)]
    pub id: RequestId,
    #[schema(value_type = String, example = "BSK-7K3M9Q")]
    pub code: RequestCode,
    pub status: Status,
    pub version: u64,
    pub kelurahan_code: String,
    pub household: HouseholdView,
    pub category: Category,
    pub urgency: Urgency,
    pub situation: String,
    pub reported_by: Reporter,
    pub registry: RegistryCheck,
    pub flags: Vec<Flag>,
    pub override_reason: Option<String>,
    pub submitted_by: Submitter,
    pub survey: Option<SurveyAssignment>,
    pub survey_report: Option<SurveyReport>,
    pub decision: Option<Decision>,
    pub cancellation: Option<Cancellation>,
    /// What may happen next, per the lifecycle table.
    pub next_actions: Vec<Action>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How much of the household's identity a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    Masked,
    Full,
}

impl Disclosure {
    /// Full NIK/KK only in the detail view, for the roles that verify households.
    pub fn detail_for(caller: &Caller) -> Disclosure {
        match caller.role {
            Role::Kelurahan | Role::Surveyor | Role::Dinas => Disclosure::Full,
            Role::Gudang => Disclosure::Masked,
        }
    }
}

impl RequestView {
    pub fn of(r: &AidRequest, disclosure: Disclosure) -> RequestView {
        let h = &r.household;
        let (nik, kk) = match disclosure {
            Disclosure::Full => (h.head_nik.as_str().to_string(), h.kk.as_str().to_string()),
            Disclosure::Masked => (h.head_nik.masked(), h.kk.masked()),
        };
        RequestView {
            id: r.id.clone(),
            code: r.code.clone(),
            status: r.status,
            version: r.version,
            kelurahan_code: r.kelurahan_code.as_str().to_string(),
            household: HouseholdView {
                head_nik: nik,
                kk,
                head_name: h.head_name.clone(),
                members: h.members,
                phone: h.phone.as_ref().map(|p| p.as_str().to_string()),
                address: AddressView {
                    street: h.address.street.clone(),
                    rt: h.address.rt.clone(),
                    rw: h.address.rw.clone(),
                    kelurahan_code: h.address.kelurahan_code.as_str().to_string(),
                    kelurahan_name: h.address.kelurahan_code.name().to_string(),
                    kecamatan_name: h.address.kelurahan_code.kecamatan_name().to_string(),
                },
            },
            category: r.category,
            urgency: r.urgency,
            situation: r.situation.clone(),
            reported_by: r.reported_by.clone(),
            registry: r.registry,
            flags: r.flags.clone(),
            override_reason: r.override_reason.clone(),
            submitted_by: r.submitted_by.clone(),
            survey: r.survey.clone(),
            survey_report: r.survey_report.clone(),
            decision: r.decision.clone(),
            cancellation: r.cancellation.clone(),
            next_actions: lifecycle::allowed_from(r.status),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A page of requests, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestPage {
    pub items: Vec<RequestView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
