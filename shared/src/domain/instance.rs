//! Syncano instances: the tenant a user belongs to, addressed by name in the URL.

use std::fmt;

/// A validated instance name: 1 to 64 of `a-z`, `0-9`, `-`, starting with a letter or digit.
/// A name that fails this cannot exist, so the API answers it like an unknown instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceName(String);

impl InstanceName {
    pub fn parse(s: &str) -> Option<InstanceName> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        ok.then(|| InstanceName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_safe_names() {
        assert!(InstanceName::parse("demo").is_some());
        assert!(InstanceName::parse("my-app-2").is_some());
        for bad in ["", "-x", "Demo", "a/b", "a#b", "a b", &"x".repeat(65)] {
            assert!(InstanceName::parse(bad).is_none(), "{bad}");
        }
    }
}
