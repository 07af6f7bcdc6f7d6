//! Custom OpenID Connect providers and Microsoft at the verifier (issue 31): every refusal of a
//! custom issuer's ID token, Microsoft's tenant rules and the nOAuth attempt, against the
//! emulator's issuers over HTTP (in process). The user-level tests through the gateway come
//! with the dialects' routes.

use std::sync::Arc;
use std::time::Duration;

use emulator::{
    Emulator, EmulatorConfig, Fault, FaultOn, OidcIssuerInfo, OidcIssuerOptions, SigningAlg, SigningMode,
    MICROSOFT_CONSUMER_TENANT,
};
use serde_json::{json, Value};
use shared::config::{CustomOidcConfig, MicrosoftConfig, UrlPolicy};
use shared::domain::tokens::sha256_hex;
use shared::providers::discovery::KeySets;
use shared::providers::jwks::JwksSettings;
use shared::providers::{Credentials, CustomOidcVerifier, MicrosoftVerifier, ProviderError};
use shared::{Provider, Secret, VerifiedIdentity};

const CLIENT_ID: &str = "social-login-app";
const OTHER_CLIENT_ID: &str = "another-app";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
const RAW_NONCE: &str = "raw-nonce-of-this-attempt";
const LOCAL: UrlPolicy = UrlPolicy { allow_loopback_http: true };

struct Idp {
    emulator: Emulator,
    http: reqwest::Client,
    sets: Arc<KeySets>,
}

async fn start() -> Idp {
    let emulator = Emulator::new(EmulatorConfig::default());
    emulator.spawn(0).await.expect("emulator binds a loopback port");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    Idp { emulator, http, sets: Arc::default() }
}

fn settings(max_stale: Duration) -> JwksSettings {
    JwksSettings { min_refetch: Duration::from_secs(1), max_stale }
}

fn config(info: &OidcIssuerInfo) -> CustomOidcConfig {
    CustomOidcConfig::new(&info.name, &info.issuer, vec![CLIENT_ID.into(), "web-app".into()], LOCAL).expect("valid")
}

fn id_token(token: &str) -> Credentials {
    Credentials { id_token: Some(Secret::new(token)), nonce: Some(Secret::new(RAW_NONCE)), ..Credentials::default() }
}

fn rejected(result: Result<VerifiedIdentity, ProviderError>, why: &str) {
    match result {
        Err(ProviderError::Rejected(reason)) => assert!(reason.contains(why), "{reason:?} is not about {why:?}"),
        other => panic!("expected a refusal ({why}), got {other:?}"),
    }
}

fn unavailable(result: Result<VerifiedIdentity, ProviderError>) {
    assert!(matches!(result, Err(ProviderError::Unavailable(_))), "expected 502, got {result:?}");
}

impl Idp {
    fn verifier(&self, config: &CustomOidcConfig, max_stale: Duration) -> CustomOidcVerifier {
        CustomOidcVerifier::new(config, self.http.clone(), settings(max_stale), LOCAL, self.sets.clone())
    }

    fn issuer(&self, name: &str, alg: SigningAlg) -> OidcIssuerInfo {
        self.emulator.create_oidc_issuer(name, OidcIssuerOptions { alg, ..Default::default() })
    }

    /// A valid token of `name` for our app with the nonce of [`RAW_NONCE`], `claims` merged over.
    fn token(&self, name: &str, claims: Value) -> String {
        let mut all = json!({ "sub": "user-1", "nonce": sha256_hex(RAW_NONCE), "name": "Ada Lovelace",
                              "email": "ada@corp.example", "email_verified": true });
        if let (Value::Object(all), Value::Object(extra)) = (&mut all, claims) {
            all.extend(extra);
        }
        self.emulator.issue_custom_id_token(name, CLIENT_ID, all)
    }

    fn microsoft(&self, tenant: &str, max_stale: Duration) -> MicrosoftVerifier {
        let authority =
            self.emulator.microsoft_discovery_url("x").replace("/x/v2.0/.well-known/openid-configuration", "");
        let config = MicrosoftConfig::new(tenant, vec![CLIENT_ID.into()], &authority, LOCAL).expect("valid");
        MicrosoftVerifier::new(&config, self.http.clone(), settings(max_stale), LOCAL, self.sets.clone())
    }
}

#[tokio::test]
async fn custom_id_tokens_verify_for_every_algorithm_and_give_the_mapped_profile() {
    let idp = start().await;
    for alg in SigningAlg::ALL {
        let info = idp.issuer(&format!("idp-{}", alg.name().to_ascii_lowercase()), alg);
        let config = config(&info).with_algorithms(&[alg.name()]).expect("asymmetric");
        let verifier = idp.verifier(&config, Duration::from_secs(60));
        let identity = verifier.verify(&id_token(&idp.token(&info.name, json!({})))).await.expect("valid");
        assert_eq!(identity.provider, Provider::Oidc(config.name), "{alg}");
        assert_eq!(identity.provider.as_str(), format!("oidc-{}", info.name));
        assert_eq!(identity.subject, "user-1");
        assert_eq!(identity.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(identity.email.as_deref(), Some("ada@corp.example"));
        assert!(!identity.email_verified, "{alg}: email is not trusted unless configured");
        assert_eq!(identity.authoritative_email(), None);
    }

    // The claim map and trust_email.
    let info = idp.issuer("mapped", SigningAlg::RS256);
    let config = config(&info).with_claims("display", "mail", "photo").expect("valid").with_trust_email(true);
    let verifier = idp.verifier(&config, Duration::from_secs(60));
    let token = idp.token(
        "mapped",
        json!({ "display": "Grace", "mail": "Grace@Corp.example", "photo": "https://cdn.example/g.png" }),
    );
    let identity = verifier.verify(&id_token(&token)).await.expect("valid");
    assert_eq!(
        (identity.name.as_deref(), identity.email.as_deref(), identity.avatar_url.as_deref()),
        (Some("Grace"), Some("Grace@Corp.example"), Some("https://cdn.example/g.png"))
    );
    assert!(identity.email_verified, "trusted and verified");
    assert_eq!(identity.authoritative_email().as_deref(), Some("grace@corp.example"));
    let unverified = idp.token("mapped", json!({ "mail": "g@corp.example", "email_verified": false }));
    assert!(!verifier.verify(&id_token(&unverified)).await.expect("valid").email_verified);
}

#[tokio::test]
async fn custom_tokens_of_another_issuer_audience_or_party_are_refused() {
    let idp = start().await;
    let info = idp.issuer("corp", SigningAlg::RS256);
    let other = idp.issuer("elsewhere", SigningAlg::RS256);
    let verifier = idp.verifier(&config(&info), Duration::from_secs(60));
    let v = &verifier;
    let verify = |t: String| async move { v.verify(&id_token(&t)).await };

    rejected(verify(idp.token("corp", json!({ "iss": other.issuer }))).await, "wrong issuer");
    rejected(verify(idp.token("corp", json!({ "iss": format!("{}/", info.issuer) }))).await, "wrong issuer");
    rejected(verify(idp.emulator.issue_custom_id_token("corp", OTHER_CLIENT_ID, json!({}))).await, "wrong audience");
    rejected(verify(idp.token("corp", json!({ "aud": [CLIENT_ID, OTHER_CLIENT_ID] }))).await, "several audiences");
    rejected(
        verify(idp.token("corp", json!({ "aud": [CLIENT_ID, OTHER_CLIENT_ID], "azp": OTHER_CLIENT_ID }))).await,
        "authorized party",
    );
    rejected(verify(idp.token("corp", json!({ "azp": OTHER_CLIENT_ID }))).await, "authorized party");
    let ok = verify(idp.token("corp", json!({ "aud": [CLIENT_ID, OTHER_CLIENT_ID], "azp": "web-app" }))).await;
    assert!(ok.is_ok(), "several audiences with our azp: {ok:?}");
    // A token of the other issuer signed with its own key: its key is not in our issuer's JWKS.
    let foreign = idp.emulator.issue_custom_id_token("elsewhere", CLIENT_ID, json!({ "nonce": sha256_hex(RAW_NONCE) }));
    rejected(verify(foreign).await, "unknown signing key id");
    rejected(verify(idp.token("corp", json!({ "sub": "" }))).await, "");
}

#[tokio::test]
async fn custom_tokens_with_another_algorithm_a_forged_signature_or_an_unknown_key_are_refused() {
    let idp = start().await;
    let info = idp.issuer("rsa", SigningAlg::RS256);
    let claims = || {
        let now = i64::try_from(jsonwebtoken_now()).expect("now");
        json!({ "iss": info.issuer, "aud": CLIENT_ID, "sub": "user-1", "iat": now, "exp": now + 600,
                "nonce": sha256_hex(RAW_NONCE) })
    };
    let verifier = idp.verifier(&config(&info), Duration::from_secs(60));
    let signed = |mode| idp.emulator.sign_custom_id_token("rsa", claims(), mode);
    assert!(verifier.verify(&id_token(&signed(SigningMode::Current))).await.is_ok());
    rejected(verifier.verify(&id_token(&signed(SigningMode::NoneAlg))).await, "");
    rejected(verifier.verify(&id_token(&signed(SigningMode::Hs256WithPublicKey))).await, "algorithm not allowed");
    rejected(verifier.verify(&id_token(&signed(SigningMode::OtherAlg))).await, "algorithm not allowed");
    rejected(verifier.verify(&id_token(&signed(SigningMode::BadSignature))).await, "bad signature");
    rejected(verifier.verify(&id_token(&signed(SigningMode::UnknownKid))).await, "unknown signing key id");

    // RS512 configured too: the JWKS says the key is for RS256, so an RS512 signature with it is
    // still refused (the key's alg pins it).
    let both = idp.verifier(&config(&info).with_algorithms(&["RS256", "RS512"]).expect("valid"), Duration::ZERO);
    rejected(both.verify(&id_token(&signed(SigningMode::OtherAlg))).await, "not for this algorithm");

    // An ES256 issuer whose kid is presented with an RS256 token: the key type does not match.
    let ec = idp.issuer("ec", SigningAlg::ES256);
    let verifier = idp.verifier(&config(&ec).with_algorithms(&["ES256", "RS256"]).expect("valid"), Duration::ZERO);
    let now = i64::try_from(jsonwebtoken_now()).expect("now");
    let token = idp.emulator.sign_custom_id_token(
        "ec",
        json!({ "iss": ec.issuer, "aud": CLIENT_ID, "sub": "u", "iat": now, "exp": now + 600,
                "nonce": sha256_hex(RAW_NONCE) }),
        SigningMode::OtherAlg,
    );
    rejected(verifier.verify(&id_token(&token)).await, "not for this algorithm");
}

fn jsonwebtoken_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

#[tokio::test]
async fn custom_tokens_expired_without_the_nonce_or_that_are_access_tokens_are_refused() {
    let idp = start().await;
    let info = idp.issuer("times", SigningAlg::RS256);
    let verifier = idp.verifier(&config(&info), Duration::from_secs(60));
    let now = i64::try_from(jsonwebtoken_now()).expect("now");
    let v = &verifier;
    let verify = |c: Credentials| async move { v.verify(&c).await };

    rejected(verify(id_token(&idp.token("times", json!({ "exp": now - 3600 })))).await, "expired");
    rejected(verify(id_token(&idp.token("times", json!({ "nbf": now + 3600 })))).await, "not yet valid");
    rejected(verify(id_token(&idp.token("times", json!({ "iat": now + 3600 })))).await, "issued in the future");
    rejected(verify(id_token(&idp.token("times", json!({ "exp": null })))).await, "missing claim");

    let token = idp.token("times", json!({}));
    let without_raw = Credentials { id_token: Some(Secret::new(&token)), ..Credentials::default() };
    rejected(verify(without_raw).await, "nonce missing");
    let other_raw = Credentials {
        id_token: Some(Secret::new(&token)),
        nonce: Some(Secret::new("another")),
        ..Credentials::default()
    };
    rejected(verify(other_raw).await, "nonce mismatch");
    rejected(verify(id_token(&idp.token("times", json!({ "nonce": null })))).await, "nonce claim missing");
    rejected(verify(id_token(&idp.token("times", json!({ "nonce": RAW_NONCE })))).await, "nonce mismatch");

    let opaque = Credentials { access_token: Some(Secret::new("ya29.opaque-token")), ..Credentials::default() };
    rejected(verify(opaque).await, "ID tokens only");
    rejected(verify(id_token(&idp.token("times", json!({ "scp": "User.Read" })))).await, "access token");
    assert!(matches!(verify(Credentials::default()).await, Err(ProviderError::MissingCredential("id_token"))));
    // A JWT sent as the access token (Syncano's single token) is read as the ID token it is.
    let as_access = Credentials {
        access_token: Some(Secret::new(idp.token("times", json!({})))),
        nonce: Some(Secret::new(RAW_NONCE)),
        ..Credentials::default()
    };
    assert!(verify(as_access).await.is_ok());
}

#[tokio::test]
async fn discovery_and_jwks_outages_are_unavailable_once_stale_for_too_long() {
    let idp = start().await;
    idp.emulator.set_jwks_max_age(0);
    let info = idp.issuer("flaky", SigningAlg::RS256);
    let strict = idp.verifier(&config(&info), Duration::ZERO);
    let tolerant = CustomOidcVerifier::new(
        &config(&info),
        idp.http.clone(),
        settings(Duration::from_secs(3600)),
        LOCAL,
        Arc::new(KeySets::default()),
    );

    // Down before anything was fetched: 502, never a verdict on the token.
    idp.emulator.set_oidc_issuer_fault("flaky", Fault::Status500, FaultOn::Discovery);
    unavailable(strict.verify(&id_token(&idp.token("flaky", json!({})))).await);
    idp.emulator.set_oidc_issuer_fault("flaky", Fault::None, FaultOn::All);
    assert!(strict.verify(&id_token(&idp.token("flaky", json!({})))).await.is_ok());
    assert!(tolerant.verify(&id_token(&idp.token("flaky", json!({})))).await.is_ok());

    // The JWKS goes down (its cache time is 0 s): the tolerant verifier bridges the outage with
    // its stale keys, the one allowed no staleness answers 502.
    idp.emulator.set_oidc_issuer_fault("flaky", Fault::Status500, FaultOn::Jwks);
    unavailable(strict.verify(&id_token(&idp.token("flaky", json!({})))).await);
    assert!(tolerant.verify(&id_token(&idp.token("flaky", json!({})))).await.is_ok(), "within JWKS_MAX_STALE");

    // The discovery document goes down: the same rule.
    idp.emulator.set_oidc_issuer_fault("flaky", Fault::Status500, FaultOn::Discovery);
    unavailable(strict.verify(&id_token(&idp.token("flaky", json!({})))).await);
    assert!(tolerant.verify(&id_token(&idp.token("flaky", json!({})))).await.is_ok(), "within JWKS_MAX_STALE");

    // An explicit JWKS URL needs no discovery.
    let direct = idp.verifier(&config(&info).with_jwks_url(&info.jwks_uri, LOCAL).expect("valid"), Duration::ZERO);
    idp.emulator.set_oidc_issuer_fault("flaky", Fault::None, FaultOn::All);
    idp.emulator.set_oidc_issuer_fault("flaky", Fault::Status500, FaultOn::Discovery);
    assert!(direct.verify(&id_token(&idp.token("flaky", json!({})))).await.is_ok());
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_not_trusted_and_key_sets_are_shared() {
    let idp = start().await;
    let mut discovery = serde_json::Map::new();
    discovery.insert("issuer".into(), json!("https://attacker.example"));
    let info = idp.emulator.create_oidc_issuer("liar", OidcIssuerOptions { discovery, ..Default::default() });
    let verifier = idp.verifier(&config(&info), Duration::from_secs(60));
    let result = verifier.verify(&id_token(&idp.token("liar", json!({})))).await;
    assert!(matches!(result, Err(ProviderError::BadResponse(_))), "{result:?}");

    // Two verifiers of one issuer (two instances' configurations) share its key set.
    let info = idp.issuer("shared", SigningAlg::RS256);
    let a = idp.verifier(&config(&info), Duration::from_secs(60));
    let b = idp.verifier(&config(&info), Duration::from_secs(60));
    assert!(a.verify(&id_token(&idp.token("shared", json!({})))).await.is_ok());
    assert!(b.verify(&id_token(&idp.token("shared", json!({})))).await.is_ok());
    assert_eq!(idp.emulator.oidc_issuer_fetches("shared").1, 1, "one JWKS fetch for both");
}

#[tokio::test]
async fn microsoft_tenant_rules() {
    let idp = start().await;
    let work = idp.emulator.create_microsoft_user(Some(TENANT), "Ada", "ada@corp.example", None);
    let guest = idp.emulator.create_microsoft_user(Some(OTHER_TENANT), "Eve", "eve@other.example", None);
    let personal = idp.emulator.create_microsoft_user(None, "Bob", "bob@outlook.com", None);
    let nonce = sha256_hex(RAW_NONCE);
    let token = |user: &emulator::MicrosoftUser, claims: Value| {
        idp.emulator.issue_microsoft_id_token(&user.oid, CLIENT_ID, Some(&nonce), claims)
    };
    let stale = Duration::from_secs(60);

    let common = idp.microsoft("common", stale);
    let ada = common.verify(&id_token(&token(&work, Value::Null))).await.expect("common: a work account");
    assert_eq!(ada.provider, Provider::Microsoft);
    assert_eq!(ada.subject, format!("{TENANT}:{}", work.oid), "tid:oid, not the pairwise sub");
    assert!(common.verify(&id_token(&token(&personal, Value::Null))).await.is_ok(), "common: personal");
    // The iss of another tenant than the token's tid.
    let forged_iss = token(&work, json!({ "iss": idp.emulator.microsoft_issuer(OTHER_TENANT) }));
    rejected(common.verify(&id_token(&forged_iss)).await, "wrong issuer");
    let forged_tid = token(&work, json!({ "tid": OTHER_TENANT }));
    rejected(common.verify(&id_token(&forged_tid)).await, "wrong issuer");
    rejected(common.verify(&id_token(&token(&work, json!({ "tid": null })))).await, "no tid");
    rejected(common.verify(&id_token(&token(&work, json!({ "oid": null })))).await, "no oid");
    let other_app = idp.emulator.issue_microsoft_id_token(&work.oid, OTHER_CLIENT_ID, Some(&nonce), Value::Null);
    rejected(common.verify(&id_token(&other_app)).await, "wrong audience");

    let single = idp.microsoft(TENANT, stale);
    assert!(single.verify(&id_token(&token(&work, Value::Null))).await.is_ok(), "its own tenant");
    rejected(single.verify(&id_token(&token(&guest, Value::Null))).await, "");
    rejected(single.verify(&id_token(&token(&personal, Value::Null))).await, "");

    let organizations = idp.microsoft("organizations", stale);
    assert!(organizations.verify(&id_token(&token(&guest, Value::Null))).await.is_ok());
    rejected(organizations.verify(&id_token(&token(&personal, Value::Null))).await, "tenant not allowed");

    let consumers = idp.microsoft("consumers", stale);
    let bob = consumers.verify(&id_token(&token(&personal, Value::Null))).await.expect("consumers: personal");
    assert_eq!(bob.subject, format!("{MICROSOFT_CONSUMER_TENANT}:{}", personal.oid));
    rejected(consumers.verify(&id_token(&token(&work, Value::Null))).await, "");

    // Discovery down with nothing cached (a new environment: the documents are shared per URL
    // within one, through its KeySets): 502.
    idp.emulator.set_oidc_issuer_fault(emulator::MICROSOFT, Fault::Status500, FaultOn::Discovery);
    let authority = idp.emulator.microsoft_discovery_url("x").replace("/x/v2.0/.well-known/openid-configuration", "");
    let config = MicrosoftConfig::new("common", vec![CLIENT_ID.into()], &authority, LOCAL).expect("valid");
    let fresh = MicrosoftVerifier::new(&config, idp.http.clone(), settings(Duration::ZERO), LOCAL, Arc::default());
    unavailable(fresh.verify(&id_token(&token(&work, Value::Null))).await);
}

#[tokio::test]
async fn noauth_a_microsoft_token_with_someone_elses_email_never_vouches_for_it() {
    let idp = start().await;
    let attacker =
        idp.emulator.create_microsoft_user(Some(TENANT), "Mallory", "mallory@evil.example", Some("victim@gmail.com"));
    let token = idp.emulator.issue_microsoft_id_token(
        &attacker.oid,
        CLIENT_ID,
        Some(&sha256_hex(RAW_NONCE)),
        json!({ "email_verified": true, "xms_edov": true }),
    );
    let identity = idp.microsoft("common", Duration::from_secs(60)).verify(&id_token(&token)).await.expect("valid");
    assert_eq!(identity.email.as_deref(), Some("victim@gmail.com"), "kept as display data");
    assert!(!identity.email_verified, "Microsoft's email is never verified here");
    assert_eq!(identity.authoritative_email(), None, "and never links to the victim's account");
}

#[tokio::test]
async fn providers_serve_the_configured_custom_issuers_and_microsoft_by_name() {
    let idp = start().await;
    let info = idp.issuer("acme-sso", SigningAlg::RS256);
    let authority = idp.emulator.microsoft_discovery_url("x").replace("/x/v2.0/.well-known/openid-configuration", "");
    let vars = std::collections::HashMap::from([
        ("TABLE_NAME", "users".to_string()),
        ("PUBLIC_BASE_URL", "https://login.example.com".to_string()),
        ("DEFAULT_INSTANCE", "demo".to_string()),
        ("ALLOW_INSECURE_PROVIDER_URLS", "true".to_string()),
        ("MICROSOFT_CLIENT_IDS", CLIENT_ID.to_string()),
        ("MICROSOFT_AUTHORITY_URL", authority),
    ]);
    let config = shared::config::Config::from_lookup(|k| vars.get(k).cloned()).expect("valid");
    let custom =
        CustomOidcConfig::new(&info.name, &info.issuer, vec![CLIENT_ID.into()], config.url_policy).expect("valid");
    let name = custom.name;
    let providers = shared::providers::Providers::with_shared(&config, &idp.http, &Default::default())
        .with_custom_oidc(vec![custom], &idp.http, &config);

    let verified = providers.verify(Provider::Oidc(name), &id_token(&idp.token("acme-sso", json!({})))).await;
    assert_eq!(
        verified.expect("served").identity.provider,
        Provider::from_service_name("acme-sso").expect("configured")
    );
    let user = idp.emulator.create_microsoft_user(Some(TENANT), "Ada", "ada@corp.example", None);
    let token = idp.emulator.issue_microsoft_id_token(&user.oid, CLIENT_ID, Some(&sha256_hex(RAW_NONCE)), Value::Null);
    let verified = providers.verify(Provider::Microsoft, &id_token(&token)).await.expect("served");
    assert_eq!(verified.identity.subject, format!("{TENANT}:{}", user.oid));

    // A configured name this deployment has no verifier for is not served.
    let elsewhere = shared::domain::identity::OidcName::configured("configured-elsewhere").expect("valid");
    let result = providers.verify(Provider::Oidc(elsewhere), &id_token(&idp.token("acme-sso", json!({})))).await;
    assert!(matches!(result, Err(ProviderError::NotServed)), "{result:?}");
}

/// Custom providers this deployment does not serve (the local stack serves Microsoft
/// deployment-wide, no custom one): Rocket.Chat's answer for a service it does not serve, naming
/// it, nothing written, no provider asked; a name only a client sent is not interned by asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_service_names_not_served_are_refused_through_the_gateway() {
    let t = crate::helpers::spawn_app().await;
    let configured = shared::domain::identity::OidcName::configured("configured-idp").expect("valid");
    for service in [configured.name(), "never-configured-idp"] {
        let body = json!({ "serviceName": service, "accessToken": "x", "expiresIn": 1 });
        let resp = t.http.post(format!("{}/api/v1/login", t.base)).json(&body).send().await.expect("request");
        let expected = json!({ "success": false, "status": "error", "error": "error-invalid-service",
                               "message": format!("Unexpected AccessToken service {service}") });
        assert_eq!(crate::helpers::json(resp).await, (401, expected), "{service}");
    }
    assert_eq!(t.login_writes().await, [0, 0, 0, 0]);
    assert_eq!(t.emulator.request_count(), 0);
    assert_eq!(shared::domain::identity::OidcName::existing("never-configured-idp"), None);
}
