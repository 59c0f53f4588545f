//! `submit-request`: the kelurahan's intake of aid requests, and the reads everyone shares.
//!
//! Routes (DESIGN §6): `POST /v1/requests`, `GET /v1/requests`, `GET /v1/requests/{id}`,
//! `GET /v1/requests/{id}/history`, `POST /v1/requests/{id}/cancel`. Each handler is a thin
//! adapter: it extracts the caller, language and body, calls the domain use case and renders
//! the answer; every rule lives in the `shared` crate.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use basoka_web::{ApiError, AuthCaller, ClientLang, JsonBody, Problem, QueryParams};
use shared::ports::Deps;
use shared::request::{HistoryEntry, RequestPage, RequestView};
use shared::usecases::{self, ListParams};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of this function, with their OpenAPI description.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(submit, list))
        .routes(routes!(get_request))
        .routes(routes!(history))
        .routes(routes!(cancel))
}

// ---- documented request bodies (the use cases read the JSON field by field) ----

/// Where the household lives.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AddressBody {
    street: String,
    #[schema(example = "003")]
    rt: String,
    #[schema(example = "011")]
    rw: String,
    /// The caller's own kelurahan: its Kemendagri code, or its name (case and spaces ignored,
    /// e.g. "Bekasi Jaya"); answered as the code.
    #[schema(example = "32.75.01.1001")]
    kelurahan_code: String,
}

/// The household. NIK and KK are 16-digit strings, never numbers.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HouseholdBody {
    #[schema(example = "3275014101900003")]
    head_nik: String,
    #[schema(example = "3275010203040005")]
    kk: String,
    head_name: String,
    #[schema(minimum = 1, maximum = 50)]
    members: u32,
    /// Mobile number (08…, +628…, 628…, 8…); receives SMS when aid is delivered to the household.
    #[schema(example = "081234567890")]
    phone: Option<String>,
    address: AddressBody,
}

/// The person (usually the PSM) who reported the household.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReporterBody {
    name: String,
    #[schema(example = "081298765432")]
    phone: String,
}

/// `POST /v1/requests`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubmitBody {
    household: HouseholdBody,
    /// `miskin_ekstrem` or `rentan_miskin`.
    #[schema(example = "miskin_ekstrem")]
    category: String,
    /// `darurat` or `biasa`.
    #[schema(example = "darurat")]
    urgency: String,
    /// At most 1000 characters.
    situation: String,
    reported_by: ReporterBody,
    /// Needed (and recorded) when the household received aid within the cool-down.
    override_reason: Option<String>,
}

/// `POST /v1/requests/{id}/cancel`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CancelBody {
    reason: String,
}

/// Query of `GET /v1/requests`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQueryParams {
    /// Filter by status.
    status: Option<String>,
    /// Filter by kelurahan, by code or name (kelurahan staff: only their own).
    kelurahan_code: Option<String>,
    /// Page size, 1–100 (default 20).
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Submit an aid request for a household of the caller's kelurahan.
#[utoipa::path(
    post, path = "/v1/requests", tag = "requests",
    request_body = SubmitBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the first response again")),
    responses(
        (status = 201, description = "Created", body = RequestView),
        (status = 400, description = "Invalid fields (all listed)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "DUPLICATE_ACTIVE_REQUEST or RECENTLY_ASSISTED", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "IDEMPOTENCY_KEY_REUSED", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn submit(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::new(
                shared::AppError::Validation(vec![
                    shared::validation::Invalid::new(
                        "IDEMPOTENCY_KEY_INVALID",
                        "Idempotency-Key harus 1-200 karakter ASCII tanpa spasi.",
                        "Idempotency-Key must be 1-200 ASCII characters without spaces.",
                    )
                    .at("Idempotency-Key"),
                ]),
                lang,
            )
        })?),
    };
    let out = usecases::submit(&deps, &caller, key, &body)
        .await
        .map_err(|e| ApiError::new(e, lang))?;
    let status = StatusCode::from_u16(out.status).unwrap_or(StatusCode::CREATED);
    let mut res = json_response(status, out.body);
    if out.replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// List requests, newest first (kelurahan staff: their own kelurahan only).
#[utoipa::path(
    get, path = "/v1/requests", tag = "requests",
    params(ListQueryParams),
    responses(
        (status = 200, body = RequestPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<RequestPage>, ApiError> {
    let q = QueryParams::for_route(q, &["status", "kelurahan_code", "limit", "cursor"], lang)?;
    let params = ListParams {
        status: q.get("status").map(str::to_string),
        kelurahan_code: q.get("kelurahan_code").map(str::to_string),
        limit: q.get("limit").map(str::to_string),
        cursor: q.get("cursor").map(str::to_string),
    };
    usecases::list(&deps, &caller, &params)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// One request. Kelurahan staff, surveyors and the Dinas see the full NIK and KK.
#[utoipa::path(
    get, path = "/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request's id, or its code as the SMS carry it (`BSK-7K3M9Q`; any case, the prefix may be left out)")),
    responses(
        (status = 200, body = RequestView),
        (status = 404, description = "Unknown, or outside the caller's kelurahan", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_request(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    usecases::get(&deps, &caller, &id)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// The request's transitions, oldest first.
#[utoipa::path(
    get, path = "/v1/requests/{id}/history", tag = "requests",
    params(("id" = String, Path, description = "The request's id, or its code as the SMS carry it (`BSK-7K3M9Q`; any case, the prefix may be left out)")),
    responses(
        (status = 200, body = Vec<HistoryEntry>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn history(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    usecases::history(&deps, &caller, &id)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// Cancel a request before it is dispatched (kelurahan staff: own kelurahan; Dinas).
#[utoipa::path(
    post, path = "/v1/requests/{id}/cancel", tag = "requests",
    params(("id" = String, Path)),
    request_body = CancelBody,
    responses(
        (status = 200, body = RequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn cancel(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    usecases::cancel(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// The OpenAPI document of the whole API: every function's routes (this one's,
/// `verify-survey`'s and `allocate-stock`'s), generated from their annotations. On AWS this
/// function serves it, with the other open routes.
pub fn api_document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = router().split_for_parts();
    let (_, survey) = verify_survey::router().split_for_parts();
    let (_, stock) = allocate_stock::router().split_for_parts();
    doc.merge(survey);
    doc.merge(stock);
    basoka_web::meta::finish_document(doc)
}

/// Every route of the whole API as `(METHOD, /path/{param})`: the three HTTP functions'
/// routes (their OpenAPI document) and the open routes.
pub fn api_routes() -> Vec<(String, String)> {
    let doc = serde_json::to_value(api_document()).expect("the OpenAPI document is JSON");
    let mut routes: Vec<(String, String)> = basoka_web::meta::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                if item.get(method).is_some() {
                    routes.push((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    routes.sort();
    routes.dedup();
    routes
}

/// This function on AWS Lambda (the binary in `main.rs`).
pub mod lambda {
    use std::sync::Arc;

    use basoka_aws::{AwsAdapters, Port};
    use basoka_lambda::Function;
    use basoka_lambda::http::{ContactBook, default_route_api};
    use shared::policy::Policy;

    /// The store ports this function uses: its IAM policy is exactly their actions
    /// (`basoka_aws::calls`), which the infrastructure drift test checks.
    pub const PORTS: &[Port] = &[
        Port::RequestReads,
        Port::RequestQueries,
        Port::RequestWrites,
        Port::Idempotency,
        Port::RegistryLookup,
        Port::Contacts,
    ];

    /// The environment its cold start reads (`main.rs`: `basoka_lambda::connect` and
    /// `settings::policy`): the template sets exactly these for it (the drift test checks).
    pub const ENVIRONMENT: &[&str] = &[
        "BASOKA_TABLE",
        "BASOKA_HASH_KEY",
        "BASOKA_IDEMPOTENCY_TTL_HOURS",
        "BASOKA_OUTBOX_TTL_DAYS",
        "BASOKA_TARGET_MAX_DESIL",
        "BASOKA_COOLDOWN_DAYS",
        "RUST_LOG",
    ];

    /// The function over `aws`: its routes, plus health, the OpenAPI document and the
    /// kelurahan list; and, as the target of the HTTP API's `$default` route, the problem+json
    /// 404 / 405 for every request no route matches (`infra/template.yaml`).
    pub fn function(aws: &AwsAdapters, policy: Policy) -> Function {
        let deps = Arc::new(aws.request_deps(policy));
        let routes: axum::Router = super::router().with_state(deps).into();
        let routes = routes.merge(basoka_web::meta::router(super::api_document()));
        Function::new("submit-request").with_http(default_route_api(
            routes,
            Some(ContactBook::new(aws.store.clone())),
            super::api_routes(),
        ))
    }
}
