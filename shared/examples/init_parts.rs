//! Where a cold start's init time goes: each client builder timed in turn (run it under
//! `strace -f -e openat` to see that no certificate store is read).
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let _http = shared::providers::http_client(std::time::Duration::from_secs(1), shared::tls::provider_tls_config()?)?;
    eprintln!("reqwest client       {:?}", t.elapsed());
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::tls::aws_http_client()?)
        .load()
        .await;
    eprintln!("aws-config load      {:?}", t.elapsed());
    let _dynamo = aws_sdk_dynamodb::Client::new(&aws);
    eprintln!("DynamoDB client      {:?}", t.elapsed());
    Ok(())
}
