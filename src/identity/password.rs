//! Passwords: Argon2id PHC strings. The cost is configuration the process sets once (the
//! CLI from `CODERLITE_PASSWORD_HASH`); verification reads the parameters from the stored
//! hash, so hashes of either cost verify whatever the process's setting.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::PasswordHash;
use argon2::PasswordHasher;
use argon2::PasswordVerifier;
use argon2::password_hash::SaltString;

/// How expensive new hashes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordCost {
    /// OWASP's minimum for Argon2id (19 MiB, 2 passes): what an install uses.
    #[default]
    Standard,
    /// Microseconds per hash, for test suites that log in a lot. Cheap to brute-force: never
    /// for real passwords.
    Fast,
}

static COST: OnceLock<PasswordCost> = OnceLock::new();

/// Sets the cost of every hash this process makes from now on; the first call wins (a process
/// has one setting). Without a call, hashes are [`PasswordCost::Standard`].
pub fn configure(cost: PasswordCost) {
    let _ = COST.set(cost);
}

/// Argon2id with the configured cost.
fn hasher() -> &'static Argon2<'static> {
    static HASHER: OnceLock<Argon2<'static>> = OnceLock::new();
    HASHER.get_or_init(|| {
        let fast = *COST.get_or_init(PasswordCost::default) == PasswordCost::Fast;
        let params = if fast { argon2::Params::new(8, 1, 1, None) } else { argon2::Params::new(19 * 1024, 2, 1, None) }
            .expect("valid argon2 parameters");
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
    })
}

/// The PHC string of `password` with a fresh salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("OS randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    hasher().hash_password(password.as_bytes(), &salt).expect("argon2 hashes any password").to_string()
}

/// Whether `password` matches `stored`, doing the work of one hash check whatever `stored`
/// is: without a stored hash (unknown account, or one without a password) it checks against
/// a dummy hash and answers false, so the answer's timing does not reveal which accounts
/// exist.
pub fn verify_password_in_constant_work(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    match stored.filter(|s| PasswordHash::new(s).is_ok()) {
        Some(stored) => verify_password(password, stored),
        None => {
            let dummy = DUMMY.get_or_init(|| hash_password("coderlite-no-such-account"));
            let _ = verify_password(password, dummy);
            false
        }
    }
}

/// Whether `password` matches the stored PHC string (false for an empty or unreadable one).
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let stored = hash_password("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("wrong", &stored));
        assert!(!verify_password("", ""));
    }
}
