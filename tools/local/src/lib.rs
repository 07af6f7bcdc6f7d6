//! The offline local stack of social-login: what `sam local` would do, without Docker.
//!
//! - [`template`] reads `template.yaml`: the functions, their HTTP API routes and authorizers.
//! - [`tables`] reads the template's DynamoDB table and creates it in DynamoDB Local.
//! - [`gateway`] serves those routes like API Gateway HTTP API (payload format 2.0), calling the
//!   function crates' handlers in process (its registry is the one list of them, checked
//!   against the template).
//! - [`dynamodb_local`] runs DynamoDB Local and builds clients for it; [`counting_proxy`] counts
//!   what reaches it, and [`iam`] refuses there what a function's policy does not allow.
//! - [`mrsc_proxy`] makes one DynamoDB Local a multi-Region strongly consistent table seen from
//!   several regions, each on a [`killable`] port; [`regions`] starts issue 33's local regions
//!   over it (`local-stack --regions 3`, the API tests).
//! - Both proxies read DynamoDB's JSON requests, answer in its JSON and forward to the next hop
//!   through one module, `dynamodb_request`.
//! - [`served_providers`] is the table of the providers each function is configured for (every
//!   function links them all).
//! - [`playground`] is the sign-in page the stack serves at `/_playground/` (issue 32).
//! - [`tls_front`] puts TLS with a run-time test CA before a plain local service (the benchmark).
//!
//! The `local-stack` binary puts them together with the provider emulator.

pub mod budget;
pub mod counting_proxy;
pub mod demo;
pub mod deployment;
pub mod dynamodb_local;
mod dynamodb_request;
pub mod gateway;
pub mod iam;
pub mod killable;
pub mod mrsc_proxy;
pub mod partition_keys;
pub mod playground;
pub mod regions;
pub mod served_providers;
pub mod tables;
pub mod template;
pub mod tls_front;

pub use dynamodb_local::{DynamoDbLocal, DynamoDbLocalError};
pub use gateway::{function_handlers, router, router_with_authorizers, Authorizers, GatewayError, Handler};
pub use tables::{TableDef, TableError};
pub use template::AuthorizerDef;
pub use template::{FunctionDef, Route, Template, TemplateError};
