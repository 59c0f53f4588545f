//! HTTP plumbing the BASOKA functions share, the same behind the local runner and behind
//! Lambda:
//!
//! * [`ApiError`]: a domain error rendered as RFC 9457 `application/problem+json`, in Bahasa
//!   Indonesia or English per `Accept-Language`, with a stable `code` and every bad field;
//! * [`AuthCaller`]: the verified caller, put into the request by an authentication layer
//!   ([`local_auth`] verifies HS256 tokens for the local runner; on AWS the API Gateway
//!   authorizer's claims are used instead);
//! * [`JsonBody`]: a JSON body whose problems (not sent as JSON, not JSON, too large) are
//!   problem documents too;
//! * [`tokens`]: issuing and verifying the local HS256 tokens;
//! * [`meta`]: the open routes (health, the OpenAPI document, the kelurahan list).

pub mod meta;
pub mod problem;
pub mod strict_json;
pub mod tokens;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use shared::i18n::{Lang, Text};
use shared::{AppError, Caller};
use strict_json::Strict;

pub use problem::{ApiError, Problem};
pub use tokens::{TokenError, TokenVerifier};

/// Largest request body accepted (DESIGN: 64 KiB, else 413).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The language the client asked for.
#[derive(Debug, Clone, Copy)]
pub struct ClientLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for ClientLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientLang(lang_of(&parts.headers)))
    }
}

/// Reads `Accept-Language`.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(headers.get("accept-language").and_then(|v| v.to_str().ok()))
}

/// Why no caller is attached to a request: kept so the 401 can say what was wrong.
#[derive(Debug, Clone)]
pub struct AuthFailure(pub Text);

/// The authenticated caller. Rejects with a 401 problem when the authentication layer did
/// not attach one.
#[derive(Debug, Clone)]
pub struct AuthCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for AuthCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(AuthCaller(c.clone()));
        }
        let lang = lang_of(&parts.headers);
        let mut problem = Problem::from_error(&AppError::Unauthenticated, lang);
        if let Some(AuthFailure(why)) = parts.extensions.get::<AuthFailure>() {
            problem.detail = why.get(lang).to_string();
        }
        let mut res = problem.into_response();
        res.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            www_authenticate(
                parts
                    .headers
                    .contains_key(axum::http::header::AUTHORIZATION),
            ),
        );
        Err(res)
    }
}

/// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): the bearer scheme, and
/// `error="invalid_token"` when the request did carry credentials that were refused.
pub fn www_authenticate(credentials_sent: bool) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_static(if credentials_sent {
        r#"Bearer realm="basoka", error="invalid_token""#
    } else {
        r#"Bearer realm="basoka""#
    })
}

/// A JSON body, read up to [`BODY_LIMIT`]. Sent as another media type (or a body without a
/// `Content-Type`) → 415 `UNSUPPORTED_MEDIA_TYPE`; not a JSON object → 400 `MALFORMED_BODY`;
/// a member repeated in one object → 400 `VALIDATION_FAILED` naming each (`FIELD_REPEATED`,
/// see [`strict_json`]);
/// too large → 413. A leading UTF-8 byte order mark (what Windows tools such as Notepad or
/// PowerShell 5 put before a saved body) is skipped, as RFC 8259 §8.1 allows.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Value);

/// Whether a `Content-Type` names JSON: `application/json` or `application/<x>+json`, with a
/// `charset` parameter only if it is UTF-8 (JSON is UTF-8, RFC 8259).
pub fn is_json_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let json = match mime.split_once('/') {
        Some(("application", sub)) => sub == "json" || (sub.ends_with("+json") && sub.len() > 5),
        _ => false,
    };
    json && parts.all(|param| match param.split_once('=') {
        Some((name, v)) if name.trim().eq_ignore_ascii_case("charset") => {
            let v = v.trim().trim_matches('"');
            v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    })
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let lang = lang_of(req.headers());
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| v.to_str().map(is_json_content_type).unwrap_or(false));
        if content_type == Some(false) {
            return Err(ApiError::new(AppError::UnsupportedMediaType, lang).into_response());
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(rejection) => {
                let err = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::MalformedBody
                };
                return Err(ApiError::new(err, lang).into_response());
            }
        };
        if bytes.len() > BODY_LIMIT {
            return Err(ApiError::new(AppError::PayloadTooLarge, lang).into_response());
        }
        if content_type.is_none() && !bytes.is_empty() {
            // A body that does not say what it is: not taken for JSON.
            return Err(ApiError::new(AppError::UnsupportedMediaType, lang).into_response());
        }
        let json = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        match strict_json::parse(json) {
            Ok(Strict { value, repeated }) if value.is_object() && repeated.is_empty() => {
                Ok(JsonBody(value))
            }
            Ok(Strict { value, repeated }) if value.is_object() => {
                let errors = repeated
                    .into_iter()
                    .map(|path| {
                        shared::validation::FieldError::new(
                            path,
                            "FIELD_REPEATED",
                            Text::fixed(
                                "Isian ini muncul lebih dari sekali dalam objek yang sama; kirim sekali saja.",
                                "This member appears more than once in the same object; send it once.",
                            ),
                        )
                    })
                    .collect();
                Err(ApiError::new(AppError::Validation(errors), lang).into_response())
            }
            _ => Err(ApiError::new(AppError::MalformedBody, lang).into_response()),
        }
    }
}

/// The query parameters of a request, checked against the names its route knows.
///
/// An unknown name (a typo such as `?stauts=submitted`) or a name given twice is a 400
/// naming it (`FIELD_UNKNOWN`, `FIELD_REPEATED`), so that a filter is never dropped without
/// a word, which for a list would answer everything instead of what was asked.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Checks `pairs` against `known`.
    pub fn checked(pairs: Vec<(String, String)>, known: &[&str]) -> Result<QueryParams, AppError> {
        let mut errors = Vec::new();
        for (n, (name, _)) in pairs.iter().enumerate() {
            if errors
                .iter()
                .any(|e: &shared::validation::FieldError| e.field == *name)
            {
                // Named once, however often it is given.
                continue;
            }
            if !known.contains(&name.as_str()) {
                errors.push(shared::validation::FieldError::new(
                    name.clone(),
                    "FIELD_UNKNOWN",
                    Text::new(
                        format!(
                            "Parameter ini tidak dikenal; yang dikenal: {}.",
                            known.join(", ")
                        ),
                        format!("Unknown parameter; known: {}.", known.join(", ")),
                    ),
                ));
            } else if pairs[..n].iter().any(|(earlier, _)| earlier == name) {
                errors.push(shared::validation::FieldError::new(
                    name.clone(),
                    "FIELD_REPEATED",
                    Text::fixed(
                        "Parameter ini diberikan lebih dari sekali; berikan sekali saja.",
                        "This parameter is given more than once; give it once.",
                    ),
                ));
            }
        }
        if errors.is_empty() {
            Ok(QueryParams(pairs))
        } else {
            Err(AppError::Validation(errors))
        }
    }

    /// The value of `name`, if given.
    /// [`QueryParams::checked`] for a handler: the refusal as the problem it answers in `lang`.
    pub fn for_route(
        pairs: Vec<(String, String)>,
        known: &[&str],
        lang: Lang,
    ) -> Result<QueryParams, ApiError> {
        Self::checked(pairs, known).map_err(|e| ApiError::new(e, lang))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Middleware for the local runner: verifies `Authorization: Bearer <HS256 token>` and
/// attaches the [`Caller`]; on failure attaches the reason (routes that need a caller answer
/// 401, open routes do not care).
pub async fn local_auth(
    axum::extract::State(verifier): axum::extract::State<TokenVerifier>,
    mut req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match header.as_deref().map(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) {
        None => {
            req.extensions_mut().insert(AuthFailure(Text::fixed(
                "Header Authorization: Bearer <token> tidak ada. Buat token dengan `basoka token --role ...`.",
                "Missing Authorization: Bearer <token> header. Make a token with `basoka token --role ...`.",
            )));
        }
        Some(None) => {
            req.extensions_mut().insert(AuthFailure(Text::fixed(
                "Header Authorization harus berbentuk: Bearer <token>.",
                "The Authorization header must read: Bearer <token>.",
            )));
        }
        Some(Some(token)) => match verifier.verify(token.trim()) {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
            }
            Err(e) => {
                req.extensions_mut().insert(AuthFailure(e.text()));
            }
        },
    }
    next.run(req).await
}

/// Answers unknown routes with a 404 problem document rather than an empty body.
pub async fn not_found(headers: HeaderMap) -> Response {
    ApiError::new(AppError::UnknownRoute, lang_of(&headers)).into_response()
}

/// Answers a known path asked with a method it does not have: a 405 problem document
/// (`METHOD_NOT_ALLOWED`). The router adds the `Allow` header listing the path's methods.
pub async fn method_not_allowed(headers: HeaderMap) -> Response {
    ApiError::new(AppError::MethodNotAllowed, lang_of(&headers)).into_response()
}

/// Gives a router of every route the problem+json answers for what it does not route:
/// unknown paths (404 `NOT_FOUND`) and known paths with another method (405
/// `METHOD_NOT_ALLOWED`, with `Allow`). Call it once every route is in: the local runner and
/// the Lambda entry points both do, so both answer the same.
pub fn with_fallbacks(router: axum::Router) -> axum::Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Whether `path` is an instance of the route template `template` (`/v1/requests/{id}`: a
/// `{…}` segment matches any one non-empty segment).
fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (
        template.trim_end_matches('/').split('/').collect(),
        path.trim_end_matches('/').split('/').collect(),
    );
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

/// [`with_fallbacks`] for a router that also answers for every request the API as a whole
/// does not route: behind API Gateway, the function of the `$default` route (on AWS only the
/// unmatched requests reach it). `api_routes` are the whole API's `(METHOD, /path/{param})`:
/// a path of another function asked with a method it does not have is 405 with that path's
/// `Allow`, as the local runner (one router of every route) answers; an unknown path is 404.
pub fn with_api_fallbacks(router: axum::Router, api_routes: Vec<(String, String)>) -> axum::Router {
    let api_routes = std::sync::Arc::new(api_routes);
    router
        .fallback(move |req: Request| {
            let api_routes = api_routes.clone();
            async move {
                let path = req.uri().path();
                let mut allow: Vec<&str> = api_routes
                    .iter()
                    .filter(|(_, template)| matches_template(template, path))
                    .map(|(method, _)| method.as_str())
                    .collect();
                allow.sort_unstable();
                allow.dedup();
                let lang = lang_of(req.headers());
                if allow.is_empty() || allow.contains(&req.method().as_str()) {
                    // Unknown, or (API Gateway routes those elsewhere) another function's.
                    return ApiError::new(AppError::UnknownRoute, lang).into_response();
                }
                let mut res = ApiError::new(AppError::MethodNotAllowed, lang).into_response();
                if let Ok(v) = axum::http::HeaderValue::from_str(&allow.join(", ")) {
                    res.headers_mut().insert(axum::http::header::ALLOW, v);
                }
                res
            }
        })
        .method_not_allowed_fallback(method_not_allowed)
}

/// Answers `GET /v1/health`.
#[utoipa::path(
    get, path = "/v1/health", tag = "meta",
    responses((status = 200, description = "`{\"status\": \"ok\", \"service\": \"basoka\"}`", content_type = "application/json"))
)]
pub async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok", "service": "basoka"}))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn call(router: axum::Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let res = router.oneshot(req).await.expect("infallible");
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, json)
    }

    fn router() -> axum::Router {
        with_fallbacks(axum::Router::new().route("/v1/things", get(|| async { "ok" })))
    }

    #[tokio::test]
    async fn a_known_path_with_another_method_is_a_405_problem_with_allow() {
        let req = Request::delete("/v1/things").body(Body::empty()).unwrap();
        let (status, headers, json) = call(router(), req).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(json["code"], "METHOD_NOT_ALLOWED");
        let allow = headers[header::ALLOW].to_str().unwrap();
        assert!(allow.contains("GET"), "{allow}");
    }

    #[tokio::test]
    async fn the_default_route_answers_for_the_whole_api() {
        let api = vec![
            ("GET".to_string(), "/v1/things".to_string()),
            ("POST".to_string(), "/v1/stock/receipts".to_string()),
            ("PUT".to_string(), "/v1/items/{sku}".to_string()),
            ("DELETE".to_string(), "/v1/items/{sku}".to_string()),
        ];
        let router = || {
            with_api_fallbacks(
                axum::Router::new().route("/v1/things", get(|| async { "ok" })),
                api.clone(),
            )
        };
        // Another function's path, with a method it does not have: 405 with its Allow.
        let req = Request::get("/v1/stock/receipts")
            .body(Body::empty())
            .unwrap();
        let (status, headers, json) = call(router(), req).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(json["code"], "METHOD_NOT_ALLOWED");
        assert_eq!(headers[header::ALLOW], "POST");
        let req = Request::get("/v1/items/BERAS").body(Body::empty()).unwrap();
        let (status, headers, _) = call(router(), req).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "DELETE, PUT");
        // Its own path: axum's own 405.
        let req = Request::delete("/v1/things").body(Body::empty()).unwrap();
        let (status, headers, _) = call(router(), req).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(headers[header::ALLOW].to_str().unwrap().contains("GET"));
        // Unknown: 404 problem.
        for path in ["/v1/nothing", "/", "/v1/items", "/v1/items/BERAS/retire/x"] {
            let req = Request::get(path).body(Body::empty()).unwrap();
            let (status, headers, json) = call(router(), req).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
            assert_eq!(json["code"], "NOT_FOUND");
        }
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
            "application/merge-patch+json",
            "application/problem+json; charset=utf8",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/+json",
            "application/json; charset=latin1",
            "",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }

    fn echo() -> axum::Router {
        with_fallbacks(axum::Router::new().route(
            "/v1/echo",
            axum::routing::post(|JsonBody(v): JsonBody| async move { axum::Json(v) }),
        ))
    }

    fn post(content_type: Option<&str>, body: &'static str) -> Request<Body> {
        let mut b = Request::post("/v1/echo");
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body)).unwrap()
    }

    #[tokio::test]
    async fn a_body_not_sent_as_json_is_a_415_problem() {
        for ct in [
            Some("text/plain"),
            None,
            Some("application/x-www-form-urlencoded"),
        ] {
            let (status, headers, json) = call(echo(), post(ct, r#"{"a":1}"#)).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
            assert_eq!(json["code"], "UNSUPPORTED_MEDIA_TYPE", "{ct:?}");
        }
        for ct in ["application/json", "application/json; charset=UTF-8"] {
            let (status, _, json) = call(echo(), post(Some(ct), r#"{"a":1}"#)).await;
            assert_eq!(status, StatusCode::OK, "{ct}");
            assert_eq!(json["a"], 1);
        }
        // A byte order mark before the JSON is skipped; anywhere else it is not JSON.
        let (status, _, json) =
            call(echo(), post(Some("application/json"), "\u{feff}{\"a\":1}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["a"], 1);
        let (status, _, json) =
            call(echo(), post(Some("application/json"), "{\"a\":1}\u{feff}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["code"], "MALFORMED_BODY");
        // No body at all is still a malformed body, whatever it was sent as.
        let (status, _, json) = call(echo(), post(None, "")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["code"], "MALFORMED_BODY");
    }

    #[test]
    fn unknown_and_repeated_query_parameters_are_named() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ok = QueryParams::checked(pairs(&[("status", "submitted")]), &["status", "limit"])
            .expect("known");
        assert_eq!(ok.get("status"), Some("submitted"));
        assert_eq!(ok.get("limit"), None);
        let err = QueryParams::checked(
            pairs(&[
                ("stauts", "x"),
                ("limit", "1"),
                ("limit", "2"),
                ("stauts", "y"),
                ("limit", "3"),
            ]),
            &["status", "limit"],
        )
        .unwrap_err();
        let AppError::Validation(errors) = err else {
            panic!("{err:?}")
        };
        let got: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            [("stauts", "FIELD_UNKNOWN"), ("limit", "FIELD_REPEATED")]
        );
    }

    #[tokio::test]
    async fn a_401_carries_a_bearer_challenge() {
        let router = axum::Router::new().route(
            "/v1/me",
            get(|AuthCaller(c): AuthCaller| async move { c.sub }),
        );
        let req = Request::get("/v1/me").body(Body::empty()).unwrap();
        let (status, headers, json) = call(router.clone(), req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(json["code"], "UNAUTHENTICATED");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Bearer realm="basoka""#
        );
        let req = Request::get("/v1/me")
            .header(header::AUTHORIZATION, "Bearer nope")
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = call(router, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Bearer realm="basoka", error="invalid_token""#
        );
    }

    #[tokio::test]
    async fn an_unknown_path_is_a_404_problem() {
        let req = Request::get("/v1/nothing").body(Body::empty()).unwrap();
        let (status, headers, json) = call(router(), req).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(json["code"], "NOT_FOUND");
    }
}
