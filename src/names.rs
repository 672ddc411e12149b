//! Upstream's name rules (codersdk `NameValid`, `GroupNameValid`): one place that says what
//! a user, organization, template, workspace or group name may be, so a name accepted here
//! is accepted by upstream Coder too; and the rules for free text (display names, real
//! names, token names) that keep a stored value printable in a terminal and storable on
//! either engine. Pure.

/// Letters and digits in runs joined by single hyphens (`UsernameValidRegex` upstream).
fn is_alphanumeric_with_hyphens(s: &str) -> bool {
    !s.is_empty() && s.split('-').all(|run| !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Validates a user, organization, template or workspace name: 1 to 32 characters,
/// alphanumeric runs joined by single hyphens, and not `new` or `create` (they collide with
/// routes). The error says what is wrong, in upstream's words.
pub fn name_valid(name: &str) -> Result<(), String> {
    if name.len() > 32 {
        return Err("must be <= 32 characters".to_owned());
    }
    if name.is_empty() {
        return Err("must be >= 1 character".to_owned());
    }
    if name == "new" || name == "create" {
        return Err(format!("cannot use {name:?} as a name"));
    }
    if !is_alphanumeric_with_hyphens(name) {
        return Err("must be alphanumeric with hyphens".to_owned());
    }
    Ok(())
}

/// Validates a group name: as [`name_valid`] but up to 36 characters (a UUID fits).
pub fn group_name_valid(name: &str) -> Result<(), String> {
    if name.len() > 36 {
        return Err("must be <= 36 characters".to_owned());
    }
    if name == "new" || name == "create" {
        return Err(format!("cannot use {name:?} as a name"));
    }
    if !is_alphanumeric_with_hyphens(name) {
        return Err("must be alphanumeric with hyphens".to_owned());
    }
    Ok(())
}

/// Characters no stored text may hold: NUL, which PostgreSQL's `text` cannot store, so a
/// value with one could never move to PostgreSQL (`db copy`).
pub fn nul_free(text: &str) -> Result<(), String> {
    if text.contains('\0') { Err("must not contain NUL characters".to_owned()) } else { Ok(()) }
}

/// The JSON path (`name`, `users[0].email`) of the first string or key in `value` that holds
/// a NUL character (`body` for a top-level string).
pub fn first_nul_in_json(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: String) -> Option<String> {
        match value {
            serde_json::Value::String(s) if s.contains('\0') => {
                Some(if path.is_empty() { "body".to_owned() } else { path })
            }
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, v)| walk(v, format!("{path}[{i}]")))
            }
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                if k.contains('\0') { Some(here) } else { walk(v, here) }
            }),
            _ => None,
        }
    }
    walk(value, String::new())
}

/// Whether `c` would change how a terminal or a table shows the text around it: control
/// characters (newline, ESC, ...) and the bidirectional overrides and isolates that reorder
/// what follows them.
fn is_disruptive(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Free text shown on one line (token names, real and display names): at most `max`
/// characters, no control characters or bidirectional overrides.
pub fn printable_line(text: &str, max: usize) -> Result<(), String> {
    if text.chars().count() > max {
        return Err(format!("must be <= {max} characters"));
    }
    nul_free(text)?;
    if text.chars().any(is_disruptive) {
        return Err("must not contain control characters or bidirectional overrides".to_owned());
    }
    Ok(())
}

/// Upstream's `UserRealNameValid`: at most 128 characters, no leading or trailing
/// whitespace; and printable, as [`printable_line`].
pub fn user_real_name_valid(name: &str) -> Result<(), String> {
    unpadded_line(name, 128, "must not have leading or trailing whitespace")
}

/// Upstream's `DisplayNameValid` (templates, organizations, groups): at most 64 characters,
/// no leading or trailing whitespace (upstream's words for that: `padded`); and printable.
pub fn display_name_valid(name: &str) -> Result<(), String> {
    unpadded_line(name, 64, "must be alphanumeric with spaces")
}

fn unpadded_line(name: &str, max: usize, padded: &str) -> Result<(), String> {
    if name.chars().count() > max {
        return Err(format!("must be <= {max} characters"));
    }
    if name.trim() != name {
        return Err(padded.to_owned());
    }
    printable_line(name, max)
}

/// An API token's name. Upstream checks none; coderlite keeps it to one printable line of at
/// most 64 characters, so `tokens list` shows one row per token.
pub fn token_name_valid(name: &str) -> Result<(), String> {
    printable_line(name, TOKEN_NAME_MAX)
}

/// The longest token name.
pub const TOKEN_NAME_MAX: usize = 64;

/// `text` with every control character and bidirectional override written as an escape
/// (`\n`, `\u{1b}`), for one row of a table.
pub fn escape_for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_disruptive) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_disruptive(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_stays_printable() {
        assert_eq!(token_name_valid("ci token (nightly)"), Ok(()));
        for bad in ["a\0b", "line\nbreak", "esc\u{1b}[31m", "rtl\u{202E}gnp.exe"] {
            assert!(token_name_valid(bad).is_err(), "{bad:?}");
            assert!(user_real_name_valid(bad).is_err(), "{bad:?}");
        }
        assert!(token_name_valid(&"x".repeat(65)).unwrap_err().contains("<= 64"));
        assert!(user_real_name_valid(&"é".repeat(129)).unwrap_err().contains("<= 128"));
        assert_eq!(user_real_name_valid(&"é".repeat(128)), Ok(()));
        assert!(user_real_name_valid(" Alice").is_err());
        assert!(display_name_valid("Docker ").is_err());
        assert_eq!(display_name_valid("Docker on Linux"), Ok(()));
        assert_eq!(escape_for_terminal("a\nb\u{202E}c"), "a\\nb\\u{202e}c");
        assert_eq!(nul_free("ok"), Ok(()));
    }

    #[test]
    fn upstream_name_rules() {
        for ok in ["a", "alice", "Alice-2", "a-b-c", "x".repeat(32).as_str(), "9lives"] {
            assert_eq!(name_valid(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", ">= 1"),
            ("bad name!", "alphanumeric"),
            ("bad name/with slash", "alphanumeric"),
            ("a--b", "alphanumeric"),
            ("-a", "alphanumeric"),
            ("a-", "alphanumeric"),
            ("under_score", "alphanumeric"),
            ("new", "cannot use"),
            ("create", "cannot use"),
            ("émile", "alphanumeric"),
        ] {
            assert!(name_valid(bad).unwrap_err().contains(why), "{bad:?}");
        }
        assert!(name_valid(&"x".repeat(33)).unwrap_err().contains("<= 32"));
        assert_eq!(group_name_valid(&"x".repeat(36)), Ok(()));
        assert!(group_name_valid(&"x".repeat(37)).is_err());
        assert!(group_name_valid("everyone").is_ok());
    }
}
