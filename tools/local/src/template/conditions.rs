//! The template as CloudFormation deploys it for a set of parameters: its `Conditions` evaluated
//! (`!Equals`, `!Not`, `!And`, `!Or`, `!Condition` over literals and parameter `!Ref`s), every
//! `!If` whose condition evaluates replaced by the branch taken (`!Ref AWS::NoValue` removes
//! the property or list entry), and every resource or output whose `Condition` is false left
//! out. A condition that needs something else (a pseudo parameter, a resource) is left
//! unevaluated and its `!If`s stay as written.
//!
//! The local stack deploys the template with its parameters' defaults (`TableMode: single`:
//! the stack's own `UsersTable`); the template tests also resolve it with `TableMode: mrsc`
//! (issue 33: no table of its own, every reference the global table's name).

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};

/// `doc` deployed with `parameters` (others at their `Default`).
pub fn resolve(doc: &Value, parameters: &HashMap<String, String>) -> Value {
    let mut values: HashMap<String, String> = doc
        .get("Parameters")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(name, p)| Some((name.as_str()?.to_owned(), super::literal_string(p.get("Default")?)?)))
        .collect();
    values.extend(parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
    let definitions = doc.get("Conditions").and_then(Value::as_mapping).cloned().unwrap_or_default();
    let conditions = Conditions { definitions: &definitions, parameters: &values };
    let mut out = doc.clone();
    for section in ["Resources", "Outputs"] {
        if let Some(Value::Mapping(entries)) = out.get_mut(section) {
            entries.retain(|_, entry| {
                let name = entry.get("Condition").and_then(Value::as_str);
                name.and_then(|n| conditions.evaluate_named(n, 0)) != Some(false)
            });
        }
    }
    for section in ["Globals", "Resources", "Outputs"] {
        if let Some(part) = out.get_mut(section) {
            if let Some(resolved) = conditions.resolve_ifs(part) {
                *part = resolved;
            }
        }
    }
    out
}

struct Conditions<'a> {
    definitions: &'a Mapping,
    parameters: &'a HashMap<String, String>,
}

/// Conditions nest (`!Condition`); deeper than this is a cycle.
const MAX_DEPTH: usize = 32;

impl Conditions<'_> {
    fn evaluate_named(&self, name: &str, depth: usize) -> Option<bool> {
        let definition = self.definitions.get(name)?;
        self.evaluate(definition, depth + 1)
    }

    fn evaluate(&self, condition: &Value, depth: usize) -> Option<bool> {
        if depth > MAX_DEPTH {
            return None;
        }
        let Value::Tagged(t) = condition else { return None };
        let args = || t.value.as_sequence().map(Vec::as_slice).unwrap_or_default();
        match t.tag.to_string().trim_start_matches('!') {
            "Equals" => match args() {
                [a, b] => Some(self.scalar(a)? == self.scalar(b)?),
                _ => None,
            },
            "Not" => match args() {
                [c] => self.evaluate(c, depth + 1).map(|b| !b),
                _ => None,
            },
            "And" => args().iter().try_fold(true, |acc, c| Some(acc & self.evaluate(c, depth + 1)?)),
            "Or" => args().iter().try_fold(false, |acc, c| Some(acc | self.evaluate(c, depth + 1)?)),
            "Condition" => self.evaluate_named(t.value.as_str()?, depth),
            _ => None,
        }
    }

    /// A literal, or a parameter's value.
    fn scalar(&self, value: &Value) -> Option<String> {
        match value {
            Value::Tagged(t) if t.tag == "Ref" => self.parameters.get(t.value.as_str()?).cloned(),
            other => super::literal_string(other),
        }
    }

    /// `value` with its `!If`s taken; `None` where it resolves to `!Ref AWS::NoValue`.
    fn resolve_ifs(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("AWS::NoValue") => None,
            Value::Tagged(t) if t.tag == "If" => {
                let taken = match t.value.as_sequence().map(Vec::as_slice) {
                    Some([name, then, otherwise]) => match self.evaluate_named(name.as_str()?, 0) {
                        Some(true) => Some(then),
                        Some(false) => Some(otherwise),
                        None => None,
                    },
                    _ => None,
                };
                match taken {
                    Some(branch) => self.resolve_ifs(branch),
                    None => Some(value.clone()),
                }
            }
            Value::Tagged(t) => {
                let mut t = t.clone();
                t.value = self.resolve_ifs(&t.value).unwrap_or(Value::Null);
                Some(Value::Tagged(t))
            }
            Value::Sequence(items) => Some(Value::Sequence(items.iter().filter_map(|v| self.resolve_ifs(v)).collect())),
            Value::Mapping(entries) => Some(Value::Mapping(
                entries.iter().filter_map(|(k, v)| Some((k.clone(), self.resolve_ifs(v)?))).collect(),
            )),
            other => Some(other.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
Parameters:
  TableMode:
    Type: String
    Default: single
  Name:
    Type: String
    Default: ""
Conditions:
  SingleTable: !Equals [!Ref TableMode, single]
  Named: !Not [!Equals [!Ref Name, ""]]
  Both: !And [!Condition SingleTable, !Condition Named]
  Regional: !Equals [!Ref "AWS::Region", us-east-1]
Resources:
  UsersTable:
    Type: AWS::DynamoDB::Table
    Condition: SingleTable
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Resource: !If [SingleTable, !GetAtt UsersTable.Arn, !Sub "table/${Name}"]
      Reserved: !If [Named, 5, !Ref AWS::NoValue]
      List: [a, !If [Both, b, !Ref AWS::NoValue], c]
      Here: !If [Regional, x, y]
Outputs:
  TableName:
    Condition: SingleTable
    Value: !Ref UsersTable
"#;

    fn resolved(params: &[(&str, &str)]) -> Value {
        let doc: Value = serde_yaml::from_str(DOC).unwrap();
        resolve(&doc, &params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn the_defaults_take_the_single_table() {
        let doc = resolved(&[]);
        assert!(doc["Resources"].get("UsersTable").is_some());
        let props = &doc["Resources"]["Fn"]["Properties"];
        assert_eq!(serde_yaml::to_string(&props["Resource"]).unwrap().trim(), "!GetAtt UsersTable.Arn");
        assert!(props.get("Reserved").is_none(), "AWS::NoValue removes the property");
        assert_eq!(props["List"], serde_yaml::from_str::<Value>("[a, c]").unwrap());
        assert!(doc["Outputs"].get("TableName").is_some());
    }

    #[test]
    fn mrsc_drops_the_table_and_takes_the_other_branch() {
        let doc = resolved(&[("TableMode", "mrsc"), ("Name", "users")]);
        assert!(doc["Resources"].get("UsersTable").is_none());
        assert!(doc["Outputs"].get("TableName").is_none());
        let props = &doc["Resources"]["Fn"]["Properties"];
        assert_eq!(serde_yaml::to_string(&props["Resource"]).unwrap().trim(), "!Sub table/${Name}");
        assert_eq!(props["Reserved"], Value::from(5));
    }

    #[test]
    fn a_condition_on_a_pseudo_parameter_stays_unevaluated() {
        let doc = resolved(&[]);
        let here = serde_yaml::to_string(&doc["Resources"]["Fn"]["Properties"]["Here"]).unwrap();
        assert!(here.starts_with("!If"), "{here}");
    }
}
