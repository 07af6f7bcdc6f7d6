//! The template's DynamoDB table: read from its `AWS::DynamoDB::Table` resource, created in
//! DynamoDB Local (`PAY_PER_REQUEST`, waiting for `ACTIVE`, then TTL as the template sets it).

use std::time::Duration;

use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use serde_yaml::Value;

use crate::template::{list, literal_string, required, TemplateError};

/// How long [`TableDef::create`] waits for the table to become `ACTIVE`.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why [`TableDef::create`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A table of that name exists already (e.g. in a DynamoDB Local that was reused).
    #[error("table `{0}` already exists")]
    AlreadyExists(String),
    /// The template's definition does not make a valid request.
    #[error("table definition is incomplete: {0}")]
    Build(#[from] BuildError),
    /// A DynamoDB call failed.
    #[error("{operation} on table `{table}` failed: {}", DisplayErrorContext(.source))]
    Api {
        /// The DynamoDB operation.
        operation: &'static str,
        /// The table name.
        table: String,
        /// The SDK error.
        source: Box<aws_sdk_dynamodb::Error>,
    },
    /// The table was created but did not become `ACTIVE` in time.
    #[error("table `{table}` is still {status} after {timeout:?}")]
    NotActive {
        /// The table name.
        table: String,
        /// The last status seen.
        status: String,
        /// How long we waited.
        timeout: Duration,
    },
}

/// One `AttributeDefinitions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDef {
    /// `AttributeName`.
    pub name: String,
    /// `AttributeType`: `S`, `N` or `B`.
    pub attribute_type: String,
}

/// One `KeySchema` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDef {
    /// `AttributeName`.
    pub attribute_name: String,
    /// `KeyType`: `HASH` or `RANGE`.
    pub key_type: String,
}

/// A global or local secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// `IndexName`.
    pub name: String,
    /// `KeySchema`.
    pub key_schema: Vec<KeyDef>,
    /// `Projection.ProjectionType` (`ALL` when absent).
    pub projection_type: String,
    /// `Projection.NonKeyAttributes`.
    pub non_key_attributes: Vec<String>,
}

/// `TimeToLiveSpecification`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeToLiveDef {
    /// `AttributeName`.
    pub attribute_name: String,
    /// `Enabled`.
    pub enabled: bool,
}

/// The template's DynamoDB table, as far as creating it locally needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Logical id of the table resource (e.g. `UsersTable`).
    pub logical_id: String,
    /// `AttributeDefinitions`.
    pub attribute_definitions: Vec<AttributeDef>,
    /// `KeySchema`.
    pub key_schema: Vec<KeyDef>,
    /// `GlobalSecondaryIndexes`.
    pub global_secondary_indexes: Vec<IndexDef>,
    /// `LocalSecondaryIndexes`.
    pub local_secondary_indexes: Vec<IndexDef>,
    /// `BillingMode` as written (the local table is always `PAY_PER_REQUEST`).
    pub billing_mode: Option<String>,
    /// `TimeToLiveSpecification`.
    pub time_to_live: Option<TimeToLiveDef>,
}

/// Parses an `AWS::DynamoDB::Table` resource.
pub(crate) fn table_def(id: &str, resource: &Value) -> Result<TableDef, TemplateError> {
    let invalid = |message: String| TemplateError::Invalid { resource: id.to_owned(), message };
    let props = resource.get("Properties").ok_or_else(|| invalid("table has no `Properties`".into()))?;

    let attribute_definitions = list(props, "AttributeDefinitions")
        .map_err(&invalid)?
        .iter()
        .map(|item| {
            Ok(AttributeDef {
                name: required(item, "AttributeName")?,
                attribute_type: required(item, "AttributeType")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|m| invalid(format!("`AttributeDefinitions`: {m}")))?;
    let key_schema = key_schema(props).map_err(|m| invalid(format!("`KeySchema`: {m}")))?;
    let global_secondary_indexes = indexes(props, "GlobalSecondaryIndexes").map_err(&invalid)?;
    let local_secondary_indexes = indexes(props, "LocalSecondaryIndexes").map_err(&invalid)?;
    let billing_mode = props.get("BillingMode").and_then(literal_string);
    let time_to_live = match props.get("TimeToLiveSpecification") {
        None => None,
        Some(spec) => Some(TimeToLiveDef {
            attribute_name: required(spec, "AttributeName")
                .map_err(|m| invalid(format!("`TimeToLiveSpecification`: {m}")))?,
            enabled: spec
                .get("Enabled")
                .and_then(literal_bool)
                .ok_or_else(|| invalid("`TimeToLiveSpecification.Enabled` must be a literal boolean".into()))?,
        }),
    };
    if key_schema.is_empty() {
        return Err(invalid("`KeySchema` is empty".into()));
    }
    Ok(TableDef {
        logical_id: id.to_owned(),
        attribute_definitions,
        key_schema,
        global_secondary_indexes,
        local_secondary_indexes,
        billing_mode,
        time_to_live,
    })
}

/// `GlobalSecondaryIndexes` or `LocalSecondaryIndexes` (absent = none).
fn indexes(props: &Value, key: &str) -> Result<Vec<IndexDef>, String> {
    if props.get(key).is_none() {
        return Ok(Vec::new());
    }
    list(props, key)?
        .iter()
        .map(|index| {
            let projection = index.get("Projection");
            Ok(IndexDef {
                name: required(index, "IndexName")?,
                key_schema: key_schema(index)?,
                projection_type: match projection.and_then(|p| p.get("ProjectionType")) {
                    None => "ALL".to_owned(),
                    Some(v) => literal_string(v).ok_or("`ProjectionType` must be a literal string")?,
                },
                non_key_attributes: match projection.and_then(|p| p.get("NonKeyAttributes")) {
                    None => Vec::new(),
                    Some(v) => v
                        .as_sequence()
                        .and_then(|s| s.iter().map(literal_string).collect())
                        .ok_or("`NonKeyAttributes` must be a list of literal strings")?,
                },
            })
        })
        .collect::<Result<_, String>>()
        .map_err(|m| format!("`{key}`: {m}"))
}

/// The `KeySchema` of a table or index.
fn key_schema(value: &Value) -> Result<Vec<KeyDef>, String> {
    list(value, "KeySchema")?
        .iter()
        .map(|item| {
            Ok(KeyDef { attribute_name: required(item, "AttributeName")?, key_type: required(item, "KeyType")? })
        })
        .collect()
}

/// A literal boolean, also accepting the strings CloudFormation accepts (`"true"`, `"false"`).
fn literal_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

impl TableDef {
    /// The TTL attribute, if the template enables TTL.
    pub fn ttl_attribute(&self) -> Option<&str> {
        self.time_to_live.as_ref().filter(|ttl| ttl.enabled).map(|ttl| ttl.attribute_name.as_str())
    }

    /// Creates the table as `table_name` (`PAY_PER_REQUEST`), waits until it is `ACTIVE`, then
    /// enables TTL as the template does. Returns [`TableError::AlreadyExists`] if it exists.
    pub async fn create(&self, client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<(), TableError> {
        let api = |operation: &'static str| {
            move |e: aws_sdk_dynamodb::Error| TableError::Api {
                operation,
                table: table_name.to_owned(),
                source: Box::new(e),
            }
        };

        let mut request = client
            .create_table()
            .table_name(table_name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(
                self.attribute_definitions
                    .iter()
                    .map(|a| {
                        AttributeDefinition::builder()
                            .attribute_name(&a.name)
                            .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                            .build()
                    })
                    .collect::<Result<_, _>>()?,
            ))
            .set_key_schema(Some(key_elements(&self.key_schema)?));
        for index in &self.global_secondary_indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(key_elements(&index.key_schema)?))
                    .projection(projection(index))
                    .build()?,
            );
        }
        for index in &self.local_secondary_indexes {
            request = request.local_secondary_indexes(
                LocalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(key_elements(&index.key_schema)?))
                    .projection(projection(index))
                    .build()?,
            );
        }
        match request.send().await.map_err(aws_sdk_dynamodb::Error::from) {
            Ok(_) => {}
            Err(aws_sdk_dynamodb::Error::ResourceInUseException(_)) => {
                return Err(TableError::AlreadyExists(table_name.to_owned()))
            }
            Err(e) => return Err(api("CreateTable")(e)),
        }

        self.wait_active(client, table_name).await?;

        if let Some(attribute) = self.ttl_attribute() {
            client
                .update_time_to_live()
                .table_name(table_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder().attribute_name(attribute).enabled(true).build()?,
                )
                .send()
                .await
                .map_err(|e| api("UpdateTimeToLive")(e.into()))?;
        }
        Ok(())
    }

    /// Polls DescribeTable until the table is `ACTIVE`.
    async fn wait_active(&self, client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<(), TableError> {
        let started = tokio::time::Instant::now();
        loop {
            let described = client.describe_table().table_name(table_name).send().await.map_err(|e| {
                TableError::Api { operation: "DescribeTable", table: table_name.to_owned(), source: Box::new(e.into()) }
            })?;
            let status = described.table().and_then(|t| t.table_status());
            if status == Some(&TableStatus::Active) {
                return Ok(());
            }
            if started.elapsed() >= ACTIVE_TIMEOUT {
                return Err(TableError::NotActive {
                    table: table_name.to_owned(),
                    status: status.map_or("unknown".to_owned(), |s| s.as_str().to_owned()),
                    timeout: ACTIVE_TIMEOUT,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// SDK key schema elements.
fn key_elements(keys: &[KeyDef]) -> Result<Vec<KeySchemaElement>, BuildError> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
        })
        .collect()
}

/// SDK projection of an index.
fn projection(index: &IndexDef) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(index.projection_type.as_str()))
        .set_non_key_attributes((!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()))
        .build()
}
