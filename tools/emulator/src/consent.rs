//! The consent pages: each provider's web sign-in, for a browser (the local stack's playground).
//!
//! | Provider | Page (GET shows it, POST grants) | Handed back in the redirect's fragment |
//! |---|---|---|
//! | Facebook | `/{version}/dialog/oauth` | `access_token`, `expires_in`, `state` (the implicit flow's `response_type=token`) |
//! | Google | `/google/o/oauth2/v2/auth` | `credential` (the ID token, as Google Identity Services' callback gives it), `state` |
//! | Apple | `/apple/auth/authorize` | `id_token`, `code`, `state`, `user` (`{"name": {"firstName", "lastName"}, "email"}`) |
//! | X | `/twitter/oauth/authorize` | `oauth_token`, `oauth_token_secret`, `user_id`, `screen_name`, `state` |
//! | GitHub | `/github/login/oauth/authorize` | `access_token`, `token_type`, `scope`, `state` |
//! | LinkedIn | `/linkedin/oauth/v2/authorization` | `id_token`, `access_token`, `expires_in`, `state` |
//! | Microsoft | `/microsoft/{tenant}/oauth2/v2.0/authorize` | `id_token`, `state` |
//! | A custom issuer `{name}` | `/oidc/{name}/authorize` (its discovery's `authorization_endpoint`) | `id_token`, `state` |
//!
//! Query parameters: `client_id` (the app: a configured one where the emulator knows the apps),
//! `redirect_uri` (loopback only: `http://127.0.0.1…`, `http://localhost…`, `http://[::1]…`),
//! `state` (handed back as is), `nonce` (put into the ID token exactly as given: an app using
//! Apple or Microsoft sends the SHA-256 hex of its raw nonce here and the raw one to the login).
//! The page lists the provider's test people (pick one) or creates one (name, email), then
//! "Allow" mints with the same calls as the admin routes, so the tokens are exactly the ones
//! the functions verify. "Cancel" hands back `error=access_denied`.
//!
//! Every flow hands its result back in the fragment, never a query string (a fragment is not sent
//! to the server nor in a `Referer`). That is the real web flow for Facebook (implicit) and
//! Microsoft/Apple (`response_mode=fragment`); Google's is a JavaScript callback; X, GitHub and
//! LinkedIn really hand a code or a request token that the app's server exchanges with its
//! client secret: here the page does that exchange itself and hands the tokens, since the
//! playground has no server side holding the app secrets. Local use only: the pages are not
//! counted nor faulted.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde_json::json;

use crate::oidc::OidcProvider;
use crate::state::Shared;

/// The providers with a consent page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    Facebook,
    Google,
    Apple,
    Twitter,
    GitHub,
    LinkedIn,
    Microsoft,
    /// A custom OpenID Connect issuer of the emulator, by name.
    Custom,
}

impl Provider {
    fn title(self) -> &'static str {
        match self {
            Provider::Facebook => "Facebook",
            Provider::Google => "Google",
            Provider::Apple => "Apple",
            Provider::Twitter => "X",
            Provider::GitHub => "GitHub",
            Provider::LinkedIn => "LinkedIn",
            Provider::Microsoft => "Microsoft",
            Provider::Custom => "OpenID Connect",
        }
    }
}

/// The consent routes, at their full paths.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/{version}/dialog/oauth",
            get(|s, Path(_v): Path<String>, q| show(s, Provider::Facebook, q))
                .post(|s, Path(_v): Path<String>, f| grant(s, Provider::Facebook, f)),
        )
        .route(
            "/google/o/oauth2/v2/auth",
            get(|s, q| show(s, Provider::Google, q)).post(|s, f| grant(s, Provider::Google, f)),
        )
        .route(
            "/apple/auth/authorize",
            get(|s, q| show(s, Provider::Apple, q)).post(|s, f| grant(s, Provider::Apple, f)),
        )
        .route(
            "/twitter/oauth/authorize",
            get(|s, q| show(s, Provider::Twitter, q)).post(|s, f| grant(s, Provider::Twitter, f)),
        )
        .route(
            "/github/login/oauth/authorize",
            get(|s, q| show(s, Provider::GitHub, q)).post(|s, f| grant(s, Provider::GitHub, f)),
        )
        .route(
            "/linkedin/oauth/v2/authorization",
            get(|s, q| show(s, Provider::LinkedIn, q)).post(|s, f| grant(s, Provider::LinkedIn, f)),
        )
        .route(
            "/oidc/{name}/authorize",
            get(|s, Path(name): Path<String>, Query(mut q): Query<Params>| {
                q.insert(ISSUER.into(), name);
                show(s, Provider::Custom, Query(q))
            })
            .post(|s, Path(name): Path<String>, Form(mut f): Form<Params>| {
                f.insert(ISSUER.into(), name);
                grant(s, Provider::Custom, Form(f))
            }),
        )
        .route(
            "/microsoft/{tenant}/oauth2/v2.0/authorize",
            get(|s, Path(_t): Path<String>, q| show(s, Provider::Microsoft, q))
                .post(|s, Path(_t): Path<String>, f| grant(s, Provider::Microsoft, f)),
        )
}

type Params = HashMap<String, String>;

/// The parameter a custom issuer's routes put its name under (from the path, never the form:
/// it overwrites anything sent under that name).
const ISSUER: &str = "\u{0}issuer";

/// The people of the custom issuers' consent pages: a custom issuer mints for any `sub`, so the
/// pages keep whom they created, per issuer, to sign them in again with the same `sub`.
#[derive(Default)]
pub(crate) struct CustomPeople {
    people: std::sync::Mutex<HashMap<String, Vec<CustomPerson>>>,
}

#[derive(Clone)]
struct CustomPerson {
    sub: String,
    name: String,
    email: Option<String>,
}

impl CustomPeople {
    fn of(&self, issuer: &str) -> Vec<CustomPerson> {
        crate::util::lock(&self.people).get(issuer).cloned().unwrap_or_default()
    }

    fn create(&self, issuer: &str, name: &str, email: Option<&str>) -> String {
        let sub = crate::util::random_alnum(24);
        let person = CustomPerson { sub: sub.clone(), name: name.to_owned(), email: email.map(str::to_owned) };
        crate::util::lock(&self.people).entry(issuer.to_owned()).or_default().push(person);
        sub
    }
}

fn issuer_of(params: &Params) -> &str {
    params.get(ISSUER).map(String::as_str).unwrap_or_default()
}

/// Escapes text for HTML content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether `uri` is a loopback `http(s)` URL without a fragment or credentials: the only places a
/// consent page hands tokens to (a real provider hands them only to the app's registered URIs).
pub(crate) fn loopback_redirect(uri: &str) -> bool {
    let rest = match uri.strip_prefix("http://").or_else(|| uri.strip_prefix("https://")) {
        Some(rest) => rest,
        None => return false,
    };
    if uri.contains('#') {
        return false;
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix("[::1]") {
        Some(port) => return port.is_empty() || valid_port(port),
        None => authority,
    };
    let (host, port) = match host.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host, None),
    };
    (host == "127.0.0.1" || host.eq_ignore_ascii_case("localhost")) && port.is_none_or(|p| valid_port(&format!(":{p}")))
}

fn valid_port(colon_port: &str) -> bool {
    colon_port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         .card{{border:1px solid #ccc;border-radius:8px;padding:1.5rem}}label{{display:block;margin:.4rem 0}}\
         button{{padding:.5rem 1.2rem;margin-right:.5rem}}.note{{color:#666;font-size:.85rem}}</style></head>\
         <body><div class=\"card\">{body}</div></body></html>\n",
        title = escape(title),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"),
        ],
        html,
    )
        .into_response()
}

fn error_page(provider: Provider, message: &str) -> Response {
    let body = format!("<h1>{} sign-in</h1><p id=\"error\">{}</p>", provider.title(), escape(message));
    page(StatusCode::BAD_REQUEST, "Sign-in error", &body)
}

/// Checks the request's app and redirect URI; the error page to show otherwise.
fn check(shared: &Shared, provider: Provider, params: &Params) -> Result<(String, String), Box<Response>> {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or_default();
    let redirect_uri = params.get("redirect_uri").map(String::as_str).unwrap_or_default();
    if client_id.is_empty() {
        return Err(Box::new(error_page(provider, "client_id is missing.")));
    }
    let known = match provider {
        Provider::Facebook => shared.facebook.has_app(client_id),
        Provider::Twitter => shared.twitter.has_app(client_id),
        Provider::GitHub => shared.github.has_app(client_id),
        Provider::LinkedIn => shared.oidc.has_linkedin_app(client_id),
        Provider::Custom => shared.oidc.custom.info_of(issuer_of(params)).is_ok(),
        // The emulator does not know these apps: any client id is an audience.
        Provider::Google | Provider::Apple | Provider::Microsoft => true,
    };
    if provider == Provider::Custom && !known {
        return Err(Box::new(error_page(provider, &format!("There is no issuer {}.", issuer_of(params)))));
    }
    if !known {
        return Err(Box::new(error_page(provider, &format!("The app {client_id} is not configured."))));
    }
    if !loopback_redirect(redirect_uri) {
        return Err(Box::new(error_page(
            provider,
            "redirect_uri must be a loopback URL (http://127.0.0.1, http://localhost or http://[::1]) without a fragment.",
        )));
    }
    Ok((client_id.to_owned(), redirect_uri.to_owned()))
}

fn people(shared: &Shared, provider: Provider, params: &Params) -> Vec<(String, String)> {
    match provider {
        Provider::Custom => {
            let mut people: Vec<_> =
                shared.consent_people.of(issuer_of(params)).into_iter().map(|p| (p.sub, p.name)).collect();
            people.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
            people
        }
        Provider::Facebook => shared.facebook.people(),
        Provider::Google => shared.oidc.people(OidcProvider::Google),
        Provider::Apple => shared.oidc.people(OidcProvider::Apple),
        Provider::LinkedIn => shared.oidc.people(OidcProvider::LinkedIn),
        Provider::Twitter => shared.twitter.people(),
        Provider::GitHub => shared.github.people().into_iter().map(|(id, name)| (id.to_string(), name)).collect(),
        Provider::Microsoft => shared.oidc.custom.microsoft_people(),
    }
}

/// The parameters a grant carries on from the authorization request.
const CARRIED: [&str; 5] = ["client_id", "redirect_uri", "state", "nonce", "response_type"];

async fn show(State(shared): State<Arc<Shared>>, provider: Provider, Query(params): Query<Params>) -> Response {
    let (client_id, _) = match check(&shared, provider, &params) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    let people = people(&shared, provider, &params);
    let mut body = format!(
        "<h1>Sign in with {title}</h1><p>The app <b id=\"client-id\">{app}</b> wants to know who you are \
         (the emulator's test people of {title}).</p><form method=\"post\">",
        title = provider.title(),
        app = escape(&client_id),
    );
    for name in CARRIED {
        if let Some(value) = params.get(name) {
            body.push_str(&format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)));
        }
    }
    for (i, (id, name)) in people.iter().enumerate() {
        body.push_str(&format!(
            "<label><input type=\"radio\" name=\"person\" value=\"{id}\" data-name=\"{name}\"{checked}> {name}</label>",
            id = escape(id),
            name = escape(name),
            checked = if i == 0 { " checked" } else { "" },
        ));
    }
    body.push_str(&format!(
        "<label><input type=\"radio\" id=\"person-new\" name=\"person\" value=\"new\"{}> A new test person:</label>\
         <label>Name <input id=\"new-name\" name=\"name\" autocomplete=\"off\"></label>\
         <label>Email <input id=\"new-email\" name=\"email\" type=\"email\" autocomplete=\"off\"></label>\
         <p><button id=\"allow\" name=\"decision\" value=\"allow\" type=\"submit\">Continue</button>\
         <button id=\"cancel\" name=\"decision\" value=\"cancel\" type=\"submit\">Cancel</button></p>\
         <p class=\"note\">Provider emulator: local use only.</p></form>",
        if people.is_empty() { " checked" } else { "" },
    ));
    page(StatusCode::OK, &format!("Sign in with {}", provider.title()), &body)
}

/// A screen name or login from a name: lowercase letters and digits, at most 15, never empty.
fn handle_of(name: &str) -> String {
    let handle: String =
        name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).take(11).collect();
    format!("{}{}", if handle.is_empty() { "user" } else { &handle }, crate::util::random_digits(4))
}

/// Creates the person a grant asks for; its id.
fn create_person(
    shared: &Shared,
    provider: Provider,
    params: &Params,
    name: &str,
    email: Option<&str>,
) -> Result<String, String> {
    Ok(match provider {
        Provider::Custom => shared.consent_people.create(issuer_of(params), name, email),
        Provider::Facebook => shared.facebook.create_person(name, email),
        Provider::Google => shared.oidc.create_user(OidcProvider::Google, name, email, true),
        Provider::Apple => shared.oidc.create_user(OidcProvider::Apple, name, email, true),
        Provider::LinkedIn => shared.oidc.create_user(OidcProvider::LinkedIn, name, email, true),
        Provider::Twitter => shared.twitter.create_user(name, &handle_of(name), email),
        Provider::GitHub => {
            let emails: Vec<(&str, bool, bool)> = email.map(|e| (e, true, true)).into_iter().collect();
            shared.github.create_user(&handle_of(name), Some(name), &emails).to_string()
        }
        Provider::Microsoft => {
            let username = email.map(str::to_owned).unwrap_or_else(|| format!("{}@outlook.com", handle_of(name)));
            shared.oidc.custom.create_microsoft_user(None, name, &username, email).map_err(|e| e.to_string())?.oid
        }
    })
}

/// What the grant hands back for `person`, in the provider's names.
fn mint(
    shared: &Shared,
    provider: Provider,
    person: &str,
    client_id: &str,
    params: &Params,
) -> Result<Vec<(String, String)>, String> {
    let nonce = params.get("nonce").map(String::as_str).filter(|n| !n.is_empty());
    let pairs = |items: &[(&str, String)]| items.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    Ok(match provider {
        Provider::Facebook => {
            let token = shared.facebook.issue_token(person, client_id, 3600).map_err(|e| format!("{e:?}"))?;
            pairs(&[("access_token", token), ("expires_in", "3600".into())])
        }
        Provider::Google => {
            let id_token = shared
                .oidc
                .issue_id_token_as_requested(OidcProvider::Google, person, client_id, nonce)
                .map_err(|e| e.to_string())?;
            pairs(&[("credential", id_token)])
        }
        Provider::Apple => {
            let id_token = shared
                .oidc
                .issue_id_token_as_requested(OidcProvider::Apple, person, client_id, nonce)
                .map_err(|e| e.to_string())?;
            let code = shared.apple_tokens.mint_code(person, client_id);
            let name = shared.oidc.people(OidcProvider::Apple).into_iter().find(|(id, _)| id == person).map(|p| p.1);
            let name = name.unwrap_or_default();
            let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
            let user = json!({ "name": { "firstName": first, "lastName": last } }).to_string();
            pairs(&[("id_token", id_token), ("code", code), ("user", user)])
        }
        Provider::LinkedIn => {
            let id_token = shared
                .oidc
                .issue_id_token_as_requested(OidcProvider::LinkedIn, person, client_id, nonce)
                .map_err(|e| e.to_string())?;
            let access =
                shared.oidc.issue_access_token(OidcProvider::LinkedIn, person, client_id).map_err(|e| e.to_string())?;
            pairs(&[("id_token", id_token), ("access_token", access), ("expires_in", "3600".into())])
        }
        Provider::Twitter => {
            let (token, secret) = shared.twitter.issue_token(person, client_id).map_err(|e| format!("{e:?}"))?;
            pairs(&[("oauth_token", token), ("oauth_token_secret", secret), ("user_id", person.to_owned())])
        }
        Provider::GitHub => {
            let id: u64 = person.parse().map_err(|_| "unknown user".to_owned())?;
            let token =
                shared.github.issue_token(id, client_id, &["read:user", "user:email"]).map_err(|e| format!("{e:?}"))?;
            pairs(&[("access_token", token), ("token_type", "bearer".into()), ("scope", "read:user,user:email".into())])
        }
        Provider::Custom => {
            let issuer = issuer_of(params);
            let person = shared
                .consent_people
                .of(issuer)
                .into_iter()
                .find(|p| p.sub == person)
                .ok_or_else(|| "unknown person".to_owned())?;
            let mut claims = json!({ "sub": person.sub, "name": person.name });
            if let Some(email) = person.email {
                claims["email"] = json!(email);
                claims["email_verified"] = json!(true);
            }
            if let Some(nonce) = nonce {
                claims["nonce"] = json!(nonce);
            }
            let id_token = shared
                .oidc
                .custom
                .issue(issuer, client_id, &claims, crate::oidc::SigningMode::Current)
                .map_err(|e| e.to_string())?;
            pairs(&[("id_token", id_token)])
        }
        Provider::Microsoft => {
            let id_token =
                shared.oidc.custom.issue_microsoft(person, client_id, nonce, &json!({})).map_err(|e| e.to_string())?;
            pairs(&[("id_token", id_token)])
        }
    })
}

fn redirect(redirect_uri: &str, mut fragment: Vec<(String, String)>, params: &Params) -> Response {
    if let Some(state) = params.get("state") {
        fragment.push(("state".into(), state.clone()));
    }
    let encoded = serde_urlencoded::to_string(&fragment).unwrap_or_default();
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, format!("{redirect_uri}#{encoded}")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
        ],
    )
        .into_response()
}

async fn grant(State(shared): State<Arc<Shared>>, provider: Provider, Form(params): Form<Params>) -> Response {
    let (client_id, redirect_uri) = match check(&shared, provider, &params) {
        Ok(ok) => ok,
        Err(response) => return *response,
    };
    if params.get("decision").map(String::as_str) != Some("allow") {
        return redirect(&redirect_uri, vec![("error".into(), "access_denied".into())], &params);
    }
    let person = match params.get("person").map(String::as_str) {
        Some("new") | None => {
            let name = params.get("name").map(|n| n.trim()).unwrap_or_default();
            if name.is_empty() {
                return error_page(provider, "A new test person needs a name.");
            }
            let email = params.get("email").map(|e| e.trim()).filter(|e| !e.is_empty());
            match create_person(&shared, provider, &params, name, email) {
                Ok(id) => id,
                Err(e) => return error_page(provider, &e),
            }
        }
        Some(id) => id.to_owned(),
    };
    match mint(&shared, provider, &person, &client_id, &params) {
        Ok(fragment) => redirect(&redirect_uri, fragment, &params),
        Err(e) => error_page(provider, &format!("Could not sign in this person: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects() {
        for ok in ["http://127.0.0.1:3000/_playground/", "http://localhost/x", "http://[::1]:8/", "https://localhost:1"]
        {
            assert!(loopback_redirect(ok), "{ok}");
        }
        for bad in [
            "http://evil.example/",
            "http://127.0.0.1.evil.example/",
            "http://127.0.0.1@evil.example/",
            "http://user@127.0.0.1/",
            "http://127.0.0.1:3000/#x",
            "javascript:alert(1)",
            "http://127.0.0.1:x/",
            "//127.0.0.1/",
            "",
        ] {
            assert!(!loopback_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<b a=\"1\">'&"), "&lt;b a=&quot;1&quot;&gt;&#39;&amp;");
    }
}
