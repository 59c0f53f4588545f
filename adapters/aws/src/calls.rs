//! Which AWS calls the adapters make, as IAM actions: a [`CallRecorder`] is an SDK interceptor
//! that notes the IAM action of every DynamoDB and SNS call a client makes (the component
//! actions of a `TransactWriteItems`, which is what IAM checks), and [`iam_actions`] says
//! which actions each port of this adapter may call.
//!
//! The two meet in the infrastructure drift test: a function's IAM policy in
//! `infra/template.yaml` must be exactly [`iam_actions`] of the ports the function uses, and
//! the function's handler tests, run against moto with a recorder, must make no call outside
//! that set. So the list below is kept next to the code that makes the calls, and a call added
//! to a port without its action fails a test, not a deployment.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// A store port (or the SMS sender) of this adapter, as far as IAM is concerned. The request
/// store is split by what each function really calls: `verify-survey` reads and writes single
/// requests but never lists, and `notify` only reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    /// `RequestStore::get` and `active_for` (single items by key).
    RequestReads,
    /// `RequestStore::list`, `history` and `last_delivery` (queries).
    RequestQueries,
    /// `RequestStore::insert` and `update`: the submission's and the transitions'
    /// transactions, with the idempotency records written in them.
    RequestWrites,
    /// `IdempotencyStore`.
    Idempotency,
    /// `RegistryStore::lookup` (what a submission reads).
    RegistryLookup,
    /// `RegistryStore::upsert` (the ops import).
    RegistryImport,
    /// `Outbox` (the local runner's sequencer and consumer offsets; no Lambda uses it).
    Outbox,
    /// `StockStore` reads of the package catalogue (a decision checks its package).
    Catalog,
    /// `StockStore`.
    Stock,
    /// `NotificationLog`.
    NotificationLog,
    /// `Directory::phone_of`.
    Directory,
    /// `DynamoStore::put_contact`: the HTTP functions note the caller's phone number.
    Contacts,
    /// `SmsSender` over SNS.
    Sms,
    /// `create_table_if_missing` (emulators and sandboxes only).
    TableAdmin,
}

impl Port {
    pub const ALL: [Port; 14] = [
        Port::RequestReads,
        Port::RequestQueries,
        Port::RequestWrites,
        Port::Idempotency,
        Port::RegistryLookup,
        Port::RegistryImport,
        Port::Outbox,
        Port::Catalog,
        Port::Stock,
        Port::NotificationLog,
        Port::Directory,
        Port::Contacts,
        Port::Sms,
        Port::TableAdmin,
    ];
}

/// The IAM actions a port's code calls (DynamoDB actions on the table and its indexes;
/// `sns:Publish` to phone numbers). Keep in step with the calls in the port's module: the
/// handler tests record the calls each function really makes and require them to be exactly
/// the actions of its ports (a missing action fails there, and so does a granted one no path
/// uses).
pub fn port_actions(port: Port) -> &'static [&'static str] {
    match port {
        // store.rs get_item: `get`, and the two guards of `active_for`.
        Port::RequestReads => &["dynamodb:GetItem"],
        // store.rs query: `list` (an index), `history` and `last_delivery` (the table).
        Port::RequestQueries => &["dynamodb:Query"],
        // requests.rs: the submission's transaction puts (idempotency record, code, request,
        // guards, history, outbox event); a transition's puts the request (conditional on
        // its version; a Put, not an Update), its history, its event and, on delivery, the
        // delivery records, and deletes the household guards when the request leaves the
        // active states (cancelled, rejected, delivered); `insert` reads the guard's holder
        // after a refused claim. No UpdateItem and no ConditionCheck anywhere in it.
        Port::RequestWrites => &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        ],
        Port::Idempotency => &["dynamodb:GetItem"],
        Port::RegistryLookup => &["dynamodb:GetItem"],
        // registry.rs: BatchGetItem to compare, BatchWriteItem to load.
        Port::RegistryImport => &["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
        // outbox.rs: the sequencer's transaction (Put, Delete) and the offsets' conditional
        // update.
        Port::Outbox => &[
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ],
        Port::Catalog => &["dynamodb:GetItem"],
        // stock.rs: catalogue puts, and one StockWrite transaction (Put, Update and Delete of
        // lots, ledger, allocation, shipment, request, guards; ConditionCheck of lots and
        // markers); `delete_item` (ConditionCheck of the item-used marker and the catalogue
        // version, Delete of the item).
        Port::Stock => &[
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ],
        // notify.rs: conditional puts of notification records.
        Port::NotificationLog => &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
        Port::Directory => &["dynamodb:GetItem"],
        Port::Contacts => &["dynamodb:PutItem"],
        Port::Sms => &["sns:Publish"],
        Port::TableAdmin => &[
            "dynamodb:DescribeTable",
            "dynamodb:CreateTable",
            "dynamodb:UpdateTimeToLive",
        ],
    }
}

/// The IAM actions of a set of ports, sorted.
pub fn iam_actions(ports: &[Port]) -> BTreeSet<&'static str> {
    ports
        .iter()
        .flat_map(|p| port_actions(*p).iter().copied())
        .collect()
}

/// The IAM actions one SDK call needs: `dynamodb:<Operation>`, the component actions of a
/// transaction, `sns:Publish`.
fn actions_of(
    service: &str,
    operation: &str,
    transaction: Option<&TransactWriteItemsInput>,
) -> Vec<String> {
    let prefix = match service.to_ascii_lowercase().as_str() {
        s if s.contains("dynamodb") => "dynamodb",
        s if s.contains("sns") => "sns",
        other => return vec![format!("{other}:{operation}")],
    };
    match (operation, transaction) {
        ("TransactWriteItems", Some(input)) => input
            .transact_items()
            .iter()
            .filter_map(|i| {
                if i.put().is_some() {
                    Some("dynamodb:PutItem")
                } else if i.update().is_some() {
                    Some("dynamodb:UpdateItem")
                } else if i.delete().is_some() {
                    Some("dynamodb:DeleteItem")
                } else if i.condition_check().is_some() {
                    Some("dynamodb:ConditionCheckItem")
                } else {
                    None
                }
            })
            .map(str::to_string)
            .collect(),
        ("TransactGetItems", _) => vec!["dynamodb:GetItem".into()],
        _ => vec![format!("{prefix}:{operation}")],
    }
}

/// Records the IAM action of every call made through the clients it is attached to
/// ([`crate::AwsConfig::recorder`]). Cheap to clone: clones share the record.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder {
    seen: Arc<Mutex<BTreeSet<String>>>,
}

impl CallRecorder {
    pub fn new() -> CallRecorder {
        CallRecorder::default()
    }

    /// The actions recorded so far, sorted.
    pub fn actions(&self) -> BTreeSet<String> {
        self.seen.lock().expect("recorder lock").clone()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.seen.lock().expect("recorder lock").clear();
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "BasokaCallRecorder"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let tx = context.input().downcast_ref::<TransactWriteItemsInput>();
            let actions = actions_of(meta.service(), meta.name(), tx);
            self.seen.lock().expect("recorder lock").extend(actions);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};

    #[test]
    fn a_transaction_needs_its_component_actions() {
        let put = TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name("t")
                    .item("PK", AttributeValue::S("a".into()))
                    .build()
                    .unwrap(),
            )
            .build();
        let check = TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name("t")
                    .key("PK", AttributeValue::S("b".into()))
                    .condition_expression("attribute_exists(PK)")
                    .build()
                    .unwrap(),
            )
            .build();
        let input = TransactWriteItemsInput::builder()
            .transact_items(put)
            .transact_items(check)
            .build()
            .unwrap();
        assert_eq!(
            actions_of("dynamodb", "TransactWriteItems", Some(&input)),
            ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
        );
        assert_eq!(
            actions_of("DynamoDB", "GetItem", None),
            ["dynamodb:GetItem"]
        );
        assert_eq!(actions_of("sns", "Publish", None), ["sns:Publish"]);
    }

    #[test]
    fn every_port_action_is_a_known_iam_action_and_never_a_wildcard() {
        for port in Port::ALL {
            for a in port_actions(port) {
                assert!(!a.contains('*'), "{port:?}: {a}");
                let (service, action) = a.split_once(':').expect("service:Action");
                assert!(matches!(service, "dynamodb" | "sns"), "{a}");
                assert!(action.chars().next().unwrap().is_ascii_uppercase(), "{a}");
            }
        }
    }
}
