//! The floor of `cargo xtask bench`: a bare `lambda_http` function that answers `{}`, with no
//! clients and no configuration, built with the release profile every function ships with. What
//! a function costs is measured as a ratio to this.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .map_err(Error::from)
    }))
    .await
}
