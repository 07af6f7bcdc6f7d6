//! After the login: what a client does with the credential it got. Rocket.Chat sessions
//! (`me`, `logout`, `resume`) and Syncano user keys (`user`, `reset_key`).

use crate::app::App;
use crate::login::{LoginError, RocketChatLogin, SyncanoLogin};
use crate::secret::Secret;
use crate::store::{Session, UserRecord};

impl App {
    /// The live session of `token`, which must belong to the user `user_id` (`X-User-Id`).
    async fn session(&self, token: &Secret, user_id: &str) -> Result<Session, LoginError> {
        match self.store.find_session(token).await? {
            Some(s) if s.rc_id == user_id => Ok(s),
            _ => Err(LoginError::NotLoggedIn),
        }
    }

    /// `GET /api/v1/me`: the session's user.
    pub async fn rocketchat_me(&self, token: &Secret, user_id: &str) -> Result<UserRecord, LoginError> {
        let s = self.session(token, user_id).await?;
        self.store.get_user(&s.instance, s.user_id).await?.ok_or(LoginError::NotLoggedIn)
    }

    /// `POST /api/v1/logout`: revokes this session only.
    pub async fn rocketchat_logout(&self, token: &Secret, user_id: &str) -> Result<(), LoginError> {
        self.session(token, user_id).await?;
        self.store.delete_session(token).await?;
        Ok(())
    }

    /// `POST /api/v1/login` with `{"resume": authToken}`: a new session for a live one, without
    /// the provider. The old session stays valid until it expires or is logged out.
    pub async fn rocketchat_resume(&self, token: &Secret) -> Result<RocketChatLogin, LoginError> {
        let s =
            self.store.find_session(token).await?.ok_or_else(|| LoginError::TokenRejected("no live session".into()))?;
        let user = self
            .store
            .get_user(&s.instance, s.user_id)
            .await?
            .ok_or_else(|| LoginError::TokenRejected("user gone".into()))?;
        self.new_session(user).await
    }

    /// `GET /v1.1/instances/{instance}/user/`: the user of `X-USER-KEY`.
    pub async fn syncano_user(
        &self,
        instance: &str,
        api_key: Option<&Secret>,
        user_key: Option<&Secret>,
    ) -> Result<SyncanoLogin, LoginError> {
        let instance = self.check_api_key(instance, api_key).await?;
        let user_key = user_key.ok_or(LoginError::InvalidUserKey)?;
        let user = self.store.find_by_user_key(&instance, user_key).await?.ok_or(LoginError::InvalidUserKey)?;
        Ok(self.syncano_answer(user))
    }

    /// `POST /v1.1/instances/{instance}/users/{id}/reset_key/`: a new user key; the old one is
    /// refused from then on.
    pub async fn syncano_reset_key(
        &self,
        instance: &str,
        api_key: Option<&Secret>,
        user_id: &str,
    ) -> Result<SyncanoLogin, LoginError> {
        let instance = self.check_api_key(instance, api_key).await?;
        let user_id: u64 = user_id.parse().map_err(|_| LoginError::UserNotFound)?;
        let user =
            self.store.reset_user_key(&instance, user_id, &self.user_keys).await?.ok_or(LoginError::UserNotFound)?;
        Ok(self.syncano_answer(user))
    }
}
