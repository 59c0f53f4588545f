//! `basoka serve --backend aws` on moto: the whole system over the AWS adapters (DynamoDB for
//! every store, SNS for SMS), with the events moved by the runner through the Lambda entry
//! points of `allocate-stock` and `notify` (moto invokes no functions). The registry is loaded
//! with `basoka registry import --backend aws`; a request of a registered household goes
//! from submitted to delivered to its house; the SMS of every stage are read back from moto
//! (`GET /moto-api/data.json`, under `sns`); the data survives a restart (it lives in the table).
//!
//! Needs a moto server (`BASOKA_TEST_AWS_ENDPOINT`; `scripts/test` starts one).

use basoka_aws::testkit;
use basoka_tests::fulfil::*;
use basoka_tests::*;

/// A registered household of `tests/data/registry-sample.csv`: Bekasijaya, desil 1.
const NIK: &str = "3275014508750001";
const KK: &str = "3275011203100001";

/// The SMS moto holds for `phone` that name `code`, waiting until there are `n`.
async fn wait_sms(phone: &str, code: &str, n: usize, s: &Server) -> Vec<String> {
    let deadline = std::time::Instant::now() + AUTO_TIMEOUT;
    loop {
        let got: Vec<String> = testkit::sms_to(phone)
            .await
            .into_iter()
            .map(|(_, m)| m)
            .filter(|m| m.contains(code))
            .collect();
        if got.len() >= n {
            return got;
        }
        if std::time::Instant::now() >= deadline {
            panic!(
                "waited for {n} SMS about {code} to {phone} in moto; got {got:?}\nserver stderr:\n{}",
                s.stderr_tail(40)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_to_delivered_over_dynamodb_and_sns() {
    let endpoint = testkit::endpoint();
    let table = testkit::unique_table("basoka-serve");
    let backend = [
        "--backend",
        "aws",
        "--endpoint-url",
        endpoint.as_str(),
        "--table",
        table.as_str(),
    ];
    let options = journey_options().args(&backend).args(&["--create-table"]);
    let mut s = Server::start_with(options.clone());
    assert!(
        s.stdout_text().contains(&format!("DynamoDB table {table}")),
        "the banner says where the data is:\n{}",
        s.stdout_text()
    );

    // The registry, into the table (the last rows of the sample are bad on purpose).
    let mut cmd = basoka_command();
    cmd.args(["registry", "import"])
        .arg(data_file("registry-sample.csv"))
        .arg("--data-dir")
        .arg(s.data_dir())
        .args(backend);
    let out = run_command(cmd, std::time::Duration::from_secs(120), "registry import");
    assert_eq!(
        out.code(),
        3,
        "some rows are refused: {}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("baris"),
        "bad rows named by line: {}",
        out.stderr
    );

    // Tokens; --phone records the staff's numbers in the table's directory.
    let with_backend = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(backend);
        s.token_args(&all)
    };
    let kel = with_backend(&[
        "--role",
        "kelurahan",
        "--kelurahan",
        KEL_A,
        "--phone",
        STAFF_PHONE_INPUT,
    ]);
    let surveyor = with_backend(&[
        "--role",
        "surveyor",
        "--sub",
        Cast::SURVEYOR,
        "--phone",
        SURVEYOR_PHONE_INPUT,
    ]);
    let dinas = s.dinas_token();
    let gudang = s.gudang_token();

    // submitted → surveyed → approved (to the household) → allocated by the consumer.
    let body = submit_body_with(KEL_A, NIK, KK);
    let surveyed = to_surveyed(&s, &kel, &dinas, &surveyor, Cast::SURVEYOR, &body).await;
    let id = id_of(&surveyed);
    let code = code_of(&surveyed);
    assert_eq!(surveyed["registry"]["found"], true, "{surveyed}");
    assert_eq!(surveyed["registry"]["desil"], 1, "{surveyed}");
    approve(&s, &dinas, &id, &approve_with(1, "household")).await;
    wait_status(&s, &kel, &id, &["allocated"], AUTO_TIMEOUT).await;

    // The warehouse dispatches; the kelurahan hands over → delivered.
    let shipment = wait_shipment(&s, &gudang, "ready", &id).await;
    let r = dispatch(&s, &gudang, shipment["id"].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = handover(&s, &kel, &id, &handover_body()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "delivered", "{}", r.text);
    assert_ledger_matches_stock(&s, &gudang).await;

    // Every stage's SMS, through SNS on moto.
    let secrets = [NIK, KK, HEAD_NAME];
    let mut all = Vec::new();
    all.extend(wait_sms(DINAS_PHONE, &code, 1, &s).await); // submitted
    all.extend(wait_sms(SURVEYOR_PHONE, &code, 1, &s).await); // survey assigned
    all.extend(wait_sms(STAFF_PHONE, &code, 2, &s).await); // approved, dispatched
    all.extend(wait_sms(GUDANG_PHONE, &code, 1, &s).await); // allocated: to ship
    all.extend(wait_sms(HOUSEHOLD_PHONE, &code, 1, &s).await); // on its way to the house
    all.extend(wait_sms(PSM_PHONE, &code, 2, &s).await); // approved, delivered
    for m in &all {
        assert!(m.chars().count() <= 160, "one segment: {m}");
        if has_time(m) {
            assert!(m.contains("WIB"), "times in WIB: {m}");
        }
        for secret in secrets {
            assert!(!m.contains(secret), "no NIK, KK or name in an SMS: {m}");
        }
    }

    // The data lives in the table: a restart (even a kill) loses nothing.
    s.kill();
    s.restart_with(options);
    let (st, v) = s.get(&format!("/v1/requests/{id}"), &kel).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "delivered", "{v}");
    let (st, h) = s.get(&format!("/v1/requests/{id}/history"), &kel).await;
    assert_eq!(st, 200, "{h}");
    let statuses: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["to"].as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "submitted",
            "survey_assigned",
            "surveyed",
            "approved",
            "allocated",
            "dispatched",
            "delivered"
        ],
        "{h}"
    );
}
