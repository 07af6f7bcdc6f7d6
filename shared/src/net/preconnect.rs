//! What init opens ahead of the first request: the connections (TCP and TLS) that every request
//! of the function is certain to use. DynamoDB's, which every function reads on every request;
//! and, in a function configured for a single provider, that provider's
//! ([`Providers::certain_call`]). Init runs at full CPU, the first invoke at the function's CPU
//! share (about 7% of a core at 128 MB), so a handshake costs less here; the two are opened side
//! by side. Measured in docs/bench.md ("Init vs. the first request").
//!
//! Only over TLS: a plain-HTTP endpoint (DynamoDB Local, the emulator) has no handshake to move,
//! and the request would only add a round trip to init. Nothing here fails init: whatever
//! happens is logged, and the first request connects as before.

use std::time::Instant;

use aws_sdk_dynamodb::config::retry::{ReconnectMode, RetryConfig};

use crate::providers::Providers;

/// Opens, side by side, DynamoDB's connection and the provider's its requests are certain to
/// need, each only over TLS.
pub async fn open_connections(
    dynamo: &aws_sdk_dynamodb::Client,
    dynamodb_endpoint: Option<&str>,
    providers: &Providers,
) {
    let dynamodb = async {
        if has_a_handshake_to_move(dynamodb_endpoint) {
            self::dynamodb(dynamo).await;
        }
    };
    tokio::join!(dynamodb, provider(providers));
}

/// Whether opening a connection in init moves a TLS handshake out of the first invoke: with
/// DynamoDB's own endpoint (no override: the SDK's is always `https://`) or an `https://` URL,
/// yes; with a plain-HTTP one (DynamoDB Local, the emulator), there is nothing to move.
fn has_a_handshake_to_move(endpoint_override: Option<&str>) -> bool {
    endpoint_override.is_none_or(|e| e.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")))
}

/// Opens the DynamoDB client's pooled connection (TCP and TLS) with a `GET /` to the endpoint,
/// whose answer is discarded. The SDK has no "connect" call and smithy's hyper client pools
/// connections only through requests, so the cheapest real request is sent through the client's
/// own connector (same timeouts, hence the same pool): `GET /` is DynamoDB's health check
/// ("healthy: dynamodb.REGION.amazonaws.com"), not an API operation, so it reads no table,
/// costs no request units and needs no IAM action, unlike a discarded `GetItem` or
/// `ListTables`. It is sent as a `ListTables` whose method, target and body are replaced before
/// signing; the SDK then fails to parse the answer, which is expected.
async fn dynamodb(dynamo: &aws_sdk_dynamodb::Client) {
    let started = Instant::now();
    let answer = dynamo
        .list_tables()
        .customize()
        // One attempt: a retry would only lengthen init; the first request retries anyway. And
        // the connection stays in the pool whatever the answer: by default the SDK closes one
        // after an answer it takes for a transient error, such as DynamoDB Local's 500 to `GET /`.
        .config_override(
            aws_sdk_dynamodb::config::Builder::default()
                .retry_config(RetryConfig::disabled().with_reconnect_mode(ReconnectMode::ReuseAllConnections)),
        )
        .mutate_request(|req| {
            let _ = req.set_method("GET");
            req.headers_mut().remove("x-amz-target");
            req.headers_mut().remove("content-type");
            req.headers_mut().remove("content-length");
            req.take_body();
        })
        .send()
        .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match answer {
        Err(aws_sdk_dynamodb::error::SdkError::DispatchFailure(e)) => {
            tracing::warn!(ms, error = ?e, "DynamoDB preconnect failed; the first request connects")
        }
        Err(aws_sdk_dynamodb::error::SdkError::TimeoutError(_)) => {
            tracing::warn!(ms, "DynamoDB preconnect timed out; the first request connects")
        }
        // Any answer at all means the connection is open and back in the pool.
        _ => tracing::debug!(ms, "DynamoDB connection opened in init"),
    }
}

/// The provider's connection, when its requests are certain to need one and it is over TLS.
async fn provider(providers: &Providers) {
    if let Some((http, url)) = providers.certain_call().filter(|(_, url)| has_a_handshake_to_move(Some(url))) {
        open_provider(http, url).await;
    }
}

/// How long init waits for a provider's connection: about what its handshake takes on AWS,
/// with room; past that the first request connects, as without it.
const PROVIDER_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Opens `http`'s pooled connection to `url`'s origin with a `HEAD /` whose answer is dropped:
/// reqwest has no "connect" call and pools connections through requests. `HEAD` has no body to
/// read, so the connection is back in the pool as soon as the answer's head is; `/` carries no
/// token, and the answer (often a 4xx) does not matter. Only the host is logged.
async fn open_provider(http: &reqwest::Client, url: &str) {
    let Ok(mut origin) = reqwest::Url::parse(url) else { return };
    origin.set_path("/");
    origin.set_query(None);
    let host = origin.host_str().unwrap_or_default().to_owned();
    let started = Instant::now();
    let answer = http.head(origin).timeout(PROVIDER_WAIT).send().await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match answer {
        Ok(_) => tracing::debug!(ms, host, "provider connection opened in init"),
        Err(e) => {
            tracing::warn!(ms, host, error = %e.without_url(), "provider preconnect failed; the first request connects")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_opened_in_init_only_over_tls() {
        assert!(has_a_handshake_to_move(None), "DynamoDB's own endpoint is https");
        assert!(has_a_handshake_to_move(Some("https://localhost:8443")));
        assert!(has_a_handshake_to_move(Some("HTTPS://dynamodb.eu-west-1.amazonaws.com")));
        assert!(has_a_handshake_to_move(Some("https://graph.facebook.com/v22.0/me")));
        assert!(!has_a_handshake_to_move(Some("http://127.0.0.1:8000")), "DynamoDB Local: nothing to move");
        assert!(!has_a_handshake_to_move(Some("http")));
    }

    /// The first line of each request a [`counting_server`] received, with the number of the
    /// connection it came on (1 for the first).
    type Heads = tokio::sync::mpsc::UnboundedReceiver<(usize, String)>;

    /// A loopback HTTP/1.1 server that answers each request (one per read: these are small) with
    /// `answer(its first line)`; returns its address and the heads it receives.
    async fn counting_server(answer: fn(&str) -> &'static [u8]) -> (std::net::SocketAddr, Heads) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (heads_tx, heads) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut connections = 0;
            while let Ok((mut socket, _)) = listener.accept().await {
                connections += 1;
                let heads_tx = heads_tx.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let head = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned();
                        let answer = answer(&head);
                        let _ = heads_tx.send((connections, head));
                        if socket.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, heads)
    }

    /// DynamoDB's connection opened in init stays open whatever `GET /` answers. DynamoDB answers
    /// it 200 ("healthy: ..."), DynamoDB Local 500: the SDK closes a connection after an answer
    /// it takes for a transient error, unless told to reuse it.
    #[tokio::test]
    async fn the_first_dynamodb_request_reuses_the_connection_opened_in_init() {
        let (addr, mut heads) = counting_server(|head| {
            // What DynamoDB Local answers a signed `GET /`.
            if head.starts_with("GET ") {
                b"HTTP/1.1 500 Server Error\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}"
            }
        })
        .await;
        let dynamo = crate::usecases::app::local_dynamodb_client(&format!("http://{addr}"));
        dynamodb(&dynamo).await;
        let item = dynamo
            .get_item()
            .table_name("users")
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
            .send()
            .await
            .expect("first request");
        assert!(item.item.is_none());
        assert_eq!(heads.recv().await, Some((1, "GET / HTTP/1.1".to_owned())));
        assert_eq!(
            heads.recv().await,
            Some((1, "POST / HTTP/1.1".to_owned())),
            "the first request on the same connection"
        );
    }

    /// The connection opened in init is the one the first request uses: the server sees one
    /// connection for both, and the first request's path and query are not sent in init.
    #[tokio::test]
    async fn the_first_request_reuses_the_connection_opened_in_init() {
        let (addr, mut heads) = counting_server(|head| {
            // A HEAD answer has the head only (its content-length is the GET's).
            if head.starts_with("HEAD ") {
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
            }
        })
        .await;
        let url = format!("http://{addr}/v22.0/me?access_token=secret");
        let http = reqwest::Client::new();
        open_provider(&http, &url).await;
        let answer = http.get(&url).send().await.expect("first request");
        assert_eq!(answer.text().await.expect("body"), "{}");
        assert_eq!(heads.recv().await, Some((1, "HEAD / HTTP/1.1".to_owned())));
        assert_eq!(heads.recv().await, Some((1, "GET /v22.0/me?access_token=secret HTTP/1.1".to_owned())));
    }
}
