//! A second floor for docs/bench.md: a bare `lambda_http` function that builds only the DynamoDB
//! client, exactly as `App::from_env` does (environment credentials, compiled-in roots), and
//! makes one `GetItem` per invoke. It shows what the AWS SDK alone costs against the floor:
//!
//! ```sh
//! CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C relocation-model=static" \
//!   cargo build --release --target x86_64-unknown-linux-gnu -p shared --example sdk_floor
//! python3 ../shared/bench/lambda_bench.py target/x86_64-unknown-linux-gnu/release/examples/sdk_floor \
//!   events/me/401-unknown-session.json --env AWS_REGION=us-east-1 --env AWS_ACCESS_KEY_ID=local \
//!   --env AWS_SECRET_ACCESS_KEY=local --env AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8123
//! ```

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let region = std::env::var("AWS_REGION")?;
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(shared::net::tls::aws_http_client()?)
        .build();
    let mut conf = aws_sdk_dynamodb::config::Builder::from(&aws);
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        conf = conf.endpoint_url(endpoint);
    }
    let client = aws_sdk_dynamodb::Client::from_conf(conf.build());
    let client = &client;
    run(service_fn(move |_: Request| async move {
        let found = client
            .get_item()
            .table_name("sdk-floor")
            .key("pk", AttributeValue::S("x".into()))
            .key("sk", AttributeValue::S("x".into()))
            .send()
            .await
            .is_ok();
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(format!("{{\"found\":{found}}}")))
            .map_err(Error::from)
    }))
    .await
}
