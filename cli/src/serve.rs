//! `basoka serve`: every HTTP function of BASOKA on one port, over the embedded store or
//! (`--backend aws`) over DynamoDB and SNS.
//!
//! The routers are the functions' own (`submit-request`, `verify-survey`, `allocate-stock`),
//! merged; the runner adds what API Gateway adds on AWS: token verification, the body limit,
//! request logs and problem+json answers for unknown routes (404) and methods (405). The queues are in-process
//! ([`crate::delivery`]): one task per consumer reads the outbox and hands each event on.
//! Embedded store reads run on the blocking pool and its writes on the store's writer thread,
//! so the async workers only parse, route and serialise.
//!
//! With `--backend aws` the stores and the SMS sender are the Lambda functions' own adapters
//! (`basoka_aws`), and each event reaches `allocate-stock` and `notify` through their Lambda
//! entry points, as the SQS message their queue would deliver (the outbox item's stream
//! record): what runs on AWS, minus API Gateway, the stream pipe and the queues, which an
//! emulator such as moto does not run.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use basoka_embedded::{EmbeddedStore, FileSms};
use basoka_lambda::http::ContactBook;
use basoka_web::{BODY_LIMIT, TokenVerifier};
use clap::Args;
use shared::events::Event;
use shared::fulfilment::FulfilDeps;
use shared::notify::{NotifyConfig, NotifyDeps};
use shared::policy::Policy;
use shared::ports::{Clock, Deps, FrozenClock, Outbox, RandomIds, SystemClock};
use shared::{AppError, Phone};
use tokio::sync::watch;

use crate::backend::{Backend, BackendArgs, embedded_fulfil_deps};
use crate::datadir::{self, DataDirArg};
use crate::delivery::{self, BatchHandler, Consumer, DeadLetters, DeliveryMode, Handler};
use crate::seed;

/// The local SMS outbox file, in the data folder: one JSON line per SMS.
pub const SMS_OUTBOX: &str = "sms-outbox.jsonl";

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port; the URL is printed).
    #[arg(long, env = "BASOKA_PORT", default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "BASOKA_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Highest registry decile targeted; above it a request is flagged `desil_above_target`.
    #[arg(long, env = "BASOKA_TARGET_MAX_DESIL", default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=10))]
    target_max_desil: u8,
    /// Days after a delivery during which a new request for the household needs `override_reason`.
    #[arg(long, env = "BASOKA_COOLDOWN_DAYS", default_value_t = 30)]
    cooldown_days: u32,
    /// The Dinas duty mobile: told by SMS of new and waitlisted requests (demo number by default).
    #[arg(long, env = "BASOKA_DINAS_PHONE", default_value = "+6281100000001")]
    dinas_phone: String,
    /// The warehouse mobile: told by SMS of packages to ship and of low stock (demo number by default).
    #[arg(long, env = "BASOKA_GUDANG_PHONE", default_value = "+6281100000002")]
    gudang_phone: String,
    /// On first run, do not receive the opening stock of 50 packages.
    #[arg(long)]
    no_opening_stock: bool,
    /// SNS sender id for SMS (--backend aws).
    #[arg(long, env = "BASOKA_SMS_SENDER_ID")]
    sms_sender_id: Option<String>,
    #[command(flatten)]
    data: DataDirArg,
    #[command(flatten)]
    backend: BackendArgs,
}

/// The router of every function and the open routes, behind the local token check.
pub fn app(
    deps: Arc<Deps>,
    fulfil: Arc<FulfilDeps>,
    verifier: TokenVerifier,
    contacts: Option<Arc<ContactBook>>,
) -> Router {
    let requests: Router = submit_request::router().with_state(deps.clone()).into();
    let survey: Router = verify_survey::router().with_state(deps).into();
    let stock: Router = allocate_stock::router().with_state(fulfil).into();
    let mut router = basoka_web::with_fallbacks(
        requests
            .merge(survey)
            .merge(stock)
            .merge(basoka_web::meta::router(submit_request::api_document())),
    );
    if let Some(book) = contacts {
        // Inside the token check, which attaches the caller it notes.
        router = router.layer(axum::middleware::from_fn_with_state(
            book,
            basoka_lambda::http::remember_callers,
        ));
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            verifier,
            basoka_web::local_auth,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Everything the server and its consumers run on, for one backend.
struct Wired {
    deps: Arc<Deps>,
    fulfil: Arc<FulfilDeps>,
    outbox: Arc<dyn Outbox>,
    dead_letters: DeadLetters,
    allocate: Handler,
    notify: Handler,
    /// `notify` for a whole batch, where the backend has one (see [`delivery::Consumer`]).
    notify_batch: Option<BatchHandler>,
    /// Sends failed SMS again; how many went out.
    retry: Task,
    /// Looks at every item's stock (`allocate-stock`'s scheduled task); how many were looked at.
    low_stock_check: Task,
    contacts: Option<Arc<ContactBook>>,
    /// Where the SMS go, for the banner.
    sms: String,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// A periodic task of the runner: how many things it did, or why it failed.
type Task = Arc<dyn Fn() -> BoxFuture<Result<usize, String>> + Send + Sync>;

/// The request functions' clock: the system's, unless `BASOKA_TEST_FROZEN_CLOCK` holds an
/// RFC 3339 instant. That variable is a test seam, not a setting: the black-box tests use it
/// to create requests with equal timestamps, whose list order then rests on the id alone.
fn request_clock() -> Result<Arc<dyn Clock>, String> {
    match std::env::var("BASOKA_TEST_FROZEN_CLOCK") {
        Ok(at) if !at.trim().is_empty() => {
            let at = chrono::DateTime::parse_from_rfc3339(at.trim())
                .map_err(|e| format!("BASOKA_TEST_FROZEN_CLOCK is not an RFC 3339 time: {e}"))?;
            tracing::warn!(at = %at, "BASOKA_TEST_FROZEN_CLOCK: the request clock is frozen (tests only)");
            Ok(Arc::new(FrozenClock(at.with_timezone(&chrono::Utc))))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

/// How often the runner sweeps the notification log (failed SMS, claims whose sender
/// stopped): every 30 s, unless `BASOKA_TEST_SMS_RETRY_SECONDS` holds a whole number of
/// seconds. That variable is a test seam, not a setting: the black-box tests use it to see a
/// staff SMS go out soon after the staff member's number becomes known.
fn sms_retry_every() -> Result<std::time::Duration, String> {
    match std::env::var("BASOKA_TEST_SMS_RETRY_SECONDS") {
        Ok(n) if !n.trim().is_empty() => match n.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(std::time::Duration::from_secs(n)),
            _ => Err(format!(
                "BASOKA_TEST_SMS_RETRY_SECONDS is not a positive whole number of seconds: {n}"
            )),
        },
        _ => Ok(std::time::Duration::from_secs(30)),
    }
}

/// How often the runner looks at every item's stock for falls below the threshold that no
/// movement showed (lots passing their date); on AWS a daily schedule does it.
const LOW_STOCK_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The settings both backends share.
struct Settings {
    policy: Policy,
    notify: NotifyConfig,
}

fn wire_embedded(dir: &Path, settings: Settings) -> Result<Wired, String> {
    let store = EmbeddedStore::open(dir)
        .map_err(|e| format!("cannot open the store in {}: {e}", dir.display()))?;
    let shared_store = Arc::new(store.clone());
    let clock = request_clock()?;
    let deps = Arc::new(Deps {
        requests: shared_store.clone(),
        idempotency: shared_store.clone(),
        registry: shared_store.clone(),
        submit_reads: shared_store.clone(),
        clock: clock.clone(),
        ids: Arc::new(RandomIds),
        policy: settings.policy,
        catalog: Some(shared_store.clone()),
    });
    let fulfil = Arc::new(embedded_fulfil_deps(&store));
    let fulfil_check = fulfil.clone();
    let outbox_file = dir.join(SMS_OUTBOX);
    let notify_deps = Arc::new(NotifyDeps {
        requests: shared_store.clone(),
        directory: shared_store.clone(),
        log: shared_store.clone(),
        sender: Arc::new(FileSms::new(outbox_file.clone())),
        clock,
        config: settings.notify,
    });
    let allocate: Handler = {
        let fulfil = fulfil.clone();
        Arc::new(move |event| {
            let fulfil = fulfil.clone();
            Box::pin(async move { allocate_stock::handle_event(&fulfil, &event).await })
        })
    };
    let notify: Handler = {
        let nd = notify_deps.clone();
        Arc::new(move |event| {
            let nd = nd.clone();
            Box::pin(async move { notify::handle_event(&nd, &event).await.map(|_| ()) })
        })
    };
    let notify_batch: BatchHandler = {
        let nd = notify_deps.clone();
        Arc::new(move |events| {
            let nd = nd.clone();
            Box::pin(async move {
                notify::handle_events(&nd, &events)
                    .await
                    .into_iter()
                    .map(|answer| answer.map(|_| ()))
                    .collect()
            })
        })
    };
    let dead_letters: DeadLetters = {
        let store = store.clone();
        Arc::new(move |key, error| {
            let store = store.clone();
            Box::pin(async move {
                if let Err(e) = store.kv_set(&key, &error).await {
                    tracing::error!(error = %e, "cannot record the dead letter");
                }
            })
        })
    };
    Ok(Wired {
        deps,
        fulfil,
        outbox: shared_store,
        dead_letters,
        allocate,
        notify,
        notify_batch: Some(notify_batch),
        retry: Arc::new(move || {
            let nd = notify_deps.clone();
            Box::pin(async move { notify::retry_failed(&nd).await.map_err(|e| e.to_string()) })
        }),
        low_stock_check: Arc::new(move || {
            let fulfil = fulfil_check.clone();
            Box::pin(async move {
                shared::fulfilment::check_low_stock(&fulfil)
                    .await
                    .map_err(|e| e.to_string())
            })
        }),
        contacts: None,
        sms: outbox_file.display().to_string(),
    })
}

/// A consumer on AWS: the Lambda function's own entry point, handed the event as the SQS
/// message its queue would deliver there: the outbox insert's stream record, which the pipe
/// publishes as it is and the topic delivers raw (`basoka_aws::stream`).
/// A scheduled task on AWS: the Lambda function's own entry point, handed the invocation its
/// schedule sends (`{"basoka": task}`); the count is the answer's `count` member.
fn lambda_task(function: basoka_lambda::Function, task: &'static str, count: &'static str) -> Task {
    let function = Arc::new(function);
    Arc::new(move || {
        let function = function.clone();
        Box::pin(async move {
            let answer = function
                .handle(
                    serde_json::json!({ "basoka": task }),
                    lambda_runtime::Context::default(),
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(answer[count].as_u64().unwrap_or(0) as usize)
        })
    })
}

fn lambda_consumer(function: basoka_lambda::Function, table: String) -> Handler {
    let function = Arc::new(function);
    Arc::new(move |event: Event| {
        let function = function.clone();
        let table = table.clone();
        Box::pin(async move {
            let body = basoka_aws::outbox_insert_record(&event, &table)
                .map(|record| record.to_string())
                .map_err(|e| AppError::Unavailable(format!("cannot encode the event: {e}")))?;
            // One message per event: the event id serves as the message id.
            let batch = basoka_lambda::queue::sqs_batch(
                function.name(),
                [(event.id.as_str(), body.as_str())],
            );
            let answer = function
                .handle(batch, lambda_runtime::Context::default())
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
            if basoka_lambda::queue::failed_ids(&answer).is_empty() {
                Ok(())
            } else {
                Err(AppError::Unavailable(format!(
                    "{} reported the event as failed",
                    function.name()
                )))
            }
        })
    })
}

async fn wire_aws(
    dir: &Path,
    backend: &BackendArgs,
    sms_sender_id: Option<&str>,
    settings: Settings,
) -> Result<Wired, String> {
    let mut config = backend.store.aws_config(dir)?;
    if let Some(id) = sms_sender_id.map(str::trim).filter(|s| !s.is_empty()) {
        config.sms_sender_id = Some(id.to_string());
        config.validate().map_err(|e| e.to_string())?;
    }
    let adapters = crate::backend::connect(config, backend.create_table).await?;
    let deps = Arc::new(adapters.request_deps(settings.policy));
    let fulfil = Arc::new(adapters.fulfil_deps());
    let table = adapters.store.table().to_string();
    let allocate_fn = allocate_stock::lambda::function(&adapters);
    let notify_fn = notify::lambda::function(&adapters, settings.notify);
    let retry = lambda_task(
        notify_fn.clone(),
        notify::lambda::RETRY_TASK,
        "retried_and_sent",
    );
    let low_stock_check = lambda_task(
        allocate_fn.clone(),
        allocate_stock::lambda::LOW_STOCK_TASK,
        "items_checked",
    );
    let allocate = lambda_consumer(allocate_fn, table.clone());
    let notify = lambda_consumer(notify_fn, table);
    Ok(Wired {
        deps,
        fulfil,
        outbox: Arc::new(adapters.store.clone()),
        dead_letters: Arc::new(|key, error| {
            Box::pin(async move {
                tracing::error!(dead_letter = %key, error = %error, "event set aside after repeated failures");
            })
        }),
        allocate,
        notify,
        // Each event goes through the Lambda entry point as its own SQS message.
        notify_batch: None,
        retry,
        low_stock_check,
        contacts: Some(ContactBook::new(adapters.store.clone())),
        sms: format!(
            "SNS{}",
            backend
                .store
                .endpoint_url
                .as_deref()
                .map(|u| format!(" at {u} (moto: GET {u}/moto-api/data.json, under sns.SMS)"))
                .unwrap_or_default()
        ),
    })
}

pub fn run(args: ServeArgs) -> Result<ExitCode, String> {
    let dir = args.data.resolve();
    let phone = |flag: &str, raw: &str| {
        Phone::parse(raw).map_err(|e| format!("{flag} {raw}: {}", e.message.en))
    };
    let settings = Settings {
        policy: Policy {
            target_max_desil: args.target_max_desil,
            cooldown_days: args.cooldown_days,
        },
        notify: NotifyConfig {
            dinas_duty: Some(phone("--dinas-phone", &args.dinas_phone)?),
            gudang: Some(phone("--gudang-phone", &args.gudang_phone)?),
            max_attempts: 5,
        },
    };
    // The port first: a port in use must stop the start before anything is created, seeded
    // or delivered.
    let retry_every = sms_retry_every()?;
    let listener = std::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| listen_error(&args, &e))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(basoka_embedded::blocking_threads())
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    datadir::prepare(&dir)?;
    let secret = datadir::token_secret(&dir)?;
    let verifier = TokenVerifier::new(&secret).map_err(|e| e.to_string())?;
    let wired = match args.backend.store.backend {
        Backend::Embedded => wire_embedded(&dir, settings)?,
        Backend::Aws => rt.block_on(wire_aws(
            &dir,
            &args.backend,
            args.sms_sender_id.as_deref(),
            settings,
        ))?,
    };
    rt.block_on(seed::run(&wired.fulfil, !args.no_opening_stock))?;
    let app = app(
        wired.deps.clone(),
        wired.fulfil.clone(),
        verifier,
        wired.contacts.clone(),
    );
    let where_data = args.backend.describe(&dir);
    let store_flags = args.backend.store.flags();
    rt.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mode = DeliveryMode::from_env();
        if mode.enabled {
            let consumers = [
                // One by one: allocations follow the order of approvals.
                Consumer {
                    name: "allocate-stock",
                    handler: wired.allocate.clone(),
                    batch: None,
                },
                Consumer {
                    name: "notify",
                    handler: wired.notify.clone(),
                    batch: wired.notify_batch.clone(),
                },
            ];
            for consumer in consumers {
                tasks.push(tokio::spawn(delivery::run_consumer(
                    wired.outbox.clone(),
                    wired.dead_letters.clone(),
                    consumer,
                    mode.repeat,
                    stop_rx.clone(),
                )));
            }
        } else {
            tracing::warn!(
                "BASOKA_DELIVERY=off: events stay in the outbox until a run with delivery"
            );
        }
        {
            let retry = wired.retry.clone();
            let mut stop = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(retry_every) => {},
                        _ = stop.changed() => break,
                    }
                    match retry().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(sent = n, "failed SMS sent on retry"),
                        Err(e) => tracing::warn!(error = %e, "SMS retry sweep failed"),
                    }
                }
            }));
        }
        {
            // At start (stock may have expired while the runner was stopped), then hourly.
            let check = wired.low_stock_check.clone();
            let mut stop = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    if let Err(e) = check().await {
                        tracing::warn!(error = %e, "low-stock check failed");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(LOW_STOCK_CHECK_EVERY) => {},
                        _ = stop.changed() => break,
                    }
                }
            }));
        }
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|e| listen_error(&args, &e))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        print_banner(&Banner {
            addr,
            dir: &dir,
            data: &where_data,
            sms: &wired.sms,
            store_flags: &store_flags,
            dinas_phone: &args.dinas_phone,
            gudang_phone: &args.gudang_phone,
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server failed: {e}"));
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Why `serve` could not listen, and what to do about a port that is taken.
fn listen_error(args: &ServeArgs, e: &std::io::Error) -> String {
    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
        " (another program uses this port: start with --port N, or --port 0 for a free one)"
    } else {
        ""
    };
    format!("cannot listen on {}:{}: {e}{hint}", args.host, args.port)
}

/// What the start-up banner tells.
struct Banner<'a> {
    addr: SocketAddr,
    dir: &'a Path,
    data: &'a str,
    sms: &'a str,
    /// The flags that reach the same store (`--backend aws …`), for the token commands.
    store_flags: &'a [String],
    dinas_phone: &'a str,
    gudang_phone: &'a str,
}

/// Demo mobile numbers for the banner's tokens: following the banner, the kelurahan staff and
/// the surveyor get their SMS in the outbox.
const DEMO_KELURAHAN_PHONE: &str = "081211110001";
const DEMO_SURVEYOR_PHONE: &str = "081211110002";

fn print_banner(b: &Banner<'_>) {
    let url = format!("http://{}", b.addr);
    // The first line is read by scripts and tests: keep its shape.
    println!("BASOKA listening on {url}");
    println!("  data:        {}", b.data);
    println!("  health:      {url}/v1/health");
    println!("  API spec:    {url}/v1/openapi.json");
    println!("  SMS:         {}", b.sms);
    println!(
        "  office SMS:  Dinas {}, Gudang {} (--dinas-phone, --gudang-phone)",
        b.dinas_phone, b.gudang_phone
    );
    println!("Tokens for each role (same data folder; --phone is where that user's SMS go):");
    let mut common = vec![
        "token".to_string(),
        "--data-dir".into(),
        shell_word(&b.dir.display().to_string()),
    ];
    common.extend(b.store_flags.iter().map(|f| shell_word(f)));
    let prefix = format!("{} {}", command_prefix(), common.join(" "));
    for role in [
        format!("--role kelurahan --kelurahan 32.75.01.1001 --phone {DEMO_KELURAHAN_PHONE}"),
        format!("--role surveyor --sub surveyor-1 --phone {DEMO_SURVEYOR_PHONE}"),
        "--role dinas".to_string(),
        "--role gudang".to_string(),
    ] {
        println!("  {prefix} {role}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// How to run this very `basoka` from a shell: `cargo run -q -p basoka-cli --` when cargo
/// started it (cargo sets `CARGO_PKG_NAME` for the program it runs), `basoka` when that name
/// on `PATH` is this program, else its full path.
fn command_prefix() -> String {
    if std::env::var("CARGO_PKG_NAME").as_deref() == Ok(env!("CARGO_PKG_NAME")) {
        return format!("cargo run -q -p {} --", env!("CARGO_PKG_NAME"));
    }
    let Ok(exe) = std::env::current_exe().and_then(|e| e.canonicalize()) else {
        return "basoka".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            d.join(format!("basoka{}", std::env::consts::EXE_SUFFIX))
                .canonicalize()
                .is_ok_and(|p| p == exe)
        })
    });
    if on_path {
        "basoka".into()
    } else {
        shell_word(&exe.display().to_string())
    }
}

/// `word` as one shell word: as it is when it needs no quoting, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@=,%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word(".basoka"), ".basoka");
        assert_eq!(shell_word("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
