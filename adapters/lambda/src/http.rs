//! The HTTP side of a function on Lambda: what API Gateway already did (verify the token)
//! becomes the [`Caller`] the routes extract, exactly as the local runner's token check does.
//!
//! * [`api`] wraps a function's router: [`lambda_auth`] reads the JWT authorizer's verified
//!   claims from the request context (`requestContext.authorizer.jwt.claims`) into a
//!   [`Caller`], the body limit of the local runner applies, and unknown routes and methods
//!   answer 404 and 405 problem documents ([`basoka_web::with_fallbacks`]). Role and kelurahan checks stay in the routes, the same on both.
//! * [`strip_stage`] takes a named stage (`/staging/v1/requests`) off the path so that the
//!   router sees `/v1/requests` whatever stage the API is deployed to (`$default` has none).
//! * [`ContactBook`] notes the caller's phone number (claim `phone_number`) in the staff
//!   directory once per container and user, so that SMS for them (a survey assignment, a
//!   decision) reach the number Cognito holds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use basoka_aws::DynamoStore;
use basoka_web::{AuthFailure, BODY_LIMIT};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use shared::Caller;
use shared::i18n::Text;

/// Notes callers' phone numbers in the staff directory, once per (user, number) per
/// container: a cold start costs one `PutItem` per user, later requests nothing.
pub struct ContactBook {
    store: DynamoStore,
    noted: Mutex<HashSet<(String, String)>>,
}

impl ContactBook {
    pub fn new(store: DynamoStore) -> Arc<ContactBook> {
        Arc::new(ContactBook {
            store,
            noted: Mutex::new(HashSet::new()),
        })
    }

    async fn note(&self, caller: &Caller) {
        let Some(phone) = &caller.phone else { return };
        let key = (caller.sub.clone(), phone.as_str().to_string());
        if !self
            .noted
            .lock()
            .expect("contact book lock")
            .insert(key.clone())
        {
            return;
        }
        if let Err(e) = self
            .store
            .put_contact(&caller.sub, &caller.name, caller.role.as_str(), phone)
            .await
        {
            // Not fatal for the request; tried again on the caller's next request.
            tracing::warn!(sub = %caller.sub, error = %e, "cannot note the caller's phone number");
            self.noted.lock().expect("contact book lock").remove(&key);
        }
    }
}

/// Middleware for a runner that verifies tokens itself (`basoka serve --backend aws`): notes
/// the phone number of whatever caller the authentication layer attached, as on Lambda.
pub async fn remember_callers(
    State(book): State<Arc<ContactBook>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(caller) = req.extensions().get::<Caller>() {
        book.note(caller).await;
    }
    next.run(req).await
}

/// The verified claims of the JWT authorizer, as a JSON object.
fn authorizer_claims(req: &Request) -> Option<serde_json::Value> {
    let context = req.request_context_ref()?;
    let claims = match context {
        RequestContext::ApiGatewayV2(ctx) => &ctx.authorizer.as_ref()?.jwt.as_ref()?.claims,
        _ => return None,
    };
    let map: serde_json::Map<String, serde_json::Value> = claims
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(map))
}

/// Middleware: the caller from the authorizer's claims, or the reason there is none (routes
/// that need a caller then answer 401; the open routes do not care).
pub async fn lambda_auth(
    State(contacts): State<Option<Arc<ContactBook>>>,
    mut req: Request,
    next: Next,
) -> Response {
    match authorizer_claims(&req) {
        None => {
            req.extensions_mut().insert(AuthFailure(Text::fixed(
                "Permintaan ini tidak membawa klaim token yang sudah diverifikasi.",
                "This request carries no verified token claims.",
            )));
        }
        Some(claims) => match Caller::from_claims(&claims) {
            Ok(caller) => {
                if let Some(book) = &contacts {
                    book.note(&caller).await;
                }
                req.extensions_mut().insert(caller);
            }
            Err(e) => {
                req.extensions_mut().insert(AuthFailure(e.refusal()));
            }
        },
    }
    next.run(req).await
}

/// A function's router as it runs on Lambda (see the module documentation).
pub fn api(router: Router, contacts: Option<Arc<ContactBook>>) -> Router {
    on_lambda(basoka_web::with_fallbacks(router), contacts)
}

/// [`api`] for the function of the HTTP API's `$default` route (`submit-request`): it also
/// answers what no route of the API matches, 404 or (a path of another function, another
/// method) 405 with that path's `Allow`, as problem documents. `api_routes` are the whole
/// API's `(METHOD, /path/{param})`.
pub fn default_route_api(
    router: Router,
    contacts: Option<Arc<ContactBook>>,
    api_routes: Vec<(String, String)>,
) -> Router {
    on_lambda(basoka_web::with_api_fallbacks(router, api_routes), contacts)
}

fn on_lambda(router: Router, contacts: Option<Arc<ContactBook>>) -> Router {
    router
        .layer(axum::middleware::from_fn_with_state(contacts, lambda_auth))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Takes the API's stage off the front of the path: `/staging/v1/x` → `/v1/x` when the
/// request came through stage `staging`; `$default` and paths without the prefix are kept.
pub fn strip_stage(mut req: lambda_http::Request) -> lambda_http::Request {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return req;
    };
    let prefix = format!("/{stage}");
    let path = req.uri().path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return req,
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return req,
    }
    if let Ok(uri) = axum::http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stage: &str, raw_path: &str) -> String {
        serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": "status=approved&limit=5",
            "headers": {"host": "abc.execute-api.ap-southeast-3.amazonaws.com"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.ap-southeast-3.amazonaws.com",
                "domainPrefix": "abc", "requestId": "r1", "routeKey": "$default", "stage": stage,
                "time": "04/Dec/2026:01:00:00 +0000", "timeEpoch": 1796346000000u64,
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1", "userAgent": "t"}
            },
            "isBase64Encoded": false
        })
        .to_string()
    }

    /// An API Gateway v2 event for `method path`, with the authorizer's `claims` if given.
    fn v2(
        method: &str,
        path: &str,
        headers: serde_json::Value,
        body: Option<&str>,
        claims: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut context = serde_json::json!({
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.ap-southeast-3.amazonaws.com",
            "domainPrefix": "abc", "requestId": "r1", "routeKey": "$default", "stage": "$default",
            "time": "04/Dec/2026:01:00:00 +0000", "timeEpoch": 1796346000000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1", "userAgent": "t"}
        });
        if let Some(claims) = claims {
            context["authorizer"] = serde_json::json!({"jwt": {"claims": claims, "scopes": null}});
        }
        serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": headers, "requestContext": context, "body": body, "isBase64Encoded": false
        })
    }

    /// A function whose only route echoes a JSON body for an authenticated caller.
    fn echo_function() -> crate::Function {
        use axum::routing::post;
        let router = axum::Router::new().route(
            "/v1/echo",
            post(
                |basoka_web::AuthCaller(_c): basoka_web::AuthCaller,
                 basoka_web::JsonBody(v): basoka_web::JsonBody| async move {
                    axum::Json(v)
                },
            ),
        );
        crate::Function::new("echo").with_http(api(router, None))
    }

    fn staff() -> serde_json::Value {
        serde_json::json!({"sub": "kel-1", "custom:role": "kelurahan", "custom:kelurahan": "32.75.01.1001"})
    }

    async fn answer(event: serde_json::Value) -> (u16, serde_json::Value, serde_json::Value) {
        let out = echo_function()
            .handle(event, lambda_runtime::Context::default())
            .await
            .expect("an HTTP answer");
        let body = serde_json::from_str(out["body"].as_str().unwrap_or("null"))
            .unwrap_or(serde_json::Value::Null);
        (
            out["statusCode"].as_u64().unwrap() as u16,
            out["headers"].clone(),
            body,
        )
    }

    #[tokio::test]
    async fn on_lambda_a_wrong_method_is_405_and_a_body_not_json_is_415() {
        let json = serde_json::json!({"content-type": "application/json"});
        let (status, headers, body) =
            answer(v2("GET", "/v1/echo", json.clone(), None, Some(staff()))).await;
        assert_eq!(status, 405);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
        assert!(
            headers["allow"].as_str().unwrap_or("").contains("POST"),
            "{headers}"
        );

        let text = serde_json::json!({"content-type": "text/plain"});
        let (status, _, body) = answer(v2(
            "POST",
            "/v1/echo",
            text,
            Some(r#"{"a":1}"#),
            Some(staff()),
        ))
        .await;
        assert_eq!(status, 415);
        assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE");
        let (status, _, body) = answer(v2(
            "POST",
            "/v1/echo",
            serde_json::json!({}),
            Some(r#"{"a":1}"#),
            Some(staff()),
        ))
        .await;
        assert_eq!(status, 415, "no content type: {body}");
        let (status, _, body) = answer(v2(
            "POST",
            "/v1/echo",
            json,
            Some(r#"{"a":1}"#),
            Some(staff()),
        ))
        .await;
        assert_eq!((status, &body["a"]), (200, &serde_json::json!(1)));
    }

    #[tokio::test]
    async fn on_lambda_a_401_has_a_bearer_challenge_and_one_language() {
        let json = serde_json::json!({"content-type": "application/json"});
        let (status, headers, body) =
            answer(v2("POST", "/v1/echo", json.clone(), Some("{}"), None)).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "UNAUTHENTICATED");
        assert!(
            headers["www-authenticate"]
                .as_str()
                .unwrap_or("")
                .starts_with("Bearer"),
            "{headers}"
        );
        let bad_role = serde_json::json!({"sub": "x", "custom:role": "superuser"});
        let (status, _, body) =
            answer(v2("POST", "/v1/echo", json, Some("{}"), Some(bad_role))).await;
        assert_eq!(status, 401);
        assert_eq!(
            body["detail"],
            "Isi token tidak sah: klaim `role` tidak sah."
        );
    }

    #[tokio::test]
    async fn on_lambda_an_access_token_is_401_telling_to_send_the_id_token() {
        let json = serde_json::json!({"content-type": "application/json"});
        // What API Gateway hands over for a Cognito access token: no role, no kelurahan.
        let access = serde_json::json!({
            "sub": "kel-1", "token_use": "access", "client_id": "app-client",
            "scope": "aws.cognito.signin.user.admin", "username": "kel.bekasijaya.1"
        });
        let (status, headers, body) = answer(v2(
            "POST",
            "/v1/echo",
            json.clone(),
            Some("{}"),
            Some(access.clone()),
        ))
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "UNAUTHENTICATED");
        assert!(
            headers["www-authenticate"]
                .as_str()
                .unwrap_or("")
                .starts_with("Bearer"),
            "{headers}"
        );
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("bukan ID token") && detail.contains("Kirim ID token"),
            "{detail}"
        );
        let mut english = json.clone();
        english["accept-language"] = "en".into();
        let (_, _, body) = answer(v2("POST", "/v1/echo", english, Some("{}"), Some(access))).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("Send the Cognito ID token"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn on_lambda_a_foreign_phone_claim_is_no_sms_number_not_a_401() {
        let json = serde_json::json!({"content-type": "application/json"});
        for phone in ["+14155550100", "+62215550100"] {
            let mut claims = staff();
            claims["phone_number"] = phone.into();
            claims["token_use"] = "id".into();
            let (status, _, body) = answer(v2(
                "POST",
                "/v1/echo",
                json.clone(),
                Some(r#"{"a":1}"#),
                Some(claims),
            ))
            .await;
            assert_eq!(
                (status, &body["a"]),
                (200, &serde_json::json!(1)),
                "{phone}: {body}"
            );
        }
    }

    #[test]
    fn a_named_stage_is_taken_off_the_path_and_the_query_kept() {
        let req = strip_stage(
            lambda_http::request::from_str(&event("staging", "/staging/v1/requests")).unwrap(),
        );
        assert_eq!(req.uri().path(), "/v1/requests");
        assert_eq!(req.uri().query(), Some("status=approved&limit=5"));
        let req = strip_stage(
            lambda_http::request::from_str(&event("$default", "/v1/requests")).unwrap(),
        );
        assert_eq!(req.uri().path(), "/v1/requests");
        // A path that merely starts with the stage's letters is left alone.
        let req =
            strip_stage(lambda_http::request::from_str(&event("v1", "/v1x/requests")).unwrap());
        assert!(req.uri().path().ends_with("/v1x/requests"), "{}", req.uri());
    }
}
