//! Lambda entry point: build the app once per cold start, then answer authorizer events.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::authorizer::AuthorizerRequest;
use shared::App;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::http::init_logging();
    let app = App::from_env().await?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<AuthorizerRequest>| async move {
        syncano_authorizer::handler(app, event.payload).await.map_err(Error::from)
    }))
    .await
}
