//! API keys of the HTTP API: the key's id in clear, a SHA-256 of its secret.

use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::Row;
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
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::from_row;
use crate::database::sqlite::tx::SqliteTx;

fn api_key_from_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    from_row(rows::api_key, r)
}

pub(crate) fn insert_api_key(conn: &Connection, p: &InsertApiKey<'_>) -> Result<ApiKey> {
    let op = "insert api key";
    // A key never used yet: `last_used` is the Unix epoch, as upstream.
    conn.prepare_cached(&format!(
        "INSERT INTO api_keys (id, hashed_secret, user_id, last_used, expires_at, created_at, updated_at, login_type,
                               lifetime_seconds, token_name)
         VALUES (?1, ?2, ?3, 0, ?4, ?5, ?5, ?6, ?7, ?8) RETURNING {API_KEY_COLUMNS}"
    ))
    .op(op)?
    .query_row(
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
        api_key_from_row,
    )
    .op(op)
}

pub(crate) fn get_api_key_by_id(conn: &Connection, id: &str) -> Result<Option<ApiKey>> {
    let op = "get api key by id";
    conn.prepare_cached(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?1"))
        .op(op)?
        .query_row([id], api_key_from_row)
        .optional()
        .op(op)
}

pub(crate) fn get_api_key_by_name(conn: &Connection, user_id: &str, name: &str) -> Result<Option<ApiKey>> {
    let op = "get api key by name";
    conn.prepare_cached(&format!(
        "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 AND token_name = ?2 AND login_type = 'token'"
    ))
    .op(op)?
    .query_row([user_id, name], api_key_from_row)
    .optional()
    .op(op)
}

pub(crate) fn list_api_keys(conn: &Connection, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>> {
    let op = "list api keys";
    conn.prepare_cached(&format!(
        "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE (?1 IS NULL OR user_id = ?1) AND login_type = ?2
         ORDER BY created_at DESC, id"
    ))
    .op(op)?
    .query_map(params![user_id, login_type.as_str()], api_key_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn update_api_key_usage(
    conn: &Connection,
    id: &str,
    last_used: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    let op = "update api key usage";
    conn.prepare_cached("UPDATE api_keys SET last_used = ?2, expires_at = ?3, updated_at = ?2 WHERE id = ?1")
        .op(op)?
        .execute(params![id, to_micros(last_used), to_micros(expires_at)])
        .op(op)?;
    Ok(())
}

pub(crate) fn delete_api_key(conn: &Connection, id: &str) -> Result<bool> {
    let op = "delete api key";
    let n = conn.prepare_cached("DELETE FROM api_keys WHERE id = ?1").op(op)?.execute([id]).op(op)?;
    Ok(n > 0)
}

impl ApiKeyStore for SqliteTx<'_> {
    run_query! {
        fn insert_api_key(&self, params: &InsertApiKey<'_>) -> Result<ApiKey> => insert_api_key;
        fn get_api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>> => get_api_key_by_id;
        fn get_api_key_by_name(&self, user_id: &str, name: &str) -> Result<Option<ApiKey>> => get_api_key_by_name;
        fn list_api_keys(&self, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>> => list_api_keys;
        fn update_api_key_usage(&self, id: &str, last_used: Timestamp, expires_at: Timestamp) -> Result<()> => update_api_key_usage;
        fn delete_api_key(&self, id: &str) -> Result<bool> => delete_api_key;
    }
}
