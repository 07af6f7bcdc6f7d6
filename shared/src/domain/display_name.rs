//! Display names as providers and clients give them (a Graph `name`, an ID token's `name`,
//! Apple's `fullName` from the app), made safe to store and show: NFKC-normalised (full-width
//! and compatibility forms folded, so `Ａｄｍｉｎ` is `Admin`), without control or format
//! characters (bidi overrides such as U+202E that reorder what a reader sees, zero-width
//! joiners and spaces, the byte-order mark, tag characters) nor the blank fillers used to fake
//! an empty name, with runs of white space folded to one space, and at most [`MAX_CHARS`]
//! characters. Nothing left: no name.

use unicode_normalization::UnicodeNormalization;

/// The longest name kept, in characters (Graph allows about 75; Apple's given + family names
/// are shorter).
pub const MAX_CHARS: usize = 128;

/// `raw` made safe to show; `None` when nothing visible is left.
pub fn clean(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut pending_space = false;
    let mut count = 0;
    for c in raw.nfkc() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_format(c) || is_blank_filler(c) {
            continue;
        }
        if count + usize::from(pending_space) + 1 > MAX_CHARS {
            break;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    (!out.is_empty()).then_some(out)
}

/// Unicode's format characters (general category Cf), as of Unicode 16.
fn is_format(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Letters that render as nothing, used to make a name look empty or to pad one: the Hangul
/// fillers, the Braille blank, the combining grapheme joiner, the variation selectors.
fn is_blank_filler(c: char) -> bool {
    matches!(
        c as u32,
        0x034F | 0x115F | 0x1160 | 0x2800 | 0x3164 | 0xFFA0 | 0xFE00..=0xFE0F | 0xE0100..=0xE01EF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_kept() {
        for name in ["Rocket Cat", "José Álvarez-Núñez", "李小龍", "O'Brien, Jr.", "Zoë", "محمد"] {
            assert_eq!(clean(name).as_deref(), Some(name), "{name}");
        }
    }

    #[test]
    fn bidi_and_other_format_characters_are_removed() {
        // "Mallory" + RLO + "gpj.exe": shown as "Malloryexe.jpg" without the cleaning.
        assert_eq!(clean("Mallory\u{202E}gpj.exe").as_deref(), Some("Mallorygpj.exe"));
        assert_eq!(clean("Ad\u{200B}min").as_deref(), Some("Admin"));
        assert_eq!(clean("\u{FEFF}Bob\u{2066}\u{2069}").as_deref(), Some("Bob"));
        assert_eq!(clean("Eve\u{E0041}\u{E007F}").as_deref(), Some("Eve"));
        assert_eq!(clean("tab\there\nnewline\u{7}").as_deref(), Some("tab here newline"));
    }

    #[test]
    fn compatibility_forms_are_folded() {
        assert_eq!(clean("Ａｄｍｉｎ").as_deref(), Some("Admin"));
        assert_eq!(clean("ﬁnn").as_deref(), Some("finn"));
        assert_eq!(clean("Cafe\u{301}").as_deref(), Some("Café"));
    }

    #[test]
    fn blank_names_are_no_names() {
        for blank in ["", "   ", "\u{3164}", "\u{200B}\u{200B}", "\u{2800} \u{115F}", "\u{202E}"] {
            assert_eq!(clean(blank), None, "{blank:?}");
        }
    }

    #[test]
    fn white_space_is_folded_and_length_bounded() {
        assert_eq!(clean("  Rocket \u{3000}\u{A0} Cat  ").as_deref(), Some("Rocket Cat"));
        let long = "x".repeat(1000);
        assert_eq!(clean(&long).map(|n| n.chars().count()), Some(MAX_CHARS));
        let spaced = "ab ".repeat(100);
        let kept = clean(&spaced).expect("name");
        assert!(kept.chars().count() <= MAX_CHARS && !kept.ends_with(' '), "{kept:?}");
    }
}
