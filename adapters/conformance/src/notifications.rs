//! The conformance cases of the notification log ([`shared::notify::NotificationLog`]): a claim
//! is an insert-if-absent that exactly one of many concurrent claimers wins; every later write
//! is a compare-and-set on the record as its writer read it, which exactly one of many
//! concurrent takers wins; the retry list holds the failed records below the attempt limit
//! and the pending claims whose lease is over, oldest first; a recipient is a number or a
//! staff member by user id. Then the same promises through the `notify` use case over the
//! adapter: concurrent deliveries of one event send each SMS once, a claim whose sender died
//! is taken over once after its lease, and a staff SMS waits in the log, failed, until the
//! staff member's number is known.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use shared::events::{Event, EventKind};
use shared::notify::{
    self, CLAIM_LEASE, NO_PHONE_YET, NotificationLog, NotificationRecord, NotificationStatus,
    NotifyConfig, NotifyDeps, NotifyReport, Recipient, SmsSender,
};
use shared::ports::Clock;
use shared::sms::SmsText;
use shared::{Action, Phone};

use crate::cases::must;
use crate::fixtures::{
    KELURAHAN_A, advance, at, notification, staff_notification, stock_low, submission, uuid,
};
use crate::{Contact, Ports};

const GUDANG: &str = "+6281100000002";
const PSM: &str = "+6281311112222";

/// The records of `event`, by recipient key.
async fn records_of(log: &Arc<dyn NotificationLog>, event: &str) -> Vec<NotificationRecord> {
    let mut v = must("for_event", log.for_event(event).await);
    v.sort_by_key(|r| r.recipient.key());
    v
}

/// A claim inserts only the first record of an (event, recipient) and shows later claimers
/// the stored one; `replace` writes only over the record as its writer read it; `retryable`
/// lists failed records below the attempt limit and claims older than `stale_before`, least
/// recently updated first; a staff recipient is its own key beside the numbers.
pub async fn notification_claim_replace_and_retryable(p: &Ports) {
    let log = &p.notifications;
    let (e1, e2, e3, e4, e5) = (uuid(), uuid(), uuid(), uuid(), uuid());
    let (phone_a, phone_b) = ("081234567890", "081311112222");

    let a = notification(&e1, phone_a, at(0));
    assert_eq!(must("claim", log.claim(&a).await), None, "the first claim");
    let mut later = a.clone();
    later.text = "another text".into();
    later.created_at = at(5);
    later.updated_at = at(5);
    assert_eq!(
        must("claim", log.claim(&later).await),
        Some(a.clone()),
        "a second claim is shown the first record"
    );
    let b = notification(&e1, phone_b, at(1));
    assert_eq!(
        must("claim", log.claim(&b).await),
        None,
        "another recipient of the same event is its own record"
    );
    let staff = staff_notification(&e1, "kelurahan-1", at(3));
    assert_eq!(
        must("claim", log.claim(&staff).await),
        None,
        "a staff member is a recipient of their own, without a number"
    );
    assert_eq!(
        must(
            "claim",
            log.claim(&staff_notification(&e1, "kelurahan-1", at(4)))
                .await
        ),
        Some(staff.clone()),
        "a staff member is claimed once per event, by user id"
    );
    let mut all = vec![a.clone(), b.clone(), staff.clone()];
    all.sort_by_key(|r| r.recipient.key());
    assert_eq!(records_of(log, &e1).await, all);
    assert!(must("for_event", log.for_event(&e2).await).is_empty());

    // The outcome, written over the claim as the sender holds it.
    let mut sent = a.clone();
    sent.status = NotificationStatus::Sent;
    sent.provider_id = Some("sms-1".into());
    sent.updated_at = at(2);
    assert!(must("replace", log.replace(&a, &sent).await), "the holder");
    assert_eq!(
        must("claim", log.claim(&a).await),
        Some(sent.clone()),
        "a claim after the send is shown the sent record"
    );
    let mut late = a.clone();
    late.status = NotificationStatus::Failed;
    late.last_error = Some("timeout".into());
    assert!(
        !must("replace", log.replace(&a, &late).await),
        "a writer that read the claim cannot overwrite the outcome"
    );
    let other_attempts = NotificationRecord {
        attempts: 2,
        ..sent.clone()
    };
    assert!(
        !must("replace", log.replace(&other_attempts, &late).await),
        "the same status at other attempts is not the record as it is"
    );
    assert_eq!(
        must("claim", log.claim(&a).await),
        Some(sent.clone()),
        "refused replaces wrote nothing"
    );
    let ghost = notification(&uuid(), phone_a, at(0));
    let mut ghost_sent = ghost.clone();
    ghost_sent.status = NotificationStatus::Sent;
    assert!(
        !must("replace", log.replace(&ghost, &ghost_sent).await),
        "no record, nothing replaced"
    );
    assert!(
        must("for_event", log.for_event(&ghost.event_id).await).is_empty(),
        "and nothing created"
    );

    // Failed sends, each claimed first (as notify does), then recorded with its outcome.
    let failed = |event: &str, attempts: u32, t: i64| NotificationRecord {
        status: NotificationStatus::Failed,
        attempts,
        last_error: Some("gateway timeout".into()),
        updated_at: at(t),
        ..notification(event, phone_a, at(0))
    };
    let c = failed(&e2, 1, 10);
    let d = failed(&e3, 3, 5);
    let e = failed(&e4, 5, 2);
    for r in [&c, &d, &e] {
        let claimed = NotificationRecord {
            attempts: r.attempts,
            ..notification(&r.event_id, phone_a, at(0))
        };
        assert_eq!(must("claim", log.claim(&claimed).await), None);
        assert!(must("replace", log.replace(&claimed, r).await));
    }
    let f = notification(&e5, phone_a, at(0));
    assert_eq!(must("claim", log.claim(&f).await), None, "a pending one");

    let retry = |max: u32, stale_before: i64, limit: usize| async move {
        must(
            "retryable",
            p.notifications
                .retryable(max, at(stale_before), limit)
                .await,
        )
    };
    assert_eq!(
        retry(5, 0, 10).await,
        vec![d.clone(), c.clone()],
        "failed, below 5 attempts, least recently tried first; no claim before 0 s"
    );
    assert_eq!(retry(5, 0, 1).await, vec![d.clone()], "limit");
    assert_eq!(retry(3, 0, 10).await, vec![c.clone()], "below 3 attempts");
    assert_eq!(
        retry(10, 0, 10).await,
        vec![e.clone(), d.clone(), c.clone()],
        "below 10 attempts"
    );
    assert_eq!(
        retry(10, 2, 10).await,
        vec![f.clone(), b.clone(), e.clone(), d.clone(), c.clone()],
        "and the claims older than 2 s, whatever their attempts"
    );
    assert_eq!(
        retry(5, 4, 10).await,
        vec![f.clone(), b.clone(), staff.clone(), d.clone(), c.clone()],
        "the staff claim too once it is older"
    );
    assert_eq!(
        retry(5, 4, 2).await,
        vec![f.clone(), b.clone()],
        "the limit over both kinds"
    );

    // A take-over of a failed record: one more attempt, pending again, off the failed list.
    let taken = NotificationRecord {
        status: NotificationStatus::Pending,
        attempts: 4,
        updated_at: at(20),
        ..d.clone()
    };
    assert!(must("replace", log.replace(&d, &taken).await));
    assert!(
        !must("replace", log.replace(&d, &taken).await),
        "the same take-over twice: the second finds the record moved on"
    );
    assert_eq!(
        retry(5, 4, 10).await,
        vec![f.clone(), b.clone(), staff.clone(), c.clone()]
    );
    let d_sent = NotificationRecord {
        status: NotificationStatus::Sent,
        last_error: None,
        updated_at: at(21),
        phone: Some(Phone::parse(phone_a).expect("valid")),
        ..taken.clone()
    };
    assert!(must("replace", log.replace(&taken, &d_sent).await));
    assert_eq!(
        retry(5, 100, 10).await,
        vec![f, b, staff, c],
        "a sent record is not retried"
    );
    assert_eq!(
        records_of(log, &e3).await,
        vec![d_sent],
        "replace wrote the whole record"
    );
}

/// Many claims of one (event, recipient) at once: exactly one inserts (and so sends), every
/// other is shown that record.
pub async fn notification_concurrent_claims_exactly_one_wins(p: &Ports) {
    for recipient in ["phone", "staff"] {
        let event = uuid();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8i64 {
            let log = p.notifications.clone();
            let mut r = match recipient {
                "phone" => notification(&event, PSM, at(i)),
                _ => staff_notification(&event, "kelurahan-1", at(i)),
            };
            r.text = format!("claimer {i}");
            tasks.spawn(async move { (r.clone(), log.claim(&r).await) });
        }
        let mut winners = Vec::new();
        let mut shown = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (mine, result) = joined.expect("claim task");
            match must("claim", result) {
                None => winners.push(mine),
                Some(existing) => shown.push(existing),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "{recipient}: one claimer wins: {winners:?}"
        );
        assert!(
            shown.iter().all(|s| s == &winners[0]),
            "{recipient}: the others are shown the winner's record"
        );
        assert_eq!(records_of(&p.notifications, &event).await, winners);
    }
}

/// Many takers of one stale claim (each read it as it is): exactly one takes it over.
pub async fn notification_concurrent_take_overs_exactly_one_wins(p: &Ports) {
    let event = uuid();
    let dead = notification(&event, PSM, at(0));
    assert_eq!(must("claim", p.notifications.claim(&dead).await), None);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8i64 {
        let (log, dead) = (p.notifications.clone(), dead.clone());
        tasks.spawn(async move {
            let lease = NotificationRecord {
                attempts: 2,
                updated_at: at(600 + i),
                ..dead.clone()
            };
            (lease.clone(), log.replace(&dead, &lease).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (lease, result) = joined.expect("take-over task");
        if must("replace", result) {
            winners.push(lease);
        }
    }
    assert_eq!(winners.len(), 1, "one taker wins: {winners:?}");
    assert_eq!(records_of(&p.notifications, &event).await, winners);
}

/// Records what it sends, slowly enough for concurrent senders to overlap.
#[derive(Default)]
struct CountingSms(Mutex<Vec<(String, String)>>);

#[async_trait]
impl SmsSender for CountingSms {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<String, String> {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut sent = self.0.lock().expect("sms lock");
        sent.push((to.as_str().to_string(), text.as_str().to_string()));
        Ok(format!("sms-{}", sent.len()))
    }
}

impl CountingSms {
    fn to(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .0
            .lock()
            .expect("sms lock")
            .iter()
            .map(|(to, _)| to.clone())
            .collect();
        v.sort();
        v
    }
}

/// A clock the case moves.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: TimeDelta) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

fn notify_deps(p: &Ports) -> (NotifyDeps, Arc<CountingSms>, Arc<TestClock>) {
    let sms = Arc::new(CountingSms::default());
    let clock = Arc::new(TestClock(Mutex::new(Utc::now())));
    let deps = NotifyDeps {
        requests: p.requests.clone(),
        directory: p.directory.clone(),
        log: p.notifications.clone(),
        sender: sms.clone(),
        clock: clock.clone(),
        config: NotifyConfig {
            dinas_duty: Some(Phone::parse("+6281100000001").expect("valid")),
            gudang: Some(Phone::parse(GUDANG).expect("valid")),
            max_attempts: 5,
        },
    };
    (deps, sms, clock)
}

/// A request of the store driven to `approved`, and the `RequestApproved` event it wrote:
/// told to the kelurahan staff who submitted it (`kelurahan-1`, by user id) and the PSM.
async fn approval(p: &Ports) -> Event {
    let new = submission(7, KELURAHAN_A, at(0));
    let mut request = new.request.clone();
    must("insert", p.requests.insert(new).await);
    let mut last = None;
    for (i, action) in [Action::AssignSurvey, Action::RecordSurvey, Action::Approve]
        .into_iter()
        .enumerate()
    {
        last = Some(must(
            "advance",
            advance(p, &mut request, action, at(1 + i as i64)).await,
        ));
    }
    let event = last.expect("the approval");
    assert!(matches!(event.kind, EventKind::RequestApproved { .. }));
    event
}

/// The use case's answer, or a panic that says what failed.
fn ok<T>(what: &str, r: Result<T, shared::AppError>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e:?}"))
}

async fn contact(p: &Ports, sub: &str, phone: &str) {
    must(
        "put contact",
        (p.contacts)(Contact {
            sub: sub.into(),
            name: "Petugas kelurahan".into(),
            role: "kelurahan".into(),
            phone: Phone::parse(phone).expect("valid"),
        })
        .await,
    );
}

/// The `notify` use case over this adapter: one event delivered eight times at once (as SQS
/// may hand one message to two invocations) sends one SMS per recipient, and none fails.
pub async fn notify_concurrent_deliveries_send_each_sms_once(p: &Ports) {
    contact(p, "kelurahan-1", "+6281377770001").await;
    let event = approval(p).await;
    let (deps, sms, _) = notify_deps(p);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (deps, event) = (deps.clone(), event.clone());
        tasks.spawn(async move { notify::on_event(&deps, &event).await });
    }
    let mut sent = 0;
    while let Some(joined) = tasks.join_next().await {
        let report = joined
            .expect("delivery task")
            .expect("a concurrent delivery is not an error");
        assert_eq!(report.failed, 0, "{report:?}");
        sent += report.sent;
    }
    assert_eq!(sent, 2, "one sender per recipient");
    assert_eq!(
        sms.to(),
        ["+6281311112222", "+6281377770001"],
        "one SMS each"
    );
    let records = records_of(&p.notifications, event.id.as_str()).await;
    let keys: Vec<String> = records.iter().map(|r| r.recipient.key()).collect();
    assert_eq!(keys, [PSM, "staff:kelurahan-1"]);
    assert!(
        records
            .iter()
            .all(|r| r.status == NotificationStatus::Sent && r.attempts == 1),
        "{records:?}"
    );
}

/// The `notify` use case over this adapter: the claim of a sender that died is left alone
/// while its lease runs (by a redelivery and by the sweep, neither failing), then taken over
/// and sent by exactly one of several sweeps and redeliveries.
pub async fn notify_stale_claim_taken_over_once(p: &Ports) {
    let (deps, sms, clock) = notify_deps(p);
    let event = stock_low("BERAS", 3, clock.now());
    let dead = NotificationRecord {
        event_type: "StockLow".into(),
        audience: "gudang".into(),
        ..notification(event.id.as_str(), GUDANG, clock.now())
    };
    assert_eq!(must("claim", p.notifications.claim(&dead).await), None);

    clock.advance(TimeDelta::minutes(1));
    let report = ok("on_event", notify::on_event(&deps, &event).await);
    assert_eq!(
        report,
        NotifyReport {
            in_flight: 1,
            ..NotifyReport::default()
        },
        "a fresh claim is neither sent again nor failed"
    );
    assert_eq!(ok("retry", notify::retry_failed(&deps, 10).await), 0);
    assert!(sms.to().is_empty());

    clock.advance(CLAIM_LEASE);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (deps, event) = (deps.clone(), event.clone());
        tasks.spawn(async move {
            if i % 2 == 0 {
                notify::retry_failed(&deps, 10).await.map(|n| (n, 0))
            } else {
                notify::on_event(&deps, &event)
                    .await
                    .map(|r| (r.sent, r.failed))
            }
        });
    }
    let mut sent = 0;
    while let Some(joined) = tasks.join_next().await {
        let (n, failed) = ok("sweep or delivery", joined.expect("task"));
        assert_eq!(failed, 0);
        sent += n;
    }
    assert_eq!(sent, 1, "one taker sends");
    assert_eq!(sms.to(), [GUDANG]);
    let records = records_of(&p.notifications, event.id.as_str()).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, NotificationStatus::Sent);
    assert_eq!(records[0].attempts, 2, "the dead sender's attempt counts");
    assert_eq!(
        records[0].text, dead.text,
        "the claimed text is what is sent"
    );

    clock.advance(CLAIM_LEASE * 2);
    assert_eq!(ok("retry", notify::retry_failed(&deps, 10).await), 0);
    assert_eq!(sms.to(), [GUDANG], "and never again");
}

/// The `notify` use case over this adapter: the kelurahan staff's SMS while their number is
/// unknown is logged failed under their user id, without personal data, and sent by the
/// retry sweep once the directory has their number.
pub async fn notify_staff_sms_waits_for_their_number(p: &Ports) {
    let event = approval(p).await;
    let (deps, sms, _) = notify_deps(p);
    let report = ok("on_event", notify::on_event(&deps, &event).await);
    assert_eq!((report.sent, report.failed), (1, 1), "{report:?}");
    assert_eq!(sms.to(), [PSM]);
    let staff = |records: Vec<NotificationRecord>| {
        records
            .into_iter()
            .find(|r| r.recipient == Recipient::Staff("kelurahan-1".into()))
            .expect("the staff record")
    };
    let waiting = staff(records_of(&p.notifications, event.id.as_str()).await);
    assert_eq!(waiting.status, NotificationStatus::Failed);
    assert_eq!(waiting.last_error.as_deref(), Some(NO_PHONE_YET));
    assert_eq!((waiting.attempts, waiting.phone.clone()), (1, None));
    assert_eq!(waiting.audience, "kelurahan");

    assert_eq!(ok("retry", notify::retry_failed(&deps, 10).await), 0);
    contact(p, "kelurahan-1", "+6281377770001").await;
    assert_eq!(ok("retry", notify::retry_failed(&deps, 10).await), 1);
    let done = staff(records_of(&p.notifications, event.id.as_str()).await);
    assert_eq!(done.status, NotificationStatus::Sent);
    assert_eq!(done.attempts, 3);
    assert_eq!(done.last_error, None);
    assert_eq!(
        done.phone.as_ref().map(Phone::as_str),
        Some("+6281377770001")
    );
    assert_eq!(sms.to(), ["+6281311112222", "+6281377770001"]);
    assert_eq!(ok("retry", notify::retry_failed(&deps, 10).await), 0);
    let again = ok("on_event", notify::on_event(&deps, &event).await);
    assert_eq!(again.skipped, 2, "{again:?}");
    assert_eq!(sms.to().len(), 2, "once each");
}
