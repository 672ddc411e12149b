//! API keys of the HTTP API: the key's id in clear, a SHA-256 of its secret.

use postgres::Row;

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
use crate::database::postgres::statements::PgRow;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::API_KEY_COLUMNS;

fn api_key(op: &'static str, r: &Row) -> Result<ApiKey> {
    rows::api_key(&PgRow { op, row: r })
}

pub(crate) fn insert_api_key(tx: &PgTx<'_>, p: &InsertApiKey<'_>) -> Result<ApiKey> {
    let op = "insert api key";
    // A key never used yet: `last_used` is the Unix epoch, as upstream.
    let row = tx.query_one(
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
    )?;
    api_key(op, &row)
}

pub(crate) fn get_api_key_by_id(tx: &PgTx<'_>, key_id: &str) -> Result<Option<ApiKey>> {
    let op = "get api key by id";
    tx.query_opt(op, &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1"), &[&key_id])?
        .map(|r| api_key(op, &r))
        .transpose()
}

pub(crate) fn get_api_key_by_name(tx: &PgTx<'_>, user_id: &str, name: &str) -> Result<Option<ApiKey>> {
    let op = "get api key by name";
    tx.query_opt(
        op,
        &format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND token_name = $2 AND login_type = 'token'"
        ),
        &[&id(user_id), &name],
    )?
    .map(|r| api_key(op, &r))
    .transpose()
}

pub(crate) fn list_api_keys(tx: &PgTx<'_>, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>> {
    let op = "list api keys";
    let rows = tx.query(
        op,
        &format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE ($1::uuid IS NULL OR user_id = $1) AND login_type = $2
             ORDER BY created_at DESC, id"
        ),
        &[&opt_id(user_id), &login_type.as_str()],
    )?;
    rows.iter().map(|r| api_key(op, r)).collect()
}

pub(crate) fn update_api_key_usage(
    tx: &PgTx<'_>,
    key_id: &str,
    last_used: Timestamp,
    expires_at: Timestamp,
) -> Result<()> {
    let op = "update api key usage";
    tx.execute(
        op,
        "UPDATE api_keys SET last_used = $2, expires_at = $3, updated_at = $2 WHERE id = $1",
        &[&key_id, &last_used, &expires_at],
    )?;
    Ok(())
}

pub(crate) fn delete_api_key(tx: &PgTx<'_>, key_id: &str) -> Result<bool> {
    let op = "delete api key";
    Ok(tx.execute(op, "DELETE FROM api_keys WHERE id = $1", &[&key_id])? > 0)
}

impl ApiKeyStore for PgTx<'_> {
    run_query! {
        fn insert_api_key(&self, params: &InsertApiKey<'_>) -> Result<ApiKey> => insert_api_key;
        fn get_api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>> => get_api_key_by_id;
        fn get_api_key_by_name(&self, user_id: &str, name: &str) -> Result<Option<ApiKey>> => get_api_key_by_name;
        fn list_api_keys(&self, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>> => list_api_keys;
        fn update_api_key_usage(&self, id: &str, last_used: Timestamp, expires_at: Timestamp) -> Result<()> => update_api_key_usage;
        fn delete_api_key(&self, id: &str) -> Result<bool> => delete_api_key;
    }
}
