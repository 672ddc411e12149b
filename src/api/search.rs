//! Upstream's search syntax (`q`): lower-cased, split on spaces (double quotes keep spaces
//! together), `key:value` terms; a bare term gets the listing's default key. Pure.

/// The terms of `q` as (key, value); bare terms get `default_key`. Errors are upstream's
/// validation details for field `q`.
pub fn parse(q: &str, default_key: &str) -> Result<Vec<(String, String)>, String> {
    let lowered = q.to_lowercase();
    let mut terms = Vec::new();
    for element in split_quoted(&lowered) {
        if element.is_empty() {
            continue;
        }
        if element.starts_with(':') || element.ends_with(':') {
            return Err(format!("Query element {element:?} cannot start or end with ':'"));
        }
        match element.split_once(':') {
            Some((key, value)) => {
                if value.contains(':') {
                    return Err(format!("Query element {element:?} can only contain 1 ':'"));
                }
                terms.push((key.to_owned(), value.to_owned()));
            }
            None => terms.push((default_key.to_owned(), element)),
        }
    }
    Ok(terms)
}

/// Splits on spaces outside double quotes, dropping the quotes.
fn split_quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_keys_and_quotes() {
        assert_eq!(
            parse(r#"Owner:Alice  "my ws" template:docker"#, "name").unwrap(),
            [
                ("owner".to_owned(), "alice".to_owned()),
                ("name".to_owned(), "my ws".to_owned()),
                ("template".to_owned(), "docker".to_owned())
            ]
        );
        assert_eq!(parse("owner:", "name").unwrap_err(), "Query element \"owner:\" cannot start or end with ':'");
        assert_eq!(parse("a:b:c", "name").unwrap_err(), "Query element \"a:b:c\" can only contain 1 ':'");
        assert!(parse("", "name").unwrap().is_empty());
    }
}
