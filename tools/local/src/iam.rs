//! IAM for the table, as AWS documents it, so the local stack's DynamoDB path refuses what a
//! function's role would refuse: each function's `Policies` in `template.yaml` (their DynamoDB
//! statements: `Effect`, `Action`, `Resource`, and the `dynamodb:LeadingKeys` condition), and the
//! principal of each request read from its SigV4 `Credential=` (the access key id).
//!
//! - **Who is asking.** A function runs with credentials whose access key id names it: in
//!   process, the gateway runs each handler under [`as_function`] and the app's DynamoDB client
//!   takes its credentials from there ([`with_function_credentials`]); a deployment of the shipped
//!   binaries gives each function `AWS_ACCESS_KEY_ID` = its logical id. An access key that names
//!   no function (the tests' and the admin tool's `local`) is not restricted: it is the operator.
//! - **What is asked** ([`accesses`]): `GetItem`, `PutItem`, `UpdateItem`, `DeleteItem` with the
//!   item's partition key; `Query` with the partition key of its key condition; `BatchGetItem` /
//!   `BatchWriteItem` with every partition key of the request; `TransactWriteItems` authorised per
//!   item as `PutItem`, `UpdateItem`, `DeleteItem` or `ConditionCheckItem` (it has no action of
//!   its own), `TransactGetItems` per item as `GetItem`; anything else with no key.
//! - **The decision** ([`Policies::authorize`]): an explicit `Deny` that matches wins, else an
//!   `Allow` that matches, else the implicit deny. A statement matches an access when one of its
//!   actions matches (`*` and `?` wildcards, case-insensitive), one of its resources is the table
//!   (`!GetAtt UsersTable.Arn`, `*`; the template's `!If [SingleTable, ...]` taken as a
//!   single-table deployment takes it; for a `Query` or `Scan` with `IndexName`, the index's
//!   ARN `!Sub "${UsersTable.Arn}/index/<name>"` instead, as IAM authorises them), and its
//!   condition holds: `ForAllValues:StringLike` (or
//!   `StringEquals`) on `dynamodb:LeadingKeys` holds when **every** partition key value of the
//!   request matches one of its patterns, and, as IAM evaluates `ForAllValues`, when there is
//!   none (a `Scan`: so no statement with that condition may grant `Scan`). Any other condition
//!   is not understood here and never grants.
//! - **A refusal** is DynamoDB's: HTTP 400 `AccessDeniedException`, with the message AWS gives.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;

use serde_yaml::Value;

use crate::partition_keys::{pk_of, query_pk};

tokio::task_local! {
    /// The function whose handler runs on this task (its package name): the principal of the
    /// DynamoDB requests it makes.
    static FUNCTION: &'static str;
}

/// Runs `work` as the function `package` (its DynamoDB requests are signed with its credentials
/// when the client is built by [`with_function_credentials`]).
pub async fn as_function<F: Future>(package: &'static str, work: F) -> F::Output {
    FUNCTION.scope(package, work).await
}

/// The function running on this task, if any.
pub fn current_function() -> Option<&'static str> {
    FUNCTION.try_with(|f| *f).ok()
}

/// Credentials whose access key id is the function running on the calling task ([`as_function`]),
/// or `fallback` outside any function (the tests' own requests).
#[derive(Debug, Clone)]
pub struct FunctionCredentials {
    fallback: String,
}

impl aws_sdk_dynamodb::config::ProvideCredentials for FunctionCredentials {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let key = current_function().map_or_else(|| self.fallback.clone(), principal_key);
        let credentials = aws_sdk_dynamodb::config::Credentials::new(key, "local", None, None, "local-function");
        aws_credential_types::provider::future::ProvideCredentials::ready(Ok(credentials))
    }
}

/// `client` with [`FunctionCredentials`] (resolved for every request: no identity cache).
pub fn with_function_credentials(client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
    let conf = client
        .config()
        .to_builder()
        .credentials_provider(FunctionCredentials { fallback: "local".into() })
        .identity_cache(aws_sdk_dynamodb::config::IdentityCache::no_cache())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// `client` acting with the access key id `principal` (a function's logical id or package), as
/// that function's role would: for tests that play a compromised function.
pub fn client_as(client: &aws_sdk_dynamodb::Client, principal: &str) -> aws_sdk_dynamodb::Client {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(principal, "local", None, None, "local-function");
    let conf = client.config().to_builder().credentials_provider(credentials).build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// The access key id of a SigV4-signed request (`Authorization: AWS4-HMAC-SHA256
/// Credential=AKID/date/region/service/aws4_request, ...`).
pub fn access_key_id(authorization: &str) -> Option<&str> {
    let rest = authorization.split("Credential=").nth(1)?;
    rest.split('/').next().filter(|k| !k.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// One statement of a policy, as far as the table goes.
#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    actions: Vec<String>,
    /// One of its resources is the table (`!GetAtt UsersTable.Arn` or `*`).
    on_table: bool,
    /// The table's indexes its resources name (`!Sub "${UsersTable.Arn}/index/<name>"`, the
    /// name possibly a pattern; `*` for a resource `*`): a `Query` or `Scan` of an index needs
    /// the index's ARN, as IAM authorises it.
    indexes: Vec<String>,
    /// `Condition`: `Ok(None)` without one; `Ok(Some(patterns))` for `ForAllValues:StringLike`
    /// / `ForAllValues:StringEquals` on `dynamodb:LeadingKeys` (equals as patterns without
    /// wildcards: escaped); `Err` for a condition this emulation does not understand.
    leading_keys: Result<Option<Vec<String>>, String>,
}

/// One authorisation IAM makes for a request: an action on the table with the partition keys
/// it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `dynamodb:PutItem`, ...
    pub action: String,
    /// Every partition key value (`pk`) the access names.
    pub leading_keys: Vec<String>,
    /// The index a `Query` or `Scan` reads (`IndexName`); `None`: the table.
    pub index: Option<String>,
}

/// Why an access was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub principal: String,
    pub access: Access,
    /// An explicit `Deny` matched (else: no `Allow` did).
    pub explicit: bool,
}

impl Denied {
    /// DynamoDB's answer: 400, `AccessDeniedException`, AWS's message.
    pub fn body(&self, table: &str) -> serde_json::Value {
        let why = if self.explicit {
            "with an explicit deny in an identity-based policy".to_owned()
        } else {
            format!("because no identity-based policy allows the {} action", self.access.action)
        };
        serde_json::json!({
            "__type": "com.amazon.coral.service#AccessDeniedException",
            "Message": format!(
                "User: arn:aws:sts::123456789012:assumed-role/{p}Role/{p} is not authorized to perform: {a} on resource: arn:aws:dynamodb:us-east-1:123456789012:table/{table} {why}",
                p = self.principal,
                a = self.access.action,
            ),
        })
    }
}

/// Every function's DynamoDB statements, by principal (its logical id and its package).
#[derive(Debug, Clone, Default)]
pub struct Policies {
    by_principal: HashMap<String, Vec<Statement>>,
}

/// A principal's name as looked up, and as an access key id: letters and digits only (DynamoDB
/// Local refuses any other access key id), lower case; a package `facebook-login`, its crate
/// `facebook_login` and the access key `facebooklogin` are one principal, the logical id
/// `FacebookLoginFunction` another name of it.
pub fn principal_key(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

impl Policies {
    /// The policies of `template.yaml` at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Policies, String> {
        let text = std::fs::read_to_string(path.as_ref()).map_err(|e| format!("{}: {e}", path.as_ref().display()))?;
        Policies::parse(&text)
    }

    /// The policies of a template's text. Every `AWS::Serverless::Function` gets an entry (no
    /// `Policies`: no statement, everything refused); a policy form other than an inline
    /// document (a managed policy, a SAM policy template) is an error, not a guess.
    pub fn parse(text: &str) -> Result<Policies, String> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| format!("template: {e}"))?;
        // As deployed with the parameters' defaults (`TableMode: single`): every table reference
        // `!If [SingleTable, !GetAtt UsersTable.Arn, ...]` is the stack's own table.
        let doc = crate::template::conditions::resolve(&doc, &HashMap::new());
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template: no Resources")?;
        let mut by_principal = HashMap::new();
        for (id, resource) in resources {
            let Some(id) = id.as_str() else { continue };
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let mut statements = Vec::new();
            let policies = resource.get("Properties").and_then(|p| p.get("Policies"));
            for policy in policies.and_then(Value::as_sequence).into_iter().flatten() {
                let list = policy
                    .get("Statement")
                    .and_then(Value::as_sequence)
                    .ok_or_else(|| format!("{id}: a policy that is not an inline document with a Statement list"))?;
                for statement in list {
                    statements.push(parse_statement(id, statement)?);
                }
            }
            let package = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str);
            if let Some(package) = package {
                by_principal.insert(principal_key(package), statements.clone());
            }
            by_principal.insert(principal_key(id), statements);
        }
        Ok(Policies { by_principal })
    }

    /// Whether `principal` is a function these policies restrict.
    pub fn restricts(&self, principal: &str) -> bool {
        self.by_principal.contains_key(&principal_key(principal))
    }

    /// IAM's decision for a request of `operation` with `body` made by `principal`: `Ok` when
    /// every access it needs is allowed (or the principal is no function), else the first refused.
    pub fn authorize(&self, principal: &str, operation: &str, body: &serde_json::Value) -> Result<(), Denied> {
        let Some(statements) = self.by_principal.get(&principal_key(principal)) else { return Ok(()) };
        for access in accesses(operation, body) {
            let matching =
                |effect: Effect| statements.iter().filter(|s| s.effect == effect).any(|s| s.matches(&access, effect));
            if matching(Effect::Deny) {
                return Err(Denied { principal: principal.to_owned(), access, explicit: true });
            }
            if !matching(Effect::Allow) {
                return Err(Denied { principal: principal.to_owned(), access, explicit: false });
            }
        }
        Ok(())
    }

    /// The `dynamodb:LeadingKeys` patterns of `principal`'s allowing statements that grant
    /// `action` (each statement's list; `None` for a statement without the condition).
    pub fn leading_keys(&self, principal: &str, action: &str) -> Vec<Option<Vec<String>>> {
        let access = Access { action: action.to_owned(), leading_keys: Vec::new(), index: None };
        self.by_principal
            .get(&principal_key(principal))
            .into_iter()
            .flatten()
            .filter(|s| s.effect == Effect::Allow && s.on_table && s.grants(&access.action))
            .filter_map(|s| s.leading_keys.clone().ok())
            .collect()
    }
}

impl Statement {
    fn grants(&self, action: &str) -> bool {
        self.actions.iter().any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
    }

    fn matches(&self, access: &Access, effect: Effect) -> bool {
        let on_resource = match &access.index {
            None => self.on_table,
            Some(index) => self.indexes.iter().any(|pattern| glob(pattern, index)),
        };
        if !on_resource || !self.grants(&access.action) {
            return false;
        }
        match &self.leading_keys {
            Ok(None) => true,
            Ok(Some(patterns)) => access.leading_keys.iter().all(|k| patterns.iter().any(|p| glob(p, k))),
            // Not understood: never grants; a deny that might apply is taken as applying.
            Err(_) => effect == Effect::Deny,
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Whether a `Resource` entry is the table.
fn is_table(resource: &Value) -> bool {
    match resource {
        Value::String(s) => s == "*",
        Value::Tagged(t) if t.tag == "GetAtt" => match &t.value {
            Value::String(s) => s == "UsersTable.Arn",
            Value::Sequence(parts) => {
                parts.iter().filter_map(Value::as_str).collect::<Vec<_>>() == ["UsersTable", "Arn"]
            }
            _ => false,
        },
        _ => false,
    }
}

/// The index a `Resource` entry names: `!Sub "${UsersTable.Arn}/index/<name>"` gives `<name>`
/// (a pattern where it has `*`), `*` gives `*`.
fn table_index(resource: &Value) -> Option<String> {
    match resource {
        Value::String(s) if s == "*" => Some("*".to_owned()),
        Value::Tagged(t) if t.tag == "Sub" => {
            t.value.as_str()?.strip_prefix("${UsersTable.Arn}/index/").filter(|n| !n.contains('/')).map(str::to_owned)
        }
        _ => None,
    }
}

fn parse_statement(id: &str, statement: &Value) -> Result<Statement, String> {
    let effect = match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => return Err(format!("{id}: a statement with Effect {other:?}")),
    };
    if statement.get("NotAction").is_some() || statement.get("NotResource").is_some() {
        return Err(format!("{id}: NotAction / NotResource are not emulated"));
    }
    let actions = strings(statement.get("Action"));
    let resources = match statement.get("Resource") {
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    let on_table = resources.iter().any(|r| is_table(r));
    let indexes = resources.iter().filter_map(|r| table_index(r)).collect();
    let leading_keys = match statement.get("Condition") {
        None => Ok(None),
        Some(condition) => leading_keys_condition(condition),
    };
    Ok(Statement { effect, actions, on_table, indexes, leading_keys })
}

fn leading_keys_condition(condition: &Value) -> Result<Option<Vec<String>>, String> {
    let operators = condition.as_mapping().ok_or("Condition is not a mapping")?;
    let mut patterns = None;
    for (operator, keys) in operators {
        let operator = operator.as_str().unwrap_or_default();
        let keys = keys.as_mapping().ok_or("a condition operator without keys")?;
        for (key, values) in keys {
            if key.as_str() != Some("dynamodb:LeadingKeys") {
                return Err(format!("condition key {key:?}"));
            }
            let values = strings(Some(values));
            let values = match operator {
                "ForAllValues:StringLike" => values,
                "ForAllValues:StringEquals" => {
                    values.iter().map(|v| v.replace('*', "\u{0}").replace('?', "\u{1}")).collect()
                }
                other => return Err(format!("condition operator {other}")),
            };
            if patterns.is_some() {
                return Err("two LeadingKeys conditions in one statement".into());
            }
            patterns = Some(values);
        }
    }
    Ok(patterns)
}

/// IAM's `StringLike`: `*` any run of characters, `?` one character, case-sensitive (patterns
/// from `StringEquals` carry their `*`/`?` escaped and match only themselves).
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    let literal = |c: char| match c {
        '\u{0}' => '*',
        '\u{1}' => '?',
        c => c,
    };
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || literal(p[pi]) == v[vi]) {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The authorisations IAM makes for a request of `operation` with `body`.
pub fn accesses(operation: &str, body: &serde_json::Value) -> Vec<Access> {
    let access = |action: &str, keys: Vec<String>| Access {
        action: format!("dynamodb:{action}"),
        leading_keys: keys,
        index: None,
    };
    let index = || body["IndexName"].as_str().map(str::to_owned);
    let tables = || body["RequestItems"].as_object().cloned().unwrap_or_default().into_iter().map(|(_, v)| v);
    match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => vec![access(operation, pk_of(&body["Key"]).into_iter().collect())],
        "PutItem" => vec![access(operation, pk_of(&body["Item"]).into_iter().collect())],
        // A key condition without the partition key is refused by DynamoDB itself; here it
        // names an empty string, which no pattern of this table's policies matches.
        "Query" => vec![Access { index: index(), ..access(operation, vec![query_pk(body).unwrap_or_default()]) }],
        "Scan" => vec![Access { index: index(), ..access(operation, Vec::new()) }],
        "BatchGetItem" => {
            let keys = tables()
                .flat_map(|t| t["Keys"].as_array().cloned().unwrap_or_default())
                .filter_map(|k| pk_of(&k))
                .collect();
            vec![access(operation, keys)]
        }
        "BatchWriteItem" => {
            let keys = tables()
                .flat_map(|t| t.as_array().cloned().unwrap_or_default())
                .filter_map(|r| pk_of(&r["PutRequest"]["Item"]).or_else(|| pk_of(&r["DeleteRequest"]["Key"])))
                .collect();
            vec![access(operation, keys)]
        }
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                if item["Put"].is_object() {
                    access("PutItem", pk_of(&item["Put"]["Item"]).into_iter().collect())
                } else if item["Update"].is_object() {
                    access("UpdateItem", pk_of(&item["Update"]["Key"]).into_iter().collect())
                } else if item["Delete"].is_object() {
                    access("DeleteItem", pk_of(&item["Delete"]["Key"]).into_iter().collect())
                } else {
                    access("ConditionCheckItem", pk_of(&item["ConditionCheck"]["Key"]).into_iter().collect())
                }
            })
            .collect(),
        "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| access("GetItem", pk_of(&item["Get"]["Key"]).into_iter().collect()))
            .collect(),
        other => vec![access(other, Vec::new())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEMPLATE: &str = r#"
Resources:
  UsersTable:
    Type: AWS::DynamoDB::Table
  LoginFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: login
    Properties:
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem]
              Resource: !GetAtt UsersTable.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["IDENT#*", "USER#*"]
            - Effect: Allow
              Action: dynamodb:Query
              Resource: "arn:aws:ssm:::parameter/x"
  AvatarFunction:
    Type: AWS::Serverless::Function
    Properties:
      Policies: []
"#;

    #[test]
    fn leading_keys_are_enforced_per_item_and_for_every_key() {
        let p = Policies::parse(TEMPLATE).expect("parses");
        let put = |pk: &str| json!({"Item": {"pk": {"S": pk}, "sk": {"S": "x"}}});
        assert!(p.authorize("LoginFunction", "PutItem", &put("IDENT#demo#facebook#1")).is_ok());
        assert!(p.authorize("login", "PutItem", &put("INST#demo")).is_err(), "by package too");
        let denied = p.authorize("LoginFunction", "UpdateItem", &json!({"Key": {"pk": {"S": "USER#d#1"}}}));
        assert_eq!(denied.expect_err("no UpdateItem").access.action, "dynamodb:UpdateItem");
        let tx = json!({"TransactItems": [
            {"Put": {"Item": {"pk": {"S": "USER#d#1"}}}},
            {"Put": {"Item": {"pk": {"S": "INST#d"}}}},
        ]});
        assert!(p.authorize("LoginFunction", "TransactWriteItems", &tx).is_err());
        let batch = json!({"RequestItems": {"t": {"Keys": [{"pk": {"S": "IDENT#a"}}, {"pk": {"S": "INST#a"}}]}}});
        assert!(p.authorize("LoginFunction", "BatchGetItem", &batch).is_err(), "not granted at all");
        assert!(p.authorize("LoginFunction", "Query", &json!({})).is_err(), "the ssm resource is not the table");
        assert!(p.authorize("AvatarFunction", "GetItem", &json!({"Key": {"pk": {"S": "x"}}})).is_err());
        assert!(p.authorize("local", "PutItem", &put("INST#demo")).is_ok(), "no function: the operator");
    }

    /// The template's table mode (issue 33): `!If [SingleTable, <table>, <global table>]` is read
    /// as deployed with the defaults (single: the stack's table), and a Query of an index needs
    /// the index's ARN, never the table's.
    #[test]
    fn the_table_mode_form_and_index_arns_are_read_as_iam_does() {
        let template = r#"
Parameters:
  TableMode:
    Type: String
    Default: single
Conditions:
  SingleTable: !Equals [!Ref TableMode, single]
Resources:
  SweepFunction:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: !If [SingleTable, !GetAtt UsersTable.Arn, !Sub "arn:aws:dynamodb:r:1:table/${GlobalTableName}"]
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !If [SingleTable, !Sub "${UsersTable.Arn}/index/sweep", !Sub "arn:aws:dynamodb:r:1:table/${GlobalTableName}/index/sweep"]
"#;
        let p = Policies::parse(template).expect("parses");
        assert!(p.authorize("SweepFunction", "GetItem", &json!({"Key": {"pk": {"S": "USER#d#1"}}})).is_ok());
        let q = |index: Option<&str>| {
            let mut q = json!({"KeyConditionExpression": "sweep_pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "SWEEP#1#0"}}});
            if let Some(i) = index {
                q["IndexName"] = json!(i);
            }
            q
        };
        assert!(p.authorize("SweepFunction", "Query", &q(Some("sweep"))).is_ok());
        assert!(p.authorize("SweepFunction", "Query", &q(None)).is_err(), "the index's ARN is not the table's");
        assert!(p.authorize("SweepFunction", "Query", &q(Some("other"))).is_err());
        assert!(p.authorize("SweepFunction", "Scan", &json!({"IndexName": "sweep"})).is_err(), "no Scan granted");
    }

    #[test]
    fn the_query_partition_and_the_credential_are_read() {
        let q = json!({"KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": "USESS#d#1"}, ":prefix": {"S": "SESSION#"}}});
        assert_eq!(accesses("Query", &q)[0].leading_keys, ["USESS#d#1"]);
        let q = json!({"KeyConditionExpression": "begins_with(sk, :s) and #p = :v",
            "ExpressionAttributeNames": {"#p": "pk"}, "ExpressionAttributeValues": {":v": {"S": "REVOKE"}}});
        assert_eq!(accesses("Query", &q)[0].leading_keys, ["REVOKE"]);
        let auth = "AWS4-HMAC-SHA256 Credential=LoginFunction/20261207/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=ab";
        assert_eq!(access_key_id(auth), Some("LoginFunction"));
        assert!(glob("USESS#*", "USESS#d#1") && glob("REVOKE", "REVOKE") && !glob("REVOKE", "REVOKED"));
        assert!(glob("a?c*", "abcde") && !glob("INST#*", "IDENT#x"));
    }
}
