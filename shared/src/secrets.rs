//! Secrets in AWS: SecureString parameters under one SSM Parameter Store path, read once per
//! cold start. `<path>/facebook-app-secret` becomes the variable `FACEBOOK_APP_SECRET`, and so on.

use crate::config::ConfigError;

/// The configuration variable a parameter's last path segment stands for, if it is a plain
/// lowercase name (`facebook-app-secret` → `FACEBOOK_APP_SECRET`).
pub fn variable_for_parameter(name: &str) -> Option<String> {
    let leaf = name.rsplit('/').next()?;
    let ok = !leaf.is_empty() && leaf.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| leaf.replace('-', "_").to_ascii_uppercase())
}

/// Reads every parameter directly under `path`, decrypted, as (variable, value) pairs.
pub async fn load_from_ssm(client: &aws_sdk_ssm::Client, path: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut next = None;
    loop {
        let page = client
            .get_parameters_by_path()
            .path(path)
            .with_decryption(true)
            .recursive(false)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| ConfigError::Secrets(aws_sdk_ssm::error::DisplayErrorContext(&e).to_string()))?;
        for p in page.parameters.unwrap_or_default() {
            if let (Some(var), Some(value)) = (p.name.as_deref().and_then(variable_for_parameter), p.value) {
                out.push((var, value));
            }
        }
        next = page.next_token;
        if next.is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_map_to_variables() {
        assert_eq!(
            variable_for_parameter("/social-login/prod/facebook-app-secret").as_deref(),
            Some("FACEBOOK_APP_SECRET")
        );
        assert_eq!(variable_for_parameter("/social-login/prod/token-secret").as_deref(), Some("TOKEN_SECRET"));
        assert_eq!(variable_for_parameter("/x/Weird_Name"), None);
        assert_eq!(variable_for_parameter("/x/"), None);
    }
}
