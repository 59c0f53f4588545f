//! A closed-loop HTTP/1.1 load generator: `clients` keep-alive connections, each sending its
//! next request as soon as the previous answer is read in full, for a warm-up and then a fixed
//! measured window. Bounded in time (warm-up + window, and a timeout per request) and in
//! requests (`max_requests`); loopback only (the target is a `SocketAddr` the benchmark
//! started itself).
//!
//! Built directly on hyper's connection API (no pool, no TLS, no redirects) so that the
//! client's own cost per request stays small and the same for both targets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use crate::stats::Latency;

/// Builds request number `n` (unique across all clients and the warm-up).
pub type MakeRequest = Arc<dyn Fn(u64) -> Request<Full<Bytes>> + Send + Sync>;

/// How hard and how long.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Concurrent keep-alive connections, one request in flight on each.
    pub clients: usize,
    /// Sent but not measured (connections, caches, the store's first pages warm up).
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Hard cap on requests sent, warm-up included.
    pub max_requests: u64,
    /// A request not answered within this counts as an error (and its connection is replaced).
    pub timeout: Duration,
    /// The status every request should get.
    pub expect: StatusCode,
}

/// What a run measured. Latencies and throughput count only answers with the expected status
/// that were sent inside the measured window.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub ok: u64,
    /// Everything else, by kind (`status 409`, `timeout`, `connection: …`).
    pub errors: BTreeMap<String, u64>,
    /// The first few unexpected answers, truncated, to print.
    pub error_samples: Vec<String>,
    pub latency: Latency,
    /// From the window's start to the last measured answer.
    pub elapsed: Duration,
    /// Requests sent in total, warm-up included.
    pub sent: u64,
}

impl LoadReport {
    /// Expected answers per second in the measured window.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[derive(Default)]
struct ClientResult {
    ok: u64,
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
    samples: Vec<String>,
    last_done: Option<Instant>,
}

impl ClientResult {
    fn error(&mut self, kind: String, sample: Option<String>, measured: bool) {
        if !measured {
            // Warm-up errors are reported too: they are still errors.
            *self.errors.entry(format!("{kind} (warm-up)")).or_insert(0) += 1;
        } else {
            *self.errors.entry(kind).or_insert(0) += 1;
        }
        if let Some(s) = sample
            && self.samples.len() < 3
        {
            self.samples.push(s);
        }
    }
}

const MAX_SAMPLE: usize = 400;

async fn connect(
    addr: SocketAddr,
) -> Result<http1::SendRequest<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes the connection.
        let _ = conn.await;
    });
    Ok(sender)
}

/// Runs the load against `addr` and returns what it measured. Must be called inside a tokio
/// runtime; the clients are tasks on it.
pub async fn run(addr: SocketAddr, config: LoadConfig, make: MakeRequest) -> LoadReport {
    let counter = Arc::new(AtomicU64::new(0));
    // Every client connects first; then all start together.
    let barrier = Arc::new(Barrier::new(config.clients + 1));
    let start_cell: Arc<std::sync::OnceLock<Instant>> = Arc::new(std::sync::OnceLock::new());
    let mut handles = Vec::with_capacity(config.clients);
    for _ in 0..config.clients {
        let (counter, barrier, start_cell, make) = (
            counter.clone(),
            barrier.clone(),
            start_cell.clone(),
            make.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut result = ClientResult::default();
            let mut sender = connect(addr).await.ok();
            // Once when every client is connected, once when the start time is set.
            barrier.wait().await;
            barrier.wait().await;
            let start = *start_cell
                .get()
                .expect("start is set before the barrier opens");
            let measure_from = start + config.warmup;
            let end = measure_from + config.duration;
            loop {
                let sent_at = Instant::now();
                if sent_at >= end {
                    break;
                }
                let measured = sent_at >= measure_from;
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n >= config.max_requests {
                    break;
                }
                let s = match sender.as_mut() {
                    Some(s) => s,
                    None => match connect(addr).await {
                        Ok(s) => sender.insert(s),
                        Err(e) => {
                            result.error(format!("connect: {e}"), None, measured);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                if s.ready().await.is_err() {
                    result.error("connection closed".into(), None, measured);
                    sender = None;
                    continue;
                }
                let request = make(n);
                // Timed from just before the request is written to the last body byte read.
                let t0 = Instant::now();
                let answer = tokio::time::timeout(config.timeout, async {
                    let response = s.send_request(request).await?;
                    let status = response.status();
                    let body = response.into_body().collect().await?.to_bytes();
                    Ok::<_, hyper::Error>((status, body))
                })
                .await;
                let done = Instant::now();
                let latency = done - t0;
                match answer {
                    Ok(Ok((status, _))) if status == config.expect => {
                        if measured {
                            result.ok += 1;
                            result.latencies.push(latency);
                            result.last_done = Some(done);
                        }
                    }
                    Ok(Ok((status, body))) => {
                        let text = String::from_utf8_lossy(&body);
                        let cut: String = text.chars().take(MAX_SAMPLE).collect();
                        result.error(
                            format!("status {}", status.as_u16()),
                            Some(format!("{} {cut}", status.as_u16())),
                            measured,
                        );
                    }
                    Ok(Err(e)) => {
                        result.error(format!("connection: {e}"), None, measured);
                        sender = None;
                    }
                    Err(_) => {
                        result.error("timeout".into(), None, measured);
                        sender = None;
                    }
                }
            }
            result
        }));
    }
    barrier.wait().await;
    start_cell
        .set(Instant::now())
        .expect("the start is set once");
    barrier.wait().await;
    let start = *start_cell.get().expect("set above");
    let measure_from = start + config.warmup;

    let mut all = ClientResult::default();
    for h in handles {
        let r = h.await.expect("a client task does not panic");
        all.ok += r.ok;
        all.latencies.extend(r.latencies);
        for (k, v) in r.errors {
            *all.errors.entry(k).or_insert(0) += v;
        }
        for s in r.samples {
            if all.samples.len() < 5 {
                all.samples.push(s);
            }
        }
        all.last_done = all.last_done.max(r.last_done);
    }
    let elapsed = all
        .last_done
        .map(|t| t.saturating_duration_since(measure_from))
        .unwrap_or(config.duration)
        .max(Duration::from_millis(1));
    LoadReport {
        ok: all.ok,
        errors: all.errors,
        error_samples: all.samples,
        latency: Latency::of(&mut all.latencies),
        elapsed,
        sent: counter.load(Ordering::Relaxed).min(config.max_requests),
    }
}

/// Sends one request on a fresh connection and reads the whole answer (for smoke checks).
pub async fn one(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), String> {
    tokio::time::timeout(timeout, async {
        let mut s = connect(addr).await.map_err(|e| e.to_string())?;
        let response = s.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    })
    .await
    .map_err(|_| "timed out".to_string())?
}
