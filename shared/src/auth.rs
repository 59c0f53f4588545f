//! Who is calling: the verified claims of a bearer token, and the scope rules of DESIGN §2.
//!
//! The claims are verified elsewhere (locally by the runner's HS256 check, on AWS by the HTTP
//! API's JWT authorizer); this module only turns them into a [`Caller`] and answers
//! "may this caller see that record?".

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{KelurahanCode, Phone};

/// The four roles (JWT claim `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Kelurahan staff: submit, cancel and hand over requests of their own kelurahan.
    Kelurahan,
    /// Dinas survey team.
    Surveyor,
    /// Dinas officers.
    Dinas,
    /// Warehouse staff.
    Gudang,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Kelurahan, Role::Surveyor, Role::Dinas, Role::Gudang];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kelurahan => "kelurahan",
            Role::Surveyor => "surveyor",
            Role::Dinas => "dinas",
            Role::Gudang => "gudang",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw.trim())
    }
}

/// The person behind a request, from verified claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub sub: String,
    pub name: String,
    pub role: Role,
    /// Set for, and only for, role `kelurahan`.
    pub kelurahan: Option<KelurahanCode>,
    pub phone: Option<Phone>,
}

/// Why claims do not make a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("claim `{0}` is missing")]
    Missing(&'static str),
    #[error("claim `{0}` is not valid")]
    Invalid(&'static str),
    /// A Cognito token that is not the ID token (`token_use` is `access`): it passes the
    /// HTTP API's JWT authorizer (its `client_id` is the audience) but carries none of the
    /// user's attributes. Holds the `token_use` value when it is a short word.
    #[error("not an ID token (token_use {0:?})")]
    NotIdToken(Option<String>),
}

impl ClaimsError {
    /// What to tell the client, in either language.
    pub fn text(&self) -> crate::i18n::Text {
        match self {
            ClaimsError::Missing(claim) => crate::i18n::Text::new(
                format!("klaim `{claim}` tidak ada"),
                format!("claim `{claim}` is missing"),
            ),
            ClaimsError::Invalid(claim) => crate::i18n::Text::new(
                format!("klaim `{claim}` tidak sah"),
                format!("claim `{claim}` is not valid"),
            ),
            ClaimsError::NotIdToken(kind) => {
                let kind = kind.as_deref().unwrap_or("?");
                crate::i18n::Text::new(
                    format!("token ini bukan ID token (token_use = {kind})"),
                    format!("this is not an ID token (token_use = {kind})"),
                )
            }
        }
    }

    /// The whole message of a refused token: `Isi token tidak sah: klaim `role` tidak sah.`
    pub fn refusal(&self) -> crate::i18n::Text {
        if let ClaimsError::NotIdToken(_) = self {
            let t = self.text();
            return crate::i18n::Text::new(
                format!(
                    "{}. Kirim ID token Cognito (IdToken dari hasil sign-in), bukan access token, di header Authorization: Bearer <token>.",
                    capitalise(&t.id)
                ),
                format!(
                    "{}. Send the Cognito ID token (the IdToken of the sign-in result), not the access token, in the Authorization: Bearer <token> header.",
                    capitalise(&t.en)
                ),
            );
        }
        let t = self.text();
        crate::i18n::Text::new(
            format!("Isi token tidak sah: {}.", t.id),
            format!("The token's claims are not valid: {}.", t.en),
        )
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Caller {
    /// Reads claims as a JSON object. Values may be strings or (for `phone_number`) absent;
    /// the same code reads a local JWT payload and API Gateway authorizer claims.
    ///
    /// * `token_use`, when present (Cognito puts it in every token), must be `id`: an access
    ///   token passes API Gateway's JWT authorizer too but has no role, kelurahan or phone, so
    ///   it is refused with [`ClaimsError::NotIdToken`], which tells the client what to send.
    /// * `phone_number` that is not an Indonesian mobile (a foreign number, a landline) is not
    ///   a reason to refuse the token: it only means no SMS can reach this user, as without
    ///   the claim. A warning names the user, never the number.
    pub fn from_claims(claims: &serde_json::Value) -> Result<Caller, ClaimsError> {
        let text = |k: &'static str| claims.get(k).and_then(|v| v.as_str()).map(str::trim);
        if let Some(kind) = text("token_use")
            && kind != "id"
        {
            let shown = (!kind.is_empty()
                && kind.len() <= 20
                && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then(|| kind.to_string());
            return Err(ClaimsError::NotIdToken(shown));
        }
        let sub = text("sub")
            .filter(|s| !s.is_empty())
            .ok_or(ClaimsError::Missing("sub"))?;
        let role_raw = text("role")
            .or_else(|| text("custom:role"))
            .ok_or(ClaimsError::Missing("role"))?;
        let role = Role::parse(role_raw).ok_or(ClaimsError::Invalid("role"))?;
        let name = text("name").unwrap_or(sub).to_string();
        let kelurahan = match text("kelurahan").or_else(|| text("custom:kelurahan")) {
            Some(k) if !k.is_empty() => Some(
                KelurahanCode::parse_code_or_name(k)
                    .map_err(|_| ClaimsError::Invalid("kelurahan"))?,
            ),
            _ => None,
        };
        if role == Role::Kelurahan && kelurahan.is_none() {
            return Err(ClaimsError::Missing("kelurahan"));
        }
        let phone = match text("phone_number") {
            Some(p) if !p.is_empty() => match Phone::parse(p) {
                Ok(phone) => Some(phone),
                Err(why) => {
                    tracing::warn!(
                        sub,
                        reason = why.code,
                        "the phone_number claim is not an Indonesian mobile number; no SMS can reach this user"
                    );
                    None
                }
            },
            _ => None,
        };
        Ok(Caller {
            sub: sub.to_string(),
            name,
            role,
            kelurahan: if role == Role::Kelurahan {
                kelurahan
            } else {
                None
            },
            phone,
        })
    }

    /// Whether this caller may see records of `kelurahan` (kelurahan staff: only their own).
    pub fn can_see_kelurahan(&self, kelurahan: &KelurahanCode) -> bool {
        match self.role {
            Role::Kelurahan => self.kelurahan.as_ref() == Some(kelurahan),
            _ => true,
        }
    }

    /// Whether the caller's role is one of `roles`.
    pub fn is_one_of(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kelurahan_staff_need_a_kelurahan() {
        let err = Caller::from_claims(&json!({"sub": "u1", "role": "kelurahan"})).unwrap_err();
        assert_eq!(err, ClaimsError::Missing("kelurahan"));
        let c = Caller::from_claims(&json!({"sub": "u1", "role": "kelurahan", "kelurahan": "32.75.01.1001", "name": "Siti"})).unwrap();
        assert_eq!(c.kelurahan.unwrap().as_str(), "32.75.01.1001");
        let named = Caller::from_claims(
            &json!({"sub": "u1", "role": "kelurahan", "kelurahan": "Bekasi Jaya"}),
        )
        .unwrap();
        assert_eq!(
            named.kelurahan, c.kelurahan,
            "a kelurahan claim may hold the name"
        );
        assert!(c.can_see_kelurahan(&KelurahanCode::parse("32.75.01.1001").unwrap()));
        assert!(!c.can_see_kelurahan(&KelurahanCode::parse("32.75.01.1002").unwrap()));
    }

    #[test]
    fn unknown_roles_and_bad_claims_are_refused() {
        assert_eq!(
            Caller::from_claims(&json!({"sub": "u", "role": "admin"})).unwrap_err(),
            ClaimsError::Invalid("role")
        );
        assert_eq!(
            Caller::from_claims(&json!({"role": "dinas"})).unwrap_err(),
            ClaimsError::Missing("sub")
        );
    }

    #[test]
    fn a_phone_claim_that_cannot_receive_sms_is_no_phone_not_a_bad_token() {
        for unusable in ["+14155550100", "021345678", "+6221345678", "not a number"] {
            let c = Caller::from_claims(
                &json!({"sub": "u", "role": "dinas", "phone_number": unusable}),
            )
            .unwrap_or_else(|e| panic!("{unusable}: {e}"));
            assert_eq!(c.phone, None, "{unusable}");
            assert_eq!(c.role, Role::Dinas);
        }
        let c = Caller::from_claims(
            &json!({"sub": "u", "role": "dinas", "phone_number": "+6281211110001"}),
        )
        .unwrap();
        assert_eq!(c.phone.unwrap().as_str(), "+6281211110001");
    }

    #[test]
    fn a_cognito_access_token_is_refused_with_what_to_send_instead() {
        let access = json!({"sub": "u", "token_use": "access", "client_id": "abc",
                            "scope": "aws.cognito.signin.user.admin"});
        let e = Caller::from_claims(&access).unwrap_err();
        assert_eq!(e, ClaimsError::NotIdToken(Some("access".into())));
        let r = e.refusal();
        assert!(
            r.id.contains("ID token") && r.id.contains("access token"),
            "{}",
            r.id
        );
        assert!(r.en.contains("Send the Cognito ID token"), "{}", r.en);
        let id =
            Caller::from_claims(&json!({"sub": "u", "token_use": "id", "custom:role": "gudang"}))
                .unwrap();
        assert_eq!(id.role, Role::Gudang);
    }

    #[test]
    fn cognito_custom_attributes_are_read_too() {
        let c = Caller::from_claims(
            &json!({"sub": "u", "custom:role": "kelurahan", "custom:kelurahan": "32.75.02.1001"}),
        )
        .unwrap();
        assert_eq!(c.role, Role::Kelurahan);
        let d = Caller::from_claims(
            &json!({"sub": "d", "role": "dinas", "kelurahan": "32.75.02.1001"}),
        )
        .unwrap();
        assert!(d.kelurahan.is_none());
        assert!(d.can_see_kelurahan(&KelurahanCode::parse("32.75.01.1001").unwrap()));
    }
}
