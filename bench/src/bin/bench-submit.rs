//! `bench-submit`: the submit path (`POST /v1/requests` of a real `basoka serve`) against a
//! bare axum endpoint on the same machine, with the same load generator, body and headers.
//!
//! Target (from the issues): at least a quarter of the bare endpoint's throughput with 50
//! concurrent clients, and p99 ≤ 10 ms, with every submission a real 201.
//!
//! ```text
//! cargo run --release -p basoka-bench --bin bench-submit -- [--clients 50] [--duration 10]
//! ```
//!
//! Both servers run as their own processes (the bare one is this binary started again with
//! `--bare-server`), each on tokio's default multi-thread runtime, on 127.0.0.1 with a port
//! the OS picks. `basoka serve` gets a fresh temporary data folder, so its first run seeds
//! the catalogue and opening stock, and its event delivery (notify, allocate-stock) runs as it
//! does for real. Every submission carries a household no other request has (see
//! `basoka_bench::households`) and, unless `--no-idempotency-key`, its own `Idempotency-Key`,
//! so every answer should be a 201; anything else is counted and printed.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use basoka_bench::households::{self, KELURAHAN};
use basoka_bench::load::{self, LoadConfig, LoadReport, MakeRequest};
use basoka_bench::stats::ms;
use basoka_bench::sys;
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::Request;
use serde_json::{Value, json};

/// Target: basoka's throughput at least this share of the bare endpoint's.
const TARGET_RATIO: f64 = 0.25;
/// Target: basoka's p99 at most this.
const TARGET_P99: Duration = Duration::from_millis(10);

#[derive(Parser, Debug)]
#[command(about = "Submit path of basoka serve against a bare axum endpoint")]
struct Args {
    /// Concurrent keep-alive HTTP/1.1 clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Measured seconds per target.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of unmeasured warm-up before each window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Hard cap on requests per target, warm-up included.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Per-request timeout in milliseconds (counted as an error).
    #[arg(long, default_value_t = 5_000)]
    timeout_ms: u64,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// The basoka binary (default: `basoka` next to this binary, built if missing).
    #[arg(long)]
    basoka: Option<PathBuf>,
    /// Run `cargo build --release -p basoka-cli` first even if the binary exists.
    #[arg(long)]
    build: bool,
    /// Send no `Idempotency-Key` header (skips the key's lookup and row).
    #[arg(long)]
    no_idempotency_key: bool,
    /// Extra environment for `basoka serve`, e.g. `--serve-env BASOKA_DELIVERY=off`.
    #[arg(long = "serve-env", value_name = "KEY=VALUE")]
    serve_env: Vec<String>,
    /// Measure only one target: `bare` or `basoka`.
    #[arg(long)]
    only: Option<String>,
    /// Keep basoka's temporary data folder (its path is printed).
    #[arg(long)]
    keep_data: bool,
    /// Internal: run the bare endpoint and print its URL.
    #[arg(long, hide = true)]
    bare_server: bool,
}

/// mimalloc instead of the system allocator: the same allocator as `basoka serve`, so that the bare endpoint
/// it is compared with runs on it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.bare_server {
        return bare_server();
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench-submit: {e}");
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bare endpoint
// ---------------------------------------------------------------------------------------------

/// `POST /v1/requests` that parses the same JSON body and answers 201 with a small JSON: what
/// axum + hyper + serde cost on this machine, with no auth, validation or store.
async fn bare_submit(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let nik_len = body
        .pointer("/household/head_nik")
        .and_then(Value::as_str)
        .map_or(0, str::len);
    (
        StatusCode::CREATED,
        Json(json!({"id": "bare", "status": "submitted", "nik_len": nik_len})),
    )
}

fn bare_server() -> ExitCode {
    // The same runtime `basoka serve` builds: multi-thread, default worker count.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let app = axum::Router::new().route("/v1/requests", axum::routing::post(bare_submit));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        println!("BARE listening on http://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, app).await.expect("serve");
    });
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A server process this benchmark started; stopped (SIGTERM, then SIGKILL) when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `cmd` and waits for its first stdout line, `<anything> listening on http://ADDR`.
    fn start(mut cmd: Command, what: &str) -> Result<Server, String> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{what} printed no `listening on` line ({other:?}); see its stderr above"
                ));
            }
        };
        let url = line
            .split_once(" listening on ")
            .map(|(_, u)| u.trim().to_string())
            .ok_or_else(|| format!("{what}: unexpected first line {line:?}"))?;
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("{what}: cannot read the address in {url:?}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("{what} listens on {addr}, not on loopback"));
        }
        Ok(Server { child, addr })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child, by its id: a graceful stop first.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is inside the workspace")
        .to_path_buf()
}

/// The basoka binary: given, or `basoka` next to this binary (the same target dir and
/// profile), built with cargo when missing or when asked.
fn basoka_binary(args: &Args) -> Result<PathBuf, String> {
    if let Some(p) = &args.basoka {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe
        .parent()
        .ok_or("no folder around this binary")?
        .join("basoka");
    if args.build || !path.exists() {
        println!("building basoka: cargo build --release -p basoka-cli");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "basoka-cli"])
            .current_dir(workspace_root())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("cargo build --release -p basoka-cli failed".into());
        }
    }
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()));
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// The runs
// ---------------------------------------------------------------------------------------------

struct Measured {
    report: LoadReport,
    server_cpu: Option<Duration>,
    client_cpu: Option<Duration>,
}

/// The requests both targets get: same path, headers and body shape; request `n` is for
/// household `n + 1`, and `n = u64::MAX` (household 0) is the smoke check's.
fn requests(addr: SocketAddr, token: Arc<str>, idempotency: bool, run: u64) -> MakeRequest {
    let host: Arc<str> = addr.to_string().into();
    Arc::new(move |n: u64| {
        let mut b = Request::post("/v1/requests")
            .header("host", &*host)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"));
        if idempotency {
            b = b.header("idempotency-key", format!("bench-{run}-{n}"));
        }
        b.body(Full::new(Bytes::from(households::submit_body_bytes(
            n.wrapping_add(1),
        ))))
        .expect("a valid request")
    })
}

fn measure(
    rt: &tokio::runtime::Runtime,
    server: &Server,
    config: LoadConfig,
    make: MakeRequest,
) -> Result<Measured, String> {
    // Smoke check: one request must get the expected status before the load starts.
    let (status, body) = rt.block_on(load::one(server.addr, make(u64::MAX), config.timeout))?;
    if status != config.expect {
        return Err(format!(
            "smoke request got {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let server_before = sys::process_cpu(server.pid());
    let client_before = sys::own_cpu();
    let report = rt.block_on(load::run(server.addr, config, make));
    let server_cpu = server_before
        .zip(sys::process_cpu(server.pid()))
        .map(|(a, b)| b.saturating_sub(a));
    let client_cpu = client_before
        .zip(sys::own_cpu())
        .map(|(a, b)| b.saturating_sub(a));
    Ok(Measured {
        report,
        server_cpu,
        client_cpu,
    })
}

fn print_run(name: &str, m: &Measured) {
    let r = &m.report;
    let l = &r.latency;
    println!("{name}");
    println!(
        "  throughput     {:>10.0} req/s  ({} answers in {:.2} s; {} sent incl. warm-up)",
        r.throughput(),
        r.ok,
        r.elapsed.as_secs_f64(),
        r.sent
    );
    println!(
        "  latency ms     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max),
        ms(l.mean)
    );
    let total = r.sent.max(1) as f64;
    if let Some(cpu) = m.server_cpu {
        println!(
            "  server CPU     {:.2} s  ({:.0} µs per request sent)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / total
        );
    }
    if let Some(cpu) = m.client_cpu {
        println!(
            "  client CPU     {:.2} s  ({:.0} µs per request sent)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / total
        );
    }
    if r.errors.is_empty() {
        println!("  errors         0");
    } else {
        println!("  errors         {}", r.error_count());
        for (kind, n) in &r.errors {
            println!("    {n:>8}  {kind}");
        }
        for s in &r.error_samples {
            println!("    e.g. {s}");
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    if args.clients == 0 || args.duration <= 0.0 || args.warmup < 0.0 {
        return Err("--clients and --duration must be positive".into());
    }
    let config = LoadConfig {
        clients: args.clients,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
        max_requests: args.max_requests,
        timeout: Duration::from_millis(args.timeout_ms),
        expect: StatusCode::CREATED,
    };
    let want = |t: &str| args.only.as_deref().is_none_or(|o| o == t);
    if let Some(o) = &args.only
        && o != "bare"
        && o != "basoka"
    {
        return Err("--only is `bare` or `basoka`".into());
    }
    let basoka = if want("basoka") {
        Some(basoka_binary(args)?)
    } else {
        None
    };

    println!("bench-submit — POST /v1/requests, basoka serve vs bare axum");
    println!(
        "  machine: {} cores ({}), load average {} at start, {}",
        sys::cores(),
        sys::cpu_model(),
        sys::loadavg(),
        sys::now()
    );
    println!(
        "  {} clients (keep-alive HTTP/1.1, one request in flight each), {:.0} s warm-up + {:.0} s measured per target, load generator on {} threads, idempotency key: {}",
        args.clients,
        args.warmup,
        args.duration,
        args.client_threads,
        if args.no_idempotency_key { "no" } else { "yes" }
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let run_id = std::process::id() as u64;
    let idem = !args.no_idempotency_key;

    let mut bare_result = None;
    if want("bare") {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("--bare-server");
        let server = Server::start(cmd, "the bare endpoint")?;
        // The same Authorization header as for basoka (the bare endpoint ignores it).
        let make = requests(server.addr, "bare".into(), idem, run_id);
        let m = measure(&rt, &server, config, make)?;
        drop(server);
        print_run("\nbare axum endpoint", &m);
        println!("  load average {} after", sys::loadavg());
        bare_result = Some(m);
    }

    let mut basoka_result = None;
    if let Some(bin) = basoka {
        let tmp = tempfile::Builder::new()
            .prefix("basoka-bench-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = tmp.path().join("data");
        let log_path = tmp.path().join("serve.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--port", "0", "--host", "127.0.0.1", "--data-dir"])
            .arg(&data)
            .stderr(log)
            .env_remove("BASOKA_PORT")
            .env_remove("BASOKA_JWT_SECRET");
        for kv in &args.serve_env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("--serve-env {kv}: expected KEY=VALUE"))?;
            cmd.env(k, v);
        }
        println!(
            "\nbasoka: {} serve --data-dir {}",
            bin.display(),
            data.display()
        );
        let server = Server::start(cmd, "basoka serve").inspect_err(|_| {
            if let Ok(s) = std::fs::read_to_string(&log_path) {
                eprintln!("{s}");
            }
        })?;
        let out = Command::new(&bin)
            .args([
                "token",
                "--role",
                "kelurahan",
                "--kelurahan",
                KELURAHAN,
                "--data-dir",
            ])
            .arg(&data)
            .env_remove("BASOKA_JWT_SECRET")
            .output()
            .map_err(|e| format!("basoka token: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "basoka token failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let token: Arc<str> = String::from_utf8_lossy(&out.stdout).trim().into();
        let make = requests(server.addr, token, idem, run_id);
        let m = measure(&rt, &server, config, make);
        drop(server);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let warnings: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect();
        if args.keep_data {
            let kept = tmp.keep();
            println!("  data folder kept: {}", kept.display());
        }
        let m = m?;
        print_run("\nbasoka serve (real submit path, embedded store)", &m);
        println!("  load average {} after", sys::loadavg());
        if !warnings.is_empty() {
            println!("  server log: {} warning/error lines, e.g.", warnings.len());
            for w in warnings.iter().take(3) {
                println!("    {w}");
            }
        }
        basoka_result = Some(m);
    }

    let mut pass = true;
    println!("\nresult");
    if let Some(b) = &basoka_result {
        let p99 = b.report.latency.p99;
        let p99_ok = p99 <= TARGET_P99;
        let errors_ok = b.report.error_count() == 0 && b.report.ok > 0;
        println!(
            "  basoka p99 {} ms (target ≤ {} ms): {}",
            ms(p99),
            TARGET_P99.as_millis(),
            verdict(p99_ok)
        );
        println!(
            "  basoka answers all 201: {}",
            if errors_ok {
                "PASS".to_string()
            } else {
                format!("FAIL ({} not 201)", b.report.error_count())
            }
        );
        pass &= p99_ok && errors_ok;
        if let Some(a) = &bare_result {
            let ratio = b.report.throughput() / a.report.throughput().max(1e-9);
            let ratio_ok = ratio >= TARGET_RATIO;
            println!(
                "  throughput ratio basoka / bare = {:.0} / {:.0} = {:.3} (target ≥ {TARGET_RATIO}): {}",
                b.report.throughput(),
                a.report.throughput(),
                ratio,
                verdict(ratio_ok)
            );
            pass &= ratio_ok;
        } else {
            println!("  throughput ratio: not measured (--only basoka)");
        }
        println!("  overall: {}", verdict(pass));
    } else {
        println!("  basoka not measured (--only bare)");
    }
    Ok(pass)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}
