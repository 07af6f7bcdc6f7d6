//! The OAuth providers' people and tokens on the [`Emulator`] handle: Facebook (people, Pages,
//! user and Page tokens, signed requests, app secrets), Twitter/X and GitHub.

use super::Emulator;
use crate::facebook::IssueError;
use crate::github;

impl Emulator {
    /// Creates a person; returns their global emulator id (not what Graph shows an app:
    /// see [`Emulator::app_scoped_user_id`]).
    pub fn create_facebook_user(&self, name: &str, email: Option<&str>) -> String {
        self.shared.facebook.create_person(name, email)
    }

    /// Issues a user access token for `person`, for the app `app_id`, valid `ttl_secs`
    /// from now (zero or negative = already expired).
    ///
    /// # Panics
    /// If `person` was not created by this emulator or `app_id` is not a configured app:
    /// both are mistakes in the calling test.
    pub fn issue_facebook_token(&self, person: &str, app_id: &str, ttl_secs: i64) -> String {
        match self.shared.facebook.issue_token(person, app_id, ttl_secs) {
            Ok(token) => token,
            Err(IssueError::UnknownPerson) => {
                panic!("issue_facebook_token: unknown person {person:?}")
            }
            Err(IssueError::UnknownApp) => {
                panic!("issue_facebook_token: app {app_id:?} is not in the emulator's config")
            }
            Err(e) => panic!("issue_facebook_token: {e:?}"),
        }
    }

    /// Registers `token` as a user access token of `person` for `app_id` (fixed demo tokens of
    /// the `events/` samples and the local stack). Panics like [`Emulator::issue_facebook_token`].
    pub fn register_facebook_token(&self, person: &str, app_id: &str, token: &str, ttl_secs: i64) {
        if let Err(e) = self.shared.facebook.issue_token_as(person, app_id, ttl_secs, Some(token)) {
            panic!("register_facebook_token: {e:?}");
        }
    }

    /// Creates a Facebook Page managed by `manager` (a person of this emulator); returns the
    /// Page's id.
    ///
    /// # Panics
    /// If `manager` was not created by this emulator.
    pub fn create_facebook_page(&self, manager: &str, name: &str) -> String {
        match self.shared.facebook.create_page(manager, name) {
            Ok(id) => id,
            Err(e) => panic!("create_facebook_page: {e:?} (manager {manager:?})"),
        }
    }

    /// Issues a Page access token of `page` for the app `app_id`, as `person`, a manager of the
    /// Page, gets it through the app. `/me` with it answers the Page (with `metadata=1`,
    /// `metadata.type` is `page`); an app token `APPID|APPSECRET` answers the application
    /// (`application`); a user token the user (`user`).
    ///
    /// # Panics
    /// If `app_id` is not a configured app, `page` unknown, or `person` does not manage it.
    pub fn issue_facebook_page_token(&self, person: &str, page: &str, app_id: &str) -> String {
        match self.shared.facebook.issue_page_token(person, page, app_id) {
            Ok(token) => token,
            Err(e) => panic!("issue_facebook_page_token: {e:?} (person {person:?}, page {page:?}, app {app_id:?})"),
        }
    }

    /// Revokes a token (Graph then answers code 190, subcode 460). Unknown tokens are ignored.
    pub fn revoke_facebook_token(&self, token: &str) {
        self.shared.facebook.revoke_token(token);
    }

    /// The `id` that `/me` answers for `person` to the app `app_id`: stable, and
    /// different for every app, as on Facebook.
    pub fn app_scoped_user_id(&self, person: &str, app_id: &str) -> String {
        self.shared.facebook.app_scoped_user_id(person, app_id)
    }

    /// The `signed_request` Facebook posts to the data deletion and deauthorize callbacks of the
    /// app `app_id` about its app-scoped user `user_id`, issued now and signed with the app's
    /// secret; `algorithm` overrides the `HMAC-SHA256` it names (the signature stays
    /// HMAC-SHA256). Another configured app's id forges one for ours. For any other payload or
    /// secret: [`crate::sign_signed_request`].
    ///
    /// # Panics
    /// If `app_id` is not a configured app.
    pub fn facebook_signed_request(&self, app_id: &str, user_id: &str, algorithm: Option<&str>) -> String {
        match self.shared.facebook.signed_request(app_id, user_id, algorithm, crate::util::now()) {
            Ok(signed) => signed,
            Err(e) => panic!("facebook_signed_request: {e:?} (app {app_id:?})"),
        }
    }

    /// Resets the app secret of the Facebook app `app_id` to `secret` (as the App Dashboard's
    /// "Reset" does): Graph refuses the old secret's app token and proofs from now on.
    ///
    /// # Panics
    /// If `app_id` is not a configured app (a mistake in the calling test).
    pub fn rotate_facebook_app_secret(&self, app_id: &str, secret: &str) {
        assert!(self.shared.facebook.set_app_secret(app_id, secret), "app {app_id:?} is not configured");
    }

    /// `person` removes the Facebook app `app_id` in their settings (as after which Graph
    /// answers 190/458 "App Not Installed" about them, until they log in to the app again).
    pub fn remove_facebook_app(&self, person: &str, app_id: &str) {
        self.shared.facebook.remove_app(person, app_id);
    }

    /// Creates a Twitter/X user; returns their `id_str` (19 digits).
    pub fn create_twitter_user(&self, name: &str, screen_name: &str, email: Option<&str>) -> String {
        self.shared.twitter.create_user(name, screen_name, email)
    }

    /// Issues an OAuth 1.0a user access token of `user` for the app `consumer_key`: returns
    /// `(oauth_token, oauth_token_secret)`.
    ///
    /// # Panics
    /// If `user` was not created by this emulator or `consumer_key` is not a configured app.
    pub fn issue_twitter_token(&self, user: &str, consumer_key: &str) -> (String, String) {
        match self.shared.twitter.issue_token(user, consumer_key) {
            Ok(pair) => pair,
            Err(e) => panic!("issue_twitter_token: {e:?} (user {user:?}, consumer key {consumer_key:?})"),
        }
    }

    /// Issues an OAuth 2.0 user bearer token of `user` for the app `consumer_key` (for
    /// `/2/users/me`). Panics like [`Emulator::issue_twitter_token`].
    pub fn issue_twitter_bearer(&self, user: &str, consumer_key: &str) -> String {
        match self.shared.twitter.issue_bearer(user, consumer_key) {
            Ok(token) => token,
            Err(e) => panic!("issue_twitter_bearer: {e:?} (user {user:?}, consumer key {consumer_key:?})"),
        }
    }

    /// Revokes a Twitter token of either kind (then code 89 / v2 401). Unknown tokens are ignored.
    pub fn revoke_twitter_token(&self, token: &str) {
        self.shared.twitter.revoke_token(token);
    }

    /// Registers an OAuth 1.0a token pair of `user` for the consumer `consumer_key` (fixed demo
    /// credentials).
    pub fn register_twitter_token(&self, user: &str, consumer_key: &str, token: &str, secret: &str) {
        if let Err(e) = self.shared.twitter.register_token(user, consumer_key, token, secret) {
            panic!("register_twitter_token: {e:?}");
        }
    }

    /// Creates a GitHub user with `emails` as `(address, verified, primary)`; returns their id.
    pub fn create_github_user(&self, login: &str, name: Option<&str>, emails: &[(&str, bool, bool)]) -> u64 {
        self.shared.github.create_user(login, name, emails)
    }

    /// Issues a user access token (`gho_` + 36 alphanumerics) of `user` for the OAuth app
    /// `client_id`, with the scopes `read:user` and `user:email`.
    ///
    /// # Panics
    /// If `user` was not created by this emulator or `client_id` is not a configured app.
    pub fn issue_github_token(&self, user: u64, client_id: &str) -> String {
        self.issue_github_token_with_scopes(user, client_id, &github::DEFAULT_SCOPES)
    }

    /// Like [`Emulator::issue_github_token`], with the given OAuth scopes (without `user:email`
    /// or `user`, `/user/emails` answers 404).
    pub fn issue_github_token_with_scopes(&self, user: u64, client_id: &str, scopes: &[&str]) -> String {
        match self.shared.github.issue_token(user, client_id, scopes) {
            Ok(token) => token,
            Err(e) => panic!("issue_github_token: {e:?} (user {user}, client id {client_id:?})"),
        }
    }

    /// Registers `token` as `user`'s token of the OAuth app `client_id` (fixed demo credentials).
    pub fn register_github_token(&self, user: u64, client_id: &str, token: &str) {
        if let Err(e) = self.shared.github.issue_token_as(user, client_id, &["read:user", "user:email"], Some(token)) {
            panic!("register_github_token: {e:?}");
        }
    }

    /// Revokes a GitHub token (the token check then answers 404). Unknown tokens are ignored.
    pub fn revoke_github_token(&self, token: &str) {
        self.shared.github.revoke_token(token);
    }
}
