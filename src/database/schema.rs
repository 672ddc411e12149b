//! What both engines say of their embedded migrations: the newest version (the schema
//! version a binary expects) and a fingerprint of every migration's version, name and SQL
//! (what test templates are named after, so a changed migration gets a new template).

use refinery_core::Migration;
use sha2::Digest;
use sha2::Sha256;

/// The newest version among `migrations`, 0 when there are none.
pub(crate) fn newest_version(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| i64::from(m.version())).max().unwrap_or(0)
}

/// A hex SHA-256 over every migration's version, name and SQL.
pub(crate) fn fingerprint(migrations: &[Migration]) -> String {
    let mut hasher = Sha256::new();
    for m in migrations {
        hasher.update(m.version().to_le_bytes());
        hasher.update(m.name().as_bytes());
        hasher.update(m.sql().unwrap_or_default().as_bytes());
    }
    hex::encode(hasher.finalize())
}
