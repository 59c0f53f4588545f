//! `verify-survey`: the Dinas side of a request: assigning the survey, recording it, and the
//! decision.
//!
//! Routes (DESIGN §6): `POST /v1/requests/{id}/survey-assignment` (dinas),
//! `POST /v1/requests/{id}/survey` (the assigned surveyor), `POST /v1/requests/{id}/decision`
//! (dinas). Thin adapters over `shared::usecases`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use basoka_web::{ApiError, AuthCaller, ClientLang, JsonBody, Problem};
use shared::ports::Deps;
use shared::request::RequestView;
use shared::usecases;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes of this function, with their OpenAPI description.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(assign_survey))
        .routes(routes!(record_survey))
        .routes(routes!(decide))
}

/// `POST /v1/requests/{id}/survey-assignment`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AssignmentBody {
    /// The surveyor's `sub` (user id).
    surveyor: String,
    /// RFC 3339; not in the past.
    due_at: Option<String>,
}

/// `POST /v1/requests/{id}/survey`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SurveyBody {
    /// RFC 3339, e.g. `2026-12-03T09:30:00+07:00`; not in the future.
    visited_at: String,
    findings: String,
    members_verified: u32,
    /// `approve` or `reject`.
    recommendation: String,
}

/// `POST /v1/requests/{id}/decision`. Package fields are required when approving.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DecisionBody {
    /// `approve` or `reject`.
    decision: String,
    reason: String,
    #[schema(example = "PAKET-SEMBAKO")]
    package_code: Option<String>,
    #[schema(minimum = 1, maximum = 20)]
    packages: Option<u32>,
    /// `kelurahan` (to the kelurahan office) or `household`.
    delivery: Option<String>,
}

/// Assign (or reassign) the survey of a submitted request to a surveyor.
#[utoipa::path(
    post, path = "/v1/requests/{id}/survey-assignment", tag = "survey",
    params(("id" = String, Path)),
    request_body = AssignmentBody,
    responses(
        (status = 200, body = RequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn assign_survey(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    usecases::assign_survey(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// Record the survey of a request assigned to the calling surveyor.
#[utoipa::path(
    post, path = "/v1/requests/{id}/survey", tag = "survey",
    params(("id" = String, Path)),
    request_body = SurveyBody,
    responses(
        (status = 200, body = RequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown, or not assigned to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn record_survey(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    usecases::record_survey(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// Approve or reject a surveyed request, with a reason.
#[utoipa::path(
    post, path = "/v1/requests/{id}/decision", tag = "survey",
    params(("id" = String, Path)),
    request_body = DecisionBody,
    responses(
        (status = 200, body = RequestView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_TRANSITION (e.g. before the survey)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn decide(
    State(deps): State<Arc<Deps>>,
    AuthCaller(caller): AuthCaller,
    ClientLang(lang): ClientLang,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<RequestView>, ApiError> {
    usecases::decide(&deps, &caller, &id, &body)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, lang))
}

/// This function on AWS Lambda (the binary in `main.rs`).
pub mod lambda {
    use std::sync::Arc;

    use basoka_aws::{AwsAdapters, Port};
    use basoka_lambda::Function;
    use basoka_lambda::http::{ContactBook, api};
    use shared::policy::Policy;

    /// The store ports this function uses: its IAM policy is exactly their actions
    /// (`basoka_aws::calls`), which the infrastructure drift test checks.
    /// No `RequestQueries`: assignment, survey and decision read and write one request by
    /// its key, never a list.
    pub const PORTS: &[Port] = &[
        Port::RequestReads,
        Port::RequestWrites,
        Port::Catalog,
        Port::Contacts,
    ];

    /// The environment its cold start reads (`main.rs`: `basoka_lambda::connect` and
    /// `settings::policy`), minus the idempotency TTL (it writes no idempotency record): the
    /// template sets exactly these for it (the drift test checks).
    pub const ENVIRONMENT: &[&str] = &[
        "BASOKA_TABLE",
        "BASOKA_HASH_KEY",
        "BASOKA_OUTBOX_TTL_DAYS",
        "BASOKA_TARGET_MAX_DESIL",
        "BASOKA_COOLDOWN_DAYS",
        "RUST_LOG",
    ];

    pub fn function(aws: &AwsAdapters, policy: Policy) -> Function {
        let deps = Arc::new(aws.request_deps(policy));
        let routes: axum::Router = super::router().with_state(deps).into();
        Function::new("verify-survey")
            .with_http(api(routes, Some(ContactBook::new(aws.store.clone()))))
    }
}
