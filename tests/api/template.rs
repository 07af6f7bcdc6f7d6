//! `template.yaml` grants each function exactly what its code uses: the DynamoDB actions in
//! [`GRANTS`] (a new grant is a conscious change of this table), never Query or Scan, and
//! `ssm:GetParameters` on exactly the parameters its `SECRET_PARAMETERS` names, which are
//! enough for its configuration to load.

use std::collections::{BTreeSet, HashMap};

use local_stack::dynamodb_local::repo_root;
use local_stack::Template;
use serde_yaml::Value;
use shared::domain::identity::Provider;
use shared::usecases::metrics::{self, Dialect, Outcome};
use shared::usecases::{replication, sweeper};

/// Function → (DynamoDB actions, `SECRET_PARAMETERS`). Derived from the call graph
/// (functions/*/src/lib.rs → shared): TransactWriteItems is authorised per item as
/// PutItem/UpdateItem/DeleteItem, and only the admin tool's `import_api_key` uses a
/// ConditionCheck or Query.
const GRANTS: &[(&str, &[&str], &[&str])] = &[
    // Every login function also reads instance-secrets-key(-previous): instances' own apps.
    (
        "FacebookLoginFunction",
        SYNCANO_LOGIN,
        &[
            "token-secret",
            "token-secret-previous",
            "facebook-app-secret",
            "instance-secrets-key",
            "instance-secrets-key-previous",
        ],
    ),
    (
        "GoogleLoginFunction",
        SYNCANO_LOGIN,
        &["token-secret", "token-secret-previous", "instance-secrets-key", "instance-secrets-key-previous"],
    ),
    (
        "TwitterLoginFunction",
        SYNCANO_LOGIN,
        &[
            "token-secret",
            "token-secret-previous",
            "twitter-consumer-secret",
            "instance-secrets-key",
            "instance-secrets-key-previous",
        ],
    ),
    (
        "LinkedInLoginFunction",
        SYNCANO_LOGIN,
        &[
            "token-secret",
            "token-secret-previous",
            "linkedin-client-secret",
            "instance-secrets-key",
            "instance-secrets-key-previous",
        ],
    ),
    // Apple's authorization code is exchanged and its refresh token sealed (UpdateItem on the identity).
    (
        "AppleLoginFunction",
        SYNCANO_LOGIN,
        &[
            "token-secret",
            "token-secret-previous",
            "apple-private-key",
            "refresh-token-key",
            "refresh-token-key-previous",
            "instance-secrets-key",
            "instance-secrets-key-previous",
        ],
    ),
    (
        "GitHubLoginFunction",
        SYNCANO_LOGIN,
        &[
            "token-secret",
            "token-secret-previous",
            "github-client-secret",
            "instance-secrets-key",
            "instance-secrets-key-previous",
        ],
    ),
    (
        "LoginFunction",
        &["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem"],
        &[
            "token-secret",
            "token-secret-previous",
            "facebook-app-secret",
            "twitter-consumer-secret",
            "linkedin-client-secret",
            "github-client-secret",
            "apple-private-key",
            "refresh-token-key",
            "refresh-token-key-previous",
            "instance-secrets-key",
            "instance-secrets-key-previous",
        ],
    ),
    ("RocketChatAuthorizerFunction", &["GetItem"], &[]),
    ("SyncanoAuthorizerFunction", &["GetItem", "BatchGetItem"], &["token-secret", "token-secret-previous"]),
    // Sessions and avatars only: no user key is derived, so no secret is read.
    ("MeFunction", &["GetItem"], &[]),
    ("AvatarFunction", &[], &[]),
    ("LogoutFunction", &["GetItem", "DeleteItem"], &[]),
    // Query only on the user's session list (`USESS#`), by a LeadingKeys condition.
    ("RemoveOtherTokensFunction", &["GetItem", "DeleteItem", "Query"], &[]),
    ("CurrentUserFunction", &["GetItem", "BatchGetItem"], &["token-secret", "token-secret-previous"]),
    // The logins at the backends no function of its own serves (a login's), and the checks
    // the served method makes first: API key, on user/ the user key.
    (
        "SyncanoFallbackFunction",
        SYNCANO_LOGIN,
        &["token-secret", "token-secret-previous", "instance-secrets-key", "instance-secrets-key-previous"],
    ),
    // The deletion: instance + API key, the user, its tombstone (UpdateItem), its lookups and
    // sessions (DeleteItem), the audit item (PutItem), the session list (Query on `USESS#`).
    // They also revoke at the providers: the pending revocations (Put in the first transaction,
    // Delete when done, Update to retry), with Apple's key, the sealing key and Facebook's secret.
    ("DeleteUserFunction", DELETION_SYNCANO, DELETION_SECRETS),
    ("DeleteSelfFunction", DELETION_SYNCANO, DELETION_SECRETS),
    ("DeleteOwnAccountFunction", &["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"], DELETION_SECRETS),
    // Scheduled: the pending revocations (Query on `REVOKE` only), each deleted or rescheduled,
    // after a read of the identity it names (a new sign-up of the person drops it).
    (
        "RevocationRetryFunction",
        &["GetItem", "UpdateItem", "DeleteItem", "Query"],
        // A deletion's secrets but the user keys' (no user key is read).
        DELETION_SECRETS.split_at(2).1,
    ),
    // Apple's notifications: the identity (GetItem), Hide My Email's state and the identity's
    // removal (UpdateItem, DeleteItem), the sessions (Query on `USESS#`), or the whole deletion.
    (
        "AppleNotificationsFunction",
        &["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
        &["token-secret", "token-secret-previous", "instance-secrets-key", "instance-secrets-key-previous"],
    ),
    // Facebook's data deletion: its request and status items (PutItem, UpdateItem, GetItem),
    // then what Apple's notifications do to forget an identity.
    (
        "FacebookDataDeletionFunction",
        &["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
        &[
            "token-secret",
            "token-secret-previous",
            "facebook-app-secret",
            "instance-secrets-key",
            "instance-secrets-key-previous",
        ],
    ),
    // The status page: one read; no secret.
    ("FacebookDeletionStatusFunction", &["GetItem"], &[]),
    // GET /health (issue 33): one strongly consistent read of the fixed probe key, no secret.
    ("HealthFunction", &["GetItem"], &[]),
    // Deauthorize: its replay record (PutItem, UpdateItem), the identity, then the user's
    // sessions (Query on `USESS#`); no user key.
    (
        "FacebookDeauthorizeFunction",
        &["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
        &["facebook-app-secret", "instance-secrets-key", "instance-secrets-key-previous"],
    ),
    (
        "ResetKeyFunction",
        &["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem"],
        &["token-secret", "token-secret-previous"],
    ),
    // Scheduled (issue 33): Query on the sweep index only; each item found read, deleted or
    // updated; its cursor written (PutItem on `SWEEPER`). No secret.
    ("SweeperFunction", &["GetItem", "UpdateItem", "DeleteItem", "PutItem", "Query"], &[]),
];

/// The functions that Query an index (the sweep index, issue 33), on the index's ARN only, with
/// no `dynamodb:LeadingKeys` condition: the index's partition key is not the table's, and the
/// index (`KEYS_ONLY`) holds only the keys of expiring and pending items.
const INDEX_QUERIES: &[(&str, &str)] = &[("SweeperFunction", "${UsersTable.Arn}/index/sweep")];

/// Whether `statement` of `id` is its Query of an index in [`INDEX_QUERIES`].
fn is_index_query(id: &str, statement: &Value) -> bool {
    let Some((_, arn)) = INDEX_QUERIES.iter().find(|(f, _)| *f == id) else { return false };
    let resources = one_or_many(&statement["Resource"]);
    // `!If [SingleTable, <the table's index>, <the global table's>]` (issue 33's table mode): the
    // single-table branch is checked here, the other by the table mode's own test.
    let single = |r: &Value| match tagged(r) {
        Some((tag, target)) if tag == "If" => target.as_sequence().and_then(|s| s.get(1)).cloned(),
        _ => Some(r.clone()),
    };
    let on_index = resources.len() == 1
        && single(&resources[0])
            .is_some_and(|r| tagged(&r).is_some_and(|(tag, target)| tag == "Sub" && target.as_str() == Some(*arn)));
    on_index && strings(id, one_or_many(&statement["Action"])) == ["dynamodb:Query"]
}

/// What a deletion reads to revoke at the providers (and to find the user's key lookup).
const DELETION_SECRETS: &[&str] = &[
    "token-secret",
    "token-secret-previous",
    "apple-private-key",
    "refresh-token-key",
    "refresh-token-key-previous",
    "facebook-app-secret",
    "instance-secrets-key",
    "instance-secrets-key-previous",
];

/// The partitions a function's Query is limited to (`dynamodb:LeadingKeys`): the user's session
/// list, for the callbacks also a subject's list of instances, and for the retry of pending
/// revocations their partition only.
fn query_keys(id: &str) -> &'static [&'static str] {
    match id {
        // Spread over `REVOKE#{shard}` (issue 30), and the older single partition.
        "RevocationRetryFunction" => &["REVOKE", "REVOKE#*"],
        // The providers' deletion callbacks also find every instance of the subject (issue 28).
        "AppleNotificationsFunction" | "FacebookDataDeletionFunction" | "FacebookDeauthorizeFunction" => {
            &["USESS#*", "SUBJECT#*"]
        }
        _ => &["USESS#*"],
    }
}

/// Function → for each of its DynamoDB actions, the partition key prefixes it is limited to
/// (`ForAllValues:StringLike` `dynamodb:LeadingKeys`, the union over its statements): what its
/// code reads and writes, and nothing more (docs/deploying.md, the permissions table). A new
/// prefix is a conscious change of this table. No function but the admin tool writes `INST#`.
const PREFIXES: &[(&str, Prefixes)] = &[
    ("FacebookLoginFunction", SYNCANO_LOGIN_KEYS),
    ("GoogleLoginFunction", SYNCANO_LOGIN_KEYS),
    ("TwitterLoginFunction", SYNCANO_LOGIN_KEYS),
    ("LinkedInLoginFunction", SYNCANO_LOGIN_KEYS),
    ("AppleLoginFunction", SYNCANO_LOGIN_KEYS),
    ("GitHubLoginFunction", SYNCANO_LOGIN_KEYS),
    (
        "LoginFunction",
        &[
            ("GetItem", &["INST#*", "INSTCONF#*", "IDENT#*", "USER#*", "EMAIL#*", "FAIL#*", "SESSION#*"]),
            ("BatchGetItem", &["INST#*", "INSTCONF#*", "IDENT#*", "USER#*", "EMAIL#*", "FAIL#*", "SESSION#*"]),
            ("PutItem", LOGIN_WRITES_WITH_SESSIONS),
            ("UpdateItem", LOGIN_WRITES_WITH_SESSIONS),
            ("DeleteItem", &["IDENT#*"]),
        ],
    ),
    ("RocketChatAuthorizerFunction", &[("GetItem", &["SESSION#*", "USER#*"])]),
    ("SyncanoAuthorizerFunction", SYNCANO_READS),
    ("MeFunction", &[("GetItem", &["SESSION#*", "USER#*"])]),
    ("AvatarFunction", &[]),
    ("LogoutFunction", &[("GetItem", &["SESSION#*"]), ("DeleteItem", &["SESSION#*", "USESS#*"])]),
    (
        "RemoveOtherTokensFunction",
        &[("GetItem", &["SESSION#*", "USER#*"]), ("DeleteItem", &["SESSION#*", "USESS#*"]), ("Query", &["USESS#*"])],
    ),
    ("CurrentUserFunction", SYNCANO_READS),
    (
        "SyncanoFallbackFunction",
        &[
            ("GetItem", &["INST#*", "INSTCONF#*", "IDENT#*", "USER#*", "UKEY#*", "EMAIL#*", "FAIL#*"]),
            ("BatchGetItem", &["INST#*", "INSTCONF#*", "IDENT#*", "USER#*", "UKEY#*", "EMAIL#*", "FAIL#*"]),
            ("PutItem", LOGIN_WRITES),
            ("UpdateItem", LOGIN_WRITES),
            ("DeleteItem", &["IDENT#*"]),
        ],
    ),
    (
        "ResetKeyFunction",
        &[
            ("GetItem", &["INST#*", "UKEY#*", "USER#*", "IDENT#*"]),
            ("BatchGetItem", &["INST#*", "UKEY#*", "USER#*", "IDENT#*"]),
            ("PutItem", &["USER#*", "IDENT#*", "UKEY#*"]),
            ("UpdateItem", &["USER#*", "IDENT#*", "UKEY#*"]),
            ("DeleteItem", &["UKEY#*"]),
        ],
    ),
    ("DeleteUserFunction", DELETION_KEYS),
    ("DeleteSelfFunction", DELETION_KEYS),
    (
        "DeleteOwnAccountFunction",
        &[
            ("GetItem", &["USER#*", "INSTCONF#*", "UKEY#*", "IDENT#*", "EMAIL#*", "SESSION#*"]),
            ("PutItem", DELETION_WRITES),
            ("UpdateItem", DELETION_WRITES),
            ("DeleteItem", DELETION_DELETES),
            ("Query", &["USESS#*"]),
        ],
    ),
    (
        "RevocationRetryFunction",
        &[
            ("GetItem", &["IDENT#*", "INSTCONF#*"]),
            ("UpdateItem", &["REVOKE", "REVOKE#*"]),
            ("DeleteItem", &["REVOKE", "REVOKE#*"]),
            ("Query", &["REVOKE", "REVOKE#*"]),
        ],
    ),
    (
        "AppleNotificationsFunction",
        &[
            ("GetItem", &["IDENT#*", "INSTCONF#*", "USER#*", "UKEY#*", "EMAIL#*", "SESSION#*", "APPLENOTE#*"]),
            ("PutItem", APPLE_WRITES),
            ("UpdateItem", APPLE_WRITES),
            ("DeleteItem", DELETION_DELETES),
            ("Query", &["USESS#*", "SUBJECT#*"]),
        ],
    ),
    (
        "FacebookDataDeletionFunction",
        &[
            ("GetItem", &["IDENT#*", "INSTCONF#*", "USER#*", "UKEY#*", "EMAIL#*", "SESSION#*", "FBREQ#*", "FBDEL#*"]),
            ("PutItem", FACEBOOK_DELETION_WRITES),
            ("UpdateItem", FACEBOOK_DELETION_WRITES),
            ("DeleteItem", DELETION_DELETES),
            ("Query", &["USESS#*", "SUBJECT#*"]),
        ],
    ),
    ("FacebookDeletionStatusFunction", &[("GetItem", &["FBDEL#*"])]),
    // Issue 33: every partition of an expiring or pending item (and its cursor, `SWEEPER`); its
    // Query is on the sweep index ([`INDEX_QUERIES`]). Never `INST#`.
    (
        "SweeperFunction",
        &[
            (
                "GetItem",
                &[
                    "SWEEPER", SWEPT[0], SWEPT[1], SWEPT[2], SWEPT[3], SWEPT[4], SWEPT[5], SWEPT[6], SWEPT[7],
                    SWEPT[8], SWEPT[9], SWEPT[10], SWEPT[11], SWEPT[12], SWEPT[13],
                ],
            ),
            ("UpdateItem", SWEPT_AND_SUBJECTS),
            ("DeleteItem", SWEPT_AND_SUBJECTS),
            // Its cursor; finishing a stopped deletion: revocations recorded, audit, username hold.
            ("PutItem", &["SWEEPER", "REVOKE#*", "AUDIT#*", "UNAME#*"]),
            ("Query", &["USESS#*"]),
        ],
    ),
    ("HealthFunction", &[("GetItem", &["HEALTH#"])]),
    (
        "FacebookDeauthorizeFunction",
        &[
            ("GetItem", &["IDENT#*", "INSTCONF#*", "FBDEAUTH#*"]),
            ("PutItem", &["FBDEAUTH#*"]),
            ("UpdateItem", &["FBDEAUTH#*"]),
            ("DeleteItem", &["SESSION#*", "USESS#*"]),
            ("Query", &["USESS#*", "SUBJECT#*"]),
        ],
    ),
];

/// The partitions of the items the sweeper deletes, moves or finishes.
const SWEPT: &[&str] = &[
    "SESSION#*",
    "USESS#*",
    "FAIL#*",
    "UNAME#*",
    "USER#*",
    "UKEY#*",
    "IDENT#*",
    "EMAIL#*",
    "AUDIT#*",
    "REVOKE#*",
    "FBREQ#*",
    "FBDEL#*",
    "FBDEAUTH#*",
    "APPLENOTE#*",
];

/// What the sweeper updates and deletes: [`SWEPT`], and a stopped deletion's subject entries.
const SWEPT_AND_SUBJECTS: &[&str] = &[
    "SESSION#*",
    "USESS#*",
    "FAIL#*",
    "UNAME#*",
    "USER#*",
    "UKEY#*",
    "IDENT#*",
    "EMAIL#*",
    "AUDIT#*",
    "REVOKE#*",
    "FBREQ#*",
    "FBDEL#*",
    "FBDEAUTH#*",
    "APPLENOTE#*",
    "SUBJECT#*",
];

/// For each DynamoDB action, its key prefixes.
type Prefixes = &'static [(&'static str, &'static [&'static str])];

/// A Syncano login: reads the instance (policy, API key), identity, user, email index and
/// failure counters; writes a new user's items (`SUBJECT#`: the identity's index entry), the
/// user id counter (`USERIDS#`) and the failure counters. Never the instance's partition.
const SYNCANO_LOGIN_KEYS: Prefixes = &[
    ("GetItem", &["INST#*", "INSTCONF#*", "IDENT#*", "USER#*", "EMAIL#*", "FAIL#*"]),
    ("BatchGetItem", &["INST#*", "INSTCONF#*", "IDENT#*", "USER#*", "EMAIL#*", "FAIL#*"]),
    ("PutItem", LOGIN_WRITES),
    ("UpdateItem", LOGIN_WRITES),
    // Issue 33: a link by email whose user went meanwhile deletes the identity it wrote.
    ("DeleteItem", &["IDENT#*"]),
];
const LOGIN_WRITES: &[&str] =
    &["IDENT#*", "USER#*", "UNAME#*", "UKEY#*", "EMAIL#*", "USERIDS#*", "FAIL#*", "SUBJECT#*"];
const LOGIN_WRITES_WITH_SESSIONS: &[&str] =
    &["IDENT#*", "USER#*", "UNAME#*", "UKEY#*", "EMAIL#*", "USERIDS#*", "FAIL#*", "SUBJECT#*", "SESSION#*", "USESS#*"];
/// The Syncano checks of a user key: instance + API key, the key's lookup, the user.
const SYNCANO_READS: Prefixes =
    &[("GetItem", &["INST#*", "UKEY#*", "USER#*"]), ("BatchGetItem", &["INST#*", "UKEY#*", "USER#*"])];
/// A Syncano deletion.
const DELETION_KEYS: Prefixes = &[
    ("GetItem", &["INST#*", "INSTCONF#*", "USER#*", "UKEY#*", "IDENT#*", "EMAIL#*", "SESSION#*"]),
    ("BatchGetItem", &["INST#*", "INSTCONF#*", "USER#*", "UKEY#*", "IDENT#*", "EMAIL#*", "SESSION#*"]),
    ("PutItem", DELETION_WRITES),
    ("UpdateItem", DELETION_WRITES),
    ("DeleteItem", DELETION_DELETES),
    ("Query", &["USESS#*"]),
];
/// A deletion's puts and updates: the tombstone, the user-key lookup's expiry, the username's
/// hold, the audit item, the pending revocations.
const DELETION_WRITES: &[&str] = &["USER#*", "UKEY#*", "UNAME#*", "AUDIT#*", "REVOKE#*"];
/// What a deletion (or a callback forgetting an identity) deletes.
const DELETION_DELETES: &[&str] =
    &["IDENT#*", "SUBJECT#*", "USER#*", "UKEY#*", "UNAME#*", "EMAIL#*", "SESSION#*", "USESS#*", "REVOKE#*"];
const APPLE_WRITES: &[&str] = &["IDENT#*", "USER#*", "UKEY#*", "UNAME#*", "AUDIT#*", "REVOKE#*", "APPLENOTE#*"];
const FACEBOOK_DELETION_WRITES: &[&str] =
    &["IDENT#*", "USER#*", "UKEY#*", "UNAME#*", "AUDIT#*", "REVOKE#*", "FBREQ#*", "FBDEL#*"];

/// The functions that revoke at the providers on a deletion: configured with Facebook (its app
/// token withdraws our permissions), though they log no one in.
const REVOKING_FUNCTIONS: [&str; 4] =
    ["DeleteUserFunction", "DeleteSelfFunction", "DeleteOwnAccountFunction", "RevocationRetryFunction"];

/// A Syncano deletion: the API key check, then the deletion's steps.
const DELETION_SYNCANO: &[&str] = &["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"];

/// A Syncano provider login: API key check, identity lookup, user creation, failure counter.
// (DeleteItem: issue 33, a link by email whose user went meanwhile deletes the identity it wrote.)
const SYNCANO_LOGIN: &[&str] = &["GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem"];

/// The functions with `ReservedConcurrentExecutions` from `LoginReservedConcurrency`.
pub(crate) const LOGIN_FUNCTIONS: [&str; 7] = [
    "FacebookLoginFunction",
    "GoogleLoginFunction",
    "TwitterLoginFunction",
    "LinkedInLoginFunction",
    "AppleLoginFunction",
    "GitHubLoginFunction",
    "LoginFunction",
];

/// The provider callbacks: each verifies its provider's signatures, so it is configured with
/// that provider (and only it), though it logs no one in.
const CALLBACK_FUNCTIONS: [(&str, shared::Provider); 3] = [
    ("AppleNotificationsFunction", shared::Provider::Apple),
    ("FacebookDataDeletionFunction", shared::Provider::Facebook),
    ("FacebookDeauthorizeFunction", shared::Provider::Facebook),
];

/// Provider id variables; given to a function only if it serves that provider.
const PROVIDER_IDS: [&str; 6] = [
    "FACEBOOK_APP_ID",
    "GOOGLE_CLIENT_IDS",
    "TWITTER_CONSUMER_KEY",
    "LINKEDIN_CLIENT_ID",
    "APPLE_CLIENT_IDS",
    "GITHUB_CLIENT_ID",
];

const SSM_ARN_PREFIX: &str =
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SecretsParameterPath}/";

fn doc() -> Value {
    let path = repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("template.yaml is not YAML: {e}"))
}

/// `template.yaml` as CloudFormation deploys it with `parameters` (others at their defaults):
/// conditions evaluated, `!If`s taken, conditional resources left out.
fn deployed(parameters: &[(&str, &str)]) -> Value {
    let parameters = parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    local_stack::template::conditions::resolve(&doc(), &parameters)
}

/// Every `AWS::Serverless::Function`: logical id → resource.
fn functions(doc: &Value) -> Vec<(String, Value)> {
    doc["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().expect("logical id").to_string(), r.clone()))
        .collect()
}

/// The tag (without `!`) and the value of a tagged value (`!Ref X`).
fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_string(), &t.value)),
        _ => None,
    }
}

/// A string or a list of strings (`Action`, `Resource`), as written.
fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Sequence(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// The statements of a function's `Policies`: each entry must be an inline policy document
/// (a managed policy name or a SAM policy template would grant what this test cannot see).
fn statements(id: &str, function: &Value) -> Vec<Value> {
    let policies = function["Properties"]["Policies"].as_sequence().unwrap_or_else(|| panic!("{id}: Policies"));
    policies
        .iter()
        .flat_map(|p| {
            let statement = p.get("Statement").unwrap_or_else(|| panic!("{id}: only inline policy documents: {p:?}"));
            one_or_many(statement)
        })
        .collect()
}

fn strings(id: &str, values: Vec<Value>) -> Vec<String> {
    values
        .into_iter()
        .map(|v| v.as_str().unwrap_or_else(|| panic!("{id}: expected a literal string, got {v:?}")).to_string())
        .collect()
}

/// The function's `SECRET_PARAMETERS` (function level; never in Globals).
fn secret_parameters(id: &str, function: &Value) -> BTreeSet<String> {
    let value = &function["Properties"]["Environment"]["Variables"]["SECRET_PARAMETERS"];
    let text = value.as_str().unwrap_or_else(|| panic!("{id}: SECRET_PARAMETERS must be a literal"));
    let leaves = shared::config::parameter_store::parse_secret_parameters(text).unwrap_or_else(|e| panic!("{id}: {e}"));
    leaves.into_iter().collect()
}

#[test]
fn each_function_gets_exactly_its_dynamodb_actions_and_no_query_or_scan() {
    // As deployed in the single table mode (the mrsc mode: `the_mrsc_mode_has_no_table_...`).
    let doc = deployed(&[]);
    let found: BTreeSet<String> = functions(&doc).into_iter().map(|(id, _)| id).collect();
    let expected: BTreeSet<String> = GRANTS.iter().map(|(id, _, _)| id.to_string()).collect();
    assert_eq!(found, expected, "every function of template.yaml needs a row in GRANTS (and only those)");
    for (id, function) in functions(&doc) {
        let (_, actions, _) = GRANTS.iter().find(|(f, _, _)| *f == id).expect("row");
        let mut granted = BTreeSet::new();
        let mut limited_query = false;
        for statement in statements(&id, &function) {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{id}: {statement:?}");
            let stmt_actions = strings(&id, one_or_many(&statement["Action"]));
            for action in &stmt_actions {
                assert!(!action.contains('*'), "{id}: no wildcard actions: {action}");
                assert!(
                    action.starts_with("dynamodb:") || action == "ssm:GetParameters",
                    "{id}: unexpected action {action}"
                );
            }
            if is_index_query(&id, &statement) {
                assert!(statement.get("Condition").is_none(), "{id}: {statement:?}");
                granted.insert("dynamodb:Query".to_string());
                limited_query = true;
                continue;
            }
            if stmt_actions.iter().any(|a| a.starts_with("dynamodb:")) {
                let resources = one_or_many(&statement["Resource"]);
                assert_eq!(resources.len(), 1, "{id}: DynamoDB actions only on the table");
                let (tag, target) = tagged(&resources[0]).unwrap_or_else(|| panic!("{id}: {resources:?}"));
                // The table, or (a Query only) one of its indexes (issue 33: the sweeper's `sweep`).
                let on_index = tag == "Sub"
                    && stmt_actions == ["dynamodb:Query"]
                    && target.as_str().and_then(|s| s.strip_prefix("${UsersTable.Arn}/index/")).is_some();
                assert!(on_index || (tag.as_str(), target.as_str()) == ("GetAtt", Some("UsersTable.Arn")), "{id}");
                if stmt_actions.iter().any(|a| a == "dynamodb:Query") {
                    assert_eq!(stmt_actions, ["dynamodb:Query"], "{id}: Query in a statement of its own");
                    let keys = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
                    assert_eq!(strings(&id, one_or_many(keys)), query_keys(&id), "{id}: Query only on its partition");
                    limited_query = true;
                }
                granted.extend(stmt_actions.into_iter().filter(|a| a.starts_with("dynamodb:")));
            }
        }
        for forbidden in ["dynamodb:Query", "dynamodb:Scan"] {
            let allowed = forbidden == "dynamodb:Query" && limited_query;
            assert!(allowed || !granted.contains(forbidden), "{id} must not have {forbidden}");
        }
        let expected: BTreeSet<String> = actions.iter().map(|a| format!("dynamodb:{a}")).collect();
        assert_eq!(granted, expected, "{id}: DynamoDB actions differ from GRANTS");
    }
}

/// Issue 28 ("Also": least privilege in the table): every statement on the table is limited to
/// key prefixes (`ForAllValues:StringLike` `dynamodb:LeadingKeys`), each function's prefixes per
/// action are exactly its row of [`PREFIXES`], and, evaluated as IAM does (`local_stack::iam`),
/// no function may write the instance's partition: neither its item nor an API key.
#[test]
fn each_function_is_limited_to_its_key_prefixes_and_none_writes_the_instance_partition() {
    let doc = doc();
    let found: BTreeSet<String> = functions(&doc).into_iter().map(|(id, _)| id).collect();
    let expected: BTreeSet<String> = PREFIXES.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(found, expected, "every function of template.yaml needs a row in PREFIXES (and only those)");
    for (id, function) in functions(&doc) {
        let (_, rows) = PREFIXES.iter().find(|(f, _)| *f == id).expect("row");
        let mut granted: HashMap<String, BTreeSet<String>> = HashMap::new();
        for statement in statements(&id, &function) {
            let actions = strings(&id, one_or_many(&statement["Action"]));
            if !actions.iter().any(|a| a.starts_with("dynamodb:")) || is_index_query(&id, &statement) {
                continue;
            }
            let condition = statement["Condition"].as_mapping().unwrap_or_else(|| panic!("{id}: {statement:?}"));
            assert_eq!(condition.len(), 1, "{id}: one condition operator");
            let keys = &statement["Condition"]["ForAllValues:StringLike"];
            assert_eq!(keys.as_mapping().map(|m| m.len()), Some(1), "{id}: only dynamodb:LeadingKeys: {condition:?}");
            let patterns = strings(&id, one_or_many(&keys["dynamodb:LeadingKeys"]));
            assert!(!patterns.is_empty(), "{id}: LeadingKeys without a pattern");
            for pattern in &patterns {
                let prefix = pattern.trim_end_matches('*');
                assert!(!prefix.is_empty() && !prefix.contains(['*', '?']), "{id}: {pattern} is not a prefix");
            }
            for action in actions {
                let action = action.trim_start_matches("dynamodb:").to_string();
                granted.entry(action).or_default().extend(patterns.iter().cloned());
            }
        }
        let expected: HashMap<String, BTreeSet<String>> = rows
            .iter()
            .map(|(action, keys)| (action.to_string(), keys.iter().map(|k| k.to_string()).collect()))
            .collect();
        assert_eq!(granted, expected, "{id}: key prefixes differ from PREFIXES");
    }

    // As IAM decides it: no function may put, update or delete in `INST#`, in a transaction or not.
    let policies = local_stack::iam::Policies::load(repo_root().join("template.yaml")).expect("policies");
    let key = |sk: &str| serde_json::json!({"pk": {"S": "INST#demo"}, "sk": {"S": sk}});
    for (id, _) in functions(&doc) {
        for sk in ["INSTANCE", "APIKEY#0123"] {
            for (operation, body) in [
                ("PutItem", serde_json::json!({"Item": key(sk)})),
                ("UpdateItem", serde_json::json!({"Key": key(sk)})),
                ("DeleteItem", serde_json::json!({"Key": key(sk)})),
                ("TransactWriteItems", serde_json::json!({"TransactItems": [{"Put": {"Item": key(sk)}}]})),
                ("BatchWriteItem", serde_json::json!({"RequestItems": {"t": [{"PutRequest": {"Item": key(sk)}}]}})),
            ] {
                assert!(policies.authorize(&id, operation, &body).is_err(), "{id} may {operation} {sk} of INST#");
            }
        }
    }
}

#[test]
fn each_function_reads_exactly_the_secrets_it_lists() {
    let doc = doc();
    let globals = &doc["Globals"]["Function"]["Environment"]["Variables"];
    assert!(globals.get("SECRET_PARAMETERS").is_none(), "SECRET_PARAMETERS is per function");
    for name in PROVIDER_IDS {
        assert!(globals.get(name).is_none(), "{name} is given per function, to those that serve it");
    }
    for (id, function) in functions(&doc) {
        let (_, _, leaves) = GRANTS.iter().find(|(f, _, _)| *f == id).expect("row");
        let listed = secret_parameters(&id, &function);
        let expected: BTreeSet<String> = leaves.iter().map(|l| l.to_string()).collect();
        assert_eq!(listed, expected, "{id}: SECRET_PARAMETERS differs from GRANTS");

        let mut ssm_actions = BTreeSet::new();
        let mut arns = BTreeSet::new();
        for statement in statements(&id, &function) {
            let actions = strings(&id, one_or_many(&statement["Action"]));
            if !actions.iter().any(|a| a.starts_with("ssm:")) {
                continue;
            }
            assert!(actions.iter().all(|a| a.starts_with("ssm:")), "{id}: SSM in its own statement");
            ssm_actions.extend(actions);
            for resource in one_or_many(&statement["Resource"]) {
                let (tag, value) = tagged(&resource).unwrap_or_else(|| panic!("{id}: {resource:?}"));
                assert_eq!(tag, "Sub", "{id}");
                let arn = value.as_str().unwrap_or_else(|| panic!("{id}: {resource:?}"));
                let leaf = arn.strip_prefix(SSM_ARN_PREFIX).unwrap_or_else(|| panic!("{id}: {arn}"));
                assert!(!leaf.contains(['*', '/', '?']), "{id}: one parameter per ARN: {arn}");
                arns.insert(leaf.to_string());
            }
        }
        if listed.is_empty() {
            assert!(ssm_actions.is_empty(), "{id}: reads no secret, so no SSM grant");
        } else {
            assert_eq!(ssm_actions, BTreeSet::from(["ssm:GetParameters".to_string()]), "{id}");
        }
        assert_eq!(arns, listed, "{id}: the SSM grant must be exactly SECRET_PARAMETERS");
    }
}

/// Stand-ins for what a deployment sets: the table, the URL, and every provider served (the
/// case that needs the most secrets); every other parameter keeps its default.
fn stand_in(param: &str) -> Option<String> {
    match param {
        "UsersTable" => Some("users".to_string()),
        "AWS::StackName" => Some("social-login".to_string()),
        "PublicBaseUrl" => Some("https://api.example.com".to_string()),
        "DefaultInstance" => Some("demo".to_string()),
        "FacebookAppId" => Some("1234567890".to_string()),
        "AppleTeamId" => Some("TEAM123456".to_string()),
        "AppleKeyId" => Some("KEY1234567".to_string()),
        p if p.ends_with("ClientIds") || p.ends_with("ClientId") || p.ends_with("ConsumerKey") => {
            Some("client-id".to_string())
        }
        _ => None,
    }
}

#[test]
fn each_function_configuration_loads_with_only_its_listed_secrets() {
    let doc = doc();
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    for (id, function) in functions(&doc) {
        let mut vars: HashMap<String, String> =
            template.environment(&id, &stand_in).unwrap_or_else(|e| panic!("{e}")).into_iter().collect();
        vars.remove("SECRETS_PARAMETER_PATH");
        // token-secret-previous and refresh-token-key-previous exist only between a rotation and
        // the next (with their version parameters set): the configuration loads without them.
        let previous = ["token-secret-previous", "refresh-token-key-previous", "instance-secrets-key-previous"];
        for leaf in secret_parameters(&id, &function).into_iter().filter(|l| !previous.contains(&l.as_str())) {
            let var = shared::config::parameter_store::allowed_variable(&leaf).expect("allowlisted");
            let value = match leaf.as_str() {
                "apple-private-key" => local_stack::demo::APPLE_PRIVATE_KEY.to_string(),
                "refresh-token-key" | "instance-secrets-key" => {
                    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string()
                }
                _ => format!("{leaf}-0123456789abcdef0123456789abcdef"),
            };
            vars.insert(var.to_string(), value);
        }
        let config = shared::config::Config::from_lookup(|k| vars.get(k).cloned())
            .unwrap_or_else(|e| panic!("{id}: with only its SECRET_PARAMETERS: {e}"));
        // A provider login serves its provider; the functions that log no one in serve none.
        let serves: Vec<_> = shared::Provider::ALL.into_iter().filter(|p| config.serves(*p)).collect();
        // Apple's revocation (code exchange, revoke) is configured exactly where Apple's key is listed.
        let lists_apple_key = secret_parameters(&id, &function).contains("apple-private-key");
        assert_eq!(config.apple_revocation.is_some(), lists_apple_key, "{id}");
        match id.as_str() {
            "LoginFunction" => assert_eq!(serves.len(), 6, "{id}"),
            // The backends no function of its own serves: Microsoft, no built-in.
            "SyncanoFallbackFunction" => assert!(serves.is_empty(), "{id}: {serves:?}"),
            f if LOGIN_FUNCTIONS.contains(&f) => assert_eq!(serves.len(), 1, "{id}: {serves:?}"),
            f if CALLBACK_FUNCTIONS.iter().any(|(c, _)| *c == f) => {
                let provider = CALLBACK_FUNCTIONS.iter().find(|(c, _)| *c == f).map(|(_, p)| *p);
                assert_eq!(serves, provider.into_iter().collect::<Vec<_>>(), "{id}")
            }
            f if REVOKING_FUNCTIONS.contains(&f) => assert_eq!(serves, [shared::Provider::Facebook], "{id}"),
            _ => assert!(serves.is_empty(), "{id}: {serves:?}"),
        }
    }
}

#[test]
fn login_functions_take_the_reserved_concurrency_parameter() {
    let doc = doc();
    assert_eq!(doc["Parameters"]["LoginReservedConcurrency"]["Default"].as_i64(), Some(-1), "unset by default");
    for (id, function) in functions(&doc) {
        let reserved = function["Properties"].get("ReservedConcurrentExecutions");
        // The fallback logs in at the backends no function of its own serves.
        if !LOGIN_FUNCTIONS.contains(&id.as_str()) && id != "SyncanoFallbackFunction" {
            assert!(reserved.is_none(), "{id}");
            continue;
        }
        let (tag, args) = tagged(reserved.unwrap_or_else(|| panic!("{id}: no ReservedConcurrentExecutions")))
            .unwrap_or_else(|| panic!("{id}: expected !If"));
        assert_eq!(tag, "If", "{id}");
        let args = args.as_sequence().expect("!If args");
        assert_eq!(args[0].as_str(), Some("HasLoginReservedConcurrency"), "{id}");
        let refs: Vec<_> =
            args[1..].iter().map(|a| tagged(a).map(|(t, v)| (t, v.as_str().map(String::from)))).collect();
        assert_eq!(
            refs,
            [
                Some(("Ref".to_string(), Some("LoginReservedConcurrency".to_string()))),
                Some(("Ref".to_string(), Some("AWS::NoValue".to_string())))
            ],
            "{id}"
        );
    }
}

#[test]
fn the_table_is_deletion_protected_and_the_local_stack_still_reads_it() {
    let doc = doc();
    assert_eq!(doc["Resources"]["UsersTable"]["Properties"]["DeletionProtectionEnabled"].as_bool(), Some(true));
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    assert_eq!(template.table().logical_id, "UsersTable");
}

#[test]
fn one_authorizer_per_scheme_and_the_syncano_one_keyed_by_path() {
    let template = Template::load(repo_root().join("template.yaml")).expect("template");
    let authorizers = template.authorizers();
    let rc = &authorizers["RocketChatSession"];
    assert_eq!(
        (rc.package.as_str(), rc.identity_headers.as_slice()),
        ("rocketchat-authorizer", &["x-auth-token".to_string(), "x-user-id".to_string()][..])
    );
    assert!(rc.identity_context.is_empty());
    let syncano = &authorizers["SyncanoUserKey"];
    assert_eq!(syncano.package, "syncano-authorizer");
    assert_eq!(syncano.identity_headers, ["x-api-key", "x-user-key"]);
    assert_eq!(syncano.identity_context, ["path"], "the instance (in the path) is part of the cache key");
    assert_eq!((rc.cache_secs, syncano.cache_secs), (60, 60), "AuthorizerCacheSeconds' default");
    // This service's own routes check their credentials themselves, in their dialect.
    for route in template.routes() {
        assert_eq!(route.authorizer, None, "{}", route.route_key());
    }
}

/// The fallback's `Allow` header comes from `shared::entry::dialect::syncano::ROUTES`: it must be the
/// template's Syncano routes, and the fallback's `ANY` routes exactly `FALLBACK_ROUTES`.
#[test]
fn the_syncano_route_list_is_the_templates() {
    use shared::entry::dialect::syncano::{FALLBACK_ROUTES, ROUTES};
    let routes = Template::load(repo_root().join("template.yaml")).expect("template").routes();
    let served: BTreeSet<(String, String)> = routes
        .iter()
        .filter(|r| r.path.starts_with("/v1.1/") && r.method != "ANY")
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let listed: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(served, listed, "ROUTES in shared/src/entry/dialect/syncano/fallback.rs differs from template.yaml");
    let any: BTreeSet<String> = routes.iter().filter(|r| r.method == "ANY").map(|r| r.route_key()).collect();
    let fallback: BTreeSet<String> =
        routes.iter().filter(|r| r.package == "syncano-fallback").map(|r| r.route_key()).collect();
    let expected: BTreeSet<String> = FALLBACK_ROUTES.iter().map(|r| r.to_string()).collect();
    assert_eq!((any, fallback), (expected.clone(), expected));
}

/// The loopback deployment the shipped-binary check runs (`local_stack::deployment`): every
/// function's environment, plus the SSM parameters its `SECRET_PARAMETERS` names, loads; the
/// login functions serve their providers, with Apple's revocation where the template asks for it.
#[test]
fn the_loopback_deployment_of_every_function_loads() {
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    let vars = loopback_vars();
    let deployment = loopback_deployment(&template, &vars);
    let ssm = deployment.ssm_parameters();
    let doc = doc();
    for (id, function) in functions(&doc) {
        let mut env: HashMap<String, String> = deployment.environment(&id).expect("resolves").into_iter().collect();
        let path = env.remove("SECRETS_PARAMETER_PATH").expect("the template sets the path");
        for leaf in secret_parameters(&id, &function) {
            if let Some(value) = ssm.get(&format!("{path}/{leaf}")) {
                let var = shared::config::parameter_store::allowed_variable(&leaf).expect("allowlisted");
                env.insert(var.to_string(), value.clone());
            }
        }
        let config = shared::config::Config::from_lookup(|k| env.get(k).cloned())
            .unwrap_or_else(|e| panic!("{id}: the loopback deployment's configuration: {e}"));
        if id == "LoginFunction" {
            assert_eq!(shared::Provider::ALL.into_iter().filter(|p| config.serves(*p)).count(), 6);
        }
        if secret_parameters(&id, &function).contains("apple-private-key") {
            assert!(config.apple_revocation.is_some(), "{id}: Apple's revocation is configured");
        }
    }
}

/// The settings of a local stack on loopback (nothing listens: nothing is called).
fn loopback_vars() -> HashMap<String, String> {
    local_stack::demo::Apps::random().stack_vars(
        "t",
        "http://127.0.0.1:3000",
        "http://127.0.0.1:8",
        "http://127.0.0.1:9",
    )
}

fn loopback_deployment<'a>(
    template: &'a Template,
    vars: &'a HashMap<String, String>,
) -> local_stack::deployment::Deployment<'a> {
    let ssm_endpoint = "http://127.0.0.1:7".into();
    local_stack::deployment::Deployment { template, vars, parameter_overrides: HashMap::new(), ssm_endpoint }
}

/// `sam local --env-vars`'s file gives each function what the shipped-binary check gives it,
/// each endpoint's host being the container's name for this machine; and SAM can apply all of
/// it, since it only overrides the variables the template declares for that function.
#[test]
fn the_sam_local_env_vars_file_sets_what_the_shipped_check_sets() {
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    let vars = loopback_vars();
    let deployment = loopback_deployment(&template, &vars);
    let file = deployment.sam_env_vars("host.docker.internal").expect("resolves");
    let functions = file.as_object().expect("an object by function");
    assert_eq!(functions.len(), template.function_defs().len());
    for (id, env) in functions {
        let env = env.as_object().expect("an object of variables");
        let shipped = deployment.environment(id).expect("resolves");
        let declared = template.environment(id, &|_| Some(String::new())).expect("resolves");
        assert_eq!(env.keys().collect::<Vec<_>>(), shipped.keys().collect::<Vec<_>>(), "{id}");
        for (name, value) in env {
            let value = value.as_str().unwrap_or_default();
            assert!(
                declared.contains_key(name),
                "{id}: {name} is not declared in the template: sam local would drop it"
            );
            let endpoint = shared::config::ENDPOINT_VARIABLES.contains(&name.as_str());
            let want = if endpoint {
                shipped[name].replace("127.0.0.1", "host.docker.internal")
            } else {
                shipped[name].clone()
            };
            assert_eq!(value, want, "{id}: {name}");
        }
        for name in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SSM", "FACEBOOK_GRAPH_URL"] {
            assert!(env[name].as_str().is_some_and(|v| v.starts_with("http://host.docker.internal:")), "{id}: {name}");
        }
    }
}

/// Every endpoint is declared empty for every function: in AWS the real hosts are used.
#[test]
fn every_endpoint_is_declared_empty() {
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    for def in template.function_defs() {
        let declared = template.environment(&def.logical_id, &|_| Some("x".into())).expect("resolves");
        for name in shared::config::ENDPOINT_VARIABLES {
            assert_eq!(declared.get(name).map(String::as_str), Some(""), "{}: {name}", def.logical_id);
        }
    }
}

/// The local-only extra trust roots (`shared::net::tls`) are never set or declared by the template:
/// not in `Globals`, not for any function, not even empty. In AWS the functions trust only the
/// compiled-in roots.
#[test]
fn the_template_never_sets_the_local_extra_trust_roots() {
    let name = shared::net::tls::EXTRA_TRUST_ROOTS_VAR;
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    assert!(!text.contains(name), "template.yaml mentions {name}");
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    for def in template.function_defs() {
        let env = template.environment(&def.logical_id, &|_| Some("x".into())).expect("resolves");
        assert!(!env.contains_key(name), "{}: {name}", def.logical_id);
    }
    assert!(!shared::config::ENDPOINT_VARIABLES.contains(&name), "declared through ENDPOINT_VARIABLES");
}

// ----- Observability and safe deploys (issue 14) -----

/// The metrics contract of the login log lines' Embedded Metric Format, read from
/// `shared::usecases::metrics`: the namespace is `METRICS_NAMESPACE`, which the template sets to this.
const METRICS_NAMESPACE: &str = "SocialLogin/${AWS::StackName}";
const METRIC_NAMES: [&str; 4] =
    [metrics::LOGINS, metrics::LOGIN_LATENCY, metrics::FIRST_LOGINS, metrics::RETURNING_LOGINS];

/// The contract's other metrics, each published under one dimension: name → (dimension, its
/// values). Read from the code that emits them: `replication::ConflictCounter`'s line
/// (`ReplicatedWriteConflicts` by `Operation`) and the sweeper's run line (by `Function=sweeper`).
fn other_metric(name: &str) -> Option<(&'static str, Vec<&'static str>)> {
    if name == replication::REPLICATED_WRITE_CONFLICTS {
        return Some(("Operation", replication::CONFLICT_OPERATIONS.to_vec()));
    }
    sweeper::SWEEP_METRICS.contains(&name).then(|| ("Function", vec![sweeper::SWEEPER_FUNCTION]))
}

/// Every metric name of the contract.
fn contract_names() -> Vec<&'static str> {
    METRIC_NAMES.into_iter().chain([replication::REPLICATED_WRITE_CONFLICTS]).chain(sweeper::SWEEP_METRICS).collect()
}

fn contract_values(dimension: &str) -> Vec<&'static str> {
    match dimension {
        "Provider" => Provider::ALL
            .iter()
            .map(|p| p.as_str())
            .chain([Provider::Microsoft.as_str(), metrics::CUSTOM_OIDC_PROVIDER, metrics::UNKNOWN_PROVIDER])
            .collect(),
        "Dialect" => [Dialect::RocketChat, Dialect::Syncano].map(Dialect::as_str).to_vec(),
        _ => Outcome::ALL.to_vec(),
    }
}

/// Every resource of `kind`: logical id → resource.
fn resources(doc: &Value, kind: &str) -> Vec<(String, Value)> {
    doc["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().expect("logical id").to_string(), r.clone()))
        .collect()
}

/// `!Ref X` → `X`.
fn ref_to(value: &Value) -> Option<String> {
    tagged(value).filter(|(t, _)| t == "Ref").and_then(|(_, v)| v.as_str().map(String::from))
}

#[test]
fn every_function_logs_to_its_own_group_kept_log_retention_days() {
    let doc = doc();
    assert_eq!(doc["Parameters"]["LogRetentionDays"]["Default"].as_i64(), Some(30));
    let mut groups = BTreeSet::new();
    for (id, function) in functions(&doc) {
        let logging = &function["Properties"]["LoggingConfig"];
        // Text: the functions' JSON lines reach CloudWatch verbatim, so EMF is extracted.
        assert_eq!(logging["LogFormat"].as_str(), Some("Text"), "{id}");
        let group =
            ref_to(&logging["LogGroup"]).unwrap_or_else(|| panic!("{id}: LoggingConfig.LogGroup: !Ref <group>"));
        let resource = &doc["Resources"][group.as_str()];
        assert_eq!(resource["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{id}: {group}");
        assert_eq!(ref_to(&resource["Properties"]["RetentionInDays"]).as_deref(), Some("LogRetentionDays"), "{id}");
        assert!(groups.insert(group.clone()), "{id}: {group} is another function's group");
    }
    assert_eq!(groups.len(), functions(&doc).len());
}

#[test]
fn the_access_log_is_json_with_the_request_context_and_no_credentials() {
    let doc = doc();
    let settings = &doc["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"];
    let (tag, target) = tagged(&settings["DestinationArn"]).expect("DestinationArn: !GetAtt <group>.Arn");
    assert_eq!(tag, "GetAtt");
    let group = target.as_str().and_then(|t| t.strip_suffix(".Arn")).expect("<group>.Arn");
    assert_eq!(doc["Resources"][group]["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    assert_eq!(ref_to(&doc["Resources"][group]["Properties"]["RetentionInDays"]).as_deref(), Some("LogRetentionDays"));
    let format = settings["Format"].as_str().expect("a literal Format");
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(format).unwrap_or_else(|e| panic!("the access log format is not JSON: {e}"));
    let expected = [
        ("requestId", "$context.requestId"),
        ("sourceIp", "$context.identity.sourceIp"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("responseLatency", "$context.responseLatency"),
        ("integrationLatency", "$context.integrationLatency"),
        ("authorizerError", "$context.authorizer.error"),
        ("integrationError", "$context.integrationErrorMessage"),
    ];
    for (field, variable) in expected {
        assert_eq!(fields.get(field).and_then(|v| v.as_str()), Some(variable), "{field}");
    }
    // Only the request's context: no header, query string, body, path parameter, caller
    // identity (user agent, keys) or authorizer context (the user id it returns).
    for (field, value) in &fields {
        let value = value.as_str().unwrap_or_else(|| panic!("{field}: a quoted variable"));
        assert!(value.starts_with("$context."), "{field}: {value}");
        let identity_ok = value == "$context.identity.sourceIp";
        assert!(!value.starts_with("$context.identity.") || identity_ok, "{field}: {value} is the caller's identity");
        assert!(
            !value.starts_with("$context.authorizer.") || value == "$context.authorizer.error",
            "{field}: {value} is the authorizer's context"
        );
        assert!(!value.contains("$request.") && !value.contains("header"), "{field}: {value}");
    }
}

#[test]
fn every_alarm_notifies_only_the_topic_parameter_and_has_a_threshold_parameter() {
    let doc = doc();
    assert_eq!(doc["Parameters"]["AlarmTopicArn"]["Default"].as_str(), Some(""), "no topic by default");
    let condition = tagged(&doc["Conditions"]["HasAlarmTopic"]).expect("HasAlarmTopic: !Not [...]");
    assert!(format!("{condition:?}").contains("AlarmTopicArn"), "{condition:?}");
    let alarms = resources(&doc, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 1 + 6 + 2 + 1 + 1 + functions(&doc).len(), "{}", alarms.len());
    for (id, alarm) in alarms {
        let props = &alarm["Properties"];
        for key in ["AlarmActions", "OKActions"] {
            let (tag, args) = tagged(&props[key]).unwrap_or_else(|| panic!("{id}: {key}: !If [HasAlarmTopic, ...]"));
            assert_eq!(tag, "If", "{id}: {key}");
            let args = args.as_sequence().expect("!If args");
            assert_eq!(args[0].as_str(), Some("HasAlarmTopic"), "{id}: {key}");
            let topics: Vec<_> = args[1].as_sequence().expect("a list").iter().map(ref_to).collect();
            assert_eq!(topics, [Some("AlarmTopicArn".to_string())], "{id}: {key}");
            assert_eq!(ref_to(&args[2]).as_deref(), Some("AWS::NoValue"), "{id}: {key}");
        }
        assert!(props.get("InsufficientDataActions").is_none(), "{id}");
        let threshold = ref_to(&props["Threshold"]).unwrap_or_else(|| panic!("{id}: Threshold: !Ref <parameter>"));
        assert!(doc["Parameters"].get(threshold.as_str()).is_some(), "{id}: no parameter {threshold}");
    }
}

/// The alarm watching `function`'s own Lambda Errors (`FunctionName: !Ref <function>`).
fn watches_errors_of(alarm: &Value, function: &str) -> bool {
    alarm["Properties"]["Metrics"].as_sequence().into_iter().flatten().any(|m| {
        let metric = &m["MetricStat"]["Metric"];
        metric["Namespace"].as_str() == Some("AWS/Lambda")
            && metric["MetricName"].as_str() == Some("Errors")
            && metric["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|d| d["Name"].as_str() == Some("FunctionName") && ref_to(&d["Value"]).as_deref() == Some(function))
    })
}

#[test]
fn every_function_is_deployed_behind_an_alias_rolled_back_on_its_alarms() {
    let doc = doc();
    let globals = &doc["Globals"]["Function"];
    let parameter = &doc["Parameters"]["DeploymentPreferenceType"];
    assert_eq!(parameter["Default"].as_str(), Some("AllAtOnce"), "development stacks deploy at once");
    assert_eq!(parameter["AllowedValues"].as_sequence().map(Vec::len), Some(9));
    for (id, function) in functions(&doc) {
        let props = &function["Properties"];
        let alias = props.get("AutoPublishAlias").unwrap_or(&globals["AutoPublishAlias"]);
        assert_eq!(alias.as_str(), Some("live"), "{id}: AutoPublishAlias");
        let own = &props["DeploymentPreference"];
        let kind = own.get("Type").unwrap_or(&globals["DeploymentPreference"]["Type"]);
        assert_eq!(ref_to(kind).as_deref(), Some("DeploymentPreferenceType"), "{id}: DeploymentPreference.Type");
        let alarms: Vec<String> = own["Alarms"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{id}: DeploymentPreference.Alarms"))
            .iter()
            .map(|a| ref_to(a).unwrap_or_else(|| panic!("{id}: an alarm is !Ref <alarm>: {a:?}")))
            .collect();
        assert!(alarms.len() <= 10, "{id}: CodeDeploy takes at most 10 alarms");
        for alarm in &alarms {
            let resource = &doc["Resources"][alarm.as_str()];
            assert_eq!(resource["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "{id}: {alarm}");
            // The HttpApi invokes the alias, whose update waits on the deployment group, which
            // reads these alarms: an alarm on the API itself would close a dependency cycle
            // (cfn-lint E3004; CloudFormation refuses the stack).
            let text = serde_yaml::to_string(resource).expect("alarm YAML");
            assert!(
                !text.contains("HttpApi"),
                "{id}: rollback alarm {alarm} depends on HttpApi, which invokes {id}'s alias"
            );
        }
        assert!(
            alarms.iter().any(|a| watches_errors_of(&doc["Resources"][a.as_str()], &id)),
            "{id}: no rollback alarm watches its own errors"
        );
        if LOGIN_FUNCTIONS.contains(&id.as_str()) {
            assert!(alarms.iter().any(|a| a.ends_with("UnavailableAlarm")), "{id}: its providers' unavailability");
        }
    }
}

#[test]
fn every_authorizer_invokes_its_functions_alias() {
    let doc = doc();
    let authorizers =
        doc["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"].as_mapping().expect("authorizers");
    assert_eq!(authorizers.len(), 2);
    for (name, def) in authorizers {
        let target =
            ref_to(&def["FunctionArn"]).unwrap_or_else(|| panic!("{name:?}: FunctionArn: !Ref <Function>.Alias"));
        let function = target.strip_suffix(".Alias").unwrap_or_else(|| panic!("{name:?}: {target} is not an alias"));
        assert_eq!(doc["Resources"][function]["Type"].as_str(), Some("AWS::Serverless::Function"), "{name:?}");
    }
}

/// A metric of the functions' namespace, as an alarm or the dashboard names it: its name and its
/// dimensions must be the contract's.
fn check_contract_metric(
    what: &str,
    name: &str,
    dimensions: &[(String, Option<String>)],
    extra_names: &BTreeSet<String>,
) {
    if extra_names.contains(name) {
        assert!(dimensions.is_empty(), "{what}: {name} (a log metric filter's) has no dimensions");
        return;
    }
    if let Some((dimension, values)) = other_metric(name) {
        let names: Vec<&str> = dimensions.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [dimension], "{what}: {name} is published by {dimension} only");
        for (_, value) in dimensions {
            let Some(value) = value else { continue };
            assert!(values.contains(&value.as_str()), "{what}: {name}: {dimension}={value} is never emitted");
        }
        return;
    }
    assert!(METRIC_NAMES.contains(&name), "{what}: metric {name} is not in the contract");
    let mut names: Vec<&str> = dimensions.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert!(
        metrics::DIMENSION_SETS.iter().any(|set| {
            let mut set = set.to_vec();
            set.sort();
            set == names
        }),
        "{what}: {name} by {names:?} is not a dimension set of the contract"
    );
    for (dimension, value) in dimensions {
        let Some(value) = value else { continue };
        assert!(contract_values(dimension).contains(&value.as_str()), "{what}: {dimension}={value}");
    }
}

#[test]
fn the_alarms_and_the_dashboard_read_the_login_metrics_contract() {
    let doc = doc();
    let namespace = |v: &Value| tagged(v).filter(|(t, _)| t == "Sub").and_then(|(_, s)| s.as_str().map(String::from));
    assert_eq!(
        namespace(&doc["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]).as_deref(),
        Some(METRICS_NAMESPACE)
    );
    // The access log's metric filters publish into the same namespace, without dimensions.
    let mut extra = BTreeSet::new();
    for (id, filter) in resources(&doc, "AWS::Logs::MetricFilter") {
        for t in filter["Properties"]["MetricTransformations"].as_sequence().expect("transformations") {
            assert_eq!(namespace(&t["MetricNamespace"]).as_deref(), Some(METRICS_NAMESPACE), "{id}");
            assert!(t.get("Dimensions").is_none(), "{id}");
            extra.insert(t["MetricName"].as_str().expect("name").to_string());
        }
    }
    let mut seen = BTreeSet::new();
    for (id, alarm) in resources(&doc, "AWS::CloudWatch::Alarm") {
        let props = &alarm["Properties"];
        let metrics: Vec<Value> = match props["Metrics"].as_sequence() {
            Some(ms) => ms.iter().filter_map(|m| m.get("MetricStat").map(|s| s["Metric"].clone())).collect(),
            None => vec![props.clone()],
        };
        for metric in metrics {
            if namespace(&metric["Namespace"]).as_deref() != Some(METRICS_NAMESPACE) {
                continue;
            }
            let name = metric["MetricName"].as_str().expect("MetricName").to_string();
            let dims: Vec<(String, Option<String>)> = metric["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|d| (d["Name"].as_str().expect("Name").to_string(), d["Value"].as_str().map(String::from)))
                .collect();
            check_contract_metric(&id, &name, &dims, &extra);
            seen.insert(name);
        }
    }
    assert!(seen.contains("Logins"), "the provider alarms read Logins: {seen:?}");

    let (_, body) = tagged(&doc["Resources"]["Dashboard"]["Properties"]["DashboardBody"]).expect("!Sub body");
    // `!Sub text` or `!Sub [text, variables]` (the table's name: issue 33).
    let body = body.as_str().or_else(|| body.get(0).and_then(Value::as_str)).expect("a string");
    let body: serde_json::Value = serde_json::from_str(body).expect("the dashboard is JSON");
    let mut dashboard_seen = BTreeSet::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        let mut previous: Vec<serde_json::Value> = Vec::new();
        for metric in widget["properties"]["metrics"].as_array().into_iter().flatten() {
            if let Some(expression) = metric[0]["expression"].as_str() {
                // SEARCH('{"<namespace>",Dim,...} MetricName="X" ...', ...)
                let Some(rest) = expression.split_once(&format!("{{\"{METRICS_NAMESPACE}\",")).map(|(_, r)| r) else {
                    assert!(!expression.contains("SocialLogin"), "{expression}: quote the namespace");
                    continue;
                };
                let (dims, rest) = rest.split_once('}').expect("schema");
                let name = rest.split_once("MetricName=\"").and_then(|(_, r)| r.split_once('"')).expect("MetricName").0;
                let dims: Vec<(String, Option<String>)> = dims.split(',').map(|d| (d.to_string(), None)).collect();
                check_contract_metric(expression, name, &dims, &extra);
                dashboard_seen.insert(name.to_string());
                continue;
            }
            let mut parts: Vec<serde_json::Value> =
                metric.as_array().expect("a metric").iter().filter(|p| !p.is_object()).cloned().collect();
            if parts.first().and_then(|p| p.as_str()) == Some("...") {
                parts = previous.clone();
            }
            previous = parts.clone();
            if parts.first().and_then(|p| p.as_str()) != Some(METRICS_NAMESPACE) {
                continue;
            }
            let strings: Vec<String> = parts.iter().map(|p| p.as_str().expect("a string").to_string()).collect();
            let dims: Vec<(String, Option<String>)> =
                strings[2..].chunks(2).map(|c| (c[0].clone(), Some(c[1].clone()))).collect();
            check_contract_metric("dashboard", &strings[1], &dims, &extra);
            dashboard_seen.insert(strings[1].clone());
        }
    }
    for name in contract_names() {
        assert!(dashboard_seen.contains(name), "the dashboard shows {name}: {dashboard_seen:?}");
    }
    for name in [replication::REPLICATED_WRITE_CONFLICTS, sweeper::STALE_PENDING_ITEMS] {
        assert!(seen.contains(name), "an alarm reads {name}: {seen:?}");
    }
}

/// The contract check can fail: a name nothing emits (a typo of the sweeper's) is refused.
#[test]
#[should_panic(expected = "metric SweptItem is not in the contract")]
fn a_metric_that_nothing_emits_fails_the_contract_check() {
    check_contract_metric("typo", "SweptItem", &[("Function".into(), Some("sweeper".into()))], &BTreeSet::new());
}

/// Nor may a value of a dimension that the code never emits pass.
#[test]
#[should_panic(expected = "Operation=TransactWriteItems is never emitted")]
fn a_dimension_value_that_nothing_emits_fails_the_contract_check() {
    let dims = [("Operation".to_string(), Some("TransactWriteItems".to_string()))];
    check_contract_metric("typo", replication::REPLICATED_WRITE_CONFLICTS, &dims, &BTreeSet::new());
}

/// The alarms no `DeploymentPreference` names (they page, never roll a release back).
fn rollback_alarms(doc: &Value) -> BTreeSet<String> {
    functions(doc)
        .iter()
        .flat_map(|(_, f)| f["Properties"]["DeploymentPreference"]["Alarms"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|a| ref_to(&a))
        .collect()
}

/// The `MetricStat`s of an alarm's metric math (id → metric), and its one returned expression.
fn alarm_math(alarm: &Value) -> (HashMap<String, Value>, String) {
    let mut stats = HashMap::new();
    let mut expression = None;
    for m in alarm["Properties"]["Metrics"].as_sequence().expect("Metrics") {
        let id = m["Id"].as_str().expect("Id").to_string();
        if m["ReturnData"].as_bool() == Some(true) {
            assert!(expression.is_none(), "one returned expression");
            expression = Some(m["Expression"].as_str().expect("Expression").to_string());
        } else {
            stats.insert(id, m["MetricStat"].clone());
        }
    }
    (stats, expression.expect("a returned expression"))
}

/// Issue 33: conflicts between regions are counted per `Operation`; the alarm sums every
/// operation the code emits (an alarm cannot SEARCH), each missing one as 0, so it is OK on a
/// single-region table (no data). It pages and never rolls back (anyone can make two regions
/// write their own items at once; a release must not be blocked by that).
#[test]
fn the_replicated_write_conflicts_alarm_sums_every_operation_and_never_rolls_back() {
    let doc = doc();
    let alarm = &doc["Resources"]["ReplicatedWriteConflictsAlarm"];
    assert_eq!(alarm["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "ReplicatedWriteConflictsAlarm");
    assert!(alarm.get("Condition").is_none(), "in both table modes (no data in single = OK)");
    let props = &alarm["Properties"];
    assert_eq!(props["TreatMissingData"].as_str(), Some("notBreaching"));
    assert_eq!(ref_to(&props["Threshold"]).as_deref(), Some("ReplicatedWriteConflictsThreshold"));
    let param = &doc["Parameters"]["ReplicatedWriteConflictsThreshold"];
    assert!(param["Default"].as_i64().is_some_and(|d| d >= 1), "{param:?}");
    assert_eq!(param["MinValue"].as_i64(), Some(1));
    let (stats, expression) = alarm_math(alarm);
    let mut operations = BTreeSet::new();
    for (id, stat) in &stats {
        let metric = &stat["Metric"];
        assert_eq!(metric["MetricName"].as_str(), Some(replication::REPLICATED_WRITE_CONFLICTS), "{id}");
        assert_eq!(stat["Stat"].as_str(), Some("Sum"), "{id}");
        let dims = metric["Dimensions"].as_sequence().expect("Dimensions");
        assert_eq!(dims.len(), 1, "{id}");
        assert_eq!(dims[0]["Name"].as_str(), Some("Operation"), "{id}");
        operations.insert(dims[0]["Value"].as_str().expect("a literal operation").to_string());
        assert!(expression.contains(&format!("FILL({id}, 0)")), "{expression}: {id} missing counts as 0");
    }
    let expected: BTreeSet<String> = replication::CONFLICT_OPERATIONS.iter().map(|o| o.to_string()).collect();
    assert_eq!(operations, expected, "every operation the counter emits");
    assert_eq!(expression.matches('+').count(), stats.len() - 1, "{expression}: the sum of all");
    assert!(!rollback_alarms(&doc).contains("ReplicatedWriteConflictsAlarm"), "pages, never rolls back");
}

/// The sweeper's stale pending changes: pending changes it finds an hour after they began, in
/// two hours running. From the metric the run emits (`StalePendingItems`, `Function=sweeper`).
#[test]
fn the_stale_pending_alarm_reads_the_sweepers_metric_over_two_hours() {
    let doc = doc();
    let alarm = &doc["Resources"]["SweeperStalePendingAlarm"];
    assert_eq!(alarm["Type"].as_str(), Some("AWS::CloudWatch::Alarm"), "SweeperStalePendingAlarm");
    let props = &alarm["Properties"];
    assert_eq!(props["MetricName"].as_str(), Some(sweeper::STALE_PENDING_ITEMS));
    let dims = props["Dimensions"].as_sequence().expect("Dimensions");
    assert_eq!(dims.len(), 1);
    assert_eq!(dims[0]["Value"].as_str(), Some(sweeper::SWEEPER_FUNCTION));
    assert_eq!(props["Statistic"].as_str(), Some("Sum"));
    assert_eq!(props["Period"].as_i64(), Some(3600), "an hour: a left change comes back hourly");
    assert_eq!((props["EvaluationPeriods"].as_i64(), props["DatapointsToAlarm"].as_i64()), (Some(2), Some(2)));
    assert_eq!(props["TreatMissingData"].as_str(), Some("notBreaching"));
    assert_eq!(ref_to(&props["Threshold"]).as_deref(), Some("SweeperStalePendingThreshold"));
    assert!(!rollback_alarms(&doc).contains("SweeperStalePendingAlarm"), "pages, never rolls back");
}

/// Issue 28.2: the route throttles are ceilings shared by all callers (far above the suite's own
/// load, within the account's 10,000 rps / 5,000 burst), and the optional per-client front is
/// CloudFront with a WAF rate-based rule per IP, on only with an origin secret that CloudFront
/// adds and the functions check.
#[test]
fn the_route_throttles_are_ceilings_and_the_front_is_optional() {
    let doc = doc();
    let params = &doc["Parameters"];
    for (name, at_least, at_most) in [
        ("LoginThrottlingRateLimit", 500, 10_000),
        ("LoginThrottlingBurstLimit", 1000, 5_000),
        ("ThrottlingRateLimit", 1000, 10_000),
        ("ThrottlingBurstLimit", 2000, 5_000),
    ] {
        let default = params[name]["Default"].as_i64().unwrap_or_else(|| panic!("{name}"));
        assert!(default >= at_least, "{name} = {default}: a ceiling, not a per-client limit");
        assert_eq!(params[name]["MaxValue"].as_i64(), Some(at_most), "{name}: the account's limit");
    }
    let throttles =
        Template::load(repo_root().join("template.yaml")).expect("template").throttles().expect("throttles");
    assert_eq!(throttles.of("POST /api/v1/login").map(|t| (t.rate, t.burst)), Some((500.0, 1000)));
    assert_eq!(throttles.of("GET /api/v1/me").map(|t| (t.rate, t.burst)), Some((1000.0, 2000)));

    // The front: off unless an origin secret is given, which is never echoed.
    let secret = &params["OriginSecret"];
    assert_eq!((secret["Default"].as_str(), secret["NoEcho"].as_bool()), (Some(""), Some(true)));
    let has_front = &doc["Conditions"]["HasFront"];
    assert_eq!(format!("{has_front:?}").matches("OriginSecret").count(), 1, "{has_front:?}");
    assert_eq!(
        ref_to(&doc["Globals"]["Function"]["Environment"]["Variables"]["ORIGIN_SECRET"]).as_deref(),
        Some("OriginSecret")
    );
    let distribution = &resources(&doc, "AWS::CloudFront::Distribution")[0].1;
    assert_eq!(distribution["Condition"].as_str(), Some("HasFront"));
    let config = &distribution["Properties"]["DistributionConfig"];
    let origin = &config["Origins"][0];
    let header = &origin["OriginCustomHeaders"][0];
    assert_eq!(
        header["HeaderName"].as_str().map(str::to_ascii_lowercase).as_deref(),
        Some(shared::entry::front::ORIGIN_HEADER)
    );
    assert_eq!(ref_to(&header["HeaderValue"]).as_deref(), Some("OriginSecret"));
    assert!(format!("{:?}", origin["DomainName"]).contains("${HttpApi}.execute-api"), "the HTTP API is the origin");
    assert_eq!(origin["CustomOriginConfig"]["OriginProtocolPolicy"].as_str(), Some("https-only"));
    assert_eq!(config["DefaultCacheBehavior"]["ViewerProtocolPolicy"].as_str(), Some("https-only"));
    // Caching disabled; every viewer header but Host, and CloudFront's (the viewer address).
    let behavior = &config["DefaultCacheBehavior"];
    assert_eq!(behavior["CachePolicyId"].as_str(), Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad"));
    assert_eq!(behavior["OriginRequestPolicyId"].as_str(), Some("b689b0a8-53d0-40ab-baf2-68738e2966ac"));
    assert!(format!("{:?}", config["WebACLId"]).contains("FrontWebAcl"), "the distribution has the web ACL");

    // The web ACL: scope CLOUDFRONT, a rate-based rule per IP that blocks.
    let acl = &resources(&doc, "AWS::WAFv2::WebACL")[0].1;
    assert_eq!(acl["Condition"].as_str(), Some("CreateFrontWebAcl"));
    assert_eq!(acl["Properties"]["Scope"].as_str(), Some("CLOUDFRONT"));
    let rules = acl["Properties"]["Rules"].as_sequence().expect("rules");
    let rate = rules.iter().find(|r| r["Statement"].get("RateBasedStatement").is_some()).expect("a rate-based rule");
    let statement = &rate["Statement"]["RateBasedStatement"];
    assert_eq!(statement["AggregateKeyType"].as_str(), Some("IP"));
    assert_eq!(ref_to(&statement["Limit"]).as_deref(), Some("FrontRateLimit"));
    assert!(rate["Action"].get("Block").is_some());
    // Outside us-east-1 a CLOUDFRONT web ACL must be given (a rule stops the deploy otherwise).
    assert!(doc["Rules"]["FrontWebAclOutsideUsEast1"]["Assertions"].as_sequence().is_some());
}

/// The users table of `template.yaml` (`UsersTable`) and the multi-Region strongly consistent
/// global table of `multi-region/global-table.yaml` (issue 33) have one key schema, one set of
/// attributes and one `sweep` index; the global table is MRSC with no TTL (MRSC has none), and
/// every replica keeps point-in-time recovery and deletion protection.
#[test]
fn the_global_table_is_the_users_table_in_mrsc_without_ttl() {
    let load = |path: &str| -> Value {
        serde_yaml::from_str(&std::fs::read_to_string(repo_root().join(path)).expect(path)).expect(path)
    };
    let single = load("template.yaml");
    let global = load("multi-region/global-table.yaml");
    let single = &single["Resources"]["UsersTable"]["Properties"];
    let global = &global["Resources"]["UsersGlobalTable"]["Properties"];
    for shape in ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"] {
        assert!(!single[shape].is_null(), "{shape}");
        assert_eq!(single[shape], global[shape], "{shape} differs between the two tables");
    }
    assert_eq!(global["MultiRegionConsistency"], Value::from("STRONG"));
    assert!(global["TimeToLiveSpecification"].is_null(), "MRSC has no TTL");
    assert!(global["LocalSecondaryIndexes"].is_null(), "MRSC has no local secondary index");
    assert!(global["StreamSpecification"].is_null());
    let replicas = global["Replicas"].as_sequence().expect("replicas");
    assert_eq!(replicas.len(), 3, "two replicas and an optional third");
    let literal = |r: &Value| -> Value {
        match r {
            // `!If [HasThirdReplica, replica, !Ref AWS::NoValue]`
            Value::Tagged(t) => t.value.as_sequence().and_then(|s| s.get(1)).cloned().expect("the third replica"),
            other => other.clone(),
        }
    };
    for replica in replicas.iter().map(literal) {
        assert_eq!(replica["DeletionProtectionEnabled"], Value::from(true), "{replica:?}");
        assert_eq!(replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], Value::from(true));
    }
}

/// Every `!Ref`, `!GetAtt` and `${...}` of a `!Sub` in `value` (the names it points at).
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            match (tag.trim_start_matches('!'), &t.value) {
                ("Ref" | "GetAtt", Value::String(s)) => out.push(s.clone()),
                ("GetAtt", Value::Sequence(parts)) => {
                    out.extend(parts.first().and_then(Value::as_str).map(str::to_owned))
                }
                ("Sub", Value::String(s)) => sub_names(s, out),
                ("Sub", Value::Sequence(parts)) => {
                    if let Some(s) = parts.first().and_then(Value::as_str) {
                        sub_names(s, out);
                    }
                    parts.iter().skip(1).for_each(|p| references(p, out));
                }
                (_, inner) => references(inner, out),
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| references(v, out)),
        Value::Mapping(entries) => entries.iter().for_each(|(_, v)| references(v, out)),
        _ => {}
    }
}

fn sub_names(text: &str, out: &mut Vec<String>) {
    for part in text.split("${").skip(1) {
        if let Some((name, _)) = part.split_once('}') {
            if !name.starts_with('!') {
                out.push(name.to_string());
            }
        }
    }
}

/// Issue 33, deployment: `TableMode: mrsc` makes no table (and so no TTL) and points every
/// function, policy, alarm, dashboard and output at this region's replica of the global table
/// (`GlobalTableName`); `TableMode: single` (the default) deploys the stack's own table exactly
/// as before, never naming the global one. A `Rules` assertion refuses mrsc without a name.
#[test]
fn the_mrsc_mode_has_no_table_and_names_the_global_table_everywhere() {
    const GLOBAL: &str = "social-login-users";
    let table_arn = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${GlobalTableName}";
    let mrsc = deployed(&[("TableMode", "mrsc"), ("GlobalTableName", GLOBAL)]);
    let single = deployed(&[]);

    // No table, no TTL, in mrsc; the table with its TTL in single.
    for (id, resource) in mrsc["Resources"].as_mapping().expect("Resources") {
        let kind = resource["Type"].as_str().unwrap_or_default();
        assert!(!kind.starts_with("AWS::DynamoDB::"), "{id:?}: mrsc creates no table ({kind})");
    }
    assert!(!serde_yaml::to_string(&mrsc["Resources"]).expect("yaml").contains("TimeToLiveSpecification"));
    assert_eq!(single["Resources"]["UsersTable"]["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    assert!(!single["Resources"]["UsersTable"]["Properties"]["TimeToLiveSpecification"].is_null());

    // Nothing in mrsc points at UsersTable; nothing in single points at the global table.
    for (mode, doc, forbidden) in [("mrsc", &mrsc, "UsersTable"), ("single", &single, "GlobalTableName")] {
        for section in ["Globals", "Resources", "Outputs"] {
            let mut names = Vec::new();
            references(&doc[section], &mut names);
            let bad: Vec<_> = names.iter().filter(|n| n.split('.').next() == Some(forbidden)).collect();
            assert!(bad.is_empty(), "{mode}: {section} references {bad:?}");
        }
    }

    // The functions' TABLE_NAME, and every DynamoDB statement on the table or one of its indexes.
    let table_name = &mrsc["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"];
    assert_eq!(tagged(table_name).map(|(t, v)| (t, v.clone())), Some(("Ref".into(), Value::from("GlobalTableName"))));
    let mut statements_seen = 0;
    for (id, function) in functions(&mrsc) {
        for statement in statements(&id, &function) {
            let actions = strings(&id, one_or_many(&statement["Action"]));
            if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                continue;
            }
            statements_seen += 1;
            for resource in one_or_many(&statement["Resource"]) {
                let (tag, target) = tagged(&resource).unwrap_or_else(|| panic!("{id}: {resource:?}"));
                let arn = target.as_str().unwrap_or_default();
                let on_index = arn.strip_prefix(table_arn).is_some_and(|rest| {
                    rest.strip_prefix("/index/").is_some_and(|i| !i.is_empty() && !i.contains('/'))
                });
                assert!(tag == "Sub" && (arn == table_arn || on_index), "{id}: {resource:?}");
            }
        }
    }
    assert!(statements_seen > 0);

    // Alarm dimensions and the dashboard name the global table.
    let mut dimensions = 0;
    for (id, alarm) in resources(&mrsc, "AWS::CloudWatch::Alarm") {
        let mut stack = vec![&alarm["Properties"]];
        while let Some(v) = stack.pop() {
            match v {
                Value::Mapping(m) => {
                    if m.get("Name").and_then(Value::as_str) == Some("TableName") {
                        dimensions += 1;
                        assert_eq!(ref_to(&m["Value"]).as_deref(), Some("GlobalTableName"), "{id}");
                    }
                    stack.extend(m.values());
                }
                Value::Sequence(items) => stack.extend(items),
                Value::Tagged(t) => stack.push(&t.value),
                _ => {}
            }
        }
    }
    assert!(dimensions > 0, "the DynamoDB alarms have a TableName dimension");
    let body = &mrsc["Resources"]["Dashboard"]["Properties"]["DashboardBody"];
    let (_, parts) = tagged(body).expect("!Sub [text, variables]");
    assert_eq!(ref_to(&parts[1]["TableName"]).as_deref(), Some("GlobalTableName"));
    assert_eq!(ref_to(&mrsc["Outputs"]["UsersTableName"]["Value"]).as_deref(), Some("GlobalTableName"));

    // The local stack still deploys the single mode.
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    assert_eq!(template.table().logical_id, "UsersTable");
    let rules = &doc()["Rules"];
    let rule = serde_yaml::to_string(&rules["GlobalTableNameWithMrsc"]).expect("yaml");
    assert!(rule.contains("TableMode") && rule.contains("GlobalTableName"), "{rule}");
}

/// Issue 33, deployment: off by default, nothing of the custom domain exists; with `DomainName`
/// each region's stack makes a regional domain with this region's certificate mapped to the API,
/// a Route 53 latency record for the shared name (`Region` and `SetIdentifier` = the region)
/// aliased to it, and a health check of `GET /health` on this region's own API host that the
/// record follows. `GET /health` has a route throttle of its own.
#[test]
fn the_custom_domain_routes_by_latency_to_healthy_regions_and_is_off_by_default() {
    let kinds = ["AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping", "AWS::Route53::RecordSet"];
    let single = deployed(&[]);
    for kind in kinds.iter().chain(&["AWS::Route53::HealthCheck"]) {
        assert!(resources(&single, kind).is_empty(), "{kind} without DomainName");
    }
    let on = deployed(&[
        ("DomainName", "login.example.com"),
        ("HostedZoneId", "Z0123456789ABC"),
        ("CertificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/0"),
    ]);
    let one = |kind: &str| -> Value {
        let found = resources(&on, kind);
        assert_eq!(found.len(), 1, "{kind}");
        found[0].1["Properties"].clone()
    };
    let domain = one("AWS::ApiGatewayV2::DomainName");
    assert_eq!(ref_to(&domain["DomainName"]).as_deref(), Some("DomainName"));
    let config = &domain["DomainNameConfigurations"][0];
    assert_eq!(config["EndpointType"], Value::from("REGIONAL"));
    assert_eq!(ref_to(&config["CertificateArn"]).as_deref(), Some("CertificateArn"));
    assert_eq!(ref_to(&one("AWS::ApiGatewayV2::ApiMapping")["ApiId"]).as_deref(), Some("HttpApi"));

    let record = one("AWS::Route53::RecordSet");
    assert_eq!(ref_to(&record["Name"]).as_deref(), Some("DomainName"));
    assert_eq!(ref_to(&record["Region"]).as_deref(), Some("AWS::Region"), "latency routing");
    assert_eq!(ref_to(&record["SetIdentifier"]).as_deref(), Some("AWS::Region"));
    let health_check_id = ref_to(&record["HealthCheckId"]).expect("a health check");
    let (_, check) = resources(&on, "AWS::Route53::HealthCheck").into_iter().next().expect("health check");
    assert_eq!(on["Resources"][health_check_id.as_str()], check);
    let config = &check["Properties"]["HealthCheckConfig"];
    assert_eq!((config["Type"].as_str(), config["ResourcePath"].as_str()), (Some("HTTPS"), Some("/health")));
    let (tag, host) = tagged(&config["FullyQualifiedDomainName"]).expect("!Sub host");
    assert_eq!((tag.as_str(), host.as_str()), ("Sub", Some("${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}")));

    // The route the check probes exists, answers without credentials, and has its own bucket.
    let template = Template::load(repo_root().join("template.yaml")).expect("template.yaml");
    let route = template.routes().into_iter().find(|r| r.route_key() == "GET /health").expect("GET /health");
    assert!(route.authorizer.is_none());
    let settings = &doc()["Resources"]["HttpApi"]["Properties"]["RouteSettings"]["GET /health"];
    assert!(!settings["ThrottlingRateLimit"].is_null(), "GET /health has a route throttle");
    // And the rule that refuses a domain without its certificate and zone, or with the front.
    let rule = serde_yaml::to_string(&doc()["Rules"]["CustomDomainNeedsCertificateAndZone"]).expect("yaml");
    for name in ["CertificateArn", "HostedZoneId", "OriginSecret"] {
        assert!(rule.contains(name), "{rule}");
    }
}
