//! An SMS that cannot go out because nobody knows the recipient's number is not dropped in
//! silence: the server log says which event, request and audience (and, for staff, which
//! user id) went without, so that an operator can add the number; never a NIK, KK or name.
//! It stays in the notification log as failed, and once the staff member's number is known
//! (`basoka token --phone`, as a login with a phone number does on AWS) the retry sweep
//! sends it, once.

use std::time::{Duration, Instant};

use basoka_tests::*;

const WARNING: &str = "SMS not sent: no phone number known for this recipient";

/// Waits until a stderr line holds the warning and every one of `parts`.
async fn wait_for_warning(s: &Server, parts: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = s.stderr_text();
        if let Some(line) = text
            .lines()
            .find(|l| l.contains(WARNING) && parts.iter().all(|p| l.contains(p)))
        {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no warning with {parts:?} in the log:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_recipient_without_a_phone_number_is_logged_and_sent_once_the_number_is_known() {
    // The retry sweep every second instead of every 30 s.
    let s = Server::start_with(ServeOptions::new().env("BASOKA_TEST_SMS_RETRY_SECONDS", "1"));
    // Neither token has --phone: their SMS cannot be sent.
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let surveyor = s.surveyor_token("surveyor-9");
    let body = submit_body(KEL_A);
    let r = s.submit_ok(&kel, &body).await;
    let id = r["id"].as_str().unwrap().to_string();
    let code = r["code"].as_str().unwrap().to_string();
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey-assignment"),
            &dinas,
            &json!({"surveyor": "surveyor-9"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let line = wait_for_warning(&s, &["SurveyAssigned", &code, "surveyor", "surveyor-9"]).await;

    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/survey"),
            &surveyor,
            &survey_body("reject"),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/decision"),
            &dinas,
            &reject_body(),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // The kelurahan staff's number is unknown; the PSM's (reported_by.phone) is.
    let staff = wait_for_warning(
        &s,
        &[
            "RequestRejected",
            &code,
            "kelurahan",
            "kelurahan-3275011001",
        ],
    )
    .await;
    s.wait_for_sms(
        "the rejection SMS to the PSM",
        Duration::from_secs(30),
        |all| {
            all.iter()
                .any(|m| m.to == "+6281298765432" && m.text.contains(&code))
        },
    )
    .await;

    for l in [&line, &staff] {
        for secret in [nik_of(&body), kk_of(&body), "Ibu Sumiati".to_string()] {
            assert!(!l.contains(&secret), "personal data in the log: {l}");
        }
    }

    // The numbers become known: the surveyor's and the kelurahan staff's SMS go out on retry.
    let surveyor_phone = "+6281377770009";
    let staff_phone = "+6281377770010";
    s.token_args(&[
        "--role",
        "surveyor",
        "--sub",
        "surveyor-9",
        "--phone",
        surveyor_phone,
    ]);
    s.token_args(&[
        "--role",
        "kelurahan",
        "--kelurahan",
        KEL_A,
        "--phone",
        staff_phone,
    ]);
    let all = s
        .wait_for_sms(
            "the survey assignment and the rejection, once the numbers are known",
            Duration::from_secs(30),
            |all| {
                all.iter()
                    .any(|m| m.to == surveyor_phone && m.text.contains(&code))
                    && all
                        .iter()
                        .any(|m| m.to == staff_phone && m.text.contains(&code))
            },
        )
        .await;
    // A few more sweeps: still once each.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all_later = s.sms_outbox();
    assert_eq!(
        all_later.len(),
        all.len(),
        "nothing more sent: {all_later:?}"
    );
    for to in [surveyor_phone, staff_phone] {
        let mine: Vec<_> = all_later.iter().filter(|m| m.to == to).collect();
        assert_eq!(mine.len(), 1, "one SMS to {to}: {mine:?}");
    }
}
