//! The one way a function runs on Lambda: logging up, the [`App`] built once per cold start
//! (clients, configuration, secrets), then every event served with it on a current-thread
//! runtime. A function's `main.rs` is one call of [`serve_http`], [`serve_authorizer`] or
//! [`serve_event`].

use std::future::Future;

use lambda_http::lambda_runtime::{self, LambdaEvent};
pub use lambda_http::Error;
use lambda_http::{service_fn, Body, Request, Response};

use crate::domain::logging::init_logging;
use crate::entry::authorizer::{AuthorizerRequest, AuthorizerResponse};
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;

/// An API Gateway route's function: `handler` answers each request.
pub fn serve_http<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    block_on(async move {
        let app = cold_start().await?;
        lambda_http::run(service_fn(move |req: Request| {
            // Boxed (one allocation per event): the handler's future nests the AWS SDK's deep
            // request futures, and laid out inline in the runtime's future it passed rustc's
            // query depth limit in some builds (rocketchat-authorizer without `ssm`).
            // With the front on, a request without its origin secret is refused before the
            // handler reads anything (crate::entry::front).
            let answer: std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send>> =
                match crate::entry::front::refusal(&app.config, &req) {
                    Some(refused) => Box::pin(std::future::ready(refused)),
                    None => Box::pin(handler(app, req)),
                };
            async move { Ok::<_, Error>(answer.await) }
        }))
        .await
    })
}

/// A Lambda authorizer's function: `handler` answers each authorizer event.
pub fn serve_authorizer<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static App, AuthorizerRequest) -> Fut,
    Fut: Future<Output = Result<AuthorizerResponse, UseCaseError>> + Send + 'static,
{
    block_on(async move {
        let app = cold_start().await?;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<AuthorizerRequest>| {
            let answer = Box::pin(handler(app, event.payload));
            async move { answer.await.map_err(Error::from) }
        }))
        .await
    })
}

/// A function run by an event that is not an HTTP request (an EventBridge schedule): `handler`
/// takes the event's JSON and answers a JSON result, or an error Lambda records as a failure.
pub fn serve_event<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static App, serde_json::Value) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, UseCaseError>> + Send + 'static,
{
    block_on(async move {
        let app = cold_start().await?;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
            let answer = Box::pin(handler(app, event.payload));
            async move { answer.await.map_err(Error::from) }
        }))
        .await
    })
}

/// Logging, then the app, which lives as long as the process (one per Lambda instance).
async fn cold_start() -> Result<&'static App, Error> {
    init_logging();
    Ok(Box::leak(Box::new(App::from_env().await?)))
}

fn block_on(main: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(main)
}
