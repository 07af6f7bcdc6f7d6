//! The Syncano user object, as the platform's `UserFullSerializer` writes it.

use serde::Serialize;

use crate::domain::clock::rfc3339_micros;
use crate::usecases::login::SignedIn;

#[derive(Debug, Serialize)]
pub struct UserLinks {
    #[serde(rename = "self")]
    pub self_: String,
    #[serde(rename = "reset-key")]
    pub reset_key: String,
    pub groups: String,
    /// The platform's link to the profile data object (`UserSerializer.hyperlinks`).
    pub profile: String,
}

#[derive(Debug, Serialize)]
pub struct ProfileLinks {
    /// The platform's `DataObjectSerializer` link to the profile itself.
    #[serde(rename = "self")]
    pub self_: String,
    pub owner: String,
}

#[derive(Debug, Serialize)]
pub struct Profile {
    pub id: u64,
    pub owner: u64,
    pub owner_permissions: &'static str,
    pub group_permissions: &'static str,
    pub other_permissions: &'static str,
    pub channel: Option<String>,
    pub channel_room: Option<String>,
    pub group: Option<u64>,
    pub avatar: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revision: u64,
    pub links: ProfileLinks,
}

/// The user object of the seed's 200 answer, plus the platform's fields the seed lacks
/// (`UserFullSerializer`): `groups`, `links.profile`, `profile.links.self`.
#[derive(Debug, Serialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub user_key: String,
    pub profile: Profile,
    /// The user's groups: this service has none (`GroupSerializer` objects on the platform).
    pub groups: [(); 0],
    pub links: UserLinks,
}

impl User {
    pub fn from_login(login: &SignedIn) -> User {
        let u = &login.user;
        let base = format!("/v1.1/instances/{}/users/{}/", u.instance, u.user_id);
        // One profile per user: it shares the user's id. Profiles are data objects of the
        // `user_profile` class on the platform.
        let profile = format!("/v1.1/instances/{}/classes/user_profile/objects/{}/", u.instance, u.user_id);
        User {
            id: u.user_id,
            username: u.username.clone(),
            user_key: login.credential.expose().to_string(),
            profile: Profile {
                // One profile per user: it shares the user's id.
                id: u.user_id,
                owner: u.user_id,
                owner_permissions: "full",
                group_permissions: "none",
                other_permissions: "none",
                channel: None,
                channel_room: None,
                group: None,
                avatar: u.avatar_url.clone(),
                created_at: rfc3339_micros(u.created_at),
                updated_at: rfc3339_micros(u.updated_at),
                revision: u.revision,
                links: ProfileLinks { self_: profile.clone(), owner: base.clone() },
            },
            groups: [],
            links: UserLinks {
                reset_key: format!("{base}reset_key/"),
                groups: format!("{base}groups/"),
                profile,
                self_: base,
            },
        }
    }
}
