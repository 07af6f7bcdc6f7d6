//! The demo world of the local stack, shared with the tests: an instance with a fixed API key
//! and a Facebook user with a fixed token. The `events/` samples carry these values, so they
//! work against the local gateway and in the tests alike. Local use only.

use emulator::Emulator;
use shared::store::StoreError;
use shared::{App, InstanceName, Secret};

pub const DEMO_INSTANCE: &str = "demo";
/// The demo instance's API key (40 hex, like every key), as the `events/` samples send it.
pub const DEMO_API_KEY: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";
/// The demo user's Facebook token, as the `events/` samples send it.
pub const DEMO_FACEBOOK_TOKEN: &str = "EAALocalDemoUserToken0123456789abcdefABCDEF";

/// Creates the demo instance (if missing) with [`DEMO_API_KEY`], and the demo Facebook user with
/// [`DEMO_FACEBOOK_TOKEN`] for `app_id`, valid `ttl_secs`.
pub async fn seed(app: &App, emulator: &Emulator, app_id: &str, ttl_secs: i64) -> Result<(), StoreError> {
    let instance = InstanceName::parse(DEMO_INSTANCE).ok_or(StoreError::Corrupt("demo instance name"))?;
    match app.store.create_instance(&instance).await {
        Ok(()) => {
            app.store.import_api_key(&instance, &Secret::new(DEMO_API_KEY)).await?;
        }
        Err(StoreError::InstanceExists) => {}
        Err(e) => return Err(e),
    }
    let person = emulator.create_facebook_user("Demo User", Some("demo@example.com"));
    emulator.register_facebook_token(&person, app_id, DEMO_FACEBOOK_TOKEN, ttl_secs);
    Ok(())
}
