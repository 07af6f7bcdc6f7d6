//! Which partition keys one DynamoDB request touches, and the capacity it costs on each, read
//! from the request as DynamoDB receives it (the JSON protocol). The counting proxy records them
//! so that the scale simulation (`cargo xtask scale`) can find the hottest keys: DynamoDB serves
//! at most about 3,000 read and 1,000 write units a second to one partition, and never splits
//! one item.
//!
//! Costs are on-demand request units for items under 4 KB (reads) and 1 KB (writes), which is
//! every item of this table: a strongly consistent read 1, an eventually consistent one 0.5, a
//! transactional read 2; a write 1, a transactional one 2 (`ConditionCheck` too). A `Query` is
//! counted as one read of its partition (its items are few and small).

use serde_json::Value;

/// One partition key a request touches, and what it costs there.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyUse {
    /// The `pk` value.
    pub pk: String,
    /// Read request units.
    pub reads: f64,
    /// Write request units.
    pub writes: f64,
}

impl KeyUse {
    fn read(pk: String, units: f64) -> KeyUse {
        KeyUse { pk, reads: units, writes: 0.0 }
    }

    fn write(pk: String, units: f64) -> KeyUse {
        KeyUse { pk, reads: 0.0, writes: units }
    }

    /// The kind of key: its `pk` up to the first `#` (`INST`, `IDENT`, `USER`, `REVOKE` ...).
    pub fn kind(&self) -> &str {
        self.pk.split('#').next().unwrap_or_default()
    }
}

/// The `pk` of a key or item map (`{"pk": {"S": "..."}}`).
pub fn pk_of(key: &Value) -> Option<String> {
    key["pk"]["S"].as_str().map(str::to_owned)
}

/// The partition keys `operation` with request body `json` touches.
pub fn of_request(operation: &str, json: &Value) -> Vec<KeyUse> {
    let read = if json["ConsistentRead"].as_bool() == Some(true) { 1.0 } else { 0.5 };
    let one = |key: &Value| pk_of(key).into_iter();
    match operation {
        "GetItem" => one(&json["Key"]).map(|pk| KeyUse::read(pk, read)).collect(),
        "PutItem" => one(&json["Item"]).map(|pk| KeyUse::write(pk, 1.0)).collect(),
        "UpdateItem" | "DeleteItem" => one(&json["Key"]).map(|pk| KeyUse::write(pk, 1.0)).collect(),
        "BatchGetItem" => tables(json)
            .flat_map(|t| {
                let read = if t["ConsistentRead"].as_bool() == Some(true) { 1.0 } else { 0.5 };
                array(&t["Keys"]).filter_map(pk_of).map(move |pk| KeyUse::read(pk, read))
            })
            .collect(),
        "BatchWriteItem" => tables(json)
            .flat_map(array)
            .filter_map(|r| pk_of(&r["PutRequest"]["Item"]).or_else(|| pk_of(&r["DeleteRequest"]["Key"])))
            .map(|pk| KeyUse::write(pk, 1.0))
            .collect(),
        "TransactWriteItems" => array(&json["TransactItems"])
            .filter_map(|t| {
                pk_of(&t["Put"]["Item"])
                    .or_else(|| pk_of(&t["Update"]["Key"]))
                    .or_else(|| pk_of(&t["Delete"]["Key"]))
                    .or_else(|| pk_of(&t["ConditionCheck"]["Key"]))
            })
            .map(|pk| KeyUse::write(pk, 2.0))
            .collect(),
        "TransactGetItems" => array(&json["TransactItems"])
            .filter_map(|t| pk_of(&t["Get"]["Key"]))
            .map(|pk| KeyUse::read(pk, 2.0))
            .collect(),
        "Query" => query_pk(json).map(|pk| KeyUse::read(pk, read)).into_iter().collect(),
        // A Scan reads every partition: no one key.
        _ => Vec::new(),
    }
}

fn array(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn tables(json: &Value) -> impl Iterator<Item = &Value> {
    json["RequestItems"].as_object().into_iter().flat_map(|t| t.values())
}

/// The partition key a `Query`'s key condition names (`pk = :v`, or `#n = :v` with `#n` → `pk`;
/// `AND` in any case).
pub fn query_pk(body: &Value) -> Option<String> {
    let condition = body["KeyConditionExpression"].as_str()?;
    // Split the expression where its upper-case copy has ` AND `.
    let upper = condition.to_ascii_uppercase();
    let mut clauses = Vec::new();
    let mut start = 0;
    for (at, _) in upper.match_indices(" AND ") {
        clauses.push(&condition[start..at]);
        start = at + " AND ".len();
    }
    clauses.push(&condition[start..]);
    for clause in clauses {
        let Some((name, value)) = clause.split_once('=') else { continue };
        let (name, value) = (name.trim().trim_start_matches('('), value.trim().trim_end_matches(')'));
        let name =
            if name.starts_with('#') { body["ExpressionAttributeNames"][name].as_str().unwrap_or("") } else { name };
        if name == "pk" {
            return body["ExpressionAttributeValues"][value]["S"].as_str().map(str::to_owned);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(op: &str, body: Value) -> Vec<(String, f64, f64)> {
        of_request(op, &body).into_iter().map(|k| (k.pk, k.reads, k.writes)).collect()
    }

    #[test]
    fn every_operation_names_its_partitions_and_their_cost() {
        let key = |pk: &str| json!({ "pk": { "S": pk }, "sk": { "S": "X" } });
        assert_eq!(keys("GetItem", json!({ "Key": key("A#1"), "ConsistentRead": true })), [("A#1".into(), 1.0, 0.0)]);
        assert_eq!(keys("GetItem", json!({ "Key": key("A#1") })), [("A#1".into(), 0.5, 0.0)]);
        assert_eq!(keys("PutItem", json!({ "Item": key("B") })), [("B".into(), 0.0, 1.0)]);
        assert_eq!(keys("UpdateItem", json!({ "Key": key("C") })), [("C".into(), 0.0, 1.0)]);
        let batch = json!({ "RequestItems": { "t": { "Keys": [key("I"), key("K")], "ConsistentRead": true } } });
        assert_eq!(keys("BatchGetItem", batch), [("I".into(), 1.0, 0.0), ("K".into(), 1.0, 0.0)]);
        let tx = json!({ "TransactItems": [
            { "Put": { "Item": key("P") } }, { "Update": { "Key": key("U") } },
            { "Delete": { "Key": key("D") } }, { "ConditionCheck": { "Key": key("C") } },
        ] });
        let tx: Vec<_> = keys("TransactWriteItems", tx).into_iter().map(|k| (k.0, k.2)).collect();
        assert_eq!(tx, [("P".into(), 2.0), ("U".into(), 2.0), ("D".into(), 2.0), ("C".into(), 2.0)]);
        let query = json!({
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": { ":pk": { "S": "USESS#demo#1" }, ":p": { "S": "S" } },
            "ConsistentRead": true,
        });
        assert_eq!(keys("Query", query), [("USESS#demo#1".into(), 1.0, 0.0)]);
        assert!(keys("Scan", json!({})).is_empty());
        assert_eq!(KeyUse::read("INST#demo".into(), 1.0).kind(), "INST");
    }
}
