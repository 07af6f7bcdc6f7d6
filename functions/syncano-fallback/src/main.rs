//! Lambda entry point: build the app once per cold start, then serve requests with it.

use lambda_http::{run, service_fn, Error, Request};
use shared::App;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::http::init_logging();
    let app = App::from_env().await?;
    let app = &app;
    run(service_fn(move |req: Request| async move { Ok::<_, Error>(syncano_fallback::handler(app, req).await) })).await
}
