//! One TLS stack (rustls on aws-lc, the crypto provider jsonwebtoken uses too) for every outbound
//! connection, with trust roots compiled in: reading the system's certificate store costs each
//! client builder a directory walk and ~150 PEM parses at every cold start, and both reqwest and
//! the AWS SDK would do it.
//!
//! - Providers (Facebook, Google, X, LinkedIn, Apple, GitHub): Mozilla's roots from
//!   `webpki-roots`, already parsed at compile time.
//! - AWS (DynamoDB, SSM): the five Amazon Trust Services roots, which every AWS endpoint chains
//!   to (Amazon Root CA 1–4 and Starfield Services Root CA G2), parsed from 5 PEMs.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

/// The roots AWS service endpoints chain to (<https://www.amazontrust.com/repository/>).
const AMAZON_TRUST_SERVICES_PEM: &[u8] = include_bytes!("amazon-trust-services.pem");

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("AWS HTTP client: {0}")]
    Aws(String),
}

/// rustls client configuration for the providers: aws-lc, TLS 1.2+, Mozilla's roots. Only in
/// builds that link a provider (the `http` feature).
#[cfg(feature = "http")]
pub fn provider_tls_config() -> Result<rustls::ClientConfig, TlsError> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    Ok(rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The HTTP client of the AWS SDK clients: rustls on aws-lc, trusting only Amazon's roots.
pub fn aws_http_client() -> Result<SharedHttpClient, TlsError> {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES_PEM);
    let context = TlsContext::builder().with_trust_store(trust).build().map_err(|e| TlsError::Aws(e.to_string()))?;
    Ok(Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc)).tls_context(context).build_https())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_configuration_builds_with_amazons_roots() {
        aws_http_client().expect("AWS client");
        let pems = String::from_utf8_lossy(AMAZON_TRUST_SERVICES_PEM).matches("BEGIN CERTIFICATE").count();
        assert_eq!(pems, 5);
    }

    #[cfg(feature = "http")]
    #[test]
    fn the_provider_configuration_builds_with_mozillas_roots() {
        provider_tls_config().expect("provider TLS");
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
    }
}
