//! Upstream's name rules (codersdk `NameValid`, `GroupNameValid`): one place that says what
//! a user, organization, template, workspace or group name may be, so a name accepted here
//! is accepted by upstream Coder too. Pure.

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

#[cfg(test)]
mod tests {
    use super::*;

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
