//! Where a cold start's init time and memory go: each client builder in turn, with the elapsed
//! time and the peak RSS after it (`INIT_AWS=manual` builds the AWS config without aws-config's
//! default chain). Run it under `strace -f -e openat` to see that no certificate store is read.
use std::time::Instant;

fn hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .unwrap_or("?")
        .to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    eprintln!("start                {:?} {} kB", t.elapsed(), hwm());
    if std::env::var("INIT_LOG").is_ok() {
        shared::domain::logging::init_logging();
    }
    eprintln!("logging              {:?} {} kB", t.elapsed(), hwm());
    let _http =
        shared::providers::http_client(std::time::Duration::from_secs(1), shared::net::tls::provider_tls_config()?)?;
    eprintln!("reqwest client       {:?} {} kB", t.elapsed(), hwm());
    let aws = if std::env::var("INIT_AWS").as_deref() == Ok("manual") {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new(std::env::var("AWS_REGION")?))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ))
            .http_client(shared::net::tls::aws_http_client()?)
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    } else {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(shared::net::tls::aws_http_client()?)
            .load()
            .await
    };
    eprintln!("aws config           {:?} {} kB", t.elapsed(), hwm());
    let _dynamo = aws_sdk_dynamodb::Client::new(&aws);
    eprintln!("DynamoDB client      {:?} {} kB", t.elapsed(), hwm());
    Ok(())
}
