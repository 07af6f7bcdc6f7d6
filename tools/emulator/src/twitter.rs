//! The Twitter/X part, served under `/twitter`: users, OAuth 1.0a user tokens (checked for real:
//! HMAC-SHA1 signature over the request as the client addressed it, consumer and token secret),
//! OAuth 2.0 user bearer tokens, and the endpoints social-login calls, with X's error shapes:
//!
//! - `GET /twitter/1.1/account/verify_credentials.json[?include_email=true&skip_status=true]`
//!   with `Authorization: OAuth ...`
//! - `GET /twitter/2/users/me[?user.fields=profile_image_url]` with `Authorization: Bearer ...`
//!   (or an OAuth 1.0a header)
//!
//! Admin routes (JSON, under `/_emulator/twitter`): `POST users` `{"name", "screen_name",
//! "email"?}` → `{"id_str"}`; `POST tokens` `{"user", "consumer_key"}` → `{"oauth_token",
//! "oauth_token_secret"}`; `POST bearer` `{"user", "consumer_key"}` → `{"access_token"}`;
//! `POST tokens/revoke` `{"token"}` → `{"revoked": true}` (either kind).

mod admin;
mod api;
mod errors;
pub(crate) mod oauth1;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;

use crate::util::{lock, random_alnum, random_digits};

pub(crate) use admin::admin_router;
pub(crate) use api::router;

/// Where the Twitter API is mounted in the emulator's router. OAuth 1.0a signatures cover the
/// full path the client used, which includes it.
pub(crate) const PREFIX: &str = "/twitter";

/// A Twitter/X app the emulator knows: its consumer key (API key) and consumer secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TwitterApp {
    pub consumer_key: String,
    pub consumer_secret: String,
}

impl fmt::Debug for TwitterApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwitterApp")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Debug)]
struct User {
    name: String,
    screen_name: String,
    email: Option<String>,
    avatar: String,
    created_at: String,
}

/// An OAuth 1.0a access token (with its secret) or an OAuth 2.0 bearer token.
#[derive(Clone, Debug)]
struct TokenRecord {
    user: String,
    consumer_key: String,
    /// The OAuth 1.0a token secret; `None` for a bearer token.
    secret: Option<String>,
    revoked: bool,
}

#[derive(Default)]
struct Data {
    users: HashMap<String, User>,
    tokens: HashMap<String, TokenRecord>,
    /// `(consumer key, nonce)` pairs already used: X refuses a replayed nonce.
    nonces: HashSet<(String, String)>,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssueError {
    UnknownUser,
    UnknownApp,
}

/// The Twitter state: the configured apps (fixed) and the users and tokens created since.
pub(crate) struct Twitter {
    /// consumer key -> consumer secret.
    apps: HashMap<String, String>,
    data: Mutex<Data>,
}

impl Twitter {
    pub(crate) fn new(apps: impl IntoIterator<Item = TwitterApp>) -> Twitter {
        Twitter {
            apps: apps.into_iter().map(|a| (a.consumer_key, a.consumer_secret)).collect(),
            data: Mutex::new(Data::default()),
        }
    }

    /// Every user as `(id, name)`, by name (the consent page's list).
    pub(crate) fn people(&self) -> Vec<(String, String)> {
        let mut people: Vec<_> = lock(&self.data).users.iter().map(|(id, u)| (id.clone(), u.name.clone())).collect();
        people.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        people
    }

    /// Whether `consumer_key` is a configured app.
    pub(crate) fn has_app(&self, consumer_key: &str) -> bool {
        self.apps.contains_key(consumer_key)
    }

    pub(crate) fn create_user(&self, name: &str, screen_name: &str, email: Option<&str>) -> String {
        let mut data = lock(&self.data);
        let id = loop {
            // Snowflake-sized ids (19 digits): too large for a double, hence `id_str`.
            let id = format!("1{}", random_digits(18));
            if !data.users.contains_key(&id) {
                break id;
            }
        };
        let avatar =
            format!("https://pbs.twimg.com/profile_images/{}/{}_normal.jpg", random_digits(19), random_alnum(8));
        let created_at = "Wed Oct 10 20:19:24 +0000 2018".to_string();
        let user = User {
            name: name.to_string(),
            screen_name: screen_name.to_string(),
            email: email.map(str::to_string),
            avatar,
            created_at,
        };
        data.users.insert(id.clone(), user);
        id
    }

    fn issue(&self, user: &str, consumer_key: &str, oauth1: bool) -> Result<(String, Option<String>), IssueError> {
        if !self.apps.contains_key(consumer_key) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        if !data.users.contains_key(user) {
            return Err(IssueError::UnknownUser);
        }
        let (token, secret) = loop {
            let (token, secret) = if oauth1 {
                // X's user access tokens start with the user id.
                (format!("{user}-{}", random_alnum(40)), Some(random_alnum(45)))
            } else {
                (random_alnum(91), None)
            };
            if !data.tokens.contains_key(&token) {
                break (token, secret);
            }
        };
        let record = TokenRecord {
            user: user.to_string(),
            consumer_key: consumer_key.to_string(),
            secret: secret.clone(),
            revoked: false,
        };
        data.tokens.insert(token.clone(), record);
        Ok((token, secret))
    }

    pub(crate) fn issue_token(&self, user: &str, consumer_key: &str) -> Result<(String, String), IssueError> {
        let (token, secret) = self.issue(user, consumer_key, true)?;
        Ok((token, secret.unwrap_or_default()))
    }

    /// Registers a token pair chosen by the caller (the local stack's fixed demo credentials).
    pub(crate) fn register_token(
        &self,
        user: &str,
        consumer_key: &str,
        token: &str,
        secret: &str,
    ) -> Result<(), IssueError> {
        if !self.apps.contains_key(consumer_key) {
            return Err(IssueError::UnknownApp);
        }
        let mut data = lock(&self.data);
        if !data.users.contains_key(user) {
            return Err(IssueError::UnknownUser);
        }
        let record = TokenRecord {
            user: user.to_string(),
            consumer_key: consumer_key.to_string(),
            secret: Some(secret.to_string()),
            revoked: false,
        };
        data.tokens.insert(token.to_string(), record);
        Ok(())
    }

    pub(crate) fn issue_bearer(&self, user: &str, consumer_key: &str) -> Result<String, IssueError> {
        Ok(self.issue(user, consumer_key, false)?.0)
    }

    pub(crate) fn revoke_token(&self, token: &str) {
        if let Some(record) = lock(&self.data).tokens.get_mut(token) {
            record.revoked = true;
        }
    }

    fn user(&self, id: &str) -> Option<User> {
        lock(&self.data).users.get(id).cloned()
    }

    /// Checks an OAuth 2.0 user bearer token; returns the user id.
    fn check_bearer(&self, token: &str) -> Option<String> {
        let data = lock(&self.data);
        let record = data.tokens.get(token)?;
        (!record.revoked && record.secret.is_none()).then(|| record.user.clone())
    }
}
