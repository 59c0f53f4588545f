//! The request lifecycle (DESIGN §3) as one transition table: which action, done by whom,
//! moves a request from which states to which state.
//!
//! ```text
//! submitted -> survey_assigned -> surveyed -> approved -> allocated -> dispatched -> delivered
//!                                         \-> rejected    \-> waitlisted -> allocated
//! cancelled: from any state before dispatched
//! ```
//!
//! Everything else in the system asks this table; nothing else decides what may happen next.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    SurveyAssigned,
    Surveyed,
    Approved,
    Rejected,
    Waitlisted,
    Allocated,
    Dispatched,
    Delivered,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Submitted,
        Status::SurveyAssigned,
        Status::Surveyed,
        Status::Approved,
        Status::Rejected,
        Status::Waitlisted,
        Status::Allocated,
        Status::Dispatched,
        Status::Delivered,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::SurveyAssigned => "survey_assigned",
            Status::Surveyed => "surveyed",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Waitlisted => "waitlisted",
            Status::Allocated => "allocated",
            Status::Dispatched => "dispatched",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Active requests block a second request for the same household (DESIGN §6):
    /// any state before delivered that is not rejected or cancelled.
    pub fn is_active(self) -> bool {
        !matches!(
            self,
            Status::Delivered | Status::Rejected | Status::Cancelled
        )
    }

    /// Bahasa Indonesia label for SMS and reports.
    pub fn label_id(self) -> &'static str {
        match self {
            Status::Submitted => "diajukan",
            Status::SurveyAssigned => "menunggu survei",
            Status::Surveyed => "sudah disurvei",
            Status::Approved => "disetujui",
            Status::Rejected => "ditolak",
            Status::Waitlisted => "menunggu stok",
            Status::Allocated => "paket disiapkan",
            Status::Dispatched => "dikirim",
            Status::Delivered => "diterima",
            Status::Cancelled => "dibatalkan",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Submit,
    AssignSurvey,
    RecordSurvey,
    Approve,
    Reject,
    Allocate,
    Waitlist,
    Dispatch,
    Handover,
    Cancel,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::AssignSurvey => "assign_survey",
            Action::RecordSurvey => "record_survey",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Allocate => "allocate",
            Action::Waitlist => "waitlist",
            Action::Dispatch => "dispatch",
            Action::Handover => "handover",
            Action::Cancel => "cancel",
        }
    }
}

/// Who performs an action: a person in a role, or the system itself (allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Role(Role),
    System,
}

/// One row of the table.
#[derive(Debug)]
pub struct Transition {
    pub action: Action,
    /// `None` for the first action, which creates the request.
    pub from: &'static [Status],
    pub to: Status,
    pub actors: &'static [Actor],
}

use Actor::{Role as R, System};
use Status::*;

const BEFORE_DISPATCH: &[Status] = &[
    Submitted,
    SurveyAssigned,
    Surveyed,
    Approved,
    Waitlisted,
    Allocated,
];

/// The whole lifecycle. Read top to bottom it is DESIGN §3.
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        action: Action::Submit,
        from: &[],
        to: Submitted,
        actors: &[R(Role::Kelurahan)],
    },
    // A survey may be reassigned to another surveyor while nobody has recorded it yet.
    Transition {
        action: Action::AssignSurvey,
        from: &[Submitted, SurveyAssigned],
        to: SurveyAssigned,
        actors: &[R(Role::Dinas)],
    },
    Transition {
        action: Action::RecordSurvey,
        from: &[SurveyAssigned],
        to: Surveyed,
        actors: &[R(Role::Surveyor)],
    },
    Transition {
        action: Action::Approve,
        from: &[Surveyed],
        to: Approved,
        actors: &[R(Role::Dinas)],
    },
    Transition {
        action: Action::Reject,
        from: &[Surveyed],
        to: Rejected,
        actors: &[R(Role::Dinas)],
    },
    Transition {
        action: Action::Allocate,
        from: &[Approved, Waitlisted],
        to: Allocated,
        actors: &[System],
    },
    Transition {
        action: Action::Waitlist,
        from: &[Approved],
        to: Waitlisted,
        actors: &[System],
    },
    Transition {
        action: Action::Dispatch,
        from: &[Allocated],
        to: Dispatched,
        actors: &[R(Role::Gudang), R(Role::Dinas)],
    },
    Transition {
        action: Action::Handover,
        from: &[Dispatched],
        to: Delivered,
        actors: &[R(Role::Kelurahan)],
    },
    Transition {
        action: Action::Cancel,
        from: BEFORE_DISPATCH,
        to: Cancelled,
        actors: &[R(Role::Kelurahan), R(Role::Dinas)],
    },
];

/// Why a transition is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The actor may never perform this action (HTTP 403).
    NotPermitted,
    /// The action is not allowed from the current state (HTTP 409 `INVALID_TRANSITION`).
    InvalidFrom(Status),
}

fn row(action: Action) -> &'static Transition {
    TRANSITIONS
        .iter()
        .find(|t| t.action == action)
        .expect("every action has a row in TRANSITIONS")
}

/// Whether `actor` may ever perform `action` (independent of the state).
pub fn permits(actor: Actor, action: Action) -> bool {
    row(action).actors.contains(&actor)
}

/// The state `action` leads to from `from`, or why it may not happen.
pub fn next(from: Option<Status>, action: Action, actor: Actor) -> Result<Status, Refusal> {
    let t = row(action);
    if !t.actors.contains(&actor) {
        return Err(Refusal::NotPermitted);
    }
    match from {
        None if t.from.is_empty() => Ok(t.to),
        Some(s) if t.from.contains(&s) => Ok(t.to),
        Some(s) => Err(Refusal::InvalidFrom(s)),
        None => Err(Refusal::NotPermitted),
    }
}

/// The actions allowed from a state, for clients that show buttons.
pub fn allowed_from(status: Status) -> Vec<Action> {
    TRANSITIONS
        .iter()
        .filter(|t| t.from.contains(&status))
        .map(|t| t.action)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [Action; 10] = [
        Action::Submit,
        Action::AssignSurvey,
        Action::RecordSurvey,
        Action::Approve,
        Action::Reject,
        Action::Allocate,
        Action::Waitlist,
        Action::Dispatch,
        Action::Handover,
        Action::Cancel,
    ];

    /// The lifecycle of DESIGN §3, written out as the full list of allowed
    /// (from, action) → to, independently of the table.
    fn expected(from: Status, action: Action) -> Option<Status> {
        use Action as A;
        match (from, action) {
            (Submitted, A::AssignSurvey) | (SurveyAssigned, A::AssignSurvey) => {
                Some(SurveyAssigned)
            }
            (SurveyAssigned, A::RecordSurvey) => Some(Surveyed),
            (Surveyed, A::Approve) => Some(Approved),
            (Surveyed, A::Reject) => Some(Rejected),
            (Approved, A::Allocate) | (Waitlisted, A::Allocate) => Some(Allocated),
            (Approved, A::Waitlist) => Some(Waitlisted),
            (Allocated, A::Dispatch) => Some(Dispatched),
            (Dispatched, A::Handover) => Some(Delivered),
            (
                Submitted | SurveyAssigned | Surveyed | Approved | Waitlisted | Allocated,
                A::Cancel,
            ) => Some(Cancelled),
            _ => None,
        }
    }

    fn some_permitted_actor(action: Action) -> Actor {
        row(action).actors[0]
    }

    #[test]
    fn every_allowed_and_every_refused_transition() {
        let mut allowed = 0;
        for from in Status::ALL {
            for action in ACTIONS {
                let got = next(Some(from), action, some_permitted_actor(action));
                match expected(from, action) {
                    Some(to) => {
                        assert_eq!(got, Ok(to), "{from:?} --{action:?}-->");
                        allowed += 1;
                    }
                    None => assert_eq!(
                        got,
                        Err(Refusal::InvalidFrom(from)),
                        "{from:?} --{action:?}"
                    ),
                }
            }
        }
        assert_eq!(allowed, 16);
    }

    #[test]
    fn submit_creates_only() {
        assert_eq!(
            next(None, Action::Submit, R(Role::Kelurahan)),
            Ok(Submitted)
        );
        for s in Status::ALL {
            assert_eq!(
                next(Some(s), Action::Submit, R(Role::Kelurahan)),
                Err(Refusal::InvalidFrom(s))
            );
        }
    }

    #[test]
    fn roles_are_enforced_before_state() {
        assert_eq!(
            next(Some(Surveyed), Action::Approve, R(Role::Kelurahan)),
            Err(Refusal::NotPermitted)
        );
        assert_eq!(
            next(Some(Surveyed), Action::Approve, R(Role::Surveyor)),
            Err(Refusal::NotPermitted)
        );
        assert_eq!(
            next(Some(Submitted), Action::AssignSurvey, R(Role::Gudang)),
            Err(Refusal::NotPermitted)
        );
        assert_eq!(
            next(Some(SurveyAssigned), Action::RecordSurvey, R(Role::Dinas)),
            Err(Refusal::NotPermitted)
        );
        assert_eq!(
            next(Some(Approved), Action::Allocate, R(Role::Dinas)),
            Err(Refusal::NotPermitted)
        );
        assert_eq!(
            next(Some(Submitted), Action::Cancel, R(Role::Surveyor)),
            Err(Refusal::NotPermitted)
        );
        assert_eq!(
            next(Some(Submitted), Action::Cancel, R(Role::Gudang)),
            Err(Refusal::NotPermitted)
        );
        assert!(permits(R(Role::Dinas), Action::Cancel));
        assert!(permits(System, Action::Waitlist));
    }

    #[test]
    fn terminal_states_allow_nothing() {
        for s in [Delivered, Rejected, Cancelled] {
            assert!(allowed_from(s).is_empty(), "{s:?}");
            assert!(!s.is_active());
        }
        assert!(Dispatched.is_active());
        assert_eq!(allowed_from(Dispatched), vec![Action::Handover]);
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Status::parse("done"), None);
    }
}
