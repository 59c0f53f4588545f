//! The `basoka` command itself: the start-up banner's token commands work as printed (and give
//! the users phone numbers, so that following the banner produces SMS), `token` refuses what
//! the server would refuse and lists only its own flags, `serve` on a port in use stops
//! before it creates, seeds or delivers anything, and `seed` run again (or twice at once)
//! succeeds and receives the opening stock once.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use basoka_tests::*;

const TIMEOUT: Duration = Duration::from_secs(120);

fn basoka(args: &[&str]) -> CmdOutput {
    let mut cmd = basoka_command();
    cmd.args(args);
    run_command(cmd, TIMEOUT, &format!("basoka {}", args.join(" ")))
}

#[tokio::test]
async fn the_banner_token_commands_work_as_printed_and_bring_sms() {
    let s = Server::start();
    let out = s.stdout_text();
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(" token --data-dir "))
        .collect();
    assert_eq!(lines.len(), 4, "one token command per role:\n{out}");
    let exe = basoka_bin().canonicalize().unwrap();
    let mut tokens = Vec::new();
    for line in &lines {
        // Started directly (not by cargo, not on PATH): the banner names this very binary.
        assert!(
            line.starts_with(&exe.display().to_string()),
            "`{line}` should start with {}",
            exe.display()
        );
        let run = run_command(
            {
                let mut c = Command::new("sh");
                c.arg("-c").arg(line);
                for var in ["BASOKA_JWT_SECRET", "BASOKA_DATA_DIR", "BASOKA_BACKEND"] {
                    c.env_remove(var);
                }
                c
            },
            TIMEOUT,
            line,
        );
        assert!(run.status.success(), "`{line}` failed: {}", run.stderr);
        let token = run.stdout.trim().to_string();
        assert_eq!(token.split('.').count(), 3, "`{line}` printed {token}");
        tokens.push(token);
    }
    assert!(
        lines[0].contains("--role kelurahan") && lines[0].contains("--phone "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("--role surveyor --sub surveyor-1 --phone "),
        "{}",
        lines[1]
    );

    // Following the banner: the surveyor is told of the assignment, the kelurahan staff of
    // the decision, at the banner's numbers.
    let (kel, surveyor, dinas) = (&tokens[0], &tokens[1], &tokens[2]);
    let r = s.submit_ok(kel, &submit_body(KEL_A)).await;
    let (id, code) = (r["id"].as_str().unwrap(), r["code"].as_str().unwrap());
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            dinas,
            &json!({"surveyor": "surveyor-1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            surveyor,
            &survey_body("reject"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/decision"),
            dinas,
            &reject_body(),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    s.wait_for_sms(
        "SMS at the banner's numbers",
        Duration::from_secs(30),
        |all| {
            ["+6281211110001", "+6281211110002"]
                .iter()
                .all(|to| all.iter().any(|m| &m.to == to && m.text.contains(code)))
        },
    )
    .await;
}

#[test]
fn token_refuses_a_blank_sub_or_name() {
    let dir = TempDir::new().unwrap();
    let d = dir.path().to_str().unwrap();
    for (flag, value) in [("--sub", ""), ("--sub", "  "), ("--name", "   ")] {
        let out = basoka(&["token", "--role", "dinas", flag, value, "--data-dir", d]);
        assert_ne!(
            out.code(),
            0,
            "{flag} {value:?} must be refused: {}",
            out.stdout
        );
        assert!(
            out.stdout.trim().is_empty(),
            "no token printed: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains(flag),
            "the message names {flag}: {}",
            out.stderr
        );
    }
    let ok = basoka(&[
        "token",
        "--role",
        "dinas",
        "--sub",
        " dinas-7 ",
        "--data-dir",
        d,
    ]);
    assert_eq!(ok.code(), 0, "{}", ok.stderr);
}

#[test]
fn token_help_lists_only_the_flags_token_uses() {
    let token = basoka(&["token", "--help"]);
    assert_eq!(token.code(), 0);
    for irrelevant in ["--create-table", "--sms-sender-id"] {
        assert!(
            !token.stdout.contains(irrelevant),
            "{irrelevant}:\n{}",
            token.stdout
        );
    }
    let serve = basoka(&["serve", "--help"]);
    for flag in ["--create-table", "--sms-sender-id", "--backend"] {
        assert!(
            serve.stdout.contains(flag),
            "serve has {flag}:\n{}",
            serve.stdout
        );
    }
}

#[test]
fn serve_on_a_port_in_use_fails_before_touching_anything() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let root = TempDir::new().unwrap();
    let dir = root.path().join("data");
    let out = basoka(&[
        "serve",
        "--port",
        &port,
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert_ne!(out.code(), 0, "{}", out.stdout);
    assert!(out.stderr.contains("cannot listen"), "{}", out.stderr);
    assert!(
        out.stderr.contains("--port N"),
        "says how to choose another port: {}",
        out.stderr
    );
    assert!(!out.stdout.contains("BASOKA listening"), "{}", out.stdout);
    assert!(
        !out.stderr.contains("First run"),
        "nothing seeded: {}",
        out.stderr
    );
    assert!(!dir.exists(), "no data folder created, no store opened");
}

/// The opening stock (delivery note `STOK-AWAL`) of `dir`'s store, as the ledger of BERAS
/// lists it, read through a server on that folder.
async fn opening_stock_receipts(dir: TempDir) -> usize {
    use basoka_tests::fulfil::{ledger, movements};
    let s = Server::start_in(dir);
    let gudang = s.gudang_token();
    let beras = ledger(&s, &gudang, "BERAS").await;
    movements(&beras, "receipt", Some("STOK-AWAL")).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_again_or_twice_at_once_succeeds_and_receives_the_opening_stock_once() {
    let again = TempDir::new().unwrap();
    let dir = again.path().to_str().unwrap().to_string();
    for run in ["first", "second"] {
        let out = basoka(&["seed", "--data-dir", &dir]);
        assert_eq!(out.code(), 0, "{run} seed: {}", out.stderr);
    }
    assert_eq!(opening_stock_receipts(again).await, 1);

    // Two seeds of an existing store at once race for the opening stock. (The store is
    // created first: two processes creating one SQLite file at the same moment is another
    // matter.)
    let at_once = TempDir::new().unwrap();
    let dir = at_once.path().to_str().unwrap().to_string();
    let out = basoka(&["seed", "--no-opening-stock", "--data-dir", &dir]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let seeds: Vec<_> = (0..2)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || basoka(&["seed", "--data-dir", &dir]))
        })
        .collect();
    for seed in seeds {
        let out = seed.join().unwrap();
        assert_eq!(out.code(), 0, "{}", out.stderr);
    }
    assert_eq!(opening_stock_receipts(at_once).await, 1);
}

/// `basoka registry import … | head -0`: the reader is gone before the summary is printed.
/// The command ends by SIGPIPE like other Unix tools (no "Broken pipe" panic, no exit 101),
/// and the rows it loaded before printing stay loaded (a second import finds them unchanged).
#[test]
fn a_reader_that_goes_away_ends_a_command_quietly_after_its_work() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    /// SIGPIPE's number on Linux.
    const SIGPIPE: i32 = 13;

    let dir = TempDir::new().unwrap();
    let d = dir.path().to_str().unwrap();
    let file = data_file("registry-sample.csv");
    let mut cmd = basoka_command();
    cmd.args([
        "registry",
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        d,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start basoka registry import");
    // Close the read end at once: whatever the command prints goes to a pipe nobody reads.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for basoka");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "no panic when the reader has gone: {stderr}"
    );
    assert_eq!(
        out.status.signal(),
        Some(SIGPIPE),
        "ended by SIGPIPE, as `head` expects: {} {stderr}",
        out.status
    );

    let again = basoka(&[
        "registry",
        "import",
        file.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(
        again.stdout.contains(" 0 baru"),
        "the first run's rows were loaded before it printed: {}",
        again.stdout
    );
}
