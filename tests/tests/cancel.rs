//! Cancelling: kelurahan staff cancel their own requests (the Dinas any), with a reason; a
//! cancelled request cannot be cancelled again and no longer blocks the household.

use basoka_tests::*;

#[tokio::test]
async fn kelurahan_cancels_its_own_request_once_and_the_household_may_apply_again() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let body = submit_body(KEL_A);
    let id = s.submit_ok(&kel, &body).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let reason = "Keluarga sudah mendapat bantuan dari BAZNAS.";

    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/cancel"),
            &kel,
            &json!({ "reason": reason }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["cancellation"]["reason"], reason);
    assert_eq!(v["cancellation"]["previous_status"], "submitted");

    let (_, h) = s.get(&format!("/v1/requests/{id}/history"), &kel).await;
    let h = h.as_array().expect("history").clone();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[1]["action"], "cancel");
    assert_eq!(h[1]["from"], "submitted");
    assert_eq!(h[1]["to"], "cancelled");
    assert_eq!(h[1]["reason"], reason);
    assert_eq!(h[1]["actor"]["role"], "kelurahan");

    let again = s
        .post_resp(
            &format!("/v1/requests/{id}/cancel"),
            Some(&kel),
            &json!({ "reason": "lagi" }),
        )
        .await;
    assert_eq!(
        again.problem(409, "INVALID_TRANSITION")["current_status"],
        "cancelled"
    );
    let (_, h) = s.get(&format!("/v1/requests/{id}/history"), &kel).await;
    assert_eq!(h.as_array().map(Vec::len), Some(2), "nothing appended: {h}");

    // No longer active: the same household may be submitted again.
    let fresh = s.submit_ok(&kel, &body).await;
    assert_ne!(fresh["id"], id.as_str());
    assert_eq!(fresh["status"], "submitted");
}

#[tokio::test]
async fn cancel_needs_a_reason() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let id = s.submit_ok(&kel, &submit_body(KEL_A)).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    for body in [json!({}), json!({"reason": "   "}), json!({"reason": null})] {
        let r = s
            .post_resp(&format!("/v1/requests/{id}/cancel"), Some(&kel), &body)
            .await;
        r.problem(400, "VALIDATION_FAILED");
        assert_eq!(r.error_fields(), vec!["reason".to_string()], "{}", r.text);
    }
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/cancel"),
            Some(&kel),
            &json!({"reason": 7}),
        )
        .await;
    r.problem(400, "VALIDATION_FAILED");
    assert_eq!(r.error_code("reason").as_deref(), Some("FIELD_NOT_STRING"));

    let (_, v) = s.get(&format!("/v1/requests/{id}"), &kel).await;
    assert_eq!(v["status"], "submitted", "a refused cancel changes nothing");
}

#[tokio::test]
async fn the_dinas_may_cancel_a_request_in_survey() {
    let s = Server::start();
    let kel = s.kelurahan_token(KEL_A);
    let dinas = s.dinas_token();
    let id = submit_and_assign(&s, &kel, &dinas, "surveyor-1").await;
    let (st, v) = s
        .post(
            &format!("/v1/requests/{id}/cancel"),
            &dinas,
            &json!({"reason": "Data ganda dengan permohonan lama."}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["cancellation"]["previous_status"], "survey_assigned");
    // The surveyor can no longer record it.
    let surveyor = s.surveyor_token("surveyor-1");
    let r = s
        .post_resp(
            &format!("/v1/requests/{id}/survey"),
            Some(&surveyor),
            &survey_body("approve"),
        )
        .await;
    assert_eq!(
        r.problem(409, "INVALID_TRANSITION")["current_status"],
        "cancelled"
    );
}
