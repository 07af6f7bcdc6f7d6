//! The Facebook part: people, Pages, tokens, and the Graph API endpoints social-login calls.
//!
//! Everything here answers with Graph's own response and error shapes; see
//! `GraphError` for the errors and `graph` for the routing.

mod admin;
mod debug_token;
mod error;
mod graph;
mod me;
mod signed_request;
mod test_users;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::{lock, now, random_alnum, random_digits};

pub(crate) use admin::admin_router;
pub(crate) use error::GraphError;
pub(crate) use graph::graph;
pub use signed_request::{sign_signed_request, signed_request_payload, SIGNED_REQUEST_ALGORITHM};

/// A Facebook app the emulator knows: its id and app secret.
#[derive(Clone, PartialEq, Eq)]
pub struct FacebookApp {
    pub id: String,
    pub secret: String,
}

impl fmt::Debug for FacebookApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacebookApp").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// One person known to the emulator (a "Facebook user" before any app scoping).
#[derive(Clone, Debug)]
pub(crate) struct Person {
    name: String,
    email: Option<String>,
}

impl Person {
    fn name_part(&self, part: NamePart) -> Option<String> {
        let words: Vec<&str> = self.name.split_whitespace().collect();
        let n = words.len();
        match part {
            NamePart::First if n >= 1 => Some(words[0].to_string()),
            NamePart::Middle if n >= 3 => Some(words[1..n - 1].join(" ")),
            NamePart::Last if n >= 2 => Some(words[n - 1].to_string()),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum NamePart {
    First,
    Middle,
    Last,
}

/// A Facebook Page and the people who manage it.
#[derive(Clone, Debug)]
pub(crate) struct Page {
    name: String,
    managers: Vec<String>,
}

/// One access token issued by the emulator: a user access token, or (with `page`) a Page access
/// token that `person`, a manager of the Page, got through the app.
#[derive(Clone, Debug)]
pub(crate) struct TokenRecord {
    person: String,
    /// The Page a Page access token acts as.
    page: Option<String>,
    app_id: String,
    issued_at: i64,
    expires_at: i64,
    revoked: bool,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssueError {
    UnknownPerson,
    UnknownApp,
    UnknownPage,
    /// A Page access token was asked for by someone who does not manage the Page.
    NotAManager,
}

#[derive(Default)]
struct Data {
    persons: HashMap<String, Person>,
    pages: HashMap<String, Page>,
    tokens: HashMap<String, TokenRecord>,
    /// (person, app id) pairs whose permissions were deleted (the person removed the app) and
    /// not granted again since (a token issued for the app grants them again).
    removed: HashSet<(String, String)>,
}

/// The Facebook state: the configured apps (fixed) and the people and tokens created since.
pub(crate) struct Facebook {
    /// app id -> app secret (rotated by the tests: `set_app_secret`).
    apps: Mutex<HashMap<String, String>>,
    /// Key deriving app-scoped user ids, so they are stable per (person, app) and differ by app.
    asid_key: [u8; 32],
    data: Mutex<Data>,
    /// `DELETE /{user-id}/permissions` served.
    pub(crate) permission_deletions: std::sync::atomic::AtomicU64,
}

impl Facebook {
    pub(crate) fn new(apps: impl IntoIterator<Item = (String, String)>) -> Facebook {
        let mut asid_key = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut asid_key);
        Facebook {
            apps: Mutex::new(apps.into_iter().collect()),
            asid_key,
            data: Mutex::new(Data::default()),
            permission_deletions: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub(crate) fn has_app(&self, app_id: &str) -> bool {
        lock(&self.apps).contains_key(app_id)
    }

    /// The app secret Facebook holds for `app_id` now.
    pub(crate) fn app_secret(&self, app_id: &str) -> Option<String> {
        lock(&self.apps).get(app_id).cloned()
    }

    /// The app's secret is reset (App Dashboard, "Reset" app secret): tokens and proofs made
    /// with the old one are refused from now on. `false`: no such app.
    pub(crate) fn set_app_secret(&self, app_id: &str, secret: &str) -> bool {
        match lock(&self.apps).get_mut(app_id) {
            Some(s) => {
                *s = secret.to_string();
                true
            }
            None => false,
        }
    }

    pub(crate) fn create_person(&self, name: &str, email: Option<&str>) -> String {
        let mut data = lock(&self.data);
        let id = loop {
            // Global ids look like Facebook's test-user ids: 15 digits starting with 1000.
            let id = format!("1000{}", random_digits(11));
            if !data.persons.contains_key(&id) {
                break id;
            }
        };
        data.persons.insert(id.clone(), Person { name: name.to_string(), email: email.map(str::to_string) });
        id
    }

    /// Every person as `(id, name)`, by name (the consent page's list).
    pub(crate) fn people(&self) -> Vec<(String, String)> {
        let mut people: Vec<_> = lock(&self.data).persons.iter().map(|(id, p)| (id.clone(), p.name.clone())).collect();
        people.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        people
    }

    pub(crate) fn issue_token(&self, person: &str, app_id: &str, ttl_secs: i64) -> Result<String, IssueError> {
        self.issue_token_as(person, app_id, ttl_secs, None)
    }

    /// Creates a Page managed by `manager`; returns its id (16 digits, like Page ids).
    pub(crate) fn create_page(&self, manager: &str, name: &str) -> Result<String, IssueError> {
        let mut data = lock(&self.data);
        if !data.persons.contains_key(manager) {
            return Err(IssueError::UnknownPerson);
        }
        let id = loop {
            let id = format!("10{}", random_digits(14));
            if !data.pages.contains_key(&id) {
                break id;
            }
        };
        data.pages.insert(id.clone(), Page { name: name.to_string(), managers: vec![manager.to_string()] });
        Ok(id)
    }

    /// A Page access token of `page` for the app `app_id`, as `person` (a manager of the Page)
    /// gets it from `/me/accounts`: it does not expire.
    pub(crate) fn issue_page_token(&self, person: &str, page: &str, app_id: &str) -> Result<String, IssueError> {
        if !self.has_app(app_id) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        let manages = data.pages.get(page).ok_or(IssueError::UnknownPage)?.managers.iter().any(|m| m == person);
        if !manages {
            return Err(IssueError::NotAManager);
        }
        let token = loop {
            let token = format!("EAA{}", random_alnum(96));
            if !data.tokens.contains_key(&token) {
                break token;
            }
        };
        let now = now();
        let record = TokenRecord {
            person: person.to_string(),
            page: Some(page.to_string()),
            app_id: app_id.to_string(),
            issued_at: now,
            expires_at: i64::MAX,
            revoked: false,
        };
        data.tokens.insert(token.clone(), record);
        Ok(token)
    }

    /// Like `issue_token`, with the token's value chosen by the caller when `fixed` is given
    /// (the `events/` samples carry a fixed demo token).
    pub(crate) fn issue_token_as(
        &self,
        person: &str,
        app_id: &str,
        ttl_secs: i64,
        fixed: Option<&str>,
    ) -> Result<String, IssueError> {
        if !self.has_app(app_id) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        if !data.persons.contains_key(person) {
            return Err(IssueError::UnknownPerson);
        }
        let now = now();
        let expires_at = now.saturating_add(ttl_secs);
        // An already expired token was issued an hour before it expired.
        let issued_at = if ttl_secs > 0 { now } else { expires_at - 3600 };
        let token = loop {
            if let Some(fixed) = fixed {
                break fixed.to_string();
            }
            let token = format!("EAA{}", random_alnum(96));
            if !data.tokens.contains_key(&token) {
                break token;
            }
        };
        // Logging in to the app again grants it again.
        data.removed.remove(&(person.to_string(), app_id.to_string()));
        data.tokens.insert(
            token.clone(),
            TokenRecord {
                person: person.to_string(),
                page: None,
                app_id: app_id.to_string(),
                issued_at,
                expires_at,
                revoked: false,
            },
        );
        Ok(token)
    }

    pub(crate) fn revoke_token(&self, token: &str) {
        if let Some(record) = lock(&self.data).tokens.get_mut(token) {
            record.revoked = true;
        }
    }

    /// `DELETE /{user-id}/permissions` with an app token: the app-scoped user `user_id` of that
    /// app withdraws every permission; each of their tokens for the app stops working. `false`:
    /// no such user of the app. As Graph: an app token whose secret is not the app's current
    /// one is refused first (190, no subcode: "Invalid OAuth access token signature."), then an
    /// `appsecret_proof` not made with the current secret (100, `GraphMethodException`); a person
    /// who already removed the app answers 190 with subcode 458 ("App Not Installed").
    pub(crate) fn delete_permissions(
        &self,
        app_token: &str,
        proof: Option<&str>,
        user_id: &str,
    ) -> Result<bool, GraphError> {
        let app_id = self.check_app_token(app_token)?;
        if let Some(proof) = proof {
            let secret = self.app_secret(&app_id).unwrap_or_default();
            if !me::proof_matches(&secret, app_token, proof) {
                return Err(GraphError::bad_proof());
            }
        }
        let mut data = lock(&self.data);
        let person = data.persons.keys().find(|p| self.app_scoped_user_id(p, &app_id) == user_id).cloned();
        let Some(person) = person else { return Ok(false) };
        if !data.removed.insert((person.clone(), app_id.clone())) {
            return Err(GraphError::app_not_installed(&app_id));
        }
        for record in data.tokens.values_mut().filter(|t| t.person == person && t.app_id == app_id) {
            record.revoked = true;
        }
        Ok(true)
    }

    /// `person` removes the app `app_id` in their Facebook settings: their tokens for it stop
    /// working and Graph answers 190/458 about them until they log in to it again.
    pub(crate) fn remove_app(&self, person: &str, app_id: &str) {
        let mut data = lock(&self.data);
        data.removed.insert((person.to_string(), app_id.to_string()));
        for record in data.tokens.values_mut().filter(|t| t.person == person && t.app_id == app_id) {
            record.revoked = true;
        }
    }

    /// The id Graph shows `app_id` for `person`: 17 digits, stable, different for every app.
    pub(crate) fn app_scoped_user_id(&self, person: &str, app_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.asid_key).expect("HMAC-SHA256 accepts keys of any length");
        mac.update(person.as_bytes());
        mac.update(&[0]);
        mac.update(app_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        format!("1{:016}", u64::from_be_bytes(first) % 10_000_000_000_000_000)
    }

    fn token(&self, token: &str) -> Option<TokenRecord> {
        lock(&self.data).tokens.get(token).cloned()
    }

    fn person(&self, id: &str) -> Option<Person> {
        lock(&self.data).persons.get(id).cloned()
    }

    fn page(&self, id: &str) -> Option<Page> {
        lock(&self.data).pages.get(id).cloned()
    }

    /// Checks an app access token `APPID|APPSECRET`; returns the app id.
    fn check_app_token(&self, token: &str) -> Result<String, GraphError> {
        match token.split_once('|') {
            Some((id, secret)) if lock(&self.apps).get(id).is_some_and(|s| s == secret) => Ok(id.to_string()),
            Some(_) => Err(GraphError::bad_signature()),
            None => Err(GraphError::cannot_parse()),
        }
    }

    /// Checks a user access token as Graph does before serving a user-token endpoint.
    fn check_user_token(&self, token: &str, now: i64) -> Result<TokenRecord, GraphError> {
        let record = self.token(token).ok_or_else(GraphError::cannot_parse)?;
        if record.revoked {
            return Err(GraphError::token_invalidated());
        }
        if now >= record.expires_at {
            return Err(GraphError::token_expired(record.expires_at, now));
        }
        Ok(record)
    }
}

/// The name Graph shows for the application `app_id`.
fn application_name(app_id: &str) -> String {
    format!("Emulated app {app_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_split() {
        let p = Person { name: "Mary Ann  Smith".into(), email: None };
        assert_eq!(p.name_part(NamePart::First).as_deref(), Some("Mary"));
        assert_eq!(p.name_part(NamePart::Middle).as_deref(), Some("Ann"));
        assert_eq!(p.name_part(NamePart::Last).as_deref(), Some("Smith"));
        let p = Person { name: "Cher".into(), email: None };
        assert_eq!(p.name_part(NamePart::First).as_deref(), Some("Cher"));
        assert_eq!(p.name_part(NamePart::Middle), None);
        assert_eq!(p.name_part(NamePart::Last), None);
    }

    #[test]
    fn app_scoped_ids_are_stable_and_per_app() {
        let fb = Facebook::new([("1".to_string(), "s".to_string())]);
        let a = fb.app_scoped_user_id("p", "1");
        assert_eq!(a, fb.app_scoped_user_id("p", "1"));
        assert_ne!(a, fb.app_scoped_user_id("p", "2"));
        assert_eq!(a.len(), 17);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
    }
}
