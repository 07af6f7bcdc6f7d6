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

/// The `attempt`-th candidate: the base, then `base.2` … `base.6`, then a random suffix, so a
/// popular name does not cost one write per existing holder.
pub fn candidate(base: &str, attempt: u32, random: u32) -> String {
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
    fn candidates_suffix_on_collision() {
        assert_eq!(candidate("rocket.cat", 0, 7), "rocket.cat");
        assert_eq!(candidate("rocket.cat", 1, 7), "rocket.cat.2");
        assert_eq!(candidate("rocket.cat", 5, 7), "rocket.cat.6");
        assert_eq!(candidate("rocket.cat", 6, 7), "rocket.cat.107");
    }
}
