//! The seed: desired providers into the database, in one write transaction holding lock 10,
//! with the audit entries in the same transaction.

use std::collections::HashMap;

use serde_json::json;

use crate::aiproviders::desired::DesiredProvider;
use crate::aiproviders::desired::canonical_hash;
use crate::aiproviders::desired::decode_settings;
use crate::aiproviders::desired::encode_settings;
use crate::aiproviders::env::mask;
use crate::database;
use crate::database::LockId;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::AiProvider;
use crate::database::models::InsertAiProvider;
use crate::database::models::InsertAuditLog;

/// The system actor and organization of audit entries the seed writes.
pub const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// Why a seed failed. Texts never contain a key or secret.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("compute providers from env: {0}")]
    Env(#[from] crate::aiproviders::env::EnvError),
    #[error(
        "ai provider {name:?} already exists in the database with different fields than the environment \
         configuration; change the CODER_AIBRIDGE_* env vars to match the stored provider, or update or delete \
         the stored provider (coderlite providers delete {name}); startup refuses until they agree"
    )]
    Drift { name: String },
    #[error("decode existing settings for {name:?}: {message}")]
    DecodeSettings { name: String, message: String },
    #[error("{0}")]
    Database(#[from] database::Error),
}

/// What a seed did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Names of providers inserted.
    pub inserted: Vec<String>,
    /// Keys inserted across them.
    pub keys_inserted: usize,
    /// Names skipped because an operator soft-deleted them.
    pub skipped_deleted: Vec<String>,
    /// Names already present with equal fields.
    pub unchanged: Vec<String>,
}

/// Seeds `desired` (sorted by name). Empty → nothing at all happens.
pub fn seed_ai_providers(store: &dyn Store, desired: &[DesiredProvider]) -> Result<SeedReport, SeedError> {
    if desired.is_empty() {
        return Ok(SeedReport::default());
    }
    let span = tracing::info_span!("seed_ai_providers", providers = desired.len());
    let _entered = span.enter();
    in_tx(store, TxOptions::write("seed ai providers"), |tx| {
        tx.acquire_lock(LockId::AiProvidersEnvSeed)?;
        let existing: HashMap<String, AiProvider> =
            tx.list_ai_providers(true)?.into_iter().map(|p| (p.name.clone(), p)).collect();
        let mut report = SeedReport::default();
        for want in desired {
            match existing.get(&want.name) {
                Some(row) if row.deleted => {
                    tracing::info!(name = %want.name, "skipping env-seeded ai provider that was previously soft-deleted");
                    report.skipped_deleted.push(want.name.clone());
                }
                Some(row) => {
                    let stored = decode_settings(row.settings.as_deref())
                        .map_err(|message| SeedError::DecodeSettings { name: row.name.clone(), message })?;
                    if canonical_hash(row.provider_type, &row.base_url, stored.as_ref()) != want.hash() {
                        return Err(SeedError::Drift { name: want.name.clone() });
                    }
                    report.unchanged.push(want.name.clone());
                }
                None => {
                    report.keys_inserted += insert_provider(tx, want)?;
                    report.inserted.push(want.name.clone());
                }
            }
        }
        Ok(report)
    })
}

/// Inserts one provider, its keys (strictly increasing created_at, so oldest first is env
/// order) and their audit entries. Returns the number of keys.
fn insert_provider(tx: &dyn Store, want: &DesiredProvider) -> Result<usize, SeedError> {
    let now = tx.clock().now();
    let settings = encode_settings(want.bedrock.as_ref());
    let row = tx.insert_ai_provider(&InsertAiProvider {
        id: &uuid::Uuid::new_v4().to_string(),
        provider_type: want.provider_type,
        name: &want.name,
        display_name: &want.name,
        base_url: &want.base_url,
        settings: settings.as_deref(),
        created_at: now,
    })?;
    let diff = json!({
        "display_name": { "old": "", "new": row.display_name, "secret": false },
        "base_url": { "old": "", "new": row.base_url, "secret": false },
        "enabled": { "old": false, "new": true, "secret": false },
    });
    audit(tx, now, "ai_provider", &row.id, &row.name, &diff)?;
    for (i, key) in want.keys.iter().enumerate() {
        let key_id = uuid::Uuid::new_v4().to_string();
        let created_at = now + chrono::Duration::microseconds(i64::try_from(i).unwrap_or(i64::MAX));
        tx.insert_ai_provider_key(&crate::database::models::InsertAiProviderKey {
            id: &key_id,
            provider_id: &row.id,
            api_key: key.expose(),
            created_at,
        })?;
        let diff = json!({ "api_key": { "old": "", "new": mask(key.expose()), "secret": true } });
        audit(tx, now, "ai_provider_key", &key_id, &row.name, &diff)?;
    }
    tracing::info!(
        name = %row.name,
        r#type = %row.provider_type,
        key_count = want.keys.len(),
        bedrock = want.bedrock.is_some(),
        "seeded ai provider from environment"
    );
    Ok(want.keys.len())
}

fn audit(
    tx: &dyn Store,
    now: crate::clock::Timestamp,
    resource_type: &str,
    resource_id: &str,
    target: &str,
    diff: &serde_json::Value,
) -> Result<(), SeedError> {
    tx.insert_audit_log(&InsertAuditLog {
        id: &uuid::Uuid::new_v4().to_string(),
        time: now,
        user_id: NIL_UUID,
        organization_id: NIL_UUID,
        resource_type,
        resource_id,
        resource_target: target,
        action: "create",
        diff,
        status_code: 0,
    })?;
    Ok(())
}

/// Soft-deletes the live provider `name` (deleted, disabled) with a delete audit entry, in
/// one transaction. `Ok(None)` when no live provider has that name.
pub fn delete_provider(store: &dyn Store, name: &str) -> Result<Option<AiProvider>, database::Error> {
    in_tx(store, TxOptions::write("delete ai provider"), |tx| {
        let now = tx.clock().now();
        let Some(row) = tx.soft_delete_ai_provider(name, now)? else {
            return Ok(None);
        };
        let diff = json!({
            "deleted": { "old": false, "new": true, "secret": false },
            "enabled": { "old": true, "new": false, "secret": false },
        });
        tx.insert_audit_log(&InsertAuditLog {
            id: &uuid::Uuid::new_v4().to_string(),
            time: now,
            user_id: NIL_UUID,
            organization_id: NIL_UUID,
            resource_type: "ai_provider",
            resource_id: &row.id,
            resource_target: &row.name,
            action: "delete",
            diff: &diff,
            status_code: 0,
        })?;
        Ok(Some(row))
    })
}
