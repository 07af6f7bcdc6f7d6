//! Facebook's callbacks, the URLs an app team registers in its Facebook app (README, "Account
//! deletion and provider duties"):
//!
//! - `POST /callbacks/facebook/{instance}/data-deletion`: the data deletion request callback.
//!   The person removed our app and asked for their data to be deleted: the Facebook identity is
//!   forgotten ([`App::forget_identity`]: the whole account when it was the user's only
//!   identity, audit reason `facebook`; else the identity goes and every session of the user
//!   ends) in every instance where it exists, not only the one the URL names: our Facebook app
//!   serves them all ([`App::callback_instances`]). The answer is Facebook's
//!   `{"url", "confirmation_code"}`; the url is the status route, which counts what went.
//! - `GET /callbacks/facebook/deletion-status/{code}`: what became of that request (the page
//!   Facebook shows the person). The code is random (128 bits), not derived from anyone's id:
//!   knowing it is the only way in.
//! - `POST /callbacks/facebook/{instance}/deauthorize`: the deauthorize callback. The person
//!   removed our app: every session of that user ends, in every instance; the identity stays
//!   (the next Facebook login is the same user).
//!
//! Both POSTs carry a form `signed_request` ([`signed_request`]), verified with our app secret.
//! Only one issued within [now − [`MAX_REQUEST_AGE_SECS`], now + [`MAX_FUTURE_SECS`]] is taken,
//! and never a login `signed_request` (one with `code` or `oauth_token`: 400).
//! A redelivery of the same data deletion request answers the same code and changes nothing
//! more (the request is recorded by the SHA-256 of its signature); a deauthorize request is
//! recorded the same way (`FBDEAUTH#`, [`crate::store::CallbackRecord`]) until it is too old
//! to be taken, so a replay (after a fresh sign-in, say) ends nothing. Nothing is revoked at
//! Facebook: the person already removed the app.
//! Refusals are JSON `{"error", "message"}`, as Apple's callback answers them.

pub mod signed_request;

use serde::Serialize;

use crate::domain::clock;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::records::DeletionReason;
use crate::domain::secret::Secret;
use crate::store::{CallbackClaim, CallbackRecord, Claim, DeletionCounts, FacebookDeletion, StoreError};
use crate::usecases::accounts::Forgotten;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;
use signed_request::{SignedRequest, SignedRequestError};

/// The oldest `signed_request` accepted (by its `issued_at`): Facebook calls at once. Every
/// deletion request is remembered at least this long (`AUDIT_RETENTION_DAYS` is at least a
/// day), so a replay of an old one can never delete again.
pub const MAX_REQUEST_AGE_SECS: i64 = 86_400;

/// How far ahead of our clock a `signed_request`'s `issued_at` may be (clock skew): one dated
/// later is refused (issue 28: one dated ten years ahead was taken).
pub const MAX_FUTURE_SECS: i64 = 300;

/// How much longer than the window a deauthorize record is kept (clock differences between our
/// functions).
const RECORD_MARGIN_SECS: i64 = 60;

/// Length of a confirmation code: 128 random bits in lowercase hex.
const CODE_LEN: usize = 32;

/// Why a callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No or a garbled `signed_request`, or not a form: the text is safe to show.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The path's instance is not an instance name.
    #[error("unknown instance")]
    UnknownInstance,
    /// No such confirmation code (or it expired).
    #[error("unknown confirmation code")]
    UnknownCode,
    /// This deployment does not serve Facebook Login.
    #[error("Facebook Login is not served")]
    NotServed,
    /// Not signed by our app with HMAC-SHA256, or too old; the reason is for logs only.
    #[error("not Facebook's request for this app: {0}")]
    NotFacebooks(&'static str),
    /// Our store out of reach (or our own bug).
    #[error(transparent)]
    Login(#[from] UseCaseError),
}

impl From<SignedRequestError> for CallbackError {
    fn from(e: SignedRequestError) -> Self {
        match e {
            SignedRequestError::Malformed(why) => CallbackError::BadRequest(why),
            SignedRequestError::Forged(why) => CallbackError::NotFacebooks(why),
        }
    }
}

impl From<StoreError> for CallbackError {
    fn from(e: StoreError) -> Self {
        CallbackError::Login(e.into())
    }
}

/// What a data deletion request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The Facebook identity was its user's only one: the account is deleted.
    AccountDeleted,
    /// The identity is gone and its user's sessions ended; the user keeps its other identities.
    IdentityRemoved,
    /// No user here holds that identity (never did, or it was forgotten before).
    NothingToDo,
}

impl Outcome {
    /// The request's outcome over every instance: an account deleted anywhere, else an identity
    /// removed anywhere, else nothing.
    fn of(counts: DeletionCounts) -> Outcome {
        if counts.accounts_deleted > 0 {
            Outcome::AccountDeleted
        } else if counts.identities_removed > 0 {
            Outcome::IdentityRemoved
        } else {
            Outcome::NothingToDo
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::AccountDeleted => "account-deleted",
            Outcome::IdentityRemoved => "identity-removed",
            Outcome::NothingToDo => "nothing-to-do",
        }
    }

    fn parse(text: &str) -> Option<Outcome> {
        [Outcome::AccountDeleted, Outcome::IdentityRemoved, Outcome::NothingToDo]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// The data deletion callback's answer, in Facebook's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionReceipt {
    pub url: String,
    pub confirmation_code: String,
}

/// Where a deletion request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Progress {
    /// Received; not finished yet (or an attempt stopped: Facebook's redelivery finishes it).
    InProgress,
    Completed,
}

/// The status route's answer: what became of the request (nothing personal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionStatus {
    pub confirmation_code: String,
    pub status: Progress,
    /// `None` until completed.
    pub outcome: Option<Outcome>,
    /// RFC 3339.
    pub requested_at: String,
    pub completed_at: Option<String>,
    /// Accounts deleted, over every instance where the person had signed in (`None` until
    /// completed, and for requests completed before it was counted).
    pub accounts_deleted: Option<u64>,
    /// Accounts that kept another identity and lost only Facebook's (`None` as above).
    pub identities_removed: Option<u64>,
    /// For the person reading it.
    pub message: &'static str,
}

impl DeletionStatus {
    fn of(deletion: &FacebookDeletion) -> Result<DeletionStatus, CallbackError> {
        let outcome = match deletion.outcome.as_deref() {
            None => None,
            Some(text) => Some(Outcome::parse(text).ok_or(StoreError::Corrupt("facebook deletion outcome"))?),
        };
        let message = match outcome {
            None => "Your request was received; the deletion is under way.",
            Some(Outcome::AccountDeleted) => "Your account and the data it held have been deleted.",
            Some(Outcome::IdentityRemoved) => {
                "Your Facebook login and the data from Facebook have been deleted; your sessions ended."
            }
            Some(Outcome::NothingToDo) => "We hold no data from your Facebook account: there was nothing to delete.",
        };
        Ok(DeletionStatus {
            confirmation_code: deletion.code.clone(),
            status: if outcome.is_some() { Progress::Completed } else { Progress::InProgress },
            outcome,
            requested_at: clock::rfc3339_micros(deletion.requested_at),
            completed_at: deletion.completed_at.map(clock::rfc3339_micros),
            accounts_deleted: deletion.counts.map(|c| c.accounts_deleted),
            identities_removed: deletion.counts.map(|c| c.identities_removed),
            message,
        })
    }
}

/// The deauthorize callback's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deauthorized {
    /// Sessions ended now (0: no user holds that identity, or none was signed in).
    pub sessions_ended: usize,
}

/// Is `url` a picture Facebook serves (its CDN, its profile picture lookaside, the Graph API)?
pub fn is_facebook_picture(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    let host =
        host.rsplit_once('@').map_or(host.as_str(), |(_, h)| h).split(':').next().unwrap_or_default().to_string();
    ["facebook.com", "fbcdn.net", "fbsbx.com"].iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// A `signed_request`'s `issued_at`, which must be within [now − [`MAX_REQUEST_AGE_SECS`],
/// now + [`MAX_FUTURE_SECS`]] (epoch seconds).
pub fn issued_within_window(issued_at: Option<i64>, now: i64) -> Result<i64, CallbackError> {
    let issued_at = issued_at.ok_or(CallbackError::BadRequest("the signed_request has no issued_at"))?;
    if issued_at < now.saturating_sub(MAX_REQUEST_AGE_SECS) {
        return Err(CallbackError::NotFacebooks("the signed_request is too old"));
    }
    if issued_at > now.saturating_add(MAX_FUTURE_SECS) {
        return Err(CallbackError::NotFacebooks("the signed_request is issued in the future"));
    }
    Ok(issued_at)
}

/// A new confirmation code: 128 random bits, lowercase hex.
fn new_code() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Is `code` shaped like one of ours (no lookup for anything else)?
fn is_code(code: &str) -> bool {
    code.len() == CODE_LEN && code.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl App {
    /// Verifies `signed` with the app secret of `instance`'s Facebook app (its own, or else the
    /// deployment's), and that it is recent.
    async fn facebook_signed_request(
        &self,
        instance: &InstanceName,
        signed: &Secret,
    ) -> Result<SignedRequest, CallbackError> {
        let serving = self.providers_for(instance).await?;
        let facebook = serving.config(&self.config).facebook.as_ref().ok_or(CallbackError::NotServed)?;
        let request = signed_request::verify(signed.expose(), facebook.app_secret.expose().as_bytes())?;
        issued_within_window(request.issued_at, clock::now_secs())?;
        Ok(request)
    }

    /// The data deletion callback for `instance`: forgets the person's Facebook identity (once
    /// per request) and answers where its status can be read.
    pub async fn facebook_data_deletion(
        &self,
        instance: &InstanceName,
        signed: &Secret,
    ) -> Result<DeletionReceipt, CallbackError> {
        let request = self.facebook_signed_request(instance, signed).await?;
        let now = clock::now_micros();
        let expires_at =
            clock::now_secs().saturating_add(i64::try_from(self.config.audit_retention.as_secs()).unwrap_or(i64::MAX));
        let claim =
            self.store.claim_facebook_deletion(instance, &request.fingerprint, &new_code(), now, expires_at).await?;
        let deletion = match claim {
            // Done before: the same answer, nothing more.
            Claim::Existing(done) if done.outcome.is_some() => done,
            // New, or an earlier attempt stopped before recording what it did: (finish and) record.
            Claim::New(pending) | Claim::Existing(pending) => {
                let counts = self.forget_facebook_person(instance, &request.user_id).await?;
                let outcome = Outcome::of(counts);
                tracing::info!(
                    instance = %instance,
                    outcome = outcome.as_str(),
                    accounts_deleted = counts.accounts_deleted,
                    identities_removed = counts.identities_removed,
                    "facebook data deletion"
                );
                let at = clock::now_micros();
                self.store.complete_facebook_deletion(&pending.code, outcome.as_str(), counts, at).await?
            }
        };
        Ok(DeletionReceipt {
            url: format!("{}/callbacks/facebook/deletion-status/{}", self.config.public_base_url, deletion.code),
            confirmation_code: deletion.code,
        })
    }

    /// Forgets the Facebook identity `asid` in every instance where it exists
    /// ([`App::callback_instances`]); what went.
    async fn forget_facebook_person(&self, named: &InstanceName, asid: &str) -> Result<DeletionCounts, CallbackError> {
        let mut counts = DeletionCounts::default();
        for instance in self.callback_instances(named, Provider::Facebook, asid).await? {
            match self.forget_identity(&instance, Provider::Facebook, asid, DeletionReason::Facebook).await? {
                Forgotten::AccountDeleted { .. } => counts.accounts_deleted += 1,
                Forgotten::IdentityRemoved { user_id } => {
                    // The user stays: Facebook's picture must not (it names the person).
                    self.store.forget_avatar(&instance, user_id, is_facebook_picture).await?;
                    counts.identities_removed += 1;
                }
                Forgotten::NoSuchIdentity => {}
            }
        }
        Ok(counts)
    }

    /// The status of the data deletion request `code`.
    pub async fn facebook_deletion_status(&self, code: &str) -> Result<DeletionStatus, CallbackError> {
        if !is_code(code) {
            return Err(CallbackError::UnknownCode);
        }
        let deletion = self.store.facebook_deletion(code).await?.ok_or(CallbackError::UnknownCode)?;
        DeletionStatus::of(&deletion)
    }

    /// The deauthorize callback for `instance`: ends every session of the person's user.
    pub async fn facebook_deauthorize(
        &self,
        instance: &InstanceName,
        signed: &Secret,
    ) -> Result<Deauthorized, CallbackError> {
        let request = self.facebook_signed_request(instance, signed).await?;
        // Recorded until it is too old to be taken (issued_at is checked above, so within
        // [now - MAX_REQUEST_AGE_SECS, now + MAX_FUTURE_SECS]).
        let record = CallbackRecord::FacebookDeauthorization(&request.fingerprint);
        let expires_at =
            request.issued_at.unwrap_or_default().saturating_add(MAX_REQUEST_AGE_SECS + RECORD_MARGIN_SECS);
        if self.store.claim_callback(record, expires_at).await? == CallbackClaim::Done {
            tracing::info!(instance = %instance, replayed = true, sessions_ended = 0, "facebook deauthorize");
            return Ok(Deauthorized { sessions_ended: 0 });
        }
        // The person removed the deployment's app: every instance where they signed in with it.
        let (mut known, mut sessions_ended) = (0, 0);
        for each in self.callback_instances(instance, Provider::Facebook, &request.user_id).await? {
            if let Some(ended) = self.end_identity_sessions(&each, Provider::Facebook, &request.user_id).await? {
                (known, sessions_ended) = (known + 1, sessions_ended + ended);
            }
        }
        self.store.finish_callback(record).await?;
        tracing::info!(instance = %instance, instances = known, sessions_ended, "facebook deauthorize");
        Ok(Deauthorized { sessions_ended })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facebook_pictures_are_known_by_their_host() {
        assert!(is_facebook_picture("https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=1"));
        assert!(is_facebook_picture("https://scontent.xx.fbcdn.net/v/t1/p.jpg"));
        assert!(is_facebook_picture("https://graph.facebook.com/1/picture"));
        assert!(!is_facebook_picture("https://lh3.googleusercontent.com/a/x"));
        assert!(!is_facebook_picture("https://fbcdn.net.evil.example/p.jpg"));
        assert!(!is_facebook_picture("https://notfacebook.com/p.jpg"));
    }

    #[test]
    fn codes_are_128_random_bits_in_hex() {
        let (a, b) = (new_code(), new_code());
        assert_ne!(a, b);
        assert!(is_code(&a) && is_code(&b), "{a} {b}");
        assert!(!is_code(&a.to_uppercase()));
        assert!(!is_code(&a[1..]));
        assert!(!is_code("../../etc/passwd"));
    }

    #[test]
    fn the_status_says_what_became_of_the_request_and_nothing_personal() {
        let deletion = FacebookDeletion {
            code: "0123456789abcdef0123456789abcdef".into(),
            instance: "demo".into(),
            outcome: Some("account-deleted".into()),
            requested_at: 1_795_453_200_000_000,
            completed_at: Some(1_795_453_200_500_000),
            counts: Some(DeletionCounts { accounts_deleted: 2, identities_removed: 1 }),
        };
        let body = serde_json::to_value(DeletionStatus::of(&deletion).expect("reads")).expect("serializes");
        assert_eq!(body["status"], "completed");
        assert_eq!(body["outcome"], "account-deleted");
        assert_eq!(body["confirmation_code"], deletion.code.as_str());
        assert!(body.get("instance").is_none());
        assert_eq!((body["accounts_deleted"].as_u64(), body["identities_removed"].as_u64()), (Some(2), Some(1)));
        let pending = FacebookDeletion { outcome: None, completed_at: None, counts: None, ..deletion };
        let body = serde_json::to_value(DeletionStatus::of(&pending).expect("reads")).expect("serializes");
        assert_eq!((body["status"].as_str(), body["outcome"].is_null()), (Some("in-progress"), true));
    }
}
