//! The Syncano flows, in the platform's order: the instance's API key first (one read), then
//! what the route needs: a social login, the user of a user key, a key reset, a deletion.

use super::error::SyncanoError;
use super::request::LoginRequest;
use crate::domain::identity::Provider;
use crate::domain::instance::InstanceName;
use crate::domain::records::{ApiKeyCheck, ApiKeyPermissions, DeletionReason, InstanceAccess};
use crate::domain::secret::Secret;
use crate::usecases::app::App;
use crate::usecases::error::UseCaseError;
use crate::usecases::login::{Creation, SignedIn};

/// A social login (`SocialAuthView.post`): instance + API key, then the body's token, then the
/// backend, then the provider, then the user and its key.
pub async fn login(app: &App, req: LoginRequest, provider: Provider) -> Result<SignedIn, SyncanoError> {
    let (instance, permissions, access) = checked_api_key(app, &req.instance, req.api_key.as_ref()).await?;
    let credentials = req.credentials?;
    if !app.serves(&instance, provider).await? {
        return Err(UseCaseError::UnsupportedService(provider.syncano_backend().into()).into());
    }
    sign_in(app, &instance, permissions, &access, &credentials, provider).await
}

/// A social login at a backend no function of its own serves (Microsoft's `microsoft-graph`, a
/// custom provider's `oidc-{name}`), run by the fallback function: the platform's order for an
/// unknown backend (instance + API key, the body, its `access_token`, then the backend), so a
/// backend this instance does not serve answers exactly as one that does not exist; then the
/// same login as [`login`]. `body_checked` is what the fallback read of the body (its
/// `access_token`), before the backend.
pub async fn login_at_fallback(
    app: &App,
    req: LoginRequest,
    provider: Provider,
    body_checked: Result<(), SyncanoError>,
) -> Result<SignedIn, SyncanoError> {
    let (instance, permissions, access) = checked_api_key(app, &req.instance, req.api_key.as_ref()).await?;
    body_checked?;
    if !app.serves(&instance, provider).await? {
        return Err(UseCaseError::UnsupportedService(provider.syncano_backend().into()).into());
    }
    let credentials = req.credentials?;
    sign_in(app, &instance, permissions, &access, &credentials, provider).await
}

/// The login once the API key, the body and the backend are checked: the provider, then the
/// user and its key.
async fn sign_in(
    app: &App,
    instance: &InstanceName,
    permissions: ApiKeyPermissions,
    access: &InstanceAccess,
    credentials: &crate::providers::Credentials,
    provider: Provider,
) -> Result<SignedIn, SyncanoError> {
    let may_create = Creation::for_syncano(permissions, access);
    let signed_in = app.sign_in(instance, provider, credentials, may_create).await?;
    let mut login = app.with_user_key(signed_in.user)?;
    login.first_login = signed_in.first_login;
    Ok(login)
}

/// The instance named in a Syncano URL and what its API key may do, once the key is checked
/// (one read). An instance that does not exist answers exactly like a wrong key of one that
/// does, so instance names cannot be probed for.
pub async fn check_api_key(
    app: &App,
    instance: &str,
    api_key: Option<&Secret>,
) -> Result<(InstanceName, ApiKeyPermissions), SyncanoError> {
    let (instance, permissions, _) = checked_api_key(app, instance, api_key).await?;
    Ok((instance, permissions))
}

/// [`check_api_key`], with what the same read says of the instance's sign-up.
async fn checked_api_key(
    app: &App,
    instance: &str,
    api_key: Option<&Secret>,
) -> Result<(InstanceName, ApiKeyPermissions, InstanceAccess), SyncanoError> {
    let api_key = api_key.ok_or(SyncanoError::MissingApiKey)?;
    // The platform lowercases the name before it looks it up (`InstanceBasedMixin`).
    let instance = InstanceName::parse(&instance.to_lowercase()).ok_or(SyncanoError::InvalidApiKey)?;
    let access = app.api_key_access(&instance, api_key).await?;
    match access.check {
        ApiKeyCheck::Valid(permissions) => Ok((instance, permissions, access)),
        ApiKeyCheck::UnknownInstance | ApiKeyCheck::InvalidKey => Err(SyncanoError::InvalidApiKey),
    }
}

/// `GET /v1.1/instances/{instance}/user/`: the user of `user_key`, once `api_key` is checked.
pub async fn user_of_keys(
    app: &App,
    instance: &str,
    api_key: Option<&Secret>,
    user_key: Option<&Secret>,
) -> Result<SignedIn, SyncanoError> {
    let (instance, _) = check_api_key(app, instance, api_key).await?;
    user_of_key(app, &instance, user_key).await
}

/// The user of `user_key` in `instance`, whose API key is already checked.
pub async fn user_of_key(
    app: &App,
    instance: &InstanceName,
    user_key: Option<&Secret>,
) -> Result<SignedIn, SyncanoError> {
    let user_key = user_key.ok_or(SyncanoError::InvalidUserKey)?;
    let user = app.user_of_user_key(instance, user_key).await?.ok_or(SyncanoError::InvalidUserKey)?;
    Ok(app.with_user_key(user)?)
}

/// `POST /v1.1/instances/{instance}/users/{id}/reset_key/`: a new user key; the old one is
/// refused from then on. Only an admin key (`ignore_acl`) may: the client key ships in every
/// app. A client key is refused before the id is even read, so the answer is the same whether
/// or not the user exists.
pub async fn reset_key(
    app: &App,
    instance: &str,
    api_key: Option<&Secret>,
    user_id: &str,
) -> Result<SignedIn, SyncanoError> {
    let (instance, permissions) = check_api_key(app, instance, api_key).await?;
    if !permissions.ignore_acl {
        return Err(SyncanoError::PermissionDenied);
    }
    let user_id = parse_user_id(user_id).ok_or(SyncanoError::UserNotFound)?;
    let user = app.reset_user_key(&instance, user_id).await?.ok_or(SyncanoError::UserNotFound)?;
    Ok(app.with_user_key(user)?)
}

/// `DELETE /v1.1/instances/{instance}/users/{id}/`: the user and everything that leads to it
/// (`UserViewSet.destroy`). Only an admin key (`ignore_acl`), refused before the id is read, as
/// for [`reset_key`]. A deletion an earlier call began is finished.
pub async fn delete_user(
    app: &App,
    instance: &str,
    api_key: Option<&Secret>,
    user_id: &str,
) -> Result<(), SyncanoError> {
    let (instance, permissions) = check_api_key(app, instance, api_key).await?;
    if !permissions.ignore_acl {
        return Err(SyncanoError::PermissionDenied);
    }
    let user_id = parse_user_id(user_id).ok_or(SyncanoError::UserNotFound)?;
    match app.delete_account(&instance, user_id, DeletionReason::Admin).await? {
        true => Ok(()),
        false => Err(SyncanoError::UserNotFound),
    }
}

/// `DELETE /v1.1/instances/{instance}/user/` (this service's extension): the user of `user_key`
/// in `instance`, whose API key is already checked, deletes itself. The key's lookup outlives
/// the deletion's first step, so the same key finishes a deletion it began and was interrupted.
pub async fn delete_self(app: &App, instance: &InstanceName, user_key: Option<&Secret>) -> Result<(), SyncanoError> {
    let user_key = user_key.ok_or(SyncanoError::InvalidUserKey)?;
    let user_id = app.user_key_holder(instance, user_key).await?.ok_or(SyncanoError::InvalidUserKey)?;
    match app.delete_account(instance, user_id, DeletionReason::User).await? {
        true => Ok(()),
        false => Err(SyncanoError::InvalidUserKey),
    }
}

/// A user id as it appears in a URL: decimal digits only, as the API answers it (Rust's `parse`
/// would also take `+1`).
pub fn parse_user_id(text: &str) -> Option<u64> {
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
