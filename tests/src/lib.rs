//! Black-box test harness for BASOKA: runs the real `basoka` binary as a separate process and
//! talks HTTP to it, the way a kelurahan app, the Dinas console or a script would.
//!
//! * [`Server::start`] spawns `basoka serve --port 0 --data-dir <tempdir>`, reads the
//!   `BASOKA listening on http://127.0.0.1:PORT` line for the URL, keeps draining stdout and
//!   stderr in background threads (so the pipes never fill) and waits for `/v1/health` to
//!   answer 200. [`Server::kill`] sends SIGKILL, [`Server::restart`] starts again on the same
//!   data folder, and dropping the server kills it.
//! * [`Server::token`] runs `basoka token` against the same data folder; [`Server::token_args`]
//!   passes any other flags (e.g. `--phone`, which also records the user's mobile number in
//!   the data folder's directory).
//! * [`Server::start_with`] / [`Server::restart_with`] start with [`ServeOptions`]: extra
//!   environment variables (`BASOKA_DELIVERY=off`, `BASOKA_DELIVERY_REPEAT=2`…) and extra
//!   `serve` flags (`--no-opening-stock`, `--dinas-phone`…).
//! * [`Server::sms_outbox`] reads the local SMS outbox (`<data dir>/sms-outbox.jsonl`) and
//!   [`Server::wait_for_sms`] polls it; [`Server::read_data_file`] reads any file of the data
//!   folder.
//! * The [`fulfil`] module drives the fulfilment side: stock, ledger, receipts, shipments and
//!   the journey steps up to `surveyed`/`approved`.
//! * The binary is `BASOKA_BIN` when set, else built once per test process with
//!   `cargo build -p basoka-cli --bin basoka` (honouring `CARGO` and `CARGO_TARGET_DIR`).
//! * [`submit_body`] builds a valid `POST /v1/requests` body with a NIK and KK no other call
//!   in this process has used; [`Resp`] holds a response's status, content type, raw text and
//!   JSON so tests can check both the document and what it must never contain.
//!
//! Every wait is bounded: a process that does not start, a command that does not end or an
//! HTTP call that does not answer fails the test with a message saying what it waited for.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub use serde_json::{Value, json};
pub use tempfile::TempDir;

pub mod fulfil;

/// Bekasijaya, Bekasi Timur.
pub const KEL_A: &str = "32.75.01.1001";
/// Margahayu, Bekasi Timur.
pub const KEL_B: &str = "32.75.01.1002";

/// How long a server may take to print its URL and answer `/v1/health`.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long `basoka token` or `basoka registry import` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long building the binary may take (2 cores, shared with others).
const BUILD_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long one HTTP call may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The local SMS outbox in the data folder: one JSON line per SMS.
pub const SMS_OUTBOX: &str = "sms-outbox.jsonl";

/// The environment variables `basoka` reads; cleared so the caller's shell cannot change
/// what a test sees (a shared `BASOKA_JWT_SECRET` would make every data folder accept every
/// token).
const BASOKA_ENV: [&str; 17] = [
    "BASOKA_JWT_SECRET",
    "BASOKA_DATA_DIR",
    "BASOKA_PORT",
    "BASOKA_HOST",
    "BASOKA_TARGET_MAX_DESIL",
    "BASOKA_COOLDOWN_DAYS",
    "BASOKA_LOG",
    "BASOKA_DELIVERY",
    "BASOKA_DELIVERY_REPEAT",
    "BASOKA_DINAS_PHONE",
    "BASOKA_GUDANG_PHONE",
    "BASOKA_BACKEND",
    "BASOKA_TABLE",
    "BASOKA_HASH_KEY",
    "BASOKA_SMS_SENDER_ID",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
];

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// A file shipped in `tests/data`.
pub fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// The `basoka` binary: `BASOKA_BIN`, or built once per test process.
pub fn basoka_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("BASOKA_BIN") {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "BASOKA_BIN={} is not a file",
                p.to_string_lossy()
            );
            return p;
        }
        let root = workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root)
            .args(["build", "-p", "basoka-cli", "--bin", "basoka"]);
        let out = run_command(cmd, BUILD_TIMEOUT, "cargo build -p basoka-cli --bin basoka");
        assert!(
            out.status.success(),
            "cargo build -p basoka-cli --bin basoka failed ({}):\n{}",
            out.status,
            out.stderr
        );
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) => {
                let t = PathBuf::from(t);
                if t.is_absolute() { t } else { root.join(t) }
            }
            None => root.join("target"),
        };
        let bin = target
            .join("debug")
            .join(format!("basoka{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.is_file(),
            "built basoka-cli but {} does not exist",
            bin.display()
        );
        bin
    })
}

/// A `basoka` command with the BASOKA_* environment cleared.
pub fn basoka_command() -> Command {
    let mut cmd = Command::new(basoka_bin());
    for var in BASOKA_ENV {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// What a finished command printed.
#[derive(Debug)]
pub struct CmdOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    /// The exit code; panics when the process died from a signal.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("process ended by a signal: {}", self.status))
    }
}

fn drain<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `cmd` to its end, at most `timeout`; both pipes are drained while it runs.
pub fn run_command(mut cmd: Command, timeout: Duration, what: &str) -> CmdOutput {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what} did not finish within {}s; stderr so far:\n{}",
                    timeout.as_secs(),
                    err.join().unwrap_or_default()
                );
            }
            Ok(None) => thread::sleep(Duration::from_millis(25)),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    };
    CmdOutput {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `basoka token --role ROLE [--kelurahan K] [--sub S] --data-dir DIR`, trimmed stdout.
pub fn token_for_dir(dir: &Path, role: &str, kelurahan: Option<&str>, sub: Option<&str>) -> String {
    let mut args = vec!["--role", role];
    if let Some(k) = kelurahan {
        args.extend(["--kelurahan", k]);
    }
    if let Some(s) = sub {
        args.extend(["--sub", s]);
    }
    token_args_for_dir(dir, &args)
}

/// `basoka token ARGS… --data-dir DIR`, trimmed stdout.
pub fn token_args_for_dir(dir: &Path, args: &[&str]) -> String {
    let mut cmd = basoka_command();
    cmd.arg("token").args(args);
    cmd.arg("--data-dir").arg(dir);
    let out = run_command(cmd, COMMAND_TIMEOUT, "basoka token");
    assert!(
        out.status.success(),
        "basoka token {} failed ({}): {}",
        args.join(" "),
        out.status,
        out.stderr
    );
    let token = out.stdout.trim().to_string();
    assert!(!token.is_empty(), "basoka token printed nothing");
    token
}

/// Extra settings for `basoka serve`: environment variables and flags.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

impl ServeOptions {
    /// No extra settings.
    pub fn new() -> ServeOptions {
        ServeOptions::default()
    }

    /// Adds the environment variable `key=value`.
    pub fn env(mut self, key: &str, value: &str) -> ServeOptions {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds `serve` flags, e.g. `["--dinas-phone", "+6281311110001"]`.
    pub fn args(mut self, args: &[&str]) -> ServeOptions {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }
}

/// One SMS of the local outbox: `{"id","to","text","sent_at","sent_at_wib"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sms {
    pub id: String,
    /// E.164.
    pub to: String,
    pub text: String,
    pub sent_at: String,
    pub sent_at_wib: String,
    /// The whole line as parsed.
    pub raw: Value,
}

/// `basoka registry import FILE --data-dir DIR`.
pub fn import_registry(dir: &Path, file: &Path) -> CmdOutput {
    let mut cmd = basoka_command();
    cmd.args(["registry", "import"])
        .arg(file)
        .arg("--data-dir")
        .arg(dir);
    run_command(cmd, COMMAND_TIMEOUT, "basoka registry import")
}

type Lines = Arc<Mutex<Vec<String>>>;

/// A running `basoka serve` on its own data folder.
pub struct Server {
    dir: TempDir,
    options: ServeOptions,
    child: Option<Child>,
    base: String,
    first_line: String,
    stdout: Lines,
    stderr: Lines,
    client: reqwest::Client,
}

impl Server {
    /// A server on a fresh, empty data folder.
    pub fn start() -> Server {
        Server::start_in(tempfile::tempdir().expect("a temporary data folder"))
    }

    /// A server on `dir`, e.g. after importing a registry into it.
    pub fn start_in(dir: TempDir) -> Server {
        Server::start_in_with(dir, ServeOptions::new())
    }

    /// A server on a fresh, empty data folder, with extra environment and flags.
    pub fn start_with(options: ServeOptions) -> Server {
        Server::start_in_with(
            tempfile::tempdir().expect("a temporary data folder"),
            options,
        )
    }

    /// A server on `dir` with extra environment and flags.
    pub fn start_in_with(dir: TempDir, options: ServeOptions) -> Server {
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .no_proxy()
            .build()
            .expect("an HTTP client");
        let mut server = Server {
            dir,
            options,
            child: None,
            base: String::new(),
            first_line: String::new(),
            stdout: Arc::default(),
            stderr: Arc::default(),
            client,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut cmd = basoka_command();
        cmd.args(["serve", "--port", "0", "--data-dir"])
            .arg(self.dir.path())
            .args(&self.options.args);
        for (k, v) in &self.options.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start basoka serve: {e}"));

        let (tx, rx) = mpsc::channel::<String>();
        let out = child.stdout.take().expect("piped stdout");
        let log = self.stdout.clone();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                log.lock().expect("stdout log").push(line.clone());
                // The receiver goes away once the URL is known; keep draining anyway.
                let _ = tx.send(line);
            }
        });
        let err = child.stderr.take().expect("piped stderr");
        let log = self.stderr.clone();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                log.lock().expect("stderr log").push(line);
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let mut first = None;
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if first.is_none() {
                        first = Some(line.clone());
                    }
                    if let Some(url) = line.strip_prefix("BASOKA listening on ") {
                        break url.trim().to_string();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "basoka serve printed no `BASOKA listening on` line within {}s\nstderr:\n{}",
                        START_TIMEOUT.as_secs(),
                        self.stderr_text()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    thread::sleep(Duration::from_millis(100));
                    panic!(
                        "basoka serve ended ({status:?}) before printing its URL\nstdout:\n{}\nstderr:\n{}",
                        self.stdout_text(),
                        self.stderr_text()
                    );
                }
            }
        };
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("cannot read an address from `{url}`"));

        // Wait for /v1/health to answer 200.
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "basoka serve ended ({status}) before /v1/health answered\nstderr:\n{}",
                    self.stderr_text()
                );
            }
            if health_status(addr) == Some(200) {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{url}/v1/health did not answer 200 within {}s\nstderr:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.stderr_text()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
        self.base = url;
        self.first_line = first.unwrap_or_default();
        self.child = Some(child);
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `base_url()` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The first line the last start printed on stdout.
    pub fn first_stdout_line(&self) -> &str {
        &self.first_line
    }

    /// Everything the server printed on stdout so far (all runs).
    pub fn stdout_text(&self) -> String {
        self.stdout.lock().expect("stdout log").join("\n")
    }

    /// Everything the server printed on stderr so far (all runs).
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("stderr log").join("\n")
    }

    /// SIGKILL: no graceful shutdown, no flushing; what is committed must survive.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same data folder (killing the running process first).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts again on the same data folder with other settings (killing the running process
    /// first), e.g. with event delivery on again.
    pub fn restart_with(&mut self, options: ServeOptions) {
        self.kill();
        self.options = options;
        self.spawn();
    }

    /// A file of the data folder, if it exists.
    pub fn read_data_file(&self, name: &str) -> Option<String> {
        match std::fs::read(self.dir.path().join(name)) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("cannot read {name} in the data folder: {e}"),
        }
    }

    /// Every SMS in the local outbox `sms-outbox.jsonl`, oldest first (none when the file
    /// does not exist yet). A last line without its newline is still being written and is
    /// left out; any other line that is not the documented JSON fails the test.
    pub fn sms_outbox(&self) -> Vec<Sms> {
        let Some(text) = self.read_data_file(SMS_OUTBOX) else {
            return Vec::new();
        };
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let raw: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{SMS_OUTBOX}: a line that is not JSON ({e}): {line}")
                });
                let field = |k: &str| {
                    raw[k]
                        .as_str()
                        .unwrap_or_else(|| panic!("{SMS_OUTBOX}: no string `{k}` in {line}"))
                        .to_string()
                };
                Sms {
                    id: field("id"),
                    to: field("to"),
                    text: field("text"),
                    sent_at: field("sent_at"),
                    sent_at_wib: field("sent_at_wib"),
                    raw: raw.clone(),
                }
            })
            .collect()
    }

    /// Polls the SMS outbox until `done` holds for it (at most `timeout`) and returns it;
    /// fails the test saying `what` was awaited and what the outbox held.
    pub async fn wait_for_sms(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Sms]) -> bool,
    ) -> Vec<Sms> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.sms_outbox();
            if done(&all) {
                return all;
            }
            if Instant::now() >= deadline {
                let listing: Vec<String> =
                    all.iter().map(|m| format!("{} {}", m.to, m.text)).collect();
                panic!(
                    "waited {}s for {what}; the SMS outbox holds {} SMS:\n{}\nserver stderr (tail):\n{}",
                    timeout.as_secs(),
                    all.len(),
                    listing.join("\n"),
                    self.stderr_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last `n` lines the server printed on stderr.
    pub fn stderr_tail(&self, n: usize) -> String {
        let lines = self.stderr.lock().expect("stderr log");
        let from = lines.len().saturating_sub(n);
        lines[from..].join("\n")
    }

    /// A token from `basoka token` for this data folder.
    pub fn token(&self, role: &str, kelurahan: Option<&str>, sub: Option<&str>) -> String {
        token_for_dir(self.dir.path(), role, kelurahan, sub)
    }

    /// `basoka token ARGS…` for this data folder, e.g.
    /// `["--role", "surveyor", "--sub", "surveyor-1", "--phone", "081355550001"]`.
    pub fn token_args(&self, args: &[&str]) -> String {
        token_args_for_dir(self.dir.path(), args)
    }

    /// Kelurahan staff of `code`.
    pub fn kelurahan_token(&self, code: &str) -> String {
        self.token("kelurahan", Some(code), None)
    }

    /// A Dinas officer.
    pub fn dinas_token(&self) -> String {
        self.token("dinas", None, None)
    }

    /// A surveyor whose `sub` is `sub`.
    pub fn surveyor_token(&self, sub: &str) -> String {
        self.token("surveyor", None, Some(sub))
    }

    /// Warehouse staff.
    pub fn gudang_token(&self) -> String {
        self.token("gudang", None, None)
    }

    /// The HTTP client (30 s timeout per call).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res.text().await.expect("a readable body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            content_type,
            headers,
            text,
            json,
        }
    }

    fn with_token(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `GET path` with an optional bearer token.
    pub async fn get_resp(&self, path: &str, token: Option<&str>) -> Resp {
        self.send(Server::with_token(self.client.get(self.url(path)), token))
            .await
    }

    /// `POST path` with a JSON body and an optional bearer token.
    pub async fn post_resp(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.send(Server::with_token(self.client.post(self.url(path)), token).json(body))
            .await
    }

    /// `GET path` → (status, JSON).
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self.get_resp(path, Some(token)).await;
        (r.status, r.json)
    }

    /// `POST path` with a JSON body → (status, JSON).
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let r = self.post_resp(path, Some(token), body).await;
        (r.status, r.json)
    }

    /// Submits `body` as kelurahan staff and expects 201; returns the request.
    pub async fn submit_ok(&self, token: &str, body: &Value) -> Value {
        let r = self.post_resp("/v1/requests", Some(token), body).await;
        assert_eq!(r.status, 201, "submit should be 201, got: {}", r.text);
        r.json
    }

    /// Every item of `GET /v1/requests?query`, following `next_cursor` (at most 100 pages).
    pub async fn list_all(&self, token: &str, query: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut path = format!("/v1/requests?{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", encode_query(c)));
            }
            let (status, page) = self.get(&path, token).await;
            assert_eq!(status, 200, "list {path}: {page}");
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
        panic!("more than 100 pages for /v1/requests?{query}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    /// The body as received.
    pub text: String,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Resp {
    /// Asserts an RFC 9457 problem document with this status and code, and returns it.
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "expected {status} {code}, got {}: {}",
            self.status, self.text
        );
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type should be application/problem+json, got `{}` ({})",
            self.content_type,
            self.text
        );
        let p = &self.json;
        assert_eq!(p["code"], code, "code in {}", self.text);
        assert_eq!(p["status"], status, "status member in {}", self.text);
        for member in ["type", "title", "detail"] {
            let v = p[member].as_str().unwrap_or("");
            assert!(!v.trim().is_empty(), "`{member}` missing in {}", self.text);
        }
        p
    }

    /// The `field` of every entry of a validation problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `code` listed for `field` in a validation problem's `errors`.
    pub fn error_code(&self, field: &str) -> Option<String> {
        self.json["errors"].as_array().and_then(|a| {
            a.iter()
                .find(|e| e["field"] == field)
                .and_then(|e| e["code"].as_str().map(str::to_string))
        })
    }
}

/// `GET /v1/health` over a plain socket (no runtime needed): the status code, if any answer.
fn health_status(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET /v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Percent-encodes a query value.
pub fn encode_query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A valid NIK and KK pair that no other call in this process returned.
///
/// NIK: region `327501`, birth date DDMMYY (the day cycles 01–28, +40 for every other
/// person, i.e. women), then a serial 0001–9999; KK: region `327501` and ten digits from the
/// same sequence.
pub fn unique_nik_kk() -> (String, String) {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let serial = 1 + n % 9999;
    let mut day = 1 + (n / 9999) % 28;
    if (n / 9999 / 28) % 2 == 1 {
        day += 40;
    }
    let month = 1 + (n / (9999 * 56)) % 12;
    let nik = format!("327501{day:02}{month:02}85{serial:04}");
    let kk = format!("327501{:010}", 1_000_000 + n);
    (nik, kk)
}

/// The NIK/KK masking clients see: first 4 digits, 8 stars, last 4.
pub fn masked(number: &str) -> String {
    format!("{}********{}", &number[..4], &number[12..])
}

/// A valid submission for a household of `kelurahan` with these NIK and KK.
pub fn submit_body_with(kelurahan: &str, nik: &str, kk: &str) -> Value {
    json!({
        "household": {
            "head_nik": nik,
            "kk": kk,
            "head_name": "Ibu Sumiati",
            "members": 4,
            "phone": "081234567890",
            "address": {
                "street": "Jl. Mawar No. 7",
                "rt": "003",
                "rw": "011",
                "kelurahan_code": kelurahan
            }
        },
        "category": "miskin_ekstrem",
        "urgency": "darurat",
        "situation": "Kepala keluarga sakit, tidak ada penghasilan sejak dua minggu.",
        "reported_by": {"name": "Pak Darto (PSM)", "phone": "081298765432"}
    })
}

/// A valid submission for a household of `kelurahan` with a fresh NIK and KK.
pub fn submit_body(kelurahan: &str) -> Value {
    let (nik, kk) = unique_nik_kk();
    submit_body_with(kelurahan, &nik, &kk)
}

/// The head NIK of a submission body.
pub fn nik_of(body: &Value) -> String {
    body["household"]["head_nik"]
        .as_str()
        .expect("head_nik")
        .to_string()
}

/// The KK of a submission body.
pub fn kk_of(body: &Value) -> String {
    body["household"]["kk"].as_str().expect("kk").to_string()
}

/// A survey report body recommending `recommendation`, visited now (a visit cannot be before
/// the survey's assignment nor in the future).
pub fn survey_body(recommendation: &str) -> Value {
    json!({
        "visited_at": fulfil::rfc3339_utc(fulfil::unix_now()),
        "findings": "Rumah semi permanen, 4 jiwa, tidak ada penghasilan tetap.",
        "members_verified": 4,
        "recommendation": recommendation
    })
}

/// The decision that approves one `PAKET-SEMBAKO` delivered to the kelurahan office.
pub fn approve_body() -> Value {
    json!({
        "decision": "approve",
        "reason": "Hasil survei sesuai, keluarga miskin ekstrem.",
        "package_code": "PAKET-SEMBAKO",
        "packages": 1,
        "delivery": "kelurahan"
    })
}

/// A rejection with a reason.
pub fn reject_body() -> Value {
    json!({"decision": "reject", "reason": "Keluarga sudah menerima PKH bulan ini."})
}

/// A syntactically valid request id that no server ever issued.
pub const UNKNOWN_ID: &str = "01900000-0000-7000-8000-000000000000";

/// Drives a fresh request to `survey_assigned` (assigned to `surveyor`) and returns its id.
pub async fn submit_and_assign(s: &Server, kel_token: &str, dinas: &str, surveyor: &str) -> String {
    let body = submit_body(KEL_A);
    let r = s.submit_ok(kel_token, &body).await;
    let id = r["id"].as_str().expect("id").to_string();
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            dinas,
            &json!({"surveyor": surveyor}),
        )
        .await;
    assert_eq!(st, 200, "assign survey: {v}");
    id
}

/// A UTC RFC 3339 time from the API (`…Z` or `…+00:00`) as a key that orders like the time:
/// (`YYYY-MM-DDTHH:MM:SS`, nanoseconds). Panics on anything else, so it also checks that the
/// API speaks UTC.
pub fn utc_key(t: &Value) -> (String, u32) {
    let s = t
        .as_str()
        .unwrap_or_else(|| panic!("not a time string: {t}"));
    let body = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or_else(|| panic!("time `{s}` is not UTC"));
    assert!(body.len() >= 19, "time `{s}` is not RFC 3339");
    let (secs, frac) = body.split_at(19);
    assert_eq!(&secs[10..11], "T", "time `{s}` is not RFC 3339");
    let nanos = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(digits) if !digits.is_empty() && digits.len() <= 9 => {
            digits.parse::<u32>().expect("fraction digits") * 10u32.pow(9 - digits.len() as u32)
        }
        _ => panic!("time `{s}` has a bad fraction"),
    };
    (secs.to_string(), nanos)
}

/// The number printed just before `word` in `text` (`"20 baru,"` → 20), ignoring `word`
/// inside longer words.
pub fn count_before(text: &str, word: &str) -> Option<u64> {
    let mut from = 0;
    while let Some(pos) = text[from..].find(word) {
        let at = from + pos;
        from = at + word.len();
        let after_ok = text[from..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        let before = text[..at].strip_suffix(' ');
        if let (true, Some(before)) = (after_ok, before) {
            let digits: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !digits.is_empty() {
                return digits.parse().ok();
            }
        }
    }
    None
}
