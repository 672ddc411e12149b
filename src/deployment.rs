//! Deployment setup at startup: the deployment ID, app signing key and OAuth signing
//! key under lock 1,
//! the DERP mesh key under lock 2, each step one write transaction. A second start finds
//! every value present and valid and writes nothing.

use std::fmt;

use sha2::Digest;
use sha2::Sha256;

use crate::database;
use crate::database::LockId;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;

/// `site_configs` keys.
pub const DEPLOYMENT_ID_KEY: &str = "deployment_id";
pub const APP_SIGNING_KEY_KEY: &str = "app_signing_key";
pub const DERP_MESH_KEY_KEY: &str = "derp_mesh_key";
pub const OAUTH_SIGNING_KEY_KEY: &str = "oauth_signing_key";

/// Bytes of the app signing key (stored as 192 hex characters).
const APP_SIGNING_KEY_BYTES: usize = 96;
/// Bytes of the OAuth signing key (stored as 64 hex characters).
const OAUTH_SIGNING_KEY_BYTES: usize = 32;
/// Bytes of the DERP mesh key (stored as 64 hex characters).
const MESH_KEY_BYTES: usize = 32;

/// A setup step failed; the message names the step ("get DERP mesh key: ...").
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{step}: {source}")]
    Database { step: &'static str, source: database::Error },
    #[error("get DERP mesh key: mesh key is empty")]
    EmptyMeshKey,
    /// A stored OAuth signing key that decodes to the wrong length or to all zeros.
    #[error("get oauth signing key: {0}")]
    InvalidOAuthSigningKey(&'static str),
    #[error("generate random bytes: {0}")]
    Random(String),
}

impl From<database::Error> for SetupError {
    fn from(source: database::Error) -> Self {
        SetupError::Database { step: "deployment setup", source }
    }
}

/// A secret that never prints whole: `Debug` and `Display` show its fingerprint only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// The stored (hex) text. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first 8 hex characters of the SHA-256 of the stored text.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))[..8].to_owned()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(sha256:{}…)", self.fingerprint())
    }
}

/// The values deployment setup guarantees.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub deployment_id: String,
    pub app_signing_key: SecretKey,
    pub oauth_signing_key: SecretKey,
    pub mesh_key: SecretKey,
}

/// Runs both setup steps. Safe to run from any number of processes at once: every process
/// ends with the same values and exactly one row per key exists.
pub fn setup_deployment(store: &dyn Store) -> Result<Deployment, SetupError> {
    let (deployment_id, app_signing_key, oauth_signing_key) =
        in_tx(store, TxOptions::write("deployment setup"), |tx| {
            tx.acquire_lock(LockId::DeploymentSetup)
                .map_err(|source| SetupError::Database { step: "acquire deployment setup lock", source })?;
            let deployment_id = match tx.get_site_config(DEPLOYMENT_ID_KEY).map_err(step("get deployment ID"))? {
                Some(id) => id,
                None => {
                    let id = uuid::Uuid::new_v4().to_string();
                    tx.insert_site_config(DEPLOYMENT_ID_KEY, &id).map_err(step("insert deployment ID"))?;
                    tracing::info!(deployment_id = %id, "created deployment ID");
                    id
                }
            };
            let stored = tx.get_site_config(APP_SIGNING_KEY_KEY).map_err(step("get app signing key"))?;
            let app_signing_key = match stored.filter(|k| is_hex_of_len(k, APP_SIGNING_KEY_BYTES)) {
                Some(key) => key,
                None => {
                    let key = random_hex(APP_SIGNING_KEY_BYTES)?;
                    tx.upsert_site_config(APP_SIGNING_KEY_KEY, &key).map_err(step("upsert app signing key"))?;
                    tracing::info!("generated app signing key");
                    key
                }
            };
            let stored = tx.get_site_config(OAUTH_SIGNING_KEY_KEY).map_err(step("get oauth signing key"))?;
            let oauth_signing_key = match stored.and_then(|k| hex::decode(&k).ok().map(|bytes| (k, bytes))) {
                Some((key, bytes)) => {
                    check_oauth_signing_key(&bytes)?;
                    key
                }
                None => {
                    let key = random_hex(OAUTH_SIGNING_KEY_BYTES)?;
                    tx.upsert_site_config(OAUTH_SIGNING_KEY_KEY, &key).map_err(step("upsert oauth signing key"))?;
                    tracing::info!("generated oauth signing key");
                    key
                }
            };
            Ok::<_, SetupError>((deployment_id, SecretKey(app_signing_key), SecretKey(oauth_signing_key)))
        })?;

    let mesh_key = in_tx(store, TxOptions::write("enterprise deployment setup"), |tx| {
        tx.acquire_lock(LockId::EnterpriseDeploymentSetup)
            .map_err(|source| SetupError::Database { step: "acquire enterprise deployment setup lock", source })?;
        let key = match tx.get_site_config(DERP_MESH_KEY_KEY).map_err(step("get DERP mesh key"))? {
            Some(key) => key,
            None => {
                let key = random_hex(MESH_KEY_BYTES)?;
                tx.insert_site_config(DERP_MESH_KEY_KEY, &key).map_err(step("insert DERP mesh key"))?;
                tracing::info!("generated DERP mesh key");
                key
            }
        };
        if key.is_empty() {
            return Err(SetupError::EmptyMeshKey);
        }
        Ok(SecretKey(key))
    })?;

    Ok(Deployment { deployment_id, app_signing_key, oauth_signing_key, mesh_key })
}

/// A stored OAuth key that is valid hex but the wrong length or all zeros is refused rather
/// than replaced (as upstream): it signed tokens once, and silently replacing it would hide a
/// corrupted configuration.
fn check_oauth_signing_key(bytes: &[u8]) -> Result<(), SetupError> {
    if bytes.len() != OAUTH_SIGNING_KEY_BYTES {
        return Err(SetupError::InvalidOAuthSigningKey("stored key is not 32 bytes"));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(SetupError::InvalidOAuthSigningKey("stored key is all zeros"));
    }
    Ok(())
}

fn step(step: &'static str) -> impl Fn(database::Error) -> SetupError {
    move |source| SetupError::Database { step, source }
}

fn is_hex_of_len(text: &str, n_bytes: usize) -> bool {
    text.len() == n_bytes * 2 && hex::decode(text).is_ok()
}

fn random_hex(n_bytes: usize) -> Result<String, SetupError> {
    let mut bytes = vec![0u8; n_bytes];
    getrandom::fill(&mut bytes).map_err(|e| SetupError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_validation() {
        assert!(is_hex_of_len(&"ab".repeat(96), 96));
        assert!(!is_hex_of_len("zz", 1));
        assert!(!is_hex_of_len(&"ab".repeat(95), 96));
        assert!(!is_hex_of_len(&"zz".repeat(96), 96));
    }

    #[test]
    fn secret_debug_shows_only_a_fingerprint() {
        let key = SecretKey("00112233445566778899aabbccddeeff".into());
        let shown = format!("{key:?}");
        assert!(!shown.contains("00112233"), "{shown}");
        assert_eq!(key.fingerprint().len(), 8);
    }
}
