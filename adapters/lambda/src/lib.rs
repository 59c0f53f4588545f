//! What the four Lambda entry points of BASOKA share. Each `functions/<name>/src/main.rs`
//! builds its [`Function`] once per cold start (clients, configuration) and hands it to
//! [`run`]; tests hand the same [`Function`] the JSON fixtures of `events/` through
//! [`Function::handle`], which is exactly what [`run`] calls for every invocation.
//!
//! A [`Function`] answers up to three kinds of invocation, told apart by their shape:
//!
//! * **API Gateway HTTP API (payload v2)**: converted by `lambda_http` into an HTTP request
//!   for the function's axum router, with the caller taken from the JWT authorizer's verified
//!   claims and any stage prefix taken off the path ([`http`]); the answer goes back as the
//!   v2 response, problem+json for every error the router produces.
//! * **SQS** (the function's queue, fed by the events topic): each message body carries one
//!   domain event (on AWS the outbox insert's stream record); failures are reported per
//!   message (`batchItemFailures`) ([`queue`]).
//! * **A scheduled task**: `{"basoka": "<task>"}` from an EventBridge schedule (notify's
//!   retry of failed SMS).
//!
//! Configuration comes from the environment ([`settings`], and `basoka_aws::config`).

pub mod http;
pub mod queue;
pub mod settings;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::request::LambdaRequest;
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use serde_json::Value;
use shared::AppError;
use shared::events::Event;
use tower::Service;

pub use queue::QueueHandler;

/// A boxed future, for the handlers.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A scheduled task: what it did, as JSON for the invocation's result.
pub type TaskHandler = Arc<dyn Fn() -> BoxFuture<Result<Value, AppError>> + Send + Sync>;

/// One Lambda function: its HTTP routes, its queue consumer and its scheduled tasks.
#[derive(Clone)]
pub struct Function {
    name: &'static str,
    http: Option<axum::Router>,
    queue: Option<QueueHandler>,
    tasks: Vec<(&'static str, TaskHandler)>,
}

/// What an invocation turned out to be.
enum Invocation {
    Http(Box<LambdaRequest>),
    Sqs(SqsEvent),
    Task(String),
}

impl Function {
    pub fn new(name: &'static str) -> Function {
        Function {
            name,
            http: None,
            queue: None,
            tasks: Vec::new(),
        }
    }

    /// Serves `router` (already wrapped by [`http::api`]) for API Gateway invocations.
    pub fn with_http(mut self, router: axum::Router) -> Function {
        self.http = Some(router);
        self
    }

    /// Hands every event of an SQS batch to `handler`.
    pub fn with_queue<F, Fut>(mut self, handler: F) -> Function
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), AppError>> + Send + 'static,
    {
        self.queue = Some(Arc::new(move |e| Box::pin(handler(e))));
        self
    }

    /// Runs `handler` for the scheduled invocation `{"basoka": name}`.
    pub fn with_task<F, Fut>(mut self, name: &'static str, handler: F) -> Function
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, AppError>> + Send + 'static,
    {
        self.tasks
            .push((name, Arc::new(move || Box::pin(handler()))));
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    fn classify(&self, payload: Value) -> Result<Invocation, Error> {
        let is_sqs = payload
            .get("Records")
            .and_then(Value::as_array)
            .is_some_and(|records| {
                records
                    .iter()
                    .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
            });
        if is_sqs {
            return Ok(Invocation::Sqs(serde_json::from_value(payload)?));
        }
        if let Some(task) = payload.get("basoka").and_then(Value::as_str) {
            return Ok(Invocation::Task(task.to_string()));
        }
        if payload.get("requestContext").is_some() {
            let request: LambdaRequest = serde_json::from_value(payload)
                .map_err(|e| format!("not an API Gateway HTTP API (v2) event: {e}"))?;
            return Ok(Invocation::Http(Box::new(request)));
        }
        Err(format!(
            "{}: unrecognised invocation (not HTTP, SQS or a task)",
            self.name
        )
        .into())
    }

    /// Answers one invocation: what [`run`] does for each event Lambda delivers.
    pub async fn handle(&self, payload: Value, context: Context) -> Result<Value, Error> {
        match self.classify(payload)? {
            Invocation::Http(request) => {
                let Some(router) = self.http.clone() else {
                    return Err(format!("{} has no HTTP routes", self.name).into());
                };
                let service = tower::ServiceBuilder::new()
                    .map_request(http::strip_stage)
                    .service(router);
                // The adapter holds a `PhantomData<&Response>`, which is not `Send` (axum's
                // body is not `Sync`): make the call and drop it before awaiting, so that this
                // future stays `Send` for the local runner. The router is always ready.
                let call = {
                    let mut adapter = lambda_http::Adapter::from(service);
                    adapter.call(LambdaEvent::new(*request, context))
                };
                let response = call.await?;
                Ok(serde_json::to_value(response)?)
            }
            Invocation::Sqs(batch) => {
                let Some(handler) = &self.queue else {
                    return Err(format!("{} consumes no queue", self.name).into());
                };
                let response = queue::process_batch(self.name, batch, handler).await;
                Ok(serde_json::to_value(response)?)
            }
            Invocation::Task(task) => {
                let Some((_, handler)) = self.tasks.iter().find(|(n, _)| *n == task) else {
                    return Err(format!("{}: unknown task {task:?}", self.name).into());
                };
                match handler().await {
                    Ok(result) => Ok(result),
                    Err(e) => {
                        tracing::error!(function = self.name, task = %task, error = %e, "scheduled task failed");
                        Err(format!("task {task} failed: {e}").into())
                    }
                }
            }
        }
    }
}

/// Starts the Lambda runtime loop for `function`.
pub async fn run(function: Function) -> Result<(), Error> {
    let function = Arc::new(function);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = function.clone();
        async move { function.handle(event.payload, event.context).await }
    }))
    .await
}

/// Logs for CloudWatch: the runtime's subscriber (JSON when the function's log format is
/// JSON), level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Builds the adapters from the environment, or says which variable is wrong.
pub async fn connect() -> Result<basoka_aws::AwsAdapters, Error> {
    let config = basoka_aws::AwsConfig::from_env()?;
    Ok(config.connect().await?)
}
