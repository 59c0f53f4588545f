//! Local HS256 bearer tokens: `basoka token` issues them, `basoka serve` verifies them.
//!
//! On AWS the HTTP API's Cognito JWT authorizer verifies tokens instead; both paths end in
//! the same [`Caller::from_claims`], so role and kelurahan rules do not depend on where the
//! token came from.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::Serialize;
use shared::Caller;
use shared::auth::ClaimsError;
use shared::i18n::Text;

/// Issuer written into and required of local tokens.
pub const LOCAL_ISSUER: &str = "basoka-local";

/// The claims of a local token (DESIGN §6).
#[derive(Debug, Clone, Serialize)]
pub struct TokenClaims {
    pub sub: String,
    pub name: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kelurahan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Shortest signing secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// Signs local tokens.
pub fn issue(secret: &[u8], claims: &TokenClaims) -> Result<String, TokenError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(TokenError::WeakSecret);
    }
    let key = EncodingKey::from_secret(secret).map_err(|_| TokenError::WeakSecret)?;
    encode(&Header::new(Algorithm::HS256), claims, &key).map_err(|_| TokenError::Malformed)
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("bad signature or issuer")]
    BadSignature,
    #[error("malformed token")]
    Malformed,
    #[error("invalid claims: {0}")]
    Claims(ClaimsError),
    #[error("the signing secret must be at least 16 bytes")]
    WeakSecret,
}

impl TokenError {
    /// What to tell the client.
    pub fn text(&self) -> Text {
        match self {
            TokenError::Expired => Text::fixed(
                "Token sudah kedaluwarsa; buat token baru.",
                "The token has expired; make a new one.",
            ),
            TokenError::BadSignature => Text::fixed(
                "Tanda tangan token tidak sah untuk server ini.",
                "The token's signature is not valid for this server.",
            ),
            TokenError::Malformed => {
                Text::fixed("Token tidak bisa dibaca.", "The token cannot be read.")
            }
            TokenError::WeakSecret => Text::fixed(
                "Rahasia penanda tangan token minimal 16 byte.",
                "The token signing secret must be at least 16 bytes.",
            ),
            TokenError::Claims(e) => e.refusal(),
        }
    }
}

/// Verifies local tokens with the server's secret.
#[derive(Clone)]
pub struct TokenVerifier {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

impl TokenVerifier {
    pub fn new(secret: &[u8]) -> Result<TokenVerifier, TokenError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(TokenError::WeakSecret);
        }
        let key = DecodingKey::from_secret(secret).map_err(|_| TokenError::WeakSecret)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 30;
        Ok(TokenVerifier {
            key: Arc::new(key),
            validation: Arc::new(validation),
        })
    }

    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let data =
            decode::<serde_json::Value>(token, &self.key, &self.validation).map_err(|e| match e
                .kind()
            {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidIssuer
                | ErrorKind::InvalidAlgorithm => TokenError::BadSignature,
                _ => TokenError::Malformed,
            })?;
        Caller::from_claims(&data.claims).map_err(TokenError::Claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &[u8] = b"test-secret-of-at-least-16-bytes";

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenVerifier::new(b"short").is_err());
        assert_eq!(
            issue(b"", &claims("dinas", None, 60)).unwrap_err(),
            TokenError::WeakSecret
        );
    }

    fn claims(role: &str, kel: Option<&str>, exp_in: i64) -> TokenClaims {
        let now = chrono_now();
        TokenClaims {
            sub: "u1".into(),
            name: "Siti".into(),
            role: role.into(),
            kelurahan: kel.map(str::to_string),
            phone_number: None,
            iss: LOCAL_ISSUER.into(),
            iat: now,
            exp: now + exp_in,
        }
    }

    fn chrono_now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    #[test]
    fn issued_tokens_verify_into_callers() {
        let v = TokenVerifier::new(S).unwrap();
        let t = issue(S, &claims("kelurahan", Some("32.75.01.1001"), 3600)).unwrap();
        let c = v.verify(&t).unwrap();
        assert_eq!(c.role, shared::Role::Kelurahan);
        assert_eq!(c.kelurahan.unwrap().as_str(), "32.75.01.1001");
    }

    #[test]
    fn wrong_secret_expired_and_bad_claims_are_refused() {
        let v = TokenVerifier::new(S).unwrap();
        let other = b"another-secret-of-32-bytes-long!";
        assert_eq!(
            v.verify(&issue(other, &claims("dinas", None, 3600)).unwrap())
                .unwrap_err(),
            TokenError::BadSignature
        );
        assert_eq!(
            v.verify(&issue(S, &claims("dinas", None, -3600)).unwrap())
                .unwrap_err(),
            TokenError::Expired
        );
        assert!(matches!(
            v.verify(&issue(S, &claims("kelurahan", None, 3600)).unwrap())
                .unwrap_err(),
            TokenError::Claims(_)
        ));
        assert_eq!(v.verify("not-a-token").unwrap_err(), TokenError::Malformed);
    }

    #[test]
    fn a_claims_refusal_is_all_indonesian_or_all_english() {
        let v = TokenVerifier::new(S).unwrap();
        let err = v
            .verify(&issue(S, &claims("superuser", None, 3600)).unwrap())
            .unwrap_err();
        let text = err.text();
        assert_eq!(text.id, "Isi token tidak sah: klaim `role` tidak sah.");
        assert_eq!(
            text.en,
            "The token's claims are not valid: claim `role` is not valid."
        );
        let missing = v
            .verify(&issue(S, &claims("kelurahan", None, 3600)).unwrap())
            .unwrap_err()
            .text();
        assert_eq!(
            missing.id,
            "Isi token tidak sah: klaim `kelurahan` tidak ada."
        );
    }
}
