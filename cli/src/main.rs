//! `basoka`: the local runner and ops tool.
//!
//! * `basoka serve` runs every HTTP function on one port over the embedded store (or, with
//!   `--backend aws`, over DynamoDB and SNS);
//! * `basoka token` prints a bearer token the server accepts, for a role;
//! * `basoka registry import FILE.csv` loads the DTKS/DTSEN registry export;
//! * `basoka stock receive FILE.csv --reference REF` receives a delivery note from a CSV;
//! * `basoka seed` puts the warehouse, items, package and opening stock into an empty store
//!   (`serve` does it on its first run; on AWS ops run it once per stage).

mod backend;
mod datadir;
mod delivery;
mod registry;
mod seed;
mod serve;
mod stock;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "basoka",
    version,
    about = "BASOKA — Bantuan Sosial Kedaruratan, Dinas Sosial Kota Bekasi"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all HTTP functions on one port over the embedded store in the data folder.
    Serve(serve::ServeArgs),
    /// Print a bearer token that `basoka serve` (same data folder) accepts.
    Token(token::TokenArgs),
    /// The welfare registry (DTKS/DTSEN).
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Warehouse stock.
    Stock {
        #[command(subcommand)]
        command: StockCommand,
    },
    /// Seed an empty store: warehouse, items, package PAKET-SEMBAKO, opening stock.
    Seed {
        /// Leave the opening stock of 50 packages out.
        #[arg(long)]
        no_opening_stock: bool,
        #[command(flatten)]
        data: datadir::DataDirArg,
        #[command(flatten)]
        backend: backend::BackendArgs,
    },
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Load a registry CSV export (columns nik,kk,nama,kelurahan_code,desil).
    Import {
        /// The CSV file (UTF-8 with or without BOM, `,` or `;`, CRLF fine).
        file: PathBuf,
        #[command(flatten)]
        data: datadir::DataDirArg,
        #[command(flatten)]
        backend: backend::BackendArgs,
    },
}

#[derive(Subcommand)]
enum StockCommand {
    /// Receive a delivery note from a CSV file (columns sku, quantity or jumlah, optional
    /// expires_on or kedaluwarsa as YYYY-MM-DD): all lines or none. Exit code 3: bad lines,
    /// nothing received; 4: the reference was already used for other content.
    Receive {
        /// The CSV file (UTF-8 with or without BOM, `,` or `;`, CRLF fine; at most 25 lines).
        file: PathBuf,
        /// The delivery note's number (surat jalan); the same reference again changes nothing.
        #[arg(long)]
        reference: String,
        /// The warehouse code (default: the first warehouse, GUDANG-DINSOS-BKS).
        #[arg(long)]
        warehouse: Option<String>,
        #[command(flatten)]
        data: datadir::DataDirArg,
        #[command(flatten)]
        backend: backend::BackendArgs,
    },
}

/// Logs on stderr for every command (stdout is for what a command prints: the URL, a token):
/// `BASOKA_LOG` is a tracing filter, by default `info,tower_http=warn`. Colours only on a
/// terminal: a log redirected to a file stays plain text.
fn init_logs() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BASOKA_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// mimalloc instead of the system allocator: the store's reads, writes and JSON allocate and
/// free many small blocks across threads, where glibc's malloc spent about a fifth of the
/// allocation benchmark's CPU (see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The one-shot commands print reports that people pipe into `head` or `less`: when the
/// reader goes away they should end quietly, as other Unix tools do, instead of panicking with
/// "failed printing to stdout: Broken pipe" (Rust ignores SIGPIPE by default). Whatever the
/// command wrote to the store is committed before it prints. `serve` keeps Rust's default: a
/// closed log pipe must not stop a running server.
fn end_quietly_on_closed_pipe() {
    // SAFETY: called first thing in `main`, before any other thread exists; restoring the
    // default action of a signal has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_closed_pipe();
    }
    init_logs();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
        Command::Registry {
            command:
                RegistryCommand::Import {
                    file,
                    data,
                    backend,
                },
        } => {
            let dir = data.resolve();
            datadir::prepare(&dir).and_then(|()| registry::import(&file, &dir, &backend))
        }
        Command::Stock {
            command:
                StockCommand::Receive {
                    file,
                    reference,
                    warehouse,
                    data,
                    backend,
                },
        } => {
            let dir = data.resolve();
            datadir::prepare(&dir).and_then(|()| {
                stock::receive(&file, &reference, warehouse.as_deref(), &dir, &backend)
            })
        }
        Command::Seed {
            no_opening_stock,
            data,
            backend,
        } => {
            let dir = data.resolve();
            datadir::prepare(&dir).and_then(|()| seed::command(&dir, &backend, !no_opening_stock))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("basoka: {e:#}");
            ExitCode::FAILURE
        }
    }
}
