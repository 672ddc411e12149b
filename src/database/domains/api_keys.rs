//! API keys of the HTTP API: `ApiKeyStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::domains::identity::LoginType;

store_domain! {
    /// API keys of the HTTP API: session keys and named tokens.
    pub trait ApiKeyStore {
        /// Inserts a key; a second token of one user with one name is
        /// `UniqueViolation { idx_api_key_name }`.
        write fn insert_api_key(&self, params: &InsertApiKey<'_>) -> Result<ApiKey>;

        /// The key with `id`, if any.
        read fn get_api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>>;

        /// The user's token (login type `token`) named `name`, if any.
        read fn get_api_key_by_name(&self, user_id: &str, name: &str) -> Result<Option<ApiKey>>;

        /// Keys of `login_type` (of one user, or of all), newest first.
        read fn list_api_keys(&self, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>>;

        /// Records a use of the key: `last_used`, and the expiry a sliding session moves.
        write fn update_api_key_usage(&self, id: &str, last_used: Timestamp, expires_at: Timestamp) -> Result<()>;

        /// Deletes the key; false when there was none.
        write fn delete_api_key(&self, id: &str) -> Result<bool>;
    }
}

/// A row of `api_keys`: the key's id in clear, a SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub hashed_secret: Vec<u8>,
    pub user_id: String,
    pub last_used: Timestamp,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub login_type: LoginType,
    pub lifetime_seconds: i64,
    pub token_name: String,
    pub scope: String,
}

/// Parameters of `insert_api_key`.
#[derive(Debug, Clone)]
pub struct InsertApiKey<'a> {
    pub id: &'a str,
    pub hashed_secret: &'a [u8],
    pub user_id: &'a str,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub login_type: LoginType,
    pub lifetime_seconds: i64,
    pub token_name: &'a str,
}
