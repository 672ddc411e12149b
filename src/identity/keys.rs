//! API keys as upstream makes them: `<10-char id>-<22-char secret>` from an alphanumeric
//! charset, only a SHA-256 of the secret stored; and issuing one for a user (the API's login
//! and token endpoints and the CLI's `tokens create` alike).

use std::time::Duration;

use sha2::Digest;
use sha2::Sha256;

use crate::database;
use crate::database::Store;
use crate::database::models::ApiKey;
use crate::database::models::InsertApiKey;
use crate::database::models::LoginType;
use crate::database::models::User;

const ID_LEN: usize = 10;
const SECRET_LEN: usize = 22;
const CHARSET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` characters drawn uniformly from upstream's alphanumeric charset.
fn random_string(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf).expect("OS randomness");
        // 248 = 4 × 62: bytes at or above it would bias the draw.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == n {
                break;
            }
            out.push(CHARSET[usize::from(*b) % 62] as char);
        }
    }
    out
}

/// A new key's id and secret.
pub fn generate_key() -> (String, String) {
    (random_string(ID_LEN), random_string(SECRET_LEN))
}

/// What is stored of a secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits a token into id and secret, with upstream's reasons for a malformed one.
pub fn parse_token(token: &str) -> Result<(&str, &str), String> {
    let parts: Vec<&str> = token.split('-').collect();
    if parts.len() != 2 {
        return Err(format!(
            "Invalid API key format: incorrect amount of API key parts, expected 2 got {}",
            parts.len()
        ));
    }
    let (id, secret) = (parts[0], parts[1]);
    if id.len() != ID_LEN {
        return Err(format!("Invalid API key format: invalid API key ID length, expected {ID_LEN} got {}", id.len()));
    }
    if secret.len() != SECRET_LEN {
        return Err(format!(
            "Invalid API key format: invalid API key secret length, expected {SECRET_LEN} got {}",
            secret.len()
        ));
    }
    Ok((id, secret))
}

/// Creates a key for `user`: returns the token (shown once) and the stored row. System users
/// cannot hold keys (`SystemUser`). The API and the CLI's `tokens create` both issue keys here.
pub fn issue_key(
    store: &dyn Store,
    user: &User,
    login_type: LoginType,
    lifetime: Duration,
    token_name: &str,
) -> database::Result<(String, ApiKey)> {
    if user.is_system {
        return Err(database::Error::SystemUser { op: "create api key", user_id: user.id.clone() });
    }
    let now = store.clock().now();
    let (id, secret) = generate_key();
    let lifetime_seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    let key = store.insert_api_key(&InsertApiKey {
        id: &id,
        hashed_secret: &hash_secret(&secret),
        user_id: &user.id,
        expires_at: crate::clock::add_duration(now, lifetime),
        created_at: now,
        login_type,
        lifetime_seconds,
        token_name,
    })?;
    Ok((format!("{id}-{secret}"), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_upstreams_format() {
        let (id, secret) = generate_key();
        assert_eq!((id.len(), secret.len()), (10, 22));
        assert!(id.chars().chain(secret.chars()).all(|c| c.is_ascii_alphanumeric()));
        let token = format!("{id}-{secret}");
        assert_eq!(parse_token(&token).unwrap(), (id.as_str(), secret.as_str()));
        assert_eq!(
            parse_token("a-b-c").unwrap_err(),
            "Invalid API key format: incorrect amount of API key parts, expected 2 got 3"
        );
        assert_eq!(
            parse_token("short-0123456789012345678901").unwrap_err(),
            "Invalid API key format: invalid API key ID length, expected 10 got 5"
        );
        assert_eq!(hash_secret("x").len(), 32);
    }
}
