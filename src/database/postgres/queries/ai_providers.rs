//! `ai_providers`, `ai_provider_keys`, and `audit_logs` on PostgreSQL.

use crate::clock::Timestamp;
use crate::database::AiProviderStore;
use crate::database::Result;
use crate::database::models::AiProvider;
use crate::database::models::AiProviderKey;
use crate::database::models::InsertAiProvider;
use crate::database::models::InsertAiProviderKey;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::PROVIDER_COLUMNS;
use crate::database::rows::PROVIDER_KEY_COLUMNS;

impl AiProviderStore for PgTx<'_> {
    fn list_ai_providers(&self, include_deleted: bool) -> Result<Vec<AiProvider>> {
        let sql = format!(
            "SELECT {PROVIDER_COLUMNS} FROM ai_providers WHERE ($1 OR NOT deleted) ORDER BY name COLLATE \"C\""
        );
        self.all("list ai providers", &sql, &[&include_deleted], rows::ai_provider)
    }

    fn insert_ai_provider(&self, p: &InsertAiProvider<'_>) -> Result<AiProvider> {
        let op = "insert ai provider";
        self.one(
            op,
            &format!(
                "INSERT INTO ai_providers (id, type, name, display_name, enabled, deleted, base_url, settings,
                                           created_at, updated_at)
                 VALUES ($1, $2, $3, $4, true, false, $5, $6::text::jsonb, $7, $7) RETURNING {PROVIDER_COLUMNS}"
            ),
            &[
                &new_id(op, "id", p.id)?,
                &p.provider_type.as_str(),
                &p.name,
                &p.display_name,
                &p.base_url,
                &p.settings,
                &p.created_at,
            ],
            rows::ai_provider,
        )
    }

    fn insert_ai_provider_key(&self, params: &InsertAiProviderKey<'_>) -> Result<()> {
        let InsertAiProviderKey { id, provider_id, api_key, created_at } = *params;
        let op = "insert ai provider key";
        self.exec(
            op,
            "INSERT INTO ai_provider_keys (id, provider_id, api_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            &[&new_id(op, "id", id)?, &new_id(op, "provider_id", provider_id)?, &api_key, &created_at],
        )
    }

    fn list_ai_provider_keys(&self) -> Result<Vec<AiProviderKey>> {
        let sql = format!("SELECT {PROVIDER_KEY_COLUMNS} FROM ai_provider_keys ORDER BY provider_id, created_at, id");
        self.all("list ai provider keys", &sql, &[], rows::ai_provider_key)
    }

    fn soft_delete_ai_provider(&self, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>> {
        self.opt(
            "delete ai provider",
            &format!(
                "UPDATE ai_providers SET deleted = true, enabled = false, updated_at = $2 WHERE name = $1
                 AND NOT deleted RETURNING {PROVIDER_COLUMNS}"
            ),
            &[&name, &updated_at],
            rows::ai_provider,
        )
    }
}
