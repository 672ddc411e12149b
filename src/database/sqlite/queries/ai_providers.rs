//! `ai_providers`, `ai_provider_keys`, and `audit_logs`.

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::AiProviderStore;
use crate::database::Result;
use crate::database::models::AiProvider;
use crate::database::models::AiProviderKey;
use crate::database::models::InsertAiProvider;
use crate::database::models::InsertAiProviderKey;
use crate::database::rows;
use crate::database::rows::PROVIDER_COLUMNS;
use crate::database::rows::PROVIDER_KEY_COLUMNS;
use crate::database::sqlite::tx::SqliteTx;

impl AiProviderStore for SqliteTx<'_> {
    /// Providers by name; soft-deleted ones only with `include_deleted`.
    fn list_ai_providers(&self, include_deleted: bool) -> Result<Vec<AiProvider>> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM ai_providers WHERE (?1 OR deleted = 0) ORDER BY name");
        self.all("list ai providers", &sql, [include_deleted], rows::ai_provider)
    }

    fn insert_ai_provider(&self, p: &InsertAiProvider<'_>) -> Result<AiProvider> {
        self.one(
            "insert ai provider",
            &format!(
                "INSERT INTO ai_providers (id, type, name, display_name, enabled, deleted, base_url, settings,
                                           created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 1, 0, ?5, ?6, ?7, ?7) RETURNING {PROVIDER_COLUMNS}"
            ),
            params![
                p.id,
                p.provider_type.as_str(),
                p.name,
                p.display_name,
                p.base_url,
                p.settings,
                to_micros(p.created_at)
            ],
            rows::ai_provider,
        )
    }

    fn insert_ai_provider_key(&self, params: &InsertAiProviderKey<'_>) -> Result<()> {
        let InsertAiProviderKey { id, provider_id, api_key, created_at } = *params;
        self.exec(
            "insert ai provider key",
            "INSERT INTO ai_provider_keys (id, provider_id, api_key, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![id, provider_id, api_key, to_micros(created_at)],
        )
    }

    /// Keys of every provider, oldest first within each provider (one statement for all).
    fn list_ai_provider_keys(&self) -> Result<Vec<AiProviderKey>> {
        let sql = format!("SELECT {PROVIDER_KEY_COLUMNS} FROM ai_provider_keys ORDER BY provider_id, created_at, id");
        self.all("list ai provider keys", &sql, [], rows::ai_provider_key)
    }

    /// Soft-deletes the live provider named `name` (deleted, disabled); `None` when there is none.
    fn soft_delete_ai_provider(&self, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>> {
        self.opt(
            "delete ai provider",
            &format!(
                "UPDATE ai_providers SET deleted = 1, enabled = 0, updated_at = ?2 WHERE name = ?1 AND deleted = 0
                 RETURNING {PROVIDER_COLUMNS}"
            ),
            params![name, to_micros(updated_at)],
            rows::ai_provider,
        )
    }
}
