//! The HTTP API's route throttling: `DefaultRouteSettings` and `RouteSettings`
//! (`ThrottlingRateLimit`, `ThrottlingBurstLimit`), literal or `!Ref` a parameter.

use std::collections::HashMap;

use serde_yaml::Value;

use super::{literal_string, Template, TemplateError};

/// One route's throttle, as API Gateway applies it: a token bucket of `burst` tokens refilled at
/// `rate` tokens a second, one token a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    /// `ThrottlingRateLimit`: steady-state requests per second.
    pub rate: f64,
    /// `ThrottlingBurstLimit`: the bucket's size.
    pub burst: u64,
}

/// The stage's throttles: the default route settings, and those of single routes (by route key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Throttles {
    /// `DefaultRouteSettings`: every route without its own.
    pub default: Option<Throttle>,
    /// `RouteSettings`, by route key (`"POST /api/v1/login"`).
    pub routes: HashMap<String, Throttle>,
}

impl Throttles {
    /// The throttle of `route_key`: its own, else the default; `None` = not throttled.
    pub fn of(&self, route_key: &str) -> Option<Throttle> {
        self.routes.get(route_key).copied().or(self.default)
    }
}

/// The unresolved settings of an HTTP API (values may be `!Ref` a parameter).
#[derive(Debug, Clone, Default)]
pub(super) struct RawThrottles {
    default: Option<(Value, Value)>,
    routes: Vec<(String, (Value, Value))>,
}

impl RawThrottles {
    /// Reads `Properties.DefaultRouteSettings` / `Properties.RouteSettings` of an
    /// `AWS::Serverless::HttpApi`.
    pub(super) fn read(resource: &Value) -> RawThrottles {
        let props = resource.get("Properties");
        let pair = |settings: &Value| {
            Some((settings.get("ThrottlingRateLimit")?.clone(), settings.get("ThrottlingBurstLimit")?.clone()))
        };
        let default = props.and_then(|p| p.get("DefaultRouteSettings")).and_then(pair);
        let routes = props
            .and_then(|p| p.get("RouteSettings"))
            .and_then(Value::as_mapping)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.as_str()?.to_owned(), pair(v)?))).collect())
            .unwrap_or_default();
        RawThrottles { default, routes }
    }
}

impl Template {
    /// The HTTP API's route throttles, a `!Ref` resolved to the parameter's default (or the
    /// value [`Template::set_parameter`] gave it).
    pub fn throttles(&self) -> Result<Throttles, TemplateError> {
        let resolve = |(rate, burst): &(Value, Value)| -> Result<Throttle, TemplateError> {
            let value = |v: &Value| -> Option<String> {
                match v {
                    Value::Tagged(t) if t.tag == "Ref" => {
                        t.value.as_str().and_then(|p| self.parameter_defaults.get(p).cloned().flatten())
                    }
                    v => literal_string(v),
                }
            };
            let invalid = |what: &str| TemplateError::Invalid {
                resource: "HttpApi".to_owned(),
                message: format!("{what} must be a number or `!Ref` a parameter with a numeric default"),
            };
            let rate = value(rate).and_then(|v| v.parse::<f64>().ok()).ok_or_else(|| invalid("ThrottlingRateLimit"))?;
            let burst =
                value(burst).and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| invalid("ThrottlingBurstLimit"))?;
            Ok(Throttle { rate, burst })
        };
        Ok(Throttles {
            default: self.throttles.default.as_ref().map(resolve).transpose()?,
            routes: self
                .throttles
                .routes
                .iter()
                .map(|(key, raw)| Ok((key.clone(), resolve(raw)?)))
                .collect::<Result<_, TemplateError>>()?,
        })
    }

    /// Sets a parameter's value as `sam deploy --parameter-overrides` would (for what
    /// [`Template::throttles`] and [`Template::environment`] resolve through defaults).
    pub fn set_parameter(&mut self, name: &str, value: &str) {
        self.parameter_defaults.insert(name.to_owned(), Some(value.to_owned()));
    }
}
