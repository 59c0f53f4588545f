//! Eligibility policies: registry targeting flags and the cool-down after a delivery.
//! (The duplicate-active rule is enforced by the stores' active-household guards, see
//! [`crate::ports::RequestStore::insert`].)

use chrono::{DateTime, Duration, Utc};

use crate::household::Desil;
use crate::request::{Flag, RegistryCheck};

/// Tunable rules; defaults follow DESIGN §3, §6 and the DTKS/DTSEN targeting of desil 1–4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The highest decile bansos targets (default 4).
    pub target_max_desil: u8,
    /// Days after a delivery during which a new request for the household needs an override.
    pub cooldown_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            target_max_desil: 4,
            cooldown_days: 30,
        }
    }
}

impl Policy {
    /// Flags a request from the registry lookup: not found, or ranked above the target.
    /// Flags inform the survey and the decision; they never block a submission.
    pub fn registry_flags(&self, check: &RegistryCheck) -> Vec<Flag> {
        match (check.found, check.desil) {
            (false, _) => vec![Flag::NotInRegistry],
            (true, Some(d)) if d.get() > self.target_max_desil => vec![Flag::DesilAboveTarget],
            _ => vec![],
        }
    }

    /// When the household's last delivery still blocks a new request, the moment it stops.
    pub fn cooldown_until(
        &self,
        last_delivery: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let until = last_delivery? + Duration::days(self.cooldown_days.into());
        (until > now).then_some(until)
    }

    pub fn registry_check(desil: Option<Desil>) -> RegistryCheck {
        RegistryCheck {
            found: desil.is_some(),
            desil,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_flags_follow_the_target() {
        let p = Policy::default();
        assert_eq!(
            p.registry_flags(&Policy::registry_check(None)),
            vec![Flag::NotInRegistry]
        );
        assert!(
            p.registry_flags(&Policy::registry_check(Some(Desil::new(4).unwrap())))
                .is_empty()
        );
        assert_eq!(
            p.registry_flags(&Policy::registry_check(Some(Desil::new(5).unwrap()))),
            vec![Flag::DesilAboveTarget]
        );
        let wide = Policy {
            target_max_desil: 5,
            ..p
        };
        assert!(
            wide.registry_flags(&Policy::registry_check(Some(Desil::new(5).unwrap())))
                .is_empty()
        );
    }

    #[test]
    fn cooldown_is_counted_from_the_delivery() {
        let p = Policy::default();
        let delivered: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let day29 = delivered + Duration::days(29);
        let day31 = delivered + Duration::days(31);
        assert_eq!(
            p.cooldown_until(Some(delivered), day29),
            Some(delivered + Duration::days(30))
        );
        assert_eq!(p.cooldown_until(Some(delivered), day31), None);
        assert_eq!(p.cooldown_until(None, day29), None);
    }
}
