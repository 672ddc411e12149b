//! API keys of the HTTP API: the key's id in clear, a SHA-256 of its secret.

use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::database::ApiKeyStore;
use crate::database::Result;
use crate::database::models::ApiKey;
use crate::database::models::InsertApiKey;
use crate::database::models::LoginType;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::API_KEY_COLUMNS;

impl ApiKeyStore for PgTx<'_> {
    /// A key never used yet: `last_used` is the Unix epoch, as upstream.
    fn insert_api_key(&self, p: &InsertApiKey<'_>) -> Result<ApiKey> {
        let op = "insert api key";
        self.one(
            op,
            &format!(
                "INSERT INTO api_keys (id, hashed_secret, user_id, last_used, expires_at, created_at, updated_at,
                                       login_type, lifetime_seconds, token_name)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9) RETURNING {API_KEY_COLUMNS}"
            ),
            &[
                &p.id,
                &p.hashed_secret,
                &new_id(op, "user_id", p.user_id)?,
                &from_micros(0),
                &p.expires_at,
                &p.created_at,
                &p.login_type.as_str(),
                &p.lifetime_seconds,
                &p.token_name,
            ],
            rows::api_key,
        )
    }

    fn get_api_key_by_id(&self, key_id: &str) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1");
        self.opt("get api key by id", &sql, &[&key_id], rows::api_key)
    }

    fn get_api_key_by_name(&self, user_id: &str, name: &str) -> Result<Option<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND token_name = $2 AND login_type = 'token'"
        );
        self.opt("get api key by name", &sql, &[&id(user_id), &name], rows::api_key)
    }

    fn list_api_keys(&self, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE ($1::uuid IS NULL OR user_id = $1) AND login_type = $2
             ORDER BY created_at DESC, id"
        );
        self.all("list api keys", &sql, &[&opt_id(user_id), &login_type.as_str()], rows::api_key)
    }

    fn update_api_key_usage(&self, key_id: &str, last_used: Timestamp, expires_at: Timestamp) -> Result<()> {
        let sql = "UPDATE api_keys SET last_used = $2, expires_at = $3, updated_at = $2 WHERE id = $1";
        self.exec("update api key usage", sql, &[&key_id, &last_used, &expires_at])
    }

    fn delete_api_key(&self, key_id: &str) -> Result<bool> {
        Ok(self.exec_count("delete api key", "DELETE FROM api_keys WHERE id = $1", &[&key_id])? > 0)
    }
}
