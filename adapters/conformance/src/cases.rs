//! The conformance cases. Each takes [`Ports`] over a fresh, empty store, checks one promise
//! of the ports (with its "and nothing else was written" side), and panics with a message
//! naming what broke.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use shared::events::{Event, EventKind};
use shared::ports::{ImportCounts, ListQuery, NewRequest, OutboxItem, StoreError, SubmitFacts};
use shared::request::AidRequest;
use shared::{Action, EventId, RequestId, Status};

use crate::Ports;
use crate::fixtures::{
    KELURAHAN_A, KELURAHAN_B, TO_DELIVERED, advance, at, code, drive, idempotency, kelurahan, kk,
    nik, registry_row, submission, submission_for, transition,
};

/// A consumer name no case acknowledges with: it sees every event ever written.
const PROBE: &str = "conformance-probe";

pub(crate) fn must<T>(what: &str, r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: unexpected store error {e:?}"))
}

/// Every event in the outbox, in write order.
pub(crate) async fn all_events(p: &Ports) -> Vec<OutboxItem> {
    must(
        "reading the whole outbox",
        p.outbox.pending(PROBE, 100_000).await,
    )
}

pub(crate) async fn event_ids(p: &Ports) -> Vec<EventId> {
    all_events(p)
        .await
        .into_iter()
        .map(|i| i.event.id)
        .collect()
}

pub(crate) async fn insert(p: &Ports, new: NewRequest) -> AidRequest {
    let request = new.request.clone();
    must("inserting a new request", p.requests.insert(new).await);
    request
}

async fn active(p: &Ports, head: u16, family: u16) -> Option<RequestId> {
    must(
        "active_for",
        p.requests.active_for(&nik(head), &kk(family)).await,
    )
}

/// Store errors reach logs and problem documents: they must never carry a NIK or KK.
fn assert_no_personal_data(err: &StoreError, numbers: &[&str]) {
    let text = format!("{err} {err:?}");
    for n in numbers {
        assert!(
            !text.contains(n),
            "a store error must not contain a NIK or KK, got {text}"
        );
    }
}

/// Asserts that a refused insert of `new` left no trace: no request, no history, no guard on
/// its head NIK or KK, no event, no idempotency record.
async fn assert_not_written(p: &Ports, new: &NewRequest, events_before: &[EventId]) {
    let r = &new.request;
    assert_eq!(
        must("get", p.requests.get(&r.id).await),
        None,
        "a refused insert must not store the request"
    );
    assert!(
        must("history", p.requests.history(&r.id).await).is_empty(),
        "a refused insert must not write history"
    );
    assert_eq!(
        event_ids(p).await,
        events_before,
        "a refused insert must not write its event"
    );
    if let Some(idem) = &new.idempotency {
        assert_eq!(
            must("idempotency get", p.idempotency.get(&idem.key).await),
            None,
            "a refused insert must not record its idempotency key"
        );
    }
    // The keys may be held by the request that refused this one, never by this one.
    for (holder, which) in [
        (
            p.requests
                .active_for(&r.household.head_nik, &nik_free_kk())
                .await,
            "head NIK",
        ),
        (
            p.requests.active_for(&nik_free(), &r.household.kk).await,
            "KK",
        ),
    ] {
        assert_ne!(
            must("active_for", holder),
            Some(r.id.clone()),
            "a refused insert must not claim its {which}"
        );
    }
}

/// A NIK and a KK that no case submits.
fn nik_free() -> shared::Nik {
    nik(9999)
}
fn nik_free_kk() -> shared::Kk {
    kk(9999)
}

async fn list(p: &Ports, query: ListQuery) -> shared::ports::Page<AidRequest> {
    must("list", p.requests.list(&query).await)
}

fn query(limit: u32) -> ListQuery {
    ListQuery {
        kelurahan: None,
        status: None,
        created_from: None,
        created_before: None,
        limit,
        cursor: None,
    }
}

/// Follows `next_cursor` to the end; returns the ids and the size of every page.
async fn all_pages(p: &Ports, mut q: ListQuery) -> (Vec<RequestId>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    for _ in 0..1000 {
        let page = list(p, q.clone()).await;
        sizes.push(page.items.len());
        ids.extend(page.items.into_iter().map(|r| r.id));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return (ids, sizes),
        }
    }
    panic!("paging did not end after 1000 pages: the cursor does not advance");
}

/// Ids newest first, ties by id descending: the order every listing promises.
fn newest_first(requests: &[&AidRequest]) -> Vec<RequestId> {
    let mut v: Vec<_> = requests
        .iter()
        .map(|r| (r.created_at, r.id.clone()))
        .collect();
    v.sort_by(|a, b| b.cmp(a));
    v.into_iter().map(|(_, id)| id).collect()
}

// ---------------------------------------------------------------------------------------------

/// An inserted request reads back exactly; its history, event and household guard exist.
pub async fn insert_and_get(p: &Ports) {
    let new = submission(1, KELURAHAN_A, at(0));
    let (entry, event) = (new.entry.clone(), new.event.clone());
    let r = insert(p, new).await;

    assert_eq!(
        must("get", p.requests.get(&r.id).await),
        Some(r.clone()),
        "get must return the request exactly as inserted"
    );
    assert_eq!(
        must("get", p.requests.get(&RequestId::new()).await),
        None,
        "get of an unknown id must be None"
    );
    assert_eq!(
        must("id_by_code", p.requests.id_by_code(&r.code).await),
        Some(r.id.clone()),
        "its human code names it"
    );
    let other = if r.code.as_str() == "BSK-000000" {
        "BSK-000001"
    } else {
        "BSK-000000"
    };
    assert_eq!(
        must(
            "id_by_code",
            p.requests
                .id_by_code(&shared::RequestCode::from_stored(other.into()))
                .await
        ),
        None,
        "an unknown code names nothing"
    );
    assert_eq!(
        must("history", p.requests.history(&r.id).await),
        vec![entry],
        "the submission must write its first history entry"
    );
    let events = all_events(p).await;
    assert_eq!(
        events.len(),
        1,
        "the submission must write exactly one event"
    );
    assert_eq!(events[0].event, event, "the event must read back exactly");

    assert_eq!(active(p, 1, 1).await, Some(r.id.clone()), "by NIK and KK");
    assert_eq!(
        active(p, 1, 900).await,
        Some(r.id.clone()),
        "by head NIK alone"
    );
    assert_eq!(active(p, 900, 1).await, Some(r.id.clone()), "by KK alone");
    assert_eq!(active(p, 900, 900).await, None, "another household is free");
    assert_eq!(
        must(
            "last_delivery",
            p.requests.last_delivery(&nik(1), &kk(1)).await
        ),
        None,
        "a household never delivered to has no last delivery"
    );
}

/// A second active request with the same head NIK (another KK) is refused, naming the first,
/// and writes nothing.
pub async fn duplicate_active_by_nik(p: &Ports) {
    let first = insert(p, submission(1, KELURAHAN_A, at(0))).await;
    let before = event_ids(p).await;

    let mut second = submission_for(nik(1), kk(2), KELURAHAN_A, at(10));
    second.idempotency = Some(idempotency("kelurahan-1:k2", "fp-2", at(10)));
    let err = p
        .requests
        .insert(second.clone())
        .await
        .expect_err("a second active request for the same head NIK must be refused");
    assert_eq!(err, StoreError::DuplicateActive(first.id.clone()));
    assert_no_personal_data(&err, &[nik(1).as_str(), kk(2).as_str()]);
    assert_not_written(p, &second, &before).await;
    assert_eq!(
        active(p, 1, 1).await,
        Some(first.id),
        "the first still holds"
    );

    // Nothing lingers: a different household goes through.
    insert(p, submission(3, KELURAHAN_A, at(20))).await;
}

/// A second active request with the same KK (another head NIK) is refused, naming the first;
/// the NIK it would have claimed stays free.
pub async fn duplicate_active_by_kk(p: &Ports) {
    let first = insert(p, submission(1, KELURAHAN_A, at(0))).await;
    let before = event_ids(p).await;

    let mut second = submission_for(nik(2), kk(1), KELURAHAN_B, at(10));
    second.idempotency = Some(idempotency("kelurahan-1:k2", "fp-2", at(10)));
    let err = p
        .requests
        .insert(second.clone())
        .await
        .expect_err("a second active request for the same KK must be refused");
    assert_eq!(err, StoreError::DuplicateActive(first.id.clone()));
    assert_no_personal_data(&err, &[nik(2).as_str(), kk(1).as_str()]);
    assert_not_written(p, &second, &before).await;
    assert_eq!(
        active(p, 2, 900).await,
        None,
        "the refused NIK claim is rolled back"
    );

    // The head NIK of the refused request can be used with its own KK.
    insert(p, submission_for(nik(2), kk(2), KELURAHAN_B, at(20))).await;
}

/// Only leaving the active states releases the household: a cancelled or rejected request no
/// longer blocks, one in survey or dispatched still does.
pub async fn guard_released_after_cancel_and_rejection(p: &Ports) {
    let mut a = insert(p, submission(1, KELURAHAN_A, at(0))).await;
    drive(p, &mut a, &[Action::AssignSurvey], at(1)).await;
    let retry = submission(1, KELURAHAN_A, at(2));
    assert_eq!(
        p.requests.insert(retry).await,
        Err(StoreError::DuplicateActive(a.id.clone())),
        "a request in survey still holds the household"
    );
    drive(p, &mut a, &[Action::Cancel], at(3)).await;
    assert_eq!(
        active(p, 1, 1).await,
        None,
        "cancelling releases the household"
    );

    let mut b = insert(p, submission(1, KELURAHAN_A, at(4))).await;
    assert_eq!(active(p, 1, 1).await, Some(b.id.clone()));
    drive(
        p,
        &mut b,
        &[Action::AssignSurvey, Action::RecordSurvey, Action::Reject],
        at(5),
    )
    .await;
    assert_eq!(
        active(p, 1, 1).await,
        None,
        "rejecting releases the household"
    );

    let mut c = insert(p, submission(1, KELURAHAN_A, at(10))).await;
    drive(p, &mut c, &TO_DELIVERED[..5], at(11)).await;
    assert_eq!(c.status, Status::Dispatched);
    assert_eq!(
        p.requests.insert(submission(1, KELURAHAN_A, at(20))).await,
        Err(StoreError::DuplicateActive(c.id.clone())),
        "a dispatched request still holds the household"
    );
    assert_eq!(
        must(
            "last_delivery",
            p.requests.last_delivery(&nik(1), &kk(1)).await
        ),
        None,
        "cancelled, rejected and dispatched are not deliveries"
    );
}

/// A transition written over a version that moved on is refused and writes nothing: no state,
/// no history, no event, no released household.
pub async fn version_conflict_writes_nothing(p: &Ports) {
    let stored = insert(p, submission(1, KELURAHAN_A, at(0))).await;

    let mut winner = stored.clone();
    let (win_entry, win_event) = transition(&mut winner, Action::AssignSurvey, at(1));
    must(
        "the first transition over version 1",
        p.requests.update(&winner, &win_entry, &win_event).await,
    );
    let before = event_ids(p).await;

    let mut stale = stored.clone();
    let (entry, event) = transition(&mut stale, Action::Cancel, at(2));
    assert_eq!(
        p.requests.update(&stale, &entry, &event).await,
        Err(StoreError::VersionConflict),
        "a transition over a stale version must be refused"
    );
    assert_eq!(
        p.requests.update(&winner, &win_entry, &win_event).await,
        Err(StoreError::VersionConflict),
        "writing the same transition twice must be refused the second time"
    );
    let mut ghost = stale.clone();
    ghost.id = RequestId::new();
    let (g_entry, g_event) = {
        let mut e = entry.clone();
        e.request_id = ghost.id.clone();
        let mut ev = event.clone();
        ev.request.as_mut().expect("a request event").id = ghost.id.clone();
        (e, ev)
    };
    assert_eq!(
        p.requests.update(&ghost, &g_entry, &g_event).await,
        Err(StoreError::VersionConflict),
        "a transition of an unknown request must be refused"
    );

    assert_eq!(
        must("get", p.requests.get(&stored.id).await),
        Some(winner.clone()),
        "the stored request is the winner's"
    );
    let history = must("history", p.requests.history(&stored.id).await);
    assert_eq!(
        history.iter().map(|h| h.version).collect::<Vec<_>>(),
        vec![1, 2],
        "the refused transition must not write history"
    );
    assert_eq!(
        event_ids(p).await,
        before,
        "the refused transition must not write its event"
    );
    assert_eq!(
        active(p, 1, 1).await,
        Some(stored.id),
        "the refused cancel must not release the household"
    );
}

/// The idempotency record is written with the request or not at all; a taken key is refused
/// before anything else is checked.
pub async fn idempotency_record_written_atomically(p: &Ports) {
    let record = idempotency("kelurahan-1:key-1", "fp-1", at(0));
    let mut first = submission(1, KELURAHAN_A, at(0));
    first.idempotency = Some(record.clone());
    let a = insert(p, first).await;
    assert_eq!(
        must("idempotency get", p.idempotency.get(&record.key).await),
        Some(record.clone()),
        "the record must read back exactly"
    );
    assert_eq!(
        must(
            "idempotency get",
            p.idempotency.get("kelurahan-1:unknown").await
        ),
        None
    );
    assert_eq!(
        must(
            "idempotency get",
            p.idempotency.get("kelurahan-2:key-1").await
        ),
        None,
        "keys are whole strings, not prefixes"
    );
    let before = event_ids(p).await;

    // The same key for another household: refused, nothing written, the record unchanged.
    let mut other = submission(2, KELURAHAN_A, at(1));
    other.idempotency = Some(idempotency("kelurahan-1:key-1", "fp-other", at(1)));
    assert_eq!(
        p.requests.insert(other.clone()).await,
        Err(StoreError::IdempotencyKeyTaken)
    );
    other.idempotency = None; // the key exists, but it is the first request's
    assert_not_written(p, &other, &before).await;
    assert_eq!(
        must("idempotency get", p.idempotency.get(&record.key).await),
        Some(record.clone()),
        "a refused insert must not overwrite the first record"
    );

    // A retry racing its own first attempt (same key, same household) must learn that the key
    // is taken, so that it can answer with the stored response, not with a duplicate.
    let mut retry = submission(1, KELURAHAN_A, at(2));
    retry.idempotency = Some(idempotency("kelurahan-1:key-1", "fp-1", at(2)));
    assert_eq!(
        p.requests.insert(retry).await,
        Err(StoreError::IdempotencyKeyTaken),
        "a taken key must win over the duplicate-household check"
    );

    // An insert refused for another reason does not leave its key behind.
    let mut dup = submission_for(nik(1), kk(5), KELURAHAN_A, at(3));
    dup.idempotency = Some(idempotency("kelurahan-1:key-2", "fp-2", at(3)));
    assert_eq!(
        p.requests.insert(dup.clone()).await,
        Err(StoreError::DuplicateActive(a.id.clone()))
    );
    assert_not_written(p, &dup, &before).await;

    // …so the key is still free for a request that succeeds.
    let mut later = submission(3, KELURAHAN_A, at(4));
    let key2 = idempotency("kelurahan-1:key-2", "fp-3", at(4));
    later.idempotency = Some(key2.clone());
    insert(p, later).await;
    assert_eq!(
        must("idempotency get", p.idempotency.get(&key2.key).await),
        Some(key2)
    );
}

/// A taken human code is refused with `CodeTaken` and writes nothing; the same submission
/// with another code goes through.
pub async fn code_taken(p: &Ports) {
    let a = insert(p, submission(1, KELURAHAN_A, at(0))).await;
    let before = event_ids(p).await;

    let mut b = submission(2, KELURAHAN_A, at(1));
    b.request.code = a.code.clone();
    b.event.request.as_mut().expect("a request event").code = a.code.clone();
    b.idempotency = Some(idempotency("kelurahan-1:key-b", "fp-b", at(1)));
    assert_eq!(
        p.requests.insert(b.clone()).await,
        Err(StoreError::CodeTaken),
        "a code already used must be refused"
    );
    assert_not_written(p, &b, &before).await;

    let fresh = code();
    b.request.code = fresh.clone();
    b.event.request.as_mut().expect("a request event").code = fresh;
    let b = insert(p, b).await;
    assert_eq!(
        must("get", p.requests.get(&b.id).await),
        Some(b),
        "the retry with a new code is stored"
    );
}

/// Listing is newest first (then id descending), pages end with no cursor, and a cursor the
/// store did not hand out is refused.
pub async fn list_newest_first_and_invalid_cursor(p: &Ports) {
    let empty = list(p, query(20)).await;
    assert!(empty.items.is_empty(), "an empty store lists nothing");
    assert_eq!(empty.next_cursor, None, "an empty listing has no next page");

    let mut inserted = Vec::new();
    // Written out of time order, with a tie at t=30.
    for (serial, t) in [(1, 20), (2, 50), (3, 30), (4, 10), (5, 30), (6, 40)] {
        inserted.push(insert(p, submission(serial, KELURAHAN_A, at(t))).await);
    }
    let expected = newest_first(&inserted.iter().collect::<Vec<_>>());

    let page = list(p, query(100)).await;
    assert_eq!(
        page.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        expected,
        "newest first, ties by id descending"
    );
    assert_eq!(page.next_cursor, None, "everything fits: no next page");
    assert_eq!(
        page.items[0], inserted[1],
        "list items are the whole stored requests"
    );

    let (ids, sizes) = all_pages(p, query(2)).await;
    assert_eq!(ids, expected, "paging by 2 gives the same order");
    assert_eq!(sizes, vec![2, 2, 2], "no empty page after an exact fit");

    for bad in ["not a cursor!", "AAAA", "eyJ9"] {
        let mut q = query(2);
        q.cursor = Some(bad.to_string());
        assert_eq!(
            p.requests.list(&q).await,
            Err(StoreError::InvalidCursor),
            "cursor {bad:?} was not handed out by the store"
        );
    }
}

/// 55 requests with the very same `created_at`, in pages of 20: three pages (20, 20, 15),
/// 55 distinct ids, in id-descending order. Ties must not lose or repeat items.
pub async fn list_pagination_with_equal_timestamps(p: &Ports) {
    let t = at(0) + Duration::milliseconds(250);
    let mut inserted = Vec::new();
    for serial in 1..=55 {
        inserted.push(insert(p, submission(serial, KELURAHAN_A, t)).await);
    }
    let expected = newest_first(&inserted.iter().collect::<Vec<_>>());

    let (ids, sizes) = all_pages(p, query(20)).await;
    assert_eq!(sizes, vec![20, 20, 15], "55 items in pages of 20");
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 55, "every item exactly once across pages");
    assert_eq!(ids, expected, "equal times are ordered by id, descending");

    let all = list(p, query(55)).await;
    assert_eq!(all.items.len(), 55);
    assert_eq!(
        all.next_cursor, None,
        "a page holding the last item has no next cursor"
    );
}

/// Filters by kelurahan, by status and by both, on the current status, with paging.
pub async fn list_filters_by_kelurahan_and_status(p: &Ports) {
    let mut a: Vec<AidRequest> = Vec::new();
    for serial in 1..=4 {
        a.push(insert(p, submission(serial, KELURAHAN_A, at(serial as i64))).await);
    }
    let mut b: Vec<AidRequest> = Vec::new();
    for serial in 5..=7 {
        b.push(insert(p, submission(serial, KELURAHAN_B, at(serial as i64))).await);
    }
    drive(p, &mut a[1], &[Action::AssignSurvey], at(100)).await;
    drive(p, &mut b[1], &[Action::AssignSurvey], at(101)).await;
    drive(p, &mut a[2], &[Action::Cancel], at(102)).await;

    let ids = |v: &[&AidRequest]| v.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let cases: Vec<(Option<&str>, Option<Status>, Vec<RequestId>)> = vec![
        (Some(KELURAHAN_A), None, ids(&[&a[3], &a[2], &a[1], &a[0]])),
        (Some(KELURAHAN_B), None, ids(&[&b[2], &b[1], &b[0]])),
        (None, Some(Status::SurveyAssigned), ids(&[&b[1], &a[1]])),
        (
            None,
            Some(Status::Submitted),
            ids(&[&b[2], &b[0], &a[3], &a[0]]),
        ),
        (
            Some(KELURAHAN_A),
            Some(Status::Submitted),
            ids(&[&a[3], &a[0]]),
        ),
        (Some(KELURAHAN_A), Some(Status::Cancelled), ids(&[&a[2]])),
        (Some(KELURAHAN_B), Some(Status::Cancelled), vec![]),
        (None, Some(Status::Delivered), vec![]),
    ];
    for (kel, status, expected) in cases {
        let q = ListQuery {
            kelurahan: kel.map(kelurahan),
            status,
            created_from: None,
            created_before: None,
            limit: 100,
            cursor: None,
        };
        let page = list(p, q.clone()).await;
        let got: Vec<_> = page.items.iter().map(|r| r.id.clone()).collect();
        assert_eq!(got, expected, "kelurahan {kel:?}, status {status:?}");
        assert!(
            page.items
                .iter()
                .all(|r| status.is_none_or(|s| r.status == s)),
            "items carry their current status"
        );
        let (paged, _) = all_pages(p, ListQuery { limit: 1, ..q }).await;
        assert_eq!(
            paged, expected,
            "paging one by one, kelurahan {kel:?}, status {status:?}"
        );
    }
}

/// A creation range `[created_from, created_before)` narrows every listing shape to exactly
/// the requests created in it, whatever their status now: the first instant of the range is
/// in, the instant it ends is out (a report's from-midnight and to+1-midnight WIB), paging
/// across equal timestamps and the range's edges neither loses nor repeats a request, and a
/// cursor whose position lies outside the range is refused.
pub async fn list_by_creation_range_with_exact_boundaries(p: &Ports) {
    // 1 March 2026 00:00 WIB (UTC+7) up to, not including, 3 March 00:00 WIB: a report of
    // 1 to 2 March.
    let from = at(-8 * 3600);
    let before = from + Duration::days(2);
    let wib = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    assert_eq!(
        from.with_timezone(&wib).to_rfc3339(),
        "2026-03-01T00:00:00+07:00"
    );
    let ns = Duration::nanoseconds;
    let middle = from + Duration::hours(30);
    // (serial, kelurahan, created_at, inside the range)
    let plan = [
        (1, KELURAHAN_A, from - ns(1), false),
        (2, KELURAHAN_A, from, true),
        (3, KELURAHAN_B, from, true),
        (4, KELURAHAN_A, from + ns(1), true),
        (5, KELURAHAN_A, middle, true),
        (6, KELURAHAN_B, middle, true),
        (7, KELURAHAN_A, middle, true),
        (8, KELURAHAN_B, before - ns(1), true),
        (9, KELURAHAN_A, before - ns(1), true),
        (10, KELURAHAN_A, before, false),
        (11, KELURAHAN_B, before, false),
        (12, KELURAHAN_A, before + Duration::days(1), false),
    ];
    let mut requests = Vec::new();
    for (serial, kel, t, _) in plan {
        requests.push(insert(p, submission(serial, kel, t)).await);
    }
    // Statuses move on after submission; the range is on the creation time all the same.
    drive(
        p,
        &mut requests[1],
        &[Action::AssignSurvey],
        before + Duration::hours(1),
    )
    .await;
    drive(
        p,
        &mut requests[6],
        &[Action::Cancel],
        before + Duration::hours(2),
    )
    .await;
    drive(
        p,
        &mut requests[9],
        &[Action::AssignSurvey],
        before + Duration::hours(3),
    )
    .await;
    drive(
        p,
        &mut requests[0],
        &[Action::AssignSurvey],
        before + Duration::hours(4),
    )
    .await;

    let inside: Vec<&AidRequest> = plan
        .iter()
        .zip(&requests)
        .filter(|((_, _, _, inside), _)| *inside)
        .map(|(_, r)| r)
        .collect();
    let ranged = |kelurahan: Option<&str>, status: Option<Status>, limit: u32| ListQuery {
        kelurahan: kelurahan.map(crate::fixtures::kelurahan),
        status,
        created_from: Some(from),
        created_before: Some(before),
        limit,
        cursor: None,
    };
    let pick = |kel: Option<&str>, status: Option<Status>| {
        let chosen: Vec<&AidRequest> = inside
            .iter()
            .copied()
            .filter(|r| kel.is_none_or(|k| r.kelurahan_code.as_str() == k))
            .filter(|r| status.is_none_or(|s| r.status == s))
            .collect();
        newest_first(&chosen)
    };
    let shapes: Vec<(Option<&str>, Option<Status>)> = vec![
        (None, None),
        (Some(KELURAHAN_A), None),
        (Some(KELURAHAN_B), None),
        (None, Some(Status::Submitted)),
        (None, Some(Status::SurveyAssigned)),
        (Some(KELURAHAN_A), Some(Status::Submitted)),
        (Some(KELURAHAN_A), Some(Status::Cancelled)),
        (Some(KELURAHAN_B), Some(Status::SurveyAssigned)),
    ];
    for (kel, status) in shapes {
        let expected = pick(kel, status);
        let page = list(p, ranged(kel, status, 100)).await;
        let got: Vec<_> = page.items.iter().map(|r| r.id.clone()).collect();
        assert_eq!(
            got, expected,
            "created in [from, before), kelurahan {kel:?}, status {status:?}"
        );
        assert_eq!(page.next_cursor, None, "everything fits: no next page");
        for limit in [1, 2, 3] {
            let (paged, sizes) = all_pages(p, ranged(kel, status, limit)).await;
            assert_eq!(
                paged, expected,
                "paging by {limit}, kelurahan {kel:?}, status {status:?}"
            );
            assert!(
                sizes.iter().all(|n| *n > 0) || expected.is_empty(),
                "no empty page: {sizes:?}"
            );
        }
    }
    assert_eq!(
        pick(None, None).len(),
        8,
        "the two at `from` and the two a nanosecond before `before` are in"
    );

    // Either bound alone.
    let only_from = ListQuery {
        created_before: None,
        ..ranged(None, None, 100)
    };
    let mut after_from: Vec<&AidRequest> =
        requests.iter().filter(|r| r.created_at >= from).collect();
    after_from.sort_by_key(|r| r.created_at);
    let got: Vec<_> = list(p, only_from)
        .await
        .items
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(got, newest_first(&after_from), "created_from alone");
    let only_before = ListQuery {
        created_from: None,
        ..ranged(None, None, 2)
    };
    let before_end: Vec<&AidRequest> = requests.iter().filter(|r| r.created_at < before).collect();
    let (got, _) = all_pages(p, only_before).await;
    assert_eq!(
        got,
        newest_first(&before_end),
        "created_before alone, by pages of 2"
    );

    // A range in which nothing was created.
    let empty = ListQuery {
        created_from: Some(before + Duration::days(5)),
        created_before: Some(before + Duration::days(6)),
        ..ranged(None, None, 10)
    };
    let page = list(p, empty).await;
    assert!(
        page.items.is_empty() && page.next_cursor.is_none(),
        "nothing in that range"
    );

    // The first page of the whole listing ends at the newest request, which is after the
    // range: its cursor is no position of the ranged listing.
    let unranged = list(p, query(1)).await;
    assert_eq!(unranged.items[0].id, requests[11].id);
    let stranger = unranged.next_cursor.expect("more follow");
    let q = ListQuery {
        cursor: Some(stranger),
        ..ranged(None, None, 2)
    };
    assert_eq!(
        p.requests.list(&q).await,
        Err(StoreError::InvalidCursor),
        "a cursor outside the range"
    );
}

/// History lists every transition once, oldest first, exactly as written.
pub async fn history_oldest_first(p: &Ports) {
    let new = submission(1, KELURAHAN_A, at(0));
    let mut expected = vec![new.entry.clone()];
    let mut r = insert(p, new).await;
    let other = insert(p, submission(2, KELURAHAN_A, at(1))).await;
    for (i, action) in [Action::AssignSurvey, Action::RecordSurvey, Action::Approve]
        .into_iter()
        .enumerate()
    {
        let (entry, event) = transition(&mut r, action, at(10 + i as i64));
        must("update", p.requests.update(&r, &entry, &event).await);
        expected.push(entry);
    }
    let history = must("history", p.requests.history(&r.id).await);
    assert_eq!(
        history, expected,
        "every transition, oldest first, as written"
    );
    assert_eq!(
        history.iter().map(|h| h.action).collect::<Vec<_>>(),
        vec![
            Action::Submit,
            Action::AssignSurvey,
            Action::RecordSurvey,
            Action::Approve
        ]
    );
    assert_eq!(
        must("history", p.requests.history(&other.id).await).len(),
        1,
        "another request's history is its own"
    );
    assert!(
        must("history", p.requests.history(&RequestId::new()).await).is_empty(),
        "an unknown request has no history"
    );
}

/// Reaching `delivered` records the delivery time under the head NIK and under the KK;
/// `last_delivery` is the latest over both.
pub async fn last_delivery_for_cooldown(p: &Ports) {
    let mut first = insert(p, submission(1, KELURAHAN_A, at(0))).await;
    drive(p, &mut first, &TO_DELIVERED[..5], at(10)).await;
    let last = |head: u16, family: u16| async move {
        must(
            "last_delivery",
            p.requests.last_delivery(&nik(head), &kk(family)).await,
        )
    };
    assert_eq!(last(1, 1).await, None, "dispatched is not delivered");

    let handed_over = at(100) + Duration::milliseconds(250);
    must(
        "handover",
        advance(p, &mut first, Action::Handover, handed_over).await,
    );
    assert_eq!(first.status, Status::Delivered);
    assert_eq!(last(1, 1).await, Some(handed_over), "by NIK and KK");
    assert_eq!(last(1, 900).await, Some(handed_over), "by head NIK alone");
    assert_eq!(last(900, 1).await, Some(handed_over), "by KK alone");
    assert_eq!(last(900, 900).await, None, "another household");
    assert_eq!(
        active(p, 1, 1).await,
        None,
        "delivered releases the household"
    );

    // A later delivery to the same family under another head: the latest counts for the KK.
    let mut second = insert(p, submission_for(nik(2), kk(1), KELURAHAN_A, at(200))).await;
    drive(p, &mut second, &TO_DELIVERED, at(300)).await;
    let second_at = second.updated_at;
    assert_eq!(last(2, 900).await, Some(second_at));
    assert_eq!(
        last(1, 1).await,
        Some(second_at),
        "the latest over NIK and KK"
    );
    assert_eq!(
        last(1, 900).await,
        Some(handed_over),
        "the first head's own delivery"
    );
}

/// [`shared::ports::SubmitReads::submit_facts`] answers exactly what the separate reads answer:
/// the key's stored record (and then nothing else), the registry row, the active request (the
/// head NIK's holder first) and the last delivery.
pub async fn submit_facts_agree_with_the_separate_reads(p: &Ports) {
    let facts = |key: Option<&'static str>, head: u16, family: u16| async move {
        must(
            "submit_facts",
            p.submit_reads
                .submit_facts(key, &nik(head), &kk(family))
                .await,
        )
    };
    let separate = |head: u16, family: u16| async move {
        SubmitFacts {
            prior: None,
            registry: must("registry lookup", p.registry.lookup(&nik(head)).await),
            active: active(p, head, family).await,
            last_delivery: must(
                "last_delivery",
                p.requests.last_delivery(&nik(head), &kk(family)).await,
            ),
        }
    };
    let key = "kelurahan-1:facts-1";
    assert_eq!(
        facts(None, 1, 1).await,
        SubmitFacts::default(),
        "an empty store"
    );
    assert_eq!(
        facts(Some(key), 1, 1).await,
        SubmitFacts::default(),
        "an unknown key"
    );

    // Household 1: in the registry, delivered once, and submitted again (keyed).
    let rows = vec![registry_row(1, "Siti Aminah", KELURAHAN_A, 2)];
    must("registry upsert", p.registry.upsert(&rows).await);
    let mut delivered = insert(p, submission(1, KELURAHAN_A, at(0))).await;
    drive(p, &mut delivered, &TO_DELIVERED, at(10)).await;
    let mut keyed = submission(1, KELURAHAN_A, at(100));
    let record = idempotency(key, "fp-facts", at(100));
    keyed.idempotency = Some(record.clone());
    let again = insert(p, keyed).await;
    let expected = SubmitFacts {
        prior: None,
        registry: Some(rows[0].clone()),
        active: Some(again.id.clone()),
        last_delivery: Some(delivered.updated_at),
    };
    assert_eq!(separate(1, 1).await, expected, "the separate reads");
    assert_eq!(facts(None, 1, 1).await, expected, "all four, in one call");
    assert_eq!(
        facts(Some("kelurahan-1:another"), 1, 1).await,
        expected,
        "a key with no record reads the rest"
    );
    assert_eq!(
        facts(Some(key), 1, 1).await,
        SubmitFacts {
            prior: Some(record),
            ..SubmitFacts::default()
        },
        "a stored answer, and nothing else"
    );

    // Two households, each holding one of the keys asked about: the head NIK's holder wins.
    let by_kk = insert(p, submission(2, KELURAHAN_A, at(200))).await;
    let by_nik = insert(p, submission(3, KELURAHAN_A, at(201))).await;
    let mixed = facts(None, 3, 2).await;
    assert_eq!(mixed, separate(3, 2).await);
    assert_eq!(mixed.active, Some(by_nik.id), "the head NIK's holder");
    assert_eq!(
        facts(None, 900, 2).await.active,
        Some(by_kk.id),
        "by KK alone"
    );
    assert_eq!(facts(None, 900, 900).await, SubmitFacts::default());
}

/// Loading counts inserted, updated and unchanged rows; loading the same rows again changes
/// nothing; lookups return the latest row.
pub async fn registry_upsert_counts_and_idempotent_reimport(p: &Ports) {
    let upsert = |rows: Vec<shared::registry::RegistryRecord>| async move {
        must("registry upsert", p.registry.upsert(&rows).await)
    };
    let lookup =
        |serial: u16| async move { must("registry lookup", p.registry.lookup(&nik(serial)).await) };
    let counts = |inserted, updated, unchanged| ImportCounts {
        inserted,
        updated,
        unchanged,
    };

    assert_eq!(upsert(vec![]).await, counts(0, 0, 0), "an empty load");
    let mut rows = vec![
        registry_row(1, "Siti Aminah", KELURAHAN_A, 1),
        registry_row(2, "Budi Santoso", KELURAHAN_A, 3),
        registry_row(3, "Dewi Lestari", KELURAHAN_B, 5),
    ];
    assert_eq!(upsert(rows.clone()).await, counts(3, 0, 0), "first load");
    assert_eq!(lookup(1).await, Some(rows[0].clone()));
    assert_eq!(lookup(4).await, None, "an unknown NIK");
    assert_eq!(
        upsert(rows.clone()).await,
        counts(0, 0, 3),
        "loading the same rows again changes nothing"
    );

    rows[0].desil = shared::household::Desil::new(2).expect("valid desil");
    rows[1].nama = "Budi Santoso Jr".into();
    rows.push(registry_row(4, "Rahmat Hidayat", KELURAHAN_B, 4));
    assert_eq!(
        upsert(rows.clone()).await,
        counts(1, 2, 1),
        "one new row, two changed, one as before"
    );
    for (serial, row) in (1..).zip(&rows) {
        assert_eq!(
            lookup(serial).await.as_ref(),
            Some(row),
            "row {serial} is the latest"
        );
    }

    rows[2].kelurahan_code = kelurahan(KELURAHAN_A);
    rows[3].kk = kk(40);
    assert_eq!(
        upsert(rows.clone()).await,
        counts(0, 2, 2),
        "a new kelurahan or KK is a change"
    );
    assert_eq!(lookup(3).await, Some(rows[2].clone()));
    assert_eq!(lookup(4).await, Some(rows[3].clone()));
    assert_eq!(upsert(rows).await, counts(0, 0, 4), "and again nothing");
}

/// Each consumer gets the events after its acknowledged position, in write order; an ack only
/// moves forward; consumers are independent.
pub async fn outbox_pending_and_ack_in_order(p: &Ports) {
    let pending = |consumer: &'static str, limit: usize| async move {
        must("outbox pending", p.outbox.pending(consumer, limit).await)
    };
    assert!(pending("notify", 10).await.is_empty(), "an empty outbox");

    let mut written: Vec<Event> = Vec::new();
    let new_a = submission(1, KELURAHAN_A, at(0));
    written.push(new_a.event.clone());
    let mut a = insert(p, new_a).await;
    let new_b = submission(2, KELURAHAN_B, at(1));
    written.push(new_b.event.clone());
    let mut b = insert(p, new_b).await;
    written.push(must(
        "assign",
        advance(p, &mut a, Action::AssignSurvey, at(2)).await,
    ));
    let new_c = submission(3, KELURAHAN_A, at(3));
    written.push(new_c.event.clone());
    insert(p, new_c).await;
    written.push(must(
        "cancel",
        advance(p, &mut b, Action::Cancel, at(4)).await,
    ));

    let items = pending("notify", 100).await;
    assert_eq!(
        items.iter().map(|i| i.event.clone()).collect::<Vec<_>>(),
        written,
        "every event, exactly as written, in write order"
    );
    assert!(
        items.windows(2).all(|w| w[0].position < w[1].position),
        "positions increase in write order"
    );
    assert!(matches!(
        items[4].event.kind,
        EventKind::RequestCancelled { .. }
    ));
    assert_eq!(pending("notify", 2).await, items[..2], "limit");

    must("ack", p.outbox.ack("notify", items[1].position).await);
    assert_eq!(
        pending("notify", 100).await,
        items[2..],
        "after an ack, only the later events"
    );
    assert_eq!(
        pending("allocate-stock", 100).await,
        items,
        "another consumer is not affected"
    );
    must("ack", p.outbox.ack("notify", items[0].position).await);
    assert_eq!(
        pending("notify", 100).await,
        items[2..],
        "an older ack does not move the offset back"
    );
    must("ack", p.outbox.ack("notify", items[4].position).await);
    assert!(pending("notify", 100).await.is_empty(), "all acknowledged");

    let new_d = submission(4, KELURAHAN_A, at(5));
    let d_event = new_d.event.clone();
    insert(p, new_d).await;
    let after = pending("notify", 100).await;
    assert_eq!(after.len(), 1, "only the new event");
    assert_eq!(after[0].event, d_event);
    assert!(after[0].position > items[4].position);
}

/// Runs `news` concurrently (all released at once); returns the results in the same order.
async fn insert_concurrently(p: &Ports, news: Vec<NewRequest>) -> Vec<Result<(), StoreError>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(news.len()));
    let tasks: Vec<_> = news
        .into_iter()
        .map(|new| {
            let store = Arc::clone(&p.requests);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                store.insert(new).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("insert task panicked"));
    }
    results
}

/// Twenty concurrent submissions for one head NIK (each with its own KK): exactly one is
/// stored, nineteen are told which one; then the same for one KK.
pub async fn concurrent_inserts_same_household_exactly_one_wins(p: &Ports) {
    for by_kk in [false, true] {
        let news: Vec<NewRequest> = (0..20u16)
            .map(|i| {
                let (head, family) = if by_kk {
                    (nik(100 + i), kk(1))
                } else {
                    (nik(1), kk(100 + i))
                };
                submission_for(head, family, KELURAHAN_A, at(i64::from(i)))
            })
            .collect();
        let before = event_ids(p).await;
        let results = insert_concurrently(p, news.clone()).await;

        let winners: Vec<&NewRequest> = news
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(n, _)| n)
            .collect();
        let what = if by_kk { "KK" } else { "head NIK" };
        assert_eq!(
            winners.len(),
            1,
            "exactly one of 20 for one {what} wins: {results:?}"
        );
        let winner = &winners[0].request.id;
        for r in &results {
            if let Err(e) = r {
                assert_eq!(
                    e,
                    &StoreError::DuplicateActive(winner.clone()),
                    "every loser names the winner ({what})"
                );
            }
        }
        let events = event_ids(p).await;
        assert_eq!(
            events.len(),
            before.len() + 1,
            "only the winner's event ({what})"
        );
        for (new, r) in news.iter().zip(&results) {
            let stored = must("get", p.requests.get(&new.request.id).await);
            assert_eq!(
                stored.is_some(),
                r.is_ok(),
                "only the winner is stored ({what})"
            );
            if r.is_err() {
                let (head, family) = (&new.request.household.head_nik, &new.request.household.kk);
                let own = if by_kk {
                    p.requests.active_for(head, &kk(9999)).await
                } else {
                    p.requests.active_for(&nik(9999), family).await
                };
                assert_eq!(
                    must("active_for", own),
                    None,
                    "a loser's other key is not claimed ({what})"
                );
            }
        }
    }
}

/// Ten concurrent transitions from the same version: exactly one is written.
pub async fn concurrent_updates_exactly_one_wins(p: &Ports) {
    let stored = insert(p, submission(1, KELURAHAN_A, at(0))).await;
    let tries: Vec<_> = (0..10)
        .map(|i| {
            let mut r = stored.clone();
            let (entry, event) = transition(&mut r, Action::AssignSurvey, at(1 + i));
            (r, entry, event)
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(tries.len()));
    let tasks: Vec<_> = tries
        .iter()
        .cloned()
        .map(|(r, entry, event)| {
            let store = Arc::clone(&p.requests);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                store.update(&r, &entry, &event).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("update task panicked"));
    }
    let ok: Vec<usize> = (0..results.len()).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(
        ok.len(),
        1,
        "exactly one of 10 transitions wins: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::VersionConflict))),
        "the others are version conflicts: {results:?}"
    );
    let (winner, entry, _) = &tries[ok[0]];
    assert_eq!(
        must("get", p.requests.get(&stored.id).await).as_ref(),
        Some(winner),
        "the stored request is the winner's"
    );
    let history = must("history", p.requests.history(&stored.id).await);
    assert_eq!(history.len(), 2, "one history entry per written transition");
    assert_eq!(&history[1], entry, "the winner's history entry");
    assert_eq!(
        all_events(p).await.len(),
        2,
        "one event per written transition"
    );
}

/// Twenty concurrent retries of one keyed submission (the same household, the same
/// `Idempotency-Key`; each attempt with its own id, code and event, as the use case makes
/// them). In the store: exactly one is written; every other is refused with
/// `IdempotencyKeyTaken` or `DuplicateActive` naming the winner, and by the time a refusal
/// is returned the winner's idempotency record can be read, so the use case can answer with
/// it. Through the submit use case over these ports: every retry gets the first answer (201,
/// the same body), never 409 for its own request.
pub async fn concurrent_keyed_retries_replay_the_first_answer(p: &Ports) {
    let key = "kelurahan-1:race-1";
    let news: Vec<NewRequest> = (0..20i64)
        .map(|i| {
            let mut new = submission(1, KELURAHAN_A, at(i));
            new.idempotency = Some(idempotency(key, "fp-race", at(i)));
            new
        })
        .collect();
    let results = insert_concurrently(p, news.clone()).await;
    let winners: Vec<&NewRequest> = news
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 20 retries is written: {results:?}"
    );
    let winner = winners[0];
    for r in &results {
        match r {
            Ok(()) | Err(StoreError::IdempotencyKeyTaken) => {}
            Err(StoreError::DuplicateActive(id)) => assert_eq!(
                id, &winner.request.id,
                "a retry refused as a duplicate names the winner"
            ),
            Err(e) => panic!("a retry must be refused as a taken key or a duplicate, got {e:?}"),
        }
    }
    assert_eq!(
        must("idempotency get", p.idempotency.get(key).await),
        winner.idempotency.clone(),
        "the winner's idempotency record is readable for the refused retries"
    );

    // The same race through the submit use case.
    let deps = shared::ports::Deps {
        requests: p.requests.clone(),
        idempotency: p.idempotency.clone(),
        registry: p.registry.clone(),
        submit_reads: p.submit_reads.clone(),
        clock: Arc::new(shared::ports::SystemClock),
        ids: Arc::new(shared::ports::RandomIds),
        policy: shared::policy::Policy::default(),
        catalog: None,
    };
    let caller = shared::Caller {
        sub: "kelurahan-1".into(),
        name: "Petugas kelurahan".into(),
        role: shared::Role::Kelurahan,
        kelurahan: Some(kelurahan(KELURAHAN_A)),
        phone: None,
    };
    let (deps, caller) = (Arc::new(deps), Arc::new(caller));
    // Three races, each released together and then spread over a few milliseconds (more
    // widely each time), so that on any store some retries read "no record for this key"
    // before the first attempt commits and look for the household after it.
    for (round, spread_us) in [(0u16, 250u64), (1, 500), (2, 1000)] {
        let (head, family) = (nik(2 + round), kk(2 + round));
        let body = Arc::new(serde_json::json!({
            "household": {
                "head_nik": head.as_str(), "kk": family.as_str(), "head_name": "Siti Aminah",
                "members": 4, "phone": "081234567890",
                "address": {"street": "Jl. Melati No. 7", "rt": "003", "rw": "011",
                            "kelurahan_code": KELURAHAN_A}
            },
            "category": "miskin_ekstrem", "urgency": "darurat",
            "situation": "Kepala keluarga sakit, tidak ada bahan makanan.",
            "reported_by": {"name": "Bu Ratna (PSM)", "phone": "081311112222"}
        }));
        let key = format!("retry-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20u64)
            .map(|i| {
                let (deps, caller, body, key) =
                    (deps.clone(), caller.clone(), body.clone(), key.clone());
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    tokio::time::sleep(std::time::Duration::from_micros(spread_us * i)).await;
                    shared::usecases::submit(&deps, &caller, Some(&key), &body).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.expect("submit task panicked"));
        }
        let answers: Vec<_> = answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|e| panic!("a retry of its own submission got {e:?}")))
            .collect();
        assert_eq!(
            answers.iter().filter(|a| !a.replayed).count(),
            1,
            "one first answer, every other one a replay"
        );
        for a in &answers {
            assert_eq!(a.status, 201);
            assert_eq!(a.body, answers[0].body, "every retry gets the first answer");
        }
        let held = must("active_for", p.requests.active_for(&head, &family).await)
            .expect("the household holds the one request");
        let view: serde_json::Value = serde_json::from_str(&answers[0].body).expect("JSON answer");
        assert_eq!(
            view["id"],
            held.as_str(),
            "the answer names the stored request"
        );
    }
}
