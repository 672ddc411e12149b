//! API keys of the HTTP API: the key's id in clear, a SHA-256 of its secret.

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::ApiKeyStore;
use crate::database::Result;
use crate::database::models::ApiKey;
use crate::database::models::InsertApiKey;
use crate::database::models::LoginType;
use crate::database::rows;
use crate::database::rows::API_KEY_COLUMNS;
use crate::database::sqlite::tx::SqliteTx;

impl ApiKeyStore for SqliteTx<'_> {
    /// A key never used yet: `last_used` is the Unix epoch, as upstream.
    fn insert_api_key(&self, p: &InsertApiKey<'_>) -> Result<ApiKey> {
        self.one(
            "insert api key",
            &format!(
                "INSERT INTO api_keys (id, hashed_secret, user_id, last_used, expires_at, created_at, updated_at,
                                       login_type, lifetime_seconds, token_name)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?5, ?6, ?7, ?8) RETURNING {API_KEY_COLUMNS}"
            ),
            params![
                p.id,
                p.hashed_secret,
                p.user_id,
                to_micros(p.expires_at),
                to_micros(p.created_at),
                p.login_type.as_str(),
                p.lifetime_seconds,
                p.token_name,
            ],
            rows::api_key,
        )
    }

    fn get_api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?1");
        self.opt("get api key by id", &sql, [id], rows::api_key)
    }

    fn get_api_key_by_name(&self, user_id: &str, name: &str) -> Result<Option<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 AND token_name = ?2 AND login_type = 'token'"
        );
        self.opt("get api key by name", &sql, [user_id, name], rows::api_key)
    }

    fn list_api_keys(&self, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE (?1 IS NULL OR user_id = ?1) AND login_type = ?2
             ORDER BY created_at DESC, id"
        );
        self.all("list api keys", &sql, params![user_id, login_type.as_str()], rows::api_key)
    }

    fn update_api_key_usage(&self, id: &str, last_used: Timestamp, expires_at: Timestamp) -> Result<()> {
        let sql = "UPDATE api_keys SET last_used = ?2, expires_at = ?3, updated_at = ?2 WHERE id = ?1";
        self.exec("update api key usage", sql, params![id, to_micros(last_used), to_micros(expires_at)])
    }

    fn delete_api_key(&self, id: &str) -> Result<bool> {
        Ok(self.exec_count("delete api key", "DELETE FROM api_keys WHERE id = ?1", [id])? > 0)
    }
}
