//! `TransactWriteItems` with a meaning for every condition: each action says what its failed
//! condition means to the caller ([`Why`]), and a cancelled transaction is answered with the
//! first failed action in the order the actions were given. Writers therefore list their
//! actions in the order of precedence of their refusals (an idempotency key before a
//! household guard, as the embedded adapter checks them).
//!
//! A transaction cancelled only because another transaction touched the same item at the same
//! moment (`TransactionConflict`) wrote nothing and is sent again, with a fresh
//! `ClientRequestToken` and a jittered back-off. Within one send, the SDK's own retries
//! (throttling, a lost response) reuse the token, so a transaction that did commit is not
//! applied twice and is not reported as a failed condition.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use shared::ports::StoreError;

use crate::codec::Item;
use crate::store::sdk_error;

/// DynamoDB's limit on the actions of one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Sends of one transaction that keeps meeting concurrent transactions.
const CONFLICT_RETRIES: u32 = 16;

/// What a failed condition means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    IdempotencyKey,
    Code,
    GuardNik,
    GuardKk,
    Version,
    State,
    Stock,
    InUse,
    /// The warehouse already received this delivery note.
    ReceiptReference,
    /// Another sequencer or catalogue writer moved first: read again and retry.
    Moved,
    /// A condition that holds unless the data is inconsistent (a duplicate event id…).
    Consistency(&'static str),
}

/// A cancelled transaction: the first failed condition, with the item as it was (when the
/// action asked for it), or a store failure.
#[derive(Debug)]
pub enum Failure {
    Condition { why: Why, old: Option<Item> },
    Store(StoreError),
}

impl Failure {
    /// The error for callers that have nothing to add.
    pub fn into_store_error(self) -> StoreError {
        match self {
            Failure::Store(e) => e,
            Failure::Condition { why, .. } => match why {
                Why::IdempotencyKey => StoreError::IdempotencyKeyTaken,
                Why::Code => StoreError::CodeTaken,
                Why::Version => StoreError::VersionConflict,
                Why::State => StoreError::StateConflict,
                Why::Stock => StoreError::InsufficientStock,
                Why::InUse => StoreError::InUse,
                Why::ReceiptReference => StoreError::ReceiptReferenceTaken { received_at: None },
                Why::GuardNik | Why::GuardKk => {
                    StoreError::Unavailable("household guard held by another request".into())
                }
                Why::Moved => StoreError::Unavailable("concurrent writers kept moving".into()),
                Why::Consistency(what) => StoreError::Unavailable(what.to_string()),
            },
        }
    }
}

enum Kind {
    Put(Item),
    Update { key: Item, expression: String },
    Delete { key: Item },
    Check { key: Item },
}

/// One action of a transaction.
pub struct Action {
    kind: Kind,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: Item,
    want_old: bool,
    why: Why,
}

impl Action {
    fn new(kind: Kind) -> Action {
        Action {
            kind,
            condition: None,
            names: HashMap::new(),
            values: Item::new(),
            want_old: false,
            why: Why::Consistency("a consistency condition failed"),
        }
    }

    pub fn put(item: Item) -> Action {
        Action::new(Kind::Put(item))
    }

    pub fn update(key: Item, expression: impl Into<String>) -> Action {
        Action::new(Kind::Update {
            key,
            expression: expression.into(),
        })
    }

    pub fn delete(key: Item) -> Action {
        Action::new(Kind::Delete { key })
    }

    pub fn check(key: Item, condition: impl Into<String>) -> Action {
        Action::new(Kind::Check { key }).when(condition)
    }

    /// The condition expression.
    pub fn when(mut self, condition: impl Into<String>) -> Action {
        self.condition = Some(condition.into());
        self
    }

    pub fn name(mut self, placeholder: &str, attribute: &str) -> Action {
        self.names
            .insert(placeholder.to_string(), attribute.to_string());
        self
    }

    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Action {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    /// What a failed condition means.
    pub fn or_fail(mut self, why: Why) -> Action {
        self.why = why;
        self
    }

    /// Return the item as it was when the condition fails.
    pub fn want_old(mut self) -> Action {
        self.want_old = true;
        self
    }

    fn build(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        let old = self
            .want_old
            .then_some(ReturnValuesOnConditionCheckFailure::AllOld);
        let built = match self.kind {
            Kind::Put(item) => Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .set_condition_expression(self.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .set_return_values_on_condition_check_failure(old)
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build()),
            Kind::Update { key, expression } => Update::builder()
                .table_name(table)
                .set_key(Some(key))
                .update_expression(expression)
                .set_condition_expression(self.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .set_return_values_on_condition_check_failure(old)
                .build()
                .map(|u| TransactWriteItem::builder().update(u).build()),
            Kind::Delete { key } => Delete::builder()
                .table_name(table)
                .set_key(Some(key))
                .set_condition_expression(self.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .set_return_values_on_condition_check_failure(old)
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build()),
            Kind::Check { key } => ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key))
                .set_condition_expression(self.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .set_return_values_on_condition_check_failure(old)
                .build()
                .map(|c| TransactWriteItem::builder().condition_check(c).build()),
        };
        built.map_err(|e| StoreError::Unavailable(format!("transaction action is incomplete: {e}")))
    }
}

/// A short, jittered, growing pause before sending again.
pub async fn back_off(attempt: u32) {
    let base = 10u64 << attempt.min(6);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0),
    ) % base.max(1);
    tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
}

fn retryable_reason(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "TransactionConflict"
                | "ThrottlingError"
                | "ProvisionedThroughputExceeded"
                | "RequestLimitExceeded"
        )
    )
}

/// Applies `actions` all or nothing (see the module documentation).
pub async fn commit(client: &Client, table: &str, actions: Vec<Action>) -> Result<(), Failure> {
    if actions.is_empty() {
        return Ok(());
    }
    if actions.len() > MAX_TRANSACTION_ITEMS {
        // Refused before anything is sent, and not as `Unavailable`: no retry can make it fit.
        return Err(Failure::Store(StoreError::TooLarge {
            items: actions.len(),
            limit: MAX_TRANSACTION_ITEMS,
        }));
    }
    let whys: Vec<Why> = actions.iter().map(|a| a.why).collect();
    let items = actions
        .into_iter()
        .map(|a| a.build(table))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Store)?;
    for attempt in 0..CONFLICT_RETRIES {
        let sent = client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .client_request_token(uuid::Uuid::now_v7().to_string())
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                let reasons = c.cancellation_reasons();
                if let Some((i, r)) = reasons
                    .iter()
                    .enumerate()
                    .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                {
                    return Err(Failure::Condition {
                        why: whys
                            .get(i)
                            .copied()
                            .unwrap_or(Why::Consistency("a condition failed on an unknown action")),
                        old: r.item().cloned(),
                    });
                }
                if reasons.iter().any(|r| retryable_reason(r.code())) {
                    back_off(attempt).await;
                    continue;
                }
                let codes: Vec<&str> = reasons
                    .iter()
                    .filter_map(|r| r.code())
                    .filter(|c| *c != "None")
                    .collect();
                return Err(Failure::Store(StoreError::Unavailable(format!(
                    "DynamoDB cancelled the transaction: {}",
                    codes.join(", ")
                ))));
            }
            Some(
                TransactWriteItemsError::TransactionInProgressException(_)
                | TransactWriteItemsError::ProvisionedThroughputExceededException(_)
                | TransactWriteItemsError::RequestLimitExceeded(_)
                | TransactWriteItemsError::ThrottlingException(_),
            ) => {
                back_off(attempt).await;
                continue;
            }
            _ => return Err(Failure::Store(sdk_error("TransactWriteItems", err))),
        }
    }
    Err(Failure::Store(StoreError::Unavailable(
        "the transaction kept conflicting with concurrent transactions".into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{key, s};

    /// A client that must never be used: the refusal comes before anything is sent.
    fn offline_client() -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("ap-southeast-3"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Client::from_conf(config)
    }

    #[tokio::test]
    async fn a_write_beyond_one_transaction_is_too_large_not_unavailable() {
        let actions: Vec<Action> = (0..=MAX_TRANSACTION_ITEMS)
            .map(|i| Action::put(key(format!("PK#{i}"), "SK")).value(":x", s("x")))
            .collect();
        match commit(&offline_client(), "t", actions).await {
            Err(Failure::Store(StoreError::TooLarge { items, limit })) => {
                assert_eq!((items, limit), (101, 100));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        let e = shared::AppError::from(StoreError::TooLarge {
            items: 101,
            limit: 100,
        });
        assert_eq!((e.status(), e.code()), (422, "WRITE_TOO_LARGE"));
    }
}
