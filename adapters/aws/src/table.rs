//! The table definition, in one place: key schema, attribute definitions, global secondary
//! indexes, stream and TTL. [`create_table_if_missing`] creates it on an emulator (or a
//! sandbox account); the IaC creates the real table with the same shape, and
//! [`cloudformation_properties`] renders it as the `AWS::DynamoDB::Table` properties so that
//! the template can be generated from (or checked against) this module.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};
use serde_json::{Value, json};
use shared::ports::StoreError;

use crate::keys::{PK, SK};
use crate::store::sdk_error;

/// The TTL attribute (epoch seconds): idempotency records and unsequenced outbox items.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// A global secondary index of the table. Every index projects all attributes (a listing
/// returns whole records in one round trip) and has string keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// Requests by kelurahan and status, newest first.
    KelurahanStatus,
    /// Requests by status; shipments by status; newest first.
    Status,
    /// Requests by kelurahan, newest first.
    Kelurahan,
    /// All requests; all shipments; newest first.
    Created,
    /// Failed notifications by attempts so far, and pending claims, oldest update first
    /// (sparse).
    Retry,
}

impl Index {
    pub const ALL: [Index; 5] = [
        Index::KelurahanStatus,
        Index::Status,
        Index::Kelurahan,
        Index::Created,
        Index::Retry,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Index::KelurahanStatus => "GSI1",
            Index::Status => "GSI2",
            Index::Kelurahan => "GSI3",
            Index::Created => "GSI4",
            Index::Retry => "GSI5",
        }
    }

    pub fn pk(self) -> &'static str {
        match self {
            Index::KelurahanStatus => "GSI1PK",
            Index::Status => "GSI2PK",
            Index::Kelurahan => "GSI3PK",
            Index::Created => "GSI4PK",
            Index::Retry => "GSI5PK",
        }
    }

    pub fn sk(self) -> &'static str {
        match self {
            Index::KelurahanStatus => "GSI1SK",
            Index::Status => "GSI2SK",
            Index::Kelurahan => "GSI3SK",
            Index::Created => "GSI4SK",
            Index::Retry => "GSI5SK",
        }
    }
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}

/// `PK` (hash) and `SK` (range), both strings.
pub fn key_schema() -> Vec<KeySchemaElement> {
    vec![key(PK, KeyType::Hash), key(SK, KeyType::Range)]
}

/// The key attributes of the table and of every index (all strings).
pub fn attribute_definitions() -> Vec<AttributeDefinition> {
    let mut names = vec![PK, SK];
    for i in Index::ALL {
        names.push(i.pk());
        names.push(i.sk());
    }
    names
        .into_iter()
        .map(|n| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set")
        })
        .collect()
}

/// The global secondary indexes (projection ALL).
pub fn global_secondary_indexes() -> Vec<GlobalSecondaryIndex> {
    Index::ALL
        .into_iter()
        .map(|i| {
            GlobalSecondaryIndex::builder()
                .index_name(i.name())
                .key_schema(key(i.pk(), KeyType::Hash))
                .key_schema(key(i.sk(), KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("name, keys and projection are set")
        })
        .collect()
}

/// The stream the outbox pipe reads: new images (the outbox item carries the event JSON).
pub fn stream_specification() -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewImage)
        .build()
        .expect("enabled is set")
}

/// The same table as `AWS::DynamoDB::Table` properties (without `TableName`).
pub fn cloudformation_properties() -> Value {
    let attrs: Vec<Value> = attribute_definitions()
        .iter()
        .map(|a| json!({"AttributeName": a.attribute_name(), "AttributeType": "S"}))
        .collect();
    let gsis: Vec<Value> = Index::ALL
        .into_iter()
        .map(|i| {
            json!({
                "IndexName": i.name(),
                "KeySchema": [
                    {"AttributeName": i.pk(), "KeyType": "HASH"},
                    {"AttributeName": i.sk(), "KeyType": "RANGE"}
                ],
                "Projection": {"ProjectionType": "ALL"}
            })
        })
        .collect();
    json!({
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attrs,
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"}
        ],
        "GlobalSecondaryIndexes": gsis,
        "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": true},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        "SSESpecification": {"SSEEnabled": true}
    })
}

/// Creates the table (on-demand, indexes, stream, TTL) unless it exists, and waits until it
/// is active. For emulators and sandboxes; production tables come from the IaC.
pub async fn create_table_if_missing(client: &Client, table: &str) -> Result<(), StoreError> {
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(e) => return Err(sdk_error("DescribeTable", e)),
    };
    if !exists {
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attribute_definitions()))
            .set_key_schema(Some(key_schema()))
            .set_global_secondary_indexes(Some(global_secondary_indexes()))
            .stream_specification(stream_specification())
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Someone else created it meanwhile.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(sdk_error("CreateTable", e)),
        }
    }
    for _ in 0..600 {
        let d = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTable", e))?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ttl = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("name and enabled are set"),
        )
        .send()
        .await;
    match ttl {
        Ok(_) => Ok(()),
        // Already enabled ("TimeToLive is already enabled"): fine.
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.meta()
                    .message()
                    .is_some_and(|m| m.contains("already enabled"))
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("UpdateTimeToLive", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_key_is_defined_once_and_names_are_unique() {
        let defs: Vec<String> = attribute_definitions()
            .iter()
            .map(|a| a.attribute_name().to_string())
            .collect();
        let mut unique = defs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), defs.len());
        assert_eq!(defs.len(), 2 + 2 * Index::ALL.len());
        let p = cloudformation_properties();
        assert_eq!(p["GlobalSecondaryIndexes"].as_array().unwrap().len(), 5);
        assert_eq!(p["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
        assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], TTL_ATTRIBUTE);
    }
}
