//! A TLS front for a plain-HTTP local service (DynamoDB Local, the provider emulator): it accepts
//! TLS on `127.0.0.1:0` with a certificate for `localhost` signed by a test CA made at run time,
//! and forwards the decrypted bytes to the plain upstream. The benchmark uses it so that a cold
//! start pays the TLS handshakes it pays on AWS; the functions trust the CA through the local-only
//! `LOCAL_EXTRA_TRUST_ROOTS_FILE` (`shared::net::tls`), the Node peer through `NODE_EXTRA_CA_CERTS`.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsFrontError {
    #[error("test certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("upstream {0:?} is not http://HOST:PORT")]
    Upstream(String),
    #[error("TLS front: {0}")]
    Io(#[from] std::io::Error),
}

/// A certificate authority made at run time, trusted only by whoever is handed its PEM.
pub struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> Result<TestCa, TlsFrontError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, "social-login local test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(TestCa { pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate, PEM: the file `LOCAL_EXTRA_TRUST_ROOTS_FILE` / `NODE_EXTRA_CA_CERTS`
    /// name.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate, DER (for a rustls root store).
    pub fn der(&self) -> Result<CertificateDer<'static>, TlsFrontError> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(self.pem.as_bytes())
            .map_err(|e| TlsFrontError::Tls(rustls::Error::General(e.to_string())))
    }

    /// A server configuration for `localhost` and `127.0.0.1`, signed by this CA. No ALPN: the
    /// clients fall back to HTTP/1.1, which is what the upstreams speak.
    fn server_config(&self) -> Result<rustls::ServerConfig, TlsFrontError> {
        let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)?)
    }
}

/// A running front: TLS on loopback, plain bytes to the upstream. Stops when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Starts a front for `upstream` (`http://127.0.0.1:PORT`) on a free loopback port.
    pub async fn start(ca: &TestCa, upstream: &str) -> Result<TlsFront, TlsFrontError> {
        let upstream_addr = upstream
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .and_then(|hostport| hostport.replace("localhost", "127.0.0.1").parse::<SocketAddr>().ok())
            .ok_or_else(|| TlsFrontError::Upstream(upstream.to_string()))?;
        let acceptor = TlsAcceptor::from(Arc::new(ca.server_config()?));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A failed handshake or a closed upstream ends only this connection: the
                    // client sees its own error, which is what the tests and the bench look at.
                    let _ = client.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    let Ok(mut plain) = TcpStream::connect(upstream_addr).await else { return };
                    let _ = plain.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(TlsFront { addr, task })
    }

    /// `https://localhost:PORT`: the name the certificate is for.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::TlsConnector;

    use super::*;

    /// A plain upstream answering one fixed line to every connection.
    async fn upstream() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(b"pong").await;
                });
            }
        });
        format!("http://{addr}")
    }

    fn trusting(roots: rustls::RootCertStore) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    async fn ask(front: &TlsFront, config: rustls::ClientConfig) -> std::io::Result<String> {
        let tcp = TcpStream::connect(front.addr()).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
        tls.write_all(b"ping").await?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn a_client_trusting_the_test_ca_gets_through() {
        let ca = TestCa::new().expect("CA");
        let front = TlsFront::start(&ca, &upstream().await).await.expect("front");
        assert!(front.url().starts_with("https://localhost:"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().expect("DER")).expect("root");
        assert_eq!(ask(&front, trusting(roots)).await.expect("through the front"), "pong");
    }

    #[tokio::test]
    async fn a_client_not_trusting_it_fails() {
        let ca = TestCa::new().expect("CA");
        let front = TlsFront::start(&ca, &upstream().await).await.expect("front");
        // The functions' own provider configuration, as it ships (the extra roots unset).
        let production = shared::net::tls::provider_tls_config().expect("provider TLS");
        assert!(ask(&front, production).await.is_err());
        // Nor does another test CA's trust do.
        let mut other = rustls::RootCertStore::empty();
        other.add(TestCa::new().expect("CA").der().expect("DER")).expect("root");
        assert!(ask(&front, trusting(other)).await.is_err());
    }

    /// An X login through the front: the verifier signs the `https://` URL it calls, which the
    /// emulator's listener for a TLS front takes, and its plain listener refuses, as X refuses
    /// a signature over another URL.
    #[tokio::test]
    async fn an_oauth1_signature_over_the_https_url_is_taken_behind_the_front_only() {
        use crate::demo::{Apps, TWITTER_CONSUMER_KEY};
        use shared::config::TwitterConfig;
        use shared::domain::secret::Secret;
        use shared::providers::{Credentials, ProviderError, TwitterVerifier};

        let apps = Apps::random();
        let emulator = emulator::Emulator::new(apps.emulator_config());
        let user = emulator.create_twitter_user("Front User", "front_user", None);
        let ca = TestCa::new().expect("CA");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().expect("DER")).expect("root");
        let http = shared::providers::http_client(std::time::Duration::from_secs(5), trusting(roots)).expect("client");
        let behind = TlsFront::start(&ca, &emulator.spawn_behind_tls(0).await.expect("emulator")).await.expect("front");
        let plain = TlsFront::start(&ca, &emulator.spawn(0).await.expect("emulator")).await.expect("front");
        for (front, taken) in [(&behind, true), (&plain, false)] {
            let (token, secret) = emulator.issue_twitter_token(&user, TWITTER_CONSUMER_KEY);
            let config = TwitterConfig {
                consumer_key: TWITTER_CONSUMER_KEY.into(),
                consumer_secret: Secret::new(apps.twitter_secret.clone()),
                accept_oauth2_bearer: false,
                api_url: format!("{}/twitter", front.url()),
            };
            let creds = Credentials {
                access_token: Some(Secret::new(token)),
                token_secret: Some(Secret::new(secret)),
                ..Credentials::default()
            };
            let verified = TwitterVerifier::new(&config, http.clone()).verify(&creds).await;
            match verified {
                Ok(identity) => assert!(taken && identity.subject == user),
                Err(e) => assert!(!taken && matches!(e, ProviderError::Rejected(_)), "{e:?}"),
            }
        }
    }

    #[test]
    fn upstreams_must_be_plain_http_addresses() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let ca = TestCa::new().expect("CA");
        assert!(matches!(rt.block_on(TlsFront::start(&ca, "https://example.com")), Err(TlsFrontError::Upstream(_))));
    }
}
