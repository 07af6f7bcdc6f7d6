//! The environment SAM gives a function: `Globals`' variables, then the function's own, with
//! `!Ref` and `!Sub` resolved as a deployment would.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use super::{literal_string, Template, TemplateError};

impl Template {
    /// The environment SAM gives the function `logical_id`: `Globals`' variables, then the
    /// function's own (which win). A `!Ref` is resolved by `refs` (parameter overrides, as
    /// `sam deploy --parameter-overrides` gives them, resources such as the table's name, and
    /// pseudo parameters such as `AWS::StackName`), else by the parameter's `Default`; a `!Sub`
    /// string has each `${Name}` resolved the same way; any other intrinsic function, or a name
    /// neither resolves, is an error naming the variable.
    pub fn environment(
        &self,
        logical_id: &str,
        refs: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        let invalid = |message: String| TemplateError::Invalid { resource: logical_id.to_owned(), message };
        let (_, own) = self
            .function_defs
            .iter()
            .find(|(f, _)| f.logical_id == logical_id)
            .ok_or_else(|| invalid("no such function".into()))?;
        let mut env = BTreeMap::new();
        let resolve = |target: &str| refs(target).or_else(|| self.parameter_defaults.get(target).cloned().flatten());
        for (name, value) in self.global_env.iter().chain(own) {
            let resolved = match value {
                Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().and_then(resolve),
                Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().and_then(|text| substitute(text, &resolve)),
                v => literal_string(v),
            };
            let resolved = resolved.ok_or_else(|| invalid(format!("cannot resolve the variable {name}")))?;
            env.insert(name.clone(), resolved);
        }
        Ok(env)
    }

    /// Every variable name the template sets on some function (or in `Globals`).
    pub fn variable_names(&self) -> BTreeSet<String> {
        let own = self.function_defs.iter().flat_map(|(_, env)| env);
        self.global_env.iter().chain(own).map(|(name, _)| name.clone()).collect()
    }
}

/// `Environment.Variables` of a function's `Properties` (or of `Globals.Function`), unresolved.
pub(super) fn env_variables(holder: Option<&Value>) -> Vec<(String, Value)> {
    holder
        .and_then(|p| p.get("Environment"))
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .map(|vars| vars.iter().filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone()))).collect())
        .unwrap_or_default()
}

/// The string form of `!Sub`: each `${Name}` replaced by what `resolve` gives it (`${!Text}` is
/// the literal `${Text}`); `None` if a name does not resolve or a `${` is not closed.
fn substitute(text: &str, resolve: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            }
            None => out.push_str(&resolve(name.trim())?),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table for the templates below (a template needs exactly one).
    const TABLE: &str = r#"Resources:
  Users:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
"#;

    #[test]
    fn a_functions_environment_is_the_globals_then_its_own_with_refs_resolved() {
        let text = r#"
Parameters:
  AppId: { Type: String, Default: "" }
  Ttl: { Type: Number, Default: 30 }
Globals:
  Function:
    Environment:
      Variables:
        TABLE_NAME: !Ref Users
        TTL_DAYS: !Ref Ttl
        RUST_LOG: info
"#
        .to_owned()
            + TABLE
            + r#"  One:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/one
      Environment:
        Variables:
          APP_ID: !Ref AppId
          RUST_LOG: debug
          PORT: 8080
  Two:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/two
      Environment:
        Variables:
          ARN: !GetAtt Users.Arn
"#;
        let t: Template = text.parse().expect("parses");
        let defs = t.function_defs();
        assert_eq!(
            defs.iter().map(|f| (f.logical_id.as_str(), f.package.as_str())).collect::<Vec<_>>(),
            [("One", "one"), ("Two", "two")]
        );
        let refs = |name: &str| (name == "Users").then(|| "users-table".to_owned());
        let env = t.environment("One", &refs).expect("resolves");
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("APP_ID", ""),
                ("PORT", "8080"),
                ("RUST_LOG", "debug"),
                ("TABLE_NAME", "users-table"),
                ("TTL_DAYS", "30")
            ]
        );
        let overridden =
            t.environment("One", &|n| (n == "AppId").then(|| "42".to_owned()).or_else(|| refs(n))).expect("ok");
        assert_eq!(overridden["APP_ID"], "42");
        let err = t.environment("Two", &refs).expect_err("GetAtt is not evaluated").to_string();
        assert!(err.contains("ARN"), "{err}");
        let err = t.environment("One", &|_| None).expect_err("the table has no default").to_string();
        assert!(err.contains("TABLE_NAME"), "{err}");
        assert!(t.environment("Three", &refs).is_err());
    }

    #[test]
    fn a_sub_resolves_its_names_like_a_ref() {
        let text = r#"
Parameters:
  Prefix: { Type: String, Default: "Social" }
Globals:
  Function:
    Environment:
      Variables:
        NS: !Sub "${Prefix}Login/${AWS::StackName}"
        LITERAL: !Sub "a ${!Literal} b"
"#
        .to_owned()
            + TABLE
            + r#"  One:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/one
"#;
        let t: Template = text.parse().expect("parses");
        let env = t.environment("One", &|n| (n == "AWS::StackName").then(|| "stack".to_owned())).expect("resolves");
        assert_eq!((env["NS"].as_str(), env["LITERAL"].as_str()), ("SocialLogin/stack", "a ${Literal} b"));
        let err = t.environment("One", &|_| None).expect_err("no stack name").to_string();
        assert!(err.contains("NS"), "{err}");
    }
}
