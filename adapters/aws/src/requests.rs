//! [`RequestStore`] and [`IdempotencyStore`] on the single table; and [`SubmitReads`], the
//! submit decision's reads as parallel requests.
//!
//! A submission is one `TransactWriteItems`, in this order (the first failed condition decides
//! the error, as in the embedded adapter):
//!
//! 1. the idempotency record, `attribute_not_exists(PK) OR ttl < now` → `IdempotencyKeyTaken`;
//! 2. the human code, `CODE#<code>`, `attribute_not_exists(PK)` → `CodeTaken`;
//! 3. the request, `REQ#<id>`/`REQ`, `attribute_not_exists(PK)`;
//! 4. the household guards `ACTIVE#NIK#<hmac>` and `ACTIVE#KK#<hmac>`,
//!    `attribute_not_exists(PK)`, returning the old item → `DuplicateActive(holder)` (if the
//!    holder let go in the meantime the whole submission is tried again);
//! 5. the first history entry and the outbox event.
//!
//! A transition is one `TransactWriteItems` too: the request put under `version = :read`
//! (→ `VersionConflict`), its history entry, its event, and, when it leaves the active states,
//! the deletion of both guards (only if this request holds them); reaching `delivered` adds
//! the two delivery records that the cool-down reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared::events::Event;
use shared::ports::{
    IdempotencyRecord, IdempotencyStore, ListQuery, NewRequest, Page, RegistryStore, RequestStore,
    StoreError, SubmitFacts, SubmitReads,
};
use shared::request::{AidRequest, HistoryEntry};
use shared::{Kk, Nik, RequestId, Status};

use crate::codec::{
    CursorShape, DATA, Item, data, decode_cursor, encode_cursor, get_n, get_s, item, n, opt_s, s,
    to_json,
};
use crate::keys::{
    self, ALL_REQUESTS, CODE_SK, GUARD_SK, HISTORY_PREFIX, IDEMPOTENCY_SK, REQUEST_SK, time_id,
    time_text,
};
use crate::outbox::outbox_action;
use crate::store::{DynamoStore, Query, SortRange};
use crate::table::Index;
use crate::tx::{Action, Failure, Why};

/// Attempts of a submission whose conflicting household was released while it was refused.
const INSERT_ATTEMPTS: usize = 5;

/// A history entry must describe the very request (and version) it is written with.
pub(crate) fn check_entry(request: &AidRequest, entry: &HistoryEntry) -> Result<(), StoreError> {
    if entry.request_id != request.id || entry.version != request.version {
        return Err(StoreError::Unavailable(
            "history entry does not match the request it is written with".into(),
        ));
    }
    Ok(())
}

fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl DynamoStore {
    /// The request item: the aggregate as JSON plus the attributes that keys, conditions and
    /// the four listing indexes need. The NIK and KK are only inside `data`.
    fn request_item(&self, r: &AidRequest) -> Result<Item, StoreError> {
        let mut i = item(keys::request_pk(&r.id), REQUEST_SK, "request");
        let (kel, status) = (r.kelurahan_code.as_str(), r.status.as_str());
        let sort = time_id(&r.created_at, r.id.as_str());
        i.insert("status".into(), s(status));
        i.insert("version".into(), n(r.version));
        i.insert("kelurahan_code".into(), s(kel));
        i.insert("created_at".into(), s(time_text(&r.created_at)));
        i.insert(DATA.into(), s(to_json("request", r)?));
        for (index, partition) in [
            (
                Index::KelurahanStatus,
                keys::by_kelurahan_status(kel, status),
            ),
            (Index::Status, keys::by_status(status)),
            (Index::Kelurahan, keys::by_kelurahan(kel)),
            (Index::Created, ALL_REQUESTS.to_string()),
        ] {
            i.insert(index.pk().into(), s(partition));
            i.insert(index.sk().into(), s(sort.clone()));
        }
        Ok(i)
    }

    fn history_action(&self, entry: &HistoryEntry) -> Result<Action, StoreError> {
        let mut i = item(
            keys::request_pk(&entry.request_id),
            keys::history_sk(entry.version),
            "history",
        );
        i.insert(DATA.into(), s(to_json("history entry", entry)?));
        Ok(Action::put(i)
            .when("attribute_not_exists(PK)")
            .or_fail(Why::Version))
    }

    pub(crate) fn idempotency_action(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<Action, StoreError> {
        let now = Utc::now();
        let expires = now
            + chrono::Duration::from_std(self.inner.idempotency_ttl)
                .unwrap_or_else(|_| chrono::Duration::hours(24));
        let mut i = item(
            keys::idempotency_pk(&record.key),
            IDEMPOTENCY_SK,
            "idempotency",
        );
        i.insert("key".into(), s(&record.key));
        i.insert("fingerprint".into(), s(&record.fingerprint));
        i.insert("status".into(), n(record.status));
        i.insert("body".into(), s(&record.body));
        i.insert("created_at".into(), s(time_text(&record.created_at)));
        i.insert(crate::table::TTL_ATTRIBUTE.into(), n(epoch(expires)));
        // An expired record that DynamoDB has not removed yet (that can take days) is free.
        Ok(Action::put(i)
            .when("attribute_not_exists(PK) OR #ttl < :now")
            .name("#ttl", crate::table::TTL_ATTRIBUTE)
            .value(":now", n(epoch(now)))
            .or_fail(Why::IdempotencyKey))
    }

    /// Everything a transition writes but its events: the request over the version read, its
    /// history entry, the released guards and the delivery records.
    pub(crate) fn transition_actions(
        &self,
        request: &AidRequest,
        entry: &HistoryEntry,
    ) -> Result<Vec<Action>, StoreError> {
        check_entry(request, entry)?;
        // Version 1 is the submission; a transition writes version 2 or later.
        let Some(expected) = request.version.checked_sub(1).filter(|v| *v >= 1) else {
            return Err(StoreError::VersionConflict);
        };
        let mut actions = vec![
            Action::put(self.request_item(request)?)
                .when("#version = :expected")
                .name("#version", "version")
                .value(":expected", n(expected))
                .or_fail(Why::Version),
            self.history_action(entry)?,
        ];
        let h = self.hasher();
        let household = &request.household;
        if !request.status.is_active() {
            // Leaving the active states: the household may be served again. Only a guard this
            // request holds is released (it always holds both while active).
            for pk in [
                keys::guard_nik_pk(h, &household.head_nik),
                keys::guard_kk_pk(h, &household.kk),
            ] {
                actions.push(
                    Action::delete(crate::codec::key(pk, GUARD_SK))
                        .when("attribute_not_exists(PK) OR request_id = :id")
                        .value(":id", s(request.id.as_str()))
                        .or_fail(Why::Consistency(
                            "a household guard of this request is held by another request",
                        )),
                );
            }
        }
        if request.status == Status::Delivered {
            for pk in [
                keys::delivery_nik_pk(h, &household.head_nik),
                keys::delivery_kk_pk(h, &household.kk),
            ] {
                let mut i = item(pk, time_id(&entry.at, request.id.as_str()), "delivery");
                i.insert("delivered_at".into(), s(time_text(&entry.at)));
                i.insert("request_id".into(), s(request.id.as_str()));
                actions.push(Action::put(i));
            }
        }
        Ok(actions)
    }

    fn insert_actions(&self, new: &NewRequest) -> Result<Vec<Action>, StoreError> {
        let r = &new.request;
        check_entry(r, &new.entry)?;
        let mut actions = Vec::new();
        if let Some(idem) = &new.idempotency {
            actions.push(self.idempotency_action(idem)?);
        }
        let mut code = item(keys::code_pk(r.code.as_str()), CODE_SK, "code");
        code.insert("request_id".into(), s(r.id.as_str()));
        actions.push(
            Action::put(code)
                .when("attribute_not_exists(PK)")
                .or_fail(Why::Code),
        );
        actions.push(
            Action::put(self.request_item(r)?)
                .when("attribute_not_exists(PK)")
                .or_fail(Why::Consistency("a request with this id exists")),
        );
        if r.status.is_active() {
            let h = self.hasher();
            for (pk, why) in [
                (keys::guard_nik_pk(h, &r.household.head_nik), Why::GuardNik),
                (keys::guard_kk_pk(h, &r.household.kk), Why::GuardKk),
            ] {
                let mut g = item(pk, GUARD_SK, "guard");
                g.insert("request_id".into(), s(r.id.as_str()));
                actions.push(
                    Action::put(g)
                        .when("attribute_not_exists(PK)")
                        .want_old()
                        .or_fail(why),
                );
            }
        }
        actions.push(self.history_action(&new.entry)?);
        actions.push(outbox_action(self, &new.event)?);
        Ok(actions)
    }

    /// Who holds a household guard now (after a refused claim without the old item).
    async fn guard_holder(&self, new: &NewRequest, why: Why) -> Result<Option<String>, StoreError> {
        let h = self.hasher();
        let pk = match why {
            Why::GuardNik => keys::guard_nik_pk(h, &new.request.household.head_nik),
            _ => keys::guard_kk_pk(h, &new.request.household.kk),
        };
        Ok(self
            .get_item(&pk, GUARD_SK)
            .await?
            .and_then(|i| opt_s(&i, "request_id").map(str::to_string)))
    }

    fn request_page_shape<'a>(&self, index: Index, partition: &'a str) -> CursorShape<'a> {
        CursorShape {
            index,
            partition,
            pk_prefix: "REQ#",
            sk: REQUEST_SK,
            valid_id: |id| RequestId::parse(id).is_ok(),
        }
    }
}

fn request_id(raw: &str) -> Result<RequestId, StoreError> {
    RequestId::parse(raw)
        .map_err(|_| StoreError::Unavailable("stored request id is invalid".into()))
}

/// The index sort key range of the requests created in `[from, before)`. Sort keys are
/// `<time_text>#<id>` and every time text has the same width, so `<time_text(from)>` sorts
/// just before every key of a request created at `from` and `<time_text(before)>` just before
/// every key created at `before`: `BETWEEN` the two is exactly the half-open range.
pub(crate) fn created_range(
    from: Option<&DateTime<Utc>>,
    before: Option<&DateTime<Utc>>,
) -> SortRange {
    match (from.map(time_text), before.map(time_text)) {
        (None, None) => SortRange::All,
        (Some(low), None) => SortRange::After(low),
        (None, Some(high)) => SortRange::Before(high),
        (Some(low), Some(high)) => SortRange::Between(low, high),
    }
}

/// Whether an index sort key lies in `range` (as DynamoDB reads the key condition).
fn sort_key_in(range: &SortRange, sk: &str) -> bool {
    match range {
        SortRange::All => true,
        SortRange::Prefix(p) => sk.starts_with(p.as_str()),
        SortRange::After(low) => sk > low.as_str(),
        SortRange::Before(high) => sk < high.as_str(),
        SortRange::Between(low, high) => sk >= low.as_str() && sk <= high.as_str(),
    }
}

/// Reads one page of a newest-first listing, narrowed to `sort` on the index sort key:
/// `limit + 1` items tell whether more follow, so a page that ends the listing has no cursor
/// (never an empty last page). A cursor outside `sort` belongs to another listing.
pub(crate) async fn newest_first_page(
    store: &DynamoStore,
    shape: &CursorShape<'_>,
    sort: SortRange,
    limit: u32,
    cursor: Option<&str>,
) -> Result<(Vec<Item>, Option<String>), StoreError> {
    let start = cursor.map(|c| decode_cursor(c, shape)).transpose()?;
    if let Some(start) = &start {
        let sk = get_s(start, shape.index.sk(), "cursor")?;
        if !sort_key_in(&sort, sk) {
            return Err(StoreError::InvalidCursor);
        }
    }
    let limit = limit.max(1) as usize;
    let mut items = store
        .query(
            Query::index(shape.index, shape.partition)
                .sort(sort)
                .backward()
                .start(start),
            limit + 1,
        )
        .await?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(encode_cursor(last, shape.index)?),
        _ => None,
    };
    Ok((items, next))
}

#[async_trait]
impl RequestStore for DynamoStore {
    async fn insert(&self, new: NewRequest) -> Result<(), StoreError> {
        for _ in 0..INSERT_ATTEMPTS {
            match self.commit(self.insert_actions(&new)?).await {
                Ok(()) => return Ok(()),
                Err(Failure::Condition {
                    why: why @ (Why::GuardNik | Why::GuardKk),
                    old,
                }) => {
                    let holder = match old.as_ref().and_then(|o| opt_s(o, "request_id")) {
                        Some(h) => Some(h.to_string()),
                        None => self.guard_holder(&new, why).await?,
                    };
                    match holder {
                        Some(h) => return Err(StoreError::DuplicateActive(request_id(&h)?)),
                        // Released meanwhile: the household is free now, try again.
                        None => continue,
                    }
                }
                Err(f) => return Err(f.into_store_error()),
            }
        }
        Err(StoreError::Unavailable(
            "the household guard kept changing hands".into(),
        ))
    }

    async fn update(
        &self,
        request: &AidRequest,
        entry: &HistoryEntry,
        event: &Event,
    ) -> Result<(), StoreError> {
        let mut actions = self.transition_actions(request, entry)?;
        actions.push(outbox_action(self, event)?);
        self.commit(actions)
            .await
            .map_err(Failure::into_store_error)
    }

    async fn get(&self, id: &RequestId) -> Result<Option<AidRequest>, StoreError> {
        self.get_item(&keys::request_pk(id), REQUEST_SK)
            .await?
            .map(|i| data(&i, "request"))
            .transpose()
    }

    async fn id_by_code(
        &self,
        code: &shared::RequestCode,
    ) -> Result<Option<RequestId>, StoreError> {
        self.get_item(&keys::code_pk(code.as_str()), CODE_SK)
            .await?
            .map(|i| match opt_s(&i, "request_id") {
                Some(id) => request_id(id),
                None => Err(StoreError::Unavailable(
                    "code item without request_id".into(),
                )),
            })
            .transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<AidRequest>, StoreError> {
        let (index, partition) = match (query.kelurahan, query.status) {
            (Some(k), Some(st)) => (
                Index::KelurahanStatus,
                keys::by_kelurahan_status(k.as_str(), st.as_str()),
            ),
            (None, Some(st)) => (Index::Status, keys::by_status(st.as_str())),
            (Some(k), None) => (Index::Kelurahan, keys::by_kelurahan(k.as_str())),
            (None, None) => (Index::Created, ALL_REQUESTS.to_string()),
        };
        let shape = self.request_page_shape(index, &partition);
        let sort = created_range(query.created_from.as_ref(), query.created_before.as_ref());
        let (items, next_cursor) =
            newest_first_page(self, &shape, sort, query.limit, query.cursor.as_deref()).await?;
        Ok(Page {
            items: items
                .iter()
                .map(|i| data(i, "request"))
                .collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    async fn history(&self, id: &RequestId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.query(
            Query::table(keys::request_pk(id)).prefix(HISTORY_PREFIX),
            usize::MAX,
        )
        .await?
        .iter()
        .map(|i| data(i, "history entry"))
        .collect()
    }

    async fn active_for(&self, nik: &Nik, kk: &Kk) -> Result<Option<RequestId>, StoreError> {
        let h = self.hasher();
        let (nik_pk, kk_pk) = (keys::guard_nik_pk(h, nik), keys::guard_kk_pk(h, kk));
        let (by_nik, by_kk) = tokio::try_join!(
            self.get_item(&nik_pk, GUARD_SK),
            self.get_item(&kk_pk, GUARD_SK),
        )?;
        // When two requests hold the two keys, the head NIK's holder wins (as embedded).
        match by_nik.or(by_kk) {
            Some(i) => Ok(Some(request_id(get_s(&i, "request_id", "guard")?)?)),
            None => Ok(None),
        }
    }

    async fn last_delivery(&self, nik: &Nik, kk: &Kk) -> Result<Option<DateTime<Utc>>, StoreError> {
        let h = self.hasher();
        let (a, b) = tokio::try_join!(
            self.query(Query::table(keys::delivery_nik_pk(h, nik)).backward(), 1),
            self.query(Query::table(keys::delivery_kk_pk(h, kk)).backward(), 1),
        )?;
        let mut last = None;
        for i in a.iter().chain(b.iter()) {
            let t = keys::time_from_text(
                "delivery time",
                get_s(i, "delivered_at", "delivery record")?,
            )?;
            last = last.max(Some(t));
        }
        Ok(last)
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(i) = self
            .get_item(&keys::idempotency_pk(key), IDEMPOTENCY_SK)
            .await?
        else {
            return Ok(None);
        };
        let ttl: i64 = get_n(&i, crate::table::TTL_ATTRIBUTE, "idempotency record")?;
        if ttl < epoch(Utc::now()) {
            // Expired: DynamoDB removes it eventually; it already counts as gone.
            return Ok(None);
        }
        Ok(Some(IdempotencyRecord {
            key: get_s(&i, "key", "idempotency record")?.to_string(),
            fingerprint: get_s(&i, "fingerprint", "idempotency record")?.to_string(),
            status: get_n(&i, "status", "idempotency record")?,
            body: get_s(&i, "body", "idempotency record")?.to_string(),
            created_at: keys::time_from_text(
                "idempotency time",
                get_s(&i, "created_at", "idempotency record")?,
            )?,
        }))
    }
}

/// The submit decision's reads, all sent at once: one round trip of latency instead of four
/// (the key's record, the registry row, the two household guards and the two delivery
/// queries are independent reads). The same requests as the separate calls, so no other IAM
/// action. When the key's record exists, the other answers are dropped, failures included, as
/// if they had not been asked for.
#[async_trait]
impl SubmitReads for DynamoStore {
    async fn submit_facts(
        &self,
        key: Option<&str>,
        nik: &Nik,
        kk: &Kk,
    ) -> Result<SubmitFacts, StoreError> {
        let prior = async {
            match key {
                Some(key) => IdempotencyStore::get(self, key).await,
                None => Ok(None),
            }
        };
        let (prior, registry, active, last_delivery) = tokio::join!(
            prior,
            self.lookup(nik),
            self.active_for(nik, kk),
            self.last_delivery(nik, kk),
        );
        if let Some(prior) = prior? {
            return Ok(SubmitFacts {
                prior: Some(prior),
                ..SubmitFacts::default()
            });
        }
        Ok(SubmitFacts {
            prior: None,
            registry: registry?,
            active: active?,
            last_delivery: last_delivery?,
        })
    }
}
