//! Usernames derived from the provider's display name: `Rocket Cat` → `rocket.cat`, with a
//! numeric suffix when the name is taken in the instance.

const MAX_BASE: usize = 30;

/// The preferred username for a display name: lowercase ASCII letters and digits, runs of
/// anything else folded to one `.`, common Latin accents stripped, `user` when nothing is left.
pub fn base_username(display_name: Option<&str>) -> String {
    let mut out = String::new();
    let mut pending_dot = false;
    for c in display_name.unwrap_or("").chars().flat_map(char::to_lowercase) {
        match fold_accent(c) {
            Some(a) => {
                if pending_dot && !out.is_empty() {
                    out.push('.');
                }
                pending_dot = false;
                out.push(a);
            }
            None => pending_dot = true,
        }
        if out.len() >= MAX_BASE {
            break;
        }
    }
    if out.is_empty() {
        "user".to_string()
    } else {
        out
    }
}

/// Usernames no one is given: Rocket.Chat's own bot (`rocket.cat`, whose messages clients show
/// as the server's), its mentions of everyone (`all`, `here`), and names people read as the
/// operator's. A base that is one of them starts at `base.2`.
pub const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "all",
    "anonymous",
    "here",
    "moderator",
    "null",
    "owner",
    "rocket.cat",
    "root",
    "security",
    "staff",
    "support",
    "system",
    "undefined",
];

/// Whether no user may hold `username`.
pub fn is_reserved(username: &str) -> bool {
    RESERVED.contains(&username)
}

/// The `attempt`-th candidate: the base, then `base.2` … `base.6`, then a random suffix, so a
/// popular name does not cost one write per existing holder. A reserved base is skipped.
pub fn candidate(base: &str, attempt: u32, random: u32) -> String {
    let attempt = if is_reserved(base) { attempt.saturating_add(1) } else { attempt };
    match attempt {
        0 => base.to_string(),
        1..=5 => format!("{base}.{}", attempt + 1),
        _ => format!("{base}.{}", 100 + random % 999_900),
    }
}

fn fold_accent(c: char) -> Option<char> {
    let folded = match c {
        'a'..='z' | '0'..='9' => c,
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ł' => 'l',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ř' => 'r',
        'ś' | 'š' | 'ß' => 's',
        'ť' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        _ => return None,
    };
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dotted_lowercase() {
        assert_eq!(base_username(Some("Rocket Cat")), "rocket.cat");
        assert_eq!(base_username(Some("  José  Álvarez-Núñez ")), "jose.alvarez.nunez");
        assert_eq!(base_username(Some("李小龍")), "user");
        assert_eq!(base_username(None), "user");
        assert_eq!(base_username(Some("O'Brien, Jr.")), "o.brien.jr");
        assert!(base_username(Some(&"a".repeat(100))).len() <= MAX_BASE);
    }

    #[test]
    fn reserved_names_are_never_candidates() {
        for name in ["Rocket Cat", "Admin", "ａｄｍｉｎ", "All", "Here", "System"] {
            let base = base_username(crate::domain::display_name::clean(name).as_deref());
            for attempt in 0..10 {
                let c = candidate(&base, attempt, 7);
                assert!(!is_reserved(&c), "{name}: {c}");
            }
            assert_eq!(candidate(&base, 0, 7), format!("{base}.2"), "{name}");
        }
        assert_eq!(candidate("rocket.kit", 0, 7), "rocket.kit");
    }

    #[test]
    fn candidates_suffix_on_collision() {
        assert_eq!(candidate("rocket.kit", 0, 7), "rocket.kit");
        assert_eq!(candidate("rocket.kit", 1, 7), "rocket.kit.2");
        assert_eq!(candidate("rocket.kit", 5, 7), "rocket.kit.6");
        assert_eq!(candidate("rocket.kit", 6, 7), "rocket.kit.107");
    }
}
