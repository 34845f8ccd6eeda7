//! The one escaper for text that came from outside: file names the kernel returns, mount
//! points and devices from mountinfo, values read from metrics files, messages built from
//! them. Every rendering (audit and report lines, JSON, journal fields, `xfs-heal status`)
//! passes such text through [`escape`] first, so the same character is shown the same way
//! everywhere and none of them can forge a field, a line or what a terminal displays.
//!
//! What is escaped: the backslash (`\\`), the double quote (`\x22`: it would close a
//! `key="value"` field of an audit line), every control character (C0, DEL and C1), every
//! format character (Unicode's `Cf`: bidirectional overrides such as U+202E, zero-width
//! characters such as U+200B, the byte-order mark, tag characters), the line and paragraph
//! separators, and bytes that are not UTF-8. Each becomes `\xNN` per UTF-8 byte; printable
//! text, including non-ASCII letters, stays as it is.

use serde::Serialize;

/// Text that has been through [`escape`]: safe to show anywhere as it is, and never escaped
/// twice (only [`Escaped::new`] and [`Escaped::of`] make one).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Escaped(String);

impl Escaped {
    pub fn new(bytes: &[u8]) -> Self {
        Self(escape(bytes))
    }

    pub fn of(s: &str) -> Self {
        Self(escape_str(s).into_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Escaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Unicode's format characters (general category `Cf`, Unicode 15.1), as inclusive ranges.
/// Few, stable, and sorted: a binary search finds them.
const FORMAT: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// A format character (`Cf`).
pub fn is_format(c: char) -> bool {
    FORMAT
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Whether `c` is shown escaped (`\\` for the backslash, `\xNN` for the rest).
pub fn must_escape(c: char) -> bool {
    matches!(c, '\\' | '"' | '\u{2028}' | '\u{2029}') || c.is_control() || is_format(c)
}

/// `bytes` as one line of safe text: see the module's comment.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if must_escape(c) => {
                    let mut b = [0u8; 4];
                    c.encode_utf8(&mut b).bytes().for_each(|byte| hex(&mut out, byte));
                }
                c => out.push(c),
            }
        }
        chunk.invalid().iter().for_each(|byte| hex(&mut out, *byte));
    }
    out
}

/// [`escape`] of a string; borrowed as it is when nothing needs escaping.
pub fn escape_str(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(must_escape) {
        escape(s.as_bytes()).into()
    } else {
        s.into()
    }
}

fn hex(out: &mut String, byte: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(char::from(DIGITS[usize::from(byte >> 4)]));
    out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn printable_text_stays_and_the_rest_is_escaped_byte_by_byte() {
        assert_eq!(escape(b"plain name.txt"), "plain name.txt");
        assert_eq!(escape("caf\u{e9} \u{65e5}\u{672c}".as_bytes()), "caf\u{e9} \u{65e5}\u{672c}");
        assert_eq!(escape(b"a\nb\tc\x1b[31m\x7f"), "a\\x0ab\\x09c\\x1b[31m\\x7f");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape(b"bad\xff\xfeutf8"), "bad\\xff\\xfeutf8");
        assert_eq!(escape("\u{85}\u{9b}".as_bytes()), "\\xc2\\x85\\xc2\\x9b", "C1 controls");
    }

    #[test]
    fn a_quote_cannot_close_a_field() {
        let name = "q\" verdict=refused peer_uid=0 x=\"y";
        assert_eq!(escape_str(name), "q\\x22 verdict=refused peer_uid=0 x=\\x22y");
    }

    #[test]
    fn format_characters_and_separators_are_escaped() {
        for (c, want) in [
            ('\u{202e}', "\\xe2\\x80\\xae"),
            ('\u{200b}', "\\xe2\\x80\\x8b"),
            ('\u{feff}', "\\xef\\xbb\\xbf"),
            ('\u{2066}', "\\xe2\\x81\\xa6"),
            ('\u{2028}', "\\xe2\\x80\\xa8"),
            ('\u{ad}', "\\xc2\\xad"),
            ('\u{e0041}', "\\xf3\\xa0\\x81\\x81"),
        ] {
            assert_eq!(escape_str(&c.to_string()), want, "U+{:04X}", u32::from(c));
        }
        // Neighbours of the ranges are printable and stay.
        for c in ['\u{ac}', '\u{ae}', '\u{200a}', '\u{2010}', '\u{2065}', '\u{2070}', '\u{fefe}', '\u{e0080}']
        {
            assert!(!must_escape(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn the_format_table_is_sorted_and_disjoint() {
        for pair in FORMAT.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn nothing_to_escape_borrows() {
        assert!(matches!(escape_str("/mnt/data"), std::borrow::Cow::Borrowed(_)));
    }

    proptest! {
        /// An escaped text is one line with no character that needs escaping but the
        /// escapes' own backslashes, and distinct inputs stay distinct.
        #[test]
        fn escaped_text_is_inert_and_injective(a in proptest::collection::vec(any::<u8>(), 0..64),
                                               b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (ea, eb) = (escape(&a), escape(&b));
            prop_assert!(ea.chars().all(|c| c == '\\' || !must_escape(c)), "{ea:?}");
            prop_assert!(!ea.contains('"') && !ea.contains('\n'));
            if a != b {
                prop_assert_ne!(ea, eb);
            }
        }

        /// Any string, escaped, has no control or format character left.
        #[test]
        fn no_control_or_format_character_survives(s in "\\PC*|[\u{0}-\u{9f}\u{200b}-\u{206f}\u{feff}]*") {
            let e = escape_str(&s);
            prop_assert!(e.chars().all(|c| !c.is_control() && !is_format(c)), "{e:?}");
        }
    }
}
