//! After the login, dialect-free: what a signed-in user does with a session (who am I, log out,
//! log out everywhere else, resume). Rocket.Chat's routes are these; the authorizer uses them.

use crate::domain::records::{Session, UserRecord};
use crate::domain::secret::Secret;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;
use crate::usecases::login::SignedIn;

impl App {
    /// The live session of `token`, which must belong to the user `user_id` (`X-User-Id`).
    pub(crate) async fn session(&self, token: &Secret, user_id: &str) -> Result<Session, UseCaseError> {
        match self.store.find_session(token).await? {
            Some(s) if s.rc_id == user_id => Ok(s),
            _ => Err(UseCaseError::NotLoggedIn),
        }
    }

    /// The session's user (`GET /api/v1/me`).
    pub async fn session_user(&self, token: &Secret, user_id: &str) -> Result<UserRecord, UseCaseError> {
        let s = self.session(token, user_id).await?;
        self.store.get_user(&s.instance, s.user_id).await?.ok_or(UseCaseError::NotLoggedIn)
    }

    /// Revokes this session only (`POST /api/v1/logout`).
    pub async fn end_session(&self, token: &Secret, user_id: &str) -> Result<(), UseCaseError> {
        let session = self.session(token, user_id).await?;
        self.store.delete_session(&session).await?;
        Ok(())
    }

    /// Revokes every session of the user but this one (`POST /api/v1/users.removeOtherTokens`);
    /// returns how many.
    pub async fn end_other_sessions(&self, token: &Secret, user_id: &str) -> Result<usize, UseCaseError> {
        let session = self.session(token, user_id).await?;
        Ok(self.store.delete_other_sessions(&session).await?)
    }

    /// The same session back (`POST /api/v1/login` with `{"resume": authToken}`), as Meteor's
    /// resume handler does: the same token, still expiring when the original login said. A
    /// resume never mints a token or extends one, so a stolen token dies with its session.
    pub async fn resume_session(&self, token: &Secret) -> Result<SignedIn, UseCaseError> {
        let s = self
            .store
            .find_session(token)
            .await?
            .ok_or_else(|| UseCaseError::TokenRejected("no live session".into()))?;
        let user = self
            .store
            .get_user(&s.instance, s.user_id)
            .await?
            .ok_or_else(|| UseCaseError::TokenRejected("user gone".into()))?;
        Ok(SignedIn { user, credential: token.clone(), first_login: false })
    }
}
