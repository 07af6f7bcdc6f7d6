//! One TLS stack (rustls on aws-lc, the crypto provider jsonwebtoken uses too) for every outbound
//! connection, with trust roots compiled in: reading the system's certificate store costs each
//! client builder a directory walk and ~150 PEM parses at every cold start, and both reqwest and
//! the AWS SDK would do it.
//!
//! - Providers (Facebook, Google, X, LinkedIn, Apple, GitHub): Mozilla's roots from
//!   `webpki-roots`, already parsed at compile time.
//! - AWS (DynamoDB, SSM): the five Amazon Trust Services roots, which every AWS endpoint chains
//!   to (Amazon Root CA 1–4 and Starfield Services Root CA G2), parsed from 5 PEMs.
//!
//! Local only: [`EXTRA_TRUST_ROOTS_VAR`] names a PEM file whose certificates both trust stores
//! take in addition, so that the benchmark can put a TLS front with a test CA before DynamoDB
//! Local and the provider emulator and measure the handshakes a cold start pays on AWS. Only the
//! local tools set it; `template.yaml` never does (tests/api/template.rs), so production keeps
//! exactly the compiled-in roots.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The local-only setting: a PEM file of extra roots (see the module documentation).
pub const EXTRA_TRUST_ROOTS_VAR: &str = "LOCAL_EXTRA_TRUST_ROOTS_FILE";

/// The roots AWS service endpoints chain to (<https://www.amazontrust.com/repository/>).
const AMAZON_TRUST_SERVICES_PEM: &[u8] = include_bytes!("amazon-trust-services.pem");

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("AWS HTTP client: {0}")]
    Aws(String),
    #[error("{EXTRA_TRUST_ROOTS_VAR} ({path}): {why}")]
    ExtraRoots { path: String, why: String },
}

/// The PEM named by [`EXTRA_TRUST_ROOTS_VAR`], if set. A file that is set but unreadable or holds
/// no certificate fails the cold start: the setting is only ever a local tool's, and a silent
/// fallback would turn into confusing handshake failures later.
fn extra_roots() -> Result<Option<Vec<u8>>, TlsError> {
    let Some(path) = std::env::var_os(EXTRA_TRUST_ROOTS_VAR).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let failed = |why: String| TlsError::ExtraRoots { path: path.to_string_lossy().into_owned(), why };
    let pem = std::fs::read(&path).map_err(|e| failed(e.to_string()))?;
    certificates(&pem).map_err(failed)?;
    Ok(Some(pem))
}

/// The certificates of a PEM file (at least one).
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

/// rustls client configuration for the providers: aws-lc, TLS 1.2+, Mozilla's roots (plus the
/// local-only extra roots, if set). Only built in a function configured for a provider.
pub fn provider_tls_config() -> Result<rustls::ClientConfig, TlsError> {
    provider_tls_config_with(extra_roots()?.as_deref())
}

fn provider_tls_config_with(extra: Option<&[u8]>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(pem) = extra {
        let path = || std::env::var(EXTRA_TRUST_ROOTS_VAR).unwrap_or_default();
        for cert in certificates(pem).map_err(|why| TlsError::ExtraRoots { path: path(), why })? {
            roots.add(cert)?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The HTTP client of the AWS SDK clients: rustls on aws-lc, trusting only Amazon's roots (plus
/// the local-only extra roots, if set).
pub fn aws_http_client() -> Result<SharedHttpClient, TlsError> {
    aws_http_client_with(extra_roots()?)
}

fn aws_http_client_with(extra: Option<Vec<u8>>) -> Result<SharedHttpClient, TlsError> {
    let mut trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES_PEM);
    if let Some(pem) = extra {
        trust.add_pem_certificate(pem);
    }
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

    #[test]
    fn the_provider_configuration_builds_with_mozillas_roots() {
        provider_tls_config().expect("provider TLS");
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
    }

    /// `.cargo/config.toml` sets it for every build of this workspace, so aws-lc-sys, built in
    /// the same cargo run as this crate, seeds from the OS only (docs/bench.md, "aws-lc jitter
    /// entropy": 35-60 ms of every cold start at full CPU).
    #[test]
    fn aws_lc_is_built_without_its_cpu_jitter_entropy() {
        assert_eq!(option_env!("AWS_LC_SYS_NO_JITTER_ENTROPY"), Some("1"));
    }

    #[test]
    fn extra_roots_are_added_to_both_stores() {
        // Any PEM of roots will do here; tools/local/src/tls_front.rs's tests handshake through
        // a test CA's certificate.
        assert_eq!(certificates(AMAZON_TRUST_SERVICES_PEM).expect("PEM").len(), 5);
        provider_tls_config_with(Some(AMAZON_TRUST_SERVICES_PEM)).expect("provider TLS");
        aws_http_client_with(Some(AMAZON_TRUST_SERVICES_PEM.to_vec())).expect("AWS client");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        assert!(certificates(b"not a PEM").is_err());
        assert!(
            provider_tls_config_with(Some(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")).is_err()
        );
    }
}
