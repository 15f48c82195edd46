//! Text from outside (what a mirror sends, what a fetched file says) as it may be stored and
//! shown: bounded in length, and with every control character escaped, so a reason can neither
//! fill a table nor clear and retitle the terminal `status` prints to.

/// Reasons and other text from outside are cut to this many characters.
pub const MAX_REASON: usize = 300;

/// `text` with control characters (C0, DEL, C1) and the bidirectional overrides escaped as
/// `\u{..}`, cut to `max` characters (with `…` and how much was cut).
pub fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 32));
    let mut count = 0;
    let mut chars = text.chars();
    for c in chars.by_ref() {
        let escaped =
            c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        let piece = if escaped {
            c.escape_unicode().to_string()
        } else {
            c.to_string()
        };
        let n = piece.chars().count();
        if count + n > max {
            let rest = 1 + chars.count();
            let s = if rest == 1 { "" } else { "s" };
            out.push_str(&format!("… ({rest} more character{s})"));
            return out;
        }
        out.push_str(&piece);
        count += n;
    }
    out
}

/// [`bounded`] to [`MAX_REASON`].
pub fn reason(text: &str) -> String {
    bounded(text, MAX_REASON)
}

/// An error and its causes, each said once, outermost first: a cause whose text the
/// message before it already holds (many messages quote their cause) is left out.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_length_bounded() {
        assert_eq!(reason("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            reason("a\u{1b}]0;x\u{7}b\0c\nd\u{202e}e"),
            "a\\u{1b}]0;x\\u{7}b\\u{0}c\\u{a}d\\u{202e}e"
        );
        let long = reason(&"x".repeat(900_000));
        assert!(long.starts_with(&"x".repeat(MAX_REASON)));
        assert!(
            long.ends_with("… (899700 more characters)"),
            "{}",
            &long[290..]
        );
        assert!(long.chars().count() < MAX_REASON + 40);
        // An escape never split at the cut.
        let cut = bounded("ab\u{1b}", 4);
        assert_eq!(cut, "ab… (1 more character)");
    }

    #[test]
    fn a_cause_already_quoted_is_said_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error, bool);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.1 {
                    true => write!(f, "cannot read x: {}", self.0),
                    false => write!(f, "cannot read x"),
                }
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let want = format!("cannot read x: {}", io());
        assert_eq!(error_chain(&Outer(io(), true)), want, "quoted: said once");
        assert_eq!(error_chain(&Outer(io(), false)), want, "not quoted: added");
    }
}
