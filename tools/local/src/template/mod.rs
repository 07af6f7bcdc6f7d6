//! Reads the SAM `template.yaml`: the HTTP API routes of its functions and its DynamoDB table.
//!
//! The template uses CloudFormation short tags (`!Ref`, `!Sub`, `!GetAtt`, ...). serde_yaml keeps
//! them as [`Value::Tagged`]; this module only reads the literal parts it needs and never
//! evaluates intrinsic functions, so a tagged value where a literal is required is an error;
//! except the template's `Conditions` and their `!If`s, which [`conditions::resolve`] takes as a
//! deployment with the parameters' defaults would (`TableMode: single`, the stack's own table).
//!
//! This module reads the document and its table; `functions` reads the functions and their
//! routes, `authorizers` the HTTP API's authorizers, `environment` the functions' environment,
//! `throttle` the route throttles.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::tables::{table_def, TableDef};

mod authorizers;
pub mod conditions;
mod environment;
mod functions;
mod throttle;

use authorizers::http_api_authorizers;
pub use authorizers::AuthorizerDef;
use environment::env_variables;
use functions::{function_package, function_routes, has_schedule};
pub use functions::{FunctionDef, Route};
use throttle::RawThrottles;
pub use throttle::{Throttle, Throttles};

/// SAM resource type of a Lambda function.
const FUNCTION_TYPE: &str = "AWS::Serverless::Function";
/// CloudFormation resource type of a DynamoDB table.
const TABLE_TYPE: &str = "AWS::DynamoDB::Table";

/// Why a template could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read template {path}: {source}")]
    Read {
        /// The template path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// The template has no `Resources` mapping.
    #[error("template has no `Resources` mapping")]
    NoResources,
    /// A resource lacks something the local stack needs, or has it in a form it cannot read.
    #[error("resource `{resource}`: {message}")]
    Invalid {
        /// Logical id of the resource.
        resource: String,
        /// What is wrong.
        message: String,
    },
    /// The local stack serves exactly one table.
    #[error("template defines {0} `AWS::DynamoDB::Table` resources; the local stack needs exactly one")]
    TableCount(usize),
}

#[derive(Debug, Clone)]
pub struct Template {
    routes: Vec<Route>,
    /// The package of every function, in template order.
    functions: Vec<String>,
    /// Every function with a package: logical id, package, its own environment variables.
    function_defs: Vec<(FunctionDef, Vec<(String, Value)>)>,
    /// `Globals.Function.Environment.Variables`, unresolved.
    global_env: Vec<(String, Value)>,
    /// Each parameter's `Default`, if it has a scalar one.
    parameter_defaults: HashMap<String, Option<String>>,
    table: TableDef,
    /// Lambda authorizers of the HTTP API, by name.
    authorizers: HashMap<String, AuthorizerDef>,
    /// The package of every function run on a schedule (an `Events` entry of `Type: Schedule`).
    scheduled: Vec<String>,
    /// The HTTP API's route throttles, unresolved.
    throttles: RawThrottles,
}

impl Template {
    /// Reads and parses the template at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Template, TemplateError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| TemplateError::Read { path: path.to_owned(), source })?;
        text.parse()
    }

    /// Every HTTP API route, in template order.
    pub fn routes(&self) -> Vec<Route> {
        self.routes.clone()
    }

    /// The Cargo package of every `AWS::Serverless::Function`, in template order (route
    /// functions and authorizers alike; a function whose package cannot be read is left out).
    pub fn functions(&self) -> Vec<String> {
        self.functions.clone()
    }

    /// Every function whose package can be read, in template order.
    pub fn function_defs(&self) -> Vec<FunctionDef> {
        self.function_defs.iter().map(|(f, _)| f.clone()).collect()
    }

    /// The template's (only) DynamoDB table.
    pub fn table(&self) -> &TableDef {
        &self.table
    }

    /// The HTTP API's Lambda authorizers, by name.
    pub fn authorizers(&self) -> HashMap<String, AuthorizerDef> {
        self.authorizers.clone()
    }

    /// The packages of the functions EventBridge runs on a schedule (no route: the tests call
    /// them directly), in template order.
    pub fn scheduled(&self) -> Vec<String> {
        self.scheduled.clone()
    }
}

impl std::str::FromStr for Template {
    type Err = TemplateError;

    /// Parses template text.
    fn from_str(text: &str) -> Result<Template, TemplateError> {
        let doc: Value = serde_yaml::from_str(text)?;
        let doc = conditions::resolve(&doc, &HashMap::new());
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or(TemplateError::NoResources)?;
        let global_code_uri = doc.get("Globals").and_then(|g| g.get("Function")).and_then(|f| f.get("CodeUri"));

        let mut routes = Vec::new();
        let mut tables = Vec::new();
        let mut apis = Vec::new();
        let mut packages = HashMap::new();
        let mut functions = Vec::new();
        let mut function_defs = Vec::new();
        let mut scheduled = Vec::new();
        for (id, resource) in resources {
            let id = id.as_str().ok_or_else(|| TemplateError::Invalid {
                resource: format!("{id:?}"),
                message: "logical id is not a string".into(),
            })?;
            match resource.get("Type").and_then(Value::as_str) {
                Some(FUNCTION_TYPE) => {
                    routes.extend(function_routes(id, resource, global_code_uri)?);
                    // Needed only if an authorizer names the function (checked there).
                    if let Ok(package) = function_package(id, resource, global_code_uri) {
                        if has_schedule(resource) {
                            scheduled.push(package.clone());
                        }
                        functions.push(package.clone());
                        packages.insert(id.to_owned(), package.clone());
                        let def = FunctionDef { logical_id: id.to_owned(), package };
                        function_defs.push((def, env_variables(resource.get("Properties"))));
                    }
                }
                Some(TABLE_TYPE) => tables.push(table_def(id, resource)?),
                Some("AWS::Serverless::HttpApi") => apis.push((id, resource)),
                _ => {}
            }
        }
        let mut authorizers = HashMap::new();
        let throttles = apis.first().map(|(_, api)| RawThrottles::read(api)).unwrap_or_default();
        for (id, api) in apis {
            authorizers.extend(http_api_authorizers(id, api, &packages, doc.get("Parameters"))?);
        }
        if tables.len() != 1 {
            return Err(TemplateError::TableCount(tables.len()));
        }
        let table = tables.remove(0);
        for route in &routes {
            if let Some(name) = &route.authorizer {
                if !authorizers.contains_key(name) {
                    return Err(TemplateError::Invalid {
                        resource: route.function_logical_id.clone(),
                        message: format!("authorizer `{name}` is not declared on the HTTP API"),
                    });
                }
            }
        }
        let global_env = env_variables(doc.get("Globals").and_then(|g| g.get("Function")));
        let parameter_defaults = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .map(|params| {
                params
                    .iter()
                    .filter_map(|(name, p)| {
                        Some((name.as_str()?.to_owned(), p.get("Default").and_then(literal_string)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Template {
            routes,
            functions,
            function_defs,
            global_env,
            parameter_defaults,
            table,
            authorizers,
            scheduled,
            throttles,
        })
    }
}

/// A required literal list.
pub(crate) fn list<'a>(value: &'a Value, key: &str) -> Result<&'a [Value], String> {
    value
        .get(key)
        .ok_or_else(|| format!("`{key}` is missing"))?
        .as_sequence()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("`{key}` must be a literal list"))
}

/// A required literal string field.
pub(crate) fn required(value: &Value, key: &str) -> Result<String, String> {
    match value.get(key) {
        None => Err(format!("`{key}` is missing")),
        Some(v) => literal_string(v).ok_or_else(|| format!("`{key}` must be a literal string")),
    }
}

/// A scalar written literally (numbers and booleans read as their YAML text); `None` for tags,
/// mappings and lists.
pub(crate) fn literal_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{AttributeDef, IndexDef, KeyDef, TimeToLiveDef};

    /// A template shaped like the project's, with short tags in the places SAM templates use them.
    const FIXTURE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: fixture

Parameters:
  Stage:
    Type: String
    Default: prod

Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Environment:
      Variables:
        TABLE_NAME: !Ref UsersTable
        PUBLIC_BASE_URL: !Sub "https://${HttpApi}.execute-api.${AWS::Region}.amazonaws.com"

Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi

  FacebookLoginFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/facebook-login
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref UsersTable
      Environment:
        Variables:
          TABLE_ARN: !GetAtt UsersTable.Arn
      Events:
        Login:
          Type: HttpApi
          Properties:
            Path: /v1.1/instances/{instance}/user/auth/facebook/
            Method: post
            ApiId: !Ref HttpApi
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)

  LoginFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: login
    Properties:
      CodeUri: .
      Events:
        Login:
          Type: HttpApi
          Properties:
            Path: /api/v1/login
            Method: POST
            ApiId: !Ref HttpApi
        Catch:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi

  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: !Sub "functions/${Stage}"

  UsersTable:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      TableName: !Sub "${AWS::StackName}-users"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: pk
          AttributeType: S
        - AttributeName: sk
          AttributeType: S
        - AttributeName: gsi1pk
          AttributeType: S
      KeySchema:
        - AttributeName: pk
          KeyType: HASH
        - AttributeName: sk
          KeyType: RANGE
      GlobalSecondaryIndexes:
        - IndexName: gsi1
          KeySchema:
            - AttributeName: gsi1pk
              KeyType: HASH
          Projection:
            ProjectionType: INCLUDE
            NonKeyAttributes: [user_id]
      TimeToLiveSpecification:
        AttributeName: expires_at
        Enabled: true

Outputs:
  ApiUrl:
    Value: !Sub "https://${HttpApi}.execute-api.${AWS::Region}.amazonaws.com/"
  TableArn:
    Value: !GetAtt [UsersTable, Arn]
"#;

    fn fixture() -> Template {
        FIXTURE.parse().expect("fixture parses")
    }

    #[test]
    fn reads_the_route_throttles_literal_or_from_parameters() {
        assert_eq!(fixture().throttles().expect("none"), Throttles::default(), "no settings, no throttle");
        let text = FIXTURE.replace(
            "  HttpApi:\n    Type: AWS::Serverless::HttpApi\n",
            r#"  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefaultRouteSettings:
        ThrottlingBurstLimit: 50
        ThrottlingRateLimit: 20.5
      RouteSettings:
        "POST /api/v1/login":
          ThrottlingBurstLimit: !Ref LoginBurst
          ThrottlingRateLimit: !Ref LoginRate
"#,
        );
        let text = text.replace(
            "Parameters:\n",
            "Parameters:\n  LoginBurst:\n    Type: Number\n    Default: 20\n  LoginRate:\n    Type: Number\n    Default: 10\n",
        );
        let mut template: Template = text.parse().expect("parses");
        let throttles = template.throttles().expect("throttles");
        assert_eq!(throttles.of("POST /api/v1/login"), Some(Throttle { rate: 10.0, burst: 20 }));
        assert_eq!(throttles.of("GET /anything"), Some(Throttle { rate: 20.5, burst: 50 }));
        template.set_parameter("LoginRate", "500");
        assert_eq!(template.throttles().expect("throttles").of("POST /api/v1/login").map(|t| t.rate), Some(500.0));
        template.set_parameter("LoginRate", "lots");
        assert!(template.throttles().is_err(), "a limit that is not a number is an error");
    }

    #[test]
    fn reads_http_api_routes_in_order_and_skips_other_events() {
        let routes = fixture().routes();
        let keys: Vec<_> = routes.iter().map(Route::route_key).collect();
        assert_eq!(keys, ["POST /v1.1/instances/{instance}/user/auth/facebook/", "POST /api/v1/login", "$default",]);
        assert_eq!(routes[0].function_logical_id, "FacebookLoginFunction");
        assert_eq!(fixture().scheduled(), ["facebook-login"], "the Schedule event is read as such");
        assert_eq!(routes[1].function_logical_id, "LoginFunction");
        assert_eq!(routes[2].method, "ANY");
    }

    #[test]
    fn package_comes_from_binary_or_code_uri() {
        let packages: Vec<_> = fixture().routes().into_iter().map(|r| r.package).collect();
        assert_eq!(packages, ["facebook-login", "login", "login"]);
    }

    #[test]
    fn lists_every_function_with_a_package_in_order() {
        // WorkerFunction's CodeUri is a `!Sub`: no package, so not listed.
        assert_eq!(fixture().functions(), ["facebook-login", "login"]);
    }

    #[test]
    fn reads_the_table_literally() {
        let template = fixture();
        let table = template.table();
        assert_eq!(table.logical_id, "UsersTable");
        assert_eq!(
            table.attribute_definitions,
            [
                AttributeDef { name: "pk".into(), attribute_type: "S".into() },
                AttributeDef { name: "sk".into(), attribute_type: "S".into() },
                AttributeDef { name: "gsi1pk".into(), attribute_type: "S".into() },
            ]
        );
        assert_eq!(
            table.key_schema,
            [
                KeyDef { attribute_name: "pk".into(), key_type: "HASH".into() },
                KeyDef { attribute_name: "sk".into(), key_type: "RANGE".into() },
            ]
        );
        assert_eq!(
            table.global_secondary_indexes,
            [IndexDef {
                name: "gsi1".into(),
                key_schema: vec![KeyDef { attribute_name: "gsi1pk".into(), key_type: "HASH".into() }],
                projection_type: "INCLUDE".into(),
                non_key_attributes: vec!["user_id".into()],
            }]
        );
        assert!(table.local_secondary_indexes.is_empty());
        assert_eq!(table.billing_mode.as_deref(), Some("PAY_PER_REQUEST"));
        assert_eq!(table.ttl_attribute(), Some("expires_at"));
    }

    #[test]
    fn disabled_ttl_is_not_a_ttl_attribute() {
        let text = FIXTURE.replace("Enabled: true", "Enabled: false");
        let template: Template = text.parse().expect("parses");
        assert_eq!(
            template.table().time_to_live,
            Some(TimeToLiveDef { attribute_name: "expires_at".into(), enabled: false })
        );
        assert_eq!(template.table().ttl_attribute(), None);
    }

    #[test]
    fn a_tagged_value_where_a_literal_is_needed_is_an_error() {
        let text = FIXTURE.replace("CodeUri: functions/facebook-login", "CodeUri: !Sub functions/${Stage}");
        let err = text.parse::<Template>().expect_err("tagged CodeUri");
        assert!(
            matches!(&err, TemplateError::Invalid { resource, .. } if resource == "FacebookLoginFunction"),
            "{err}"
        );

        let text = FIXTURE.replace("Path: /api/v1/login", "Path: !Sub /api/${Stage}/login");
        assert!(matches!(text.parse::<Template>(), Err(TemplateError::Invalid { .. })));
    }

    #[test]
    fn needs_exactly_one_table_and_resources() {
        let without_table = FIXTURE.replace("Type: AWS::DynamoDB::Table", "Type: AWS::SQS::Queue");
        assert!(matches!(without_table.parse::<Template>(), Err(TemplateError::TableCount(0))));
        assert!(matches!("Outputs: {}".parse::<Template>(), Err(TemplateError::NoResources)));
        assert!(matches!("Resources: [".parse::<Template>(), Err(TemplateError::Yaml(_))));
    }

    #[test]
    fn load_reports_the_path() {
        let err = Template::load("/nonexistent/template.yaml").expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/template.yaml"), "{err}");
    }

    #[test]
    fn an_authorizer_names_its_function_by_alias_or_arn() {
        let with = |arn: &str| {
            format!(
                r#"
Resources:
  Users:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{{ AttributeName: pk, AttributeType: S }}]
      KeySchema: [{{ AttributeName: pk, KeyType: HASH }}]
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Session:
            FunctionArn: {arn}
            Identity: {{ Headers: [X-Auth-Token] }}
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/the-authorizer
"#
            )
        };
        for arn in ["!Ref AuthFunction.Alias", "!GetAtt AuthFunction.Arn"] {
            let t: Template = with(arn).parse().unwrap_or_else(|e| panic!("{arn}: {e}"));
            assert_eq!(t.authorizers()["Session"].package, "the-authorizer", "{arn}");
        }
        let err = with("!Ref AuthFunction").parse::<Template>().expect_err("not an alias").to_string();
        assert!(err.contains("!Ref <Function>.Alias"), "{err}");
    }
}
