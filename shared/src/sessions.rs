//! After the login: what a client does with the credential it got. Rocket.Chat sessions
//! (`me`, `logout`, `resume`) and Syncano user keys (`user`, `reset_key`).

use crate::app::App;
use crate::instance::InstanceName;
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
        let session = self.session(token, user_id).await?;
        self.store.delete_session(&session).await?;
        Ok(())
    }

    /// `POST /api/v1/users.removeOtherTokens`: revokes every session of the user but this one.
    pub async fn rocketchat_remove_other_tokens(&self, token: &Secret, user_id: &str) -> Result<usize, LoginError> {
        let session = self.session(token, user_id).await?;
        Ok(self.store.delete_other_sessions(&session).await?)
    }

    /// `POST /api/v1/login` with `{"resume": authToken}`: the same session back, as Meteor's
    /// resume handler does: the same token, still expiring when the original login said. A
    /// resume never mints a token or extends one, so a stolen token dies with its session.
    pub async fn rocketchat_resume(&self, token: &Secret) -> Result<RocketChatLogin, LoginError> {
        let s =
            self.store.find_session(token).await?.ok_or_else(|| LoginError::TokenRejected("no live session".into()))?;
        let user = self
            .store
            .get_user(&s.instance, s.user_id)
            .await?
            .ok_or_else(|| LoginError::TokenRejected("user gone".into()))?;
        Ok(RocketChatLogin { user, auth_token: token.clone() })
    }

    /// `GET /v1.1/instances/{instance}/user/`: the user of `X-USER-KEY`.
    pub async fn syncano_user(
        &self,
        instance: &str,
        api_key: Option<&Secret>,
        user_key: Option<&Secret>,
    ) -> Result<SyncanoLogin, LoginError> {
        let (instance, _) = self.check_api_key(instance, api_key).await?;
        self.syncano_user_of_key(&instance, user_key).await
    }

    /// The user of `user_key` in `instance`, whose API key is already checked.
    pub(crate) async fn syncano_user_of_key(
        &self,
        instance: &InstanceName,
        user_key: Option<&Secret>,
    ) -> Result<SyncanoLogin, LoginError> {
        let user_key = user_key.ok_or(LoginError::InvalidUserKey)?;
        let user = self.store.find_by_user_key(instance, user_key).await?.ok_or(LoginError::InvalidUserKey)?;
        self.syncano_answer(user)
    }

    /// `POST /v1.1/instances/{instance}/users/{id}/reset_key/`: a new user key; the old one is
    /// refused from then on. Only an admin key (`ignore_acl`) may: the client key ships in every
    /// app. A client key is refused before the id is even read, so the answer is the same whether
    /// or not the user exists.
    pub async fn syncano_reset_key(
        &self,
        instance: &str,
        api_key: Option<&Secret>,
        user_id: &str,
    ) -> Result<SyncanoLogin, LoginError> {
        let (instance, permissions) = self.check_api_key(instance, api_key).await?;
        if !permissions.ignore_acl {
            return Err(LoginError::PermissionDenied);
        }
        let user_id = parse_user_id(user_id).ok_or(LoginError::UserNotFound)?;
        let user =
            self.store.reset_user_key(&instance, user_id, &self.user_keys).await?.ok_or(LoginError::UserNotFound)?;
        self.syncano_answer(user)
    }
}

/// A user id as it appears in a URL: decimal digits only, as the API answers it (Rust's `parse`
/// would also take `+1`).
pub(crate) fn parse_user_id(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_user_id;

    #[test]
    fn user_ids_are_plain_decimal() {
        assert_eq!(parse_user_id("17"), Some(17));
        for bad in ["", "+1", "-1", " 1", "1.0", "0x1", "99999999999999999999999"] {
            assert_eq!(parse_user_id(bad), None, "{bad:?}");
        }
    }
}
