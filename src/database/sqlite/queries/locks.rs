//! The `locks` table: transaction-lock rows and leases.
//!
//! Write transactions are serialized (in process by the writer mutex, across processes by
//! SQLite's write lock), so the statements here never race with another writer: a row seen
//! is a row that stays until this transaction ends. That is also why a transaction lock can
//! only ever contend with a lease: no other transaction runs while this one holds the lock.

use std::time::Duration;

use rusqlite::Connection;
use rusqlite::OptionalExtension;

use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::clock::to_micros;
use crate::database::LockId;
use crate::database::Result;
use crate::database::models::LockRow;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::parse_column;

/// The outcome of taking a transaction lock.
pub(crate) enum TakeLock {
    Taken,
    HeldByLease { holder: String },
}

/// The writer connection's private table of transaction-lock rows. A transaction lock row is
/// never visible to another connection (it is deleted before COMMIT and a ROLLBACK discards
/// it), so it lives in this connection's in-memory temp schema: same rows, same rules, but
/// no page of the shared file is dirtied by taking a lock (measured: 48k → 134k tx/s for
/// lock + upsert + release). Leases, which must be seen by everyone, stay in `main.locks`.
pub(crate) const CREATE_TX_LOCKS: &str = "
    PRAGMA temp_store = MEMORY;
    CREATE TEMP TABLE IF NOT EXISTS tx_locks (
        lock_id     INTEGER PRIMARY KEY,
        holder      TEXT    NOT NULL,
        acquired_at INTEGER NOT NULL
    );";

/// Records this transaction's lock row. A live lease of another holder on the id is
/// reported and nothing is written; an expired lease is deleted (taken over).
pub(crate) fn take_transaction_lock(conn: &Connection, id: LockId, holder: &str, now: Timestamp) -> Result<TakeLock> {
    let op = "acquire lock";
    let lease: Option<(String, i64)> = conn
        .prepare_cached("SELECT holder, expires_at FROM main.locks WHERE lock_id = ?1")
        .op(op)?
        .query_row([id.as_i64()], |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(i64::MIN))))
        .optional()
        .op(op)?;
    if let Some((lease_holder, expires_at)) = lease {
        if expires_at > to_micros(now) {
            return Ok(TakeLock::HeldByLease { holder: lease_holder });
        }
        tracing::warn!(lock_id = id.as_i64(), previous_holder = %lease_holder, "took over an expired lease");
        conn.prepare_cached("DELETE FROM main.locks WHERE lock_id = ?1").op(op)?.execute([id.as_i64()]).op(op)?;
    }
    conn.prepare_cached("INSERT INTO temp.tx_locks (lock_id, holder, acquired_at) VALUES (?1, ?2, ?3)")
        .op(op)?
        .execute(rusqlite::params![id.as_i64(), holder, to_micros(now)])
        .op(op)?;
    Ok(TakeLock::Taken)
}

/// Deletes this transaction's lock rows, just before COMMIT.
pub(crate) fn release_transaction_locks(conn: &Connection) -> Result<()> {
    let op = "release locks";
    conn.prepare_cached("DELETE FROM temp.tx_locks").op(op)?.execute([]).op(op)?;
    Ok(())
}

/// The holder of a live (unexpired) lease on `id`, if any.
pub(crate) fn live_lease_holder(conn: &Connection, id: LockId, now: Timestamp) -> Result<Option<String>> {
    let op = "read lease";
    let mut stmt = conn
        .prepare_cached("SELECT holder FROM locks WHERE lock_id = ?1 AND kind = 'lease' AND expires_at > ?2")
        .op(op)?;
    stmt.query_row([id.as_i64(), to_micros(now)], |r| r.get(0)).optional().op(op)
}

/// Takes lease `id` for `holder` until now + ttl, or takes over an expired one. False when a
/// live lease (of anyone, this holder included) sits on it.
pub(crate) fn take_lease(conn: &Connection, id: LockId, holder: &str, now: Timestamp, ttl: Duration) -> Result<bool> {
    let op = "acquire lease";
    let expires_at = crate::clock::add_duration(now, ttl);
    let previous: Option<(String, i64)> = conn
        .prepare_cached("SELECT holder, expires_at FROM locks WHERE lock_id = ?1 AND kind = 'lease'")
        .op(op)?
        .query_row([id.as_i64()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .op(op)?;
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO locks (lock_id, holder, kind, acquired_at, expires_at)
             VALUES (?1, ?2, 'lease', ?3, ?4)
             ON CONFLICT (lock_id) DO UPDATE SET
                 holder = excluded.holder, kind = 'lease',
                 acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
             WHERE locks.kind = 'lease' AND locks.expires_at <= excluded.acquired_at",
        )
        .op(op)?;
    let taken =
        stmt.execute(rusqlite::params![id.as_i64(), holder, to_micros(now), to_micros(expires_at)]).op(op)? == 1;
    if let (true, Some((previous_holder, previous_expiry))) = (taken, previous) {
        tracing::warn!(
            lock_id = id.as_i64(),
            holder,
            previous_holder = %previous_holder,
            expired_at = %crate::clock::format_rfc3339(from_micros(previous_expiry)),
            "took over an expired lease"
        );
    }
    Ok(taken)
}

/// Extends a lease still held by `holder`; false when it is someone else's now.
pub(crate) fn renew_lease(conn: &Connection, id: LockId, holder: &str, expires_at: Timestamp) -> Result<bool> {
    let op = "renew lease";
    let mut stmt = conn
        .prepare_cached("UPDATE locks SET expires_at = ?3 WHERE lock_id = ?1 AND holder = ?2 AND kind = 'lease'")
        .op(op)?;
    Ok(stmt.execute(rusqlite::params![id.as_i64(), holder, to_micros(expires_at)]).op(op)? == 1)
}

/// Deletes a lease if `holder` still holds it; never someone else's.
pub(crate) fn release_lease(conn: &Connection, id: LockId, holder: &str) -> Result<()> {
    let op = "release lease";
    let mut stmt =
        conn.prepare_cached("DELETE FROM locks WHERE lock_id = ?1 AND holder = ?2 AND kind = 'lease'").op(op)?;
    stmt.execute(rusqlite::params![id.as_i64(), holder]).op(op)?;
    Ok(())
}

/// Committed lock rows (leases), plus this transaction's own lock rows when `conn` is the
/// writer inside a write transaction.
pub(crate) fn list_locks(conn: &Connection, include_own_transaction_locks: bool) -> Result<Vec<LockRow>> {
    let op = "list locks";
    let sql = if include_own_transaction_locks {
        "SELECT lock_id, holder, kind, acquired_at, expires_at FROM main.locks
         UNION ALL
         SELECT lock_id, holder, 'transaction', acquired_at, NULL FROM temp.tx_locks
         ORDER BY lock_id"
    } else {
        "SELECT lock_id, holder, kind, acquired_at, expires_at FROM main.locks ORDER BY lock_id"
    };
    let mut stmt = conn.prepare_cached(sql).op(op)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?))
        })
        .op(op)?
        .collect::<rusqlite::Result<Vec<(i64, String, String, i64, Option<i64>)>>>()
        .op(op)?;
    rows.into_iter()
        .map(|(lock_id, holder, kind, acquired_at, expires_at)| {
            Ok(LockRow {
                lock_id,
                holder,
                kind: parse_column(op, "locks.kind", &kind)?,
                acquired_at: from_micros(acquired_at),
                expires_at: expires_at.map(from_micros),
            })
        })
        .collect()
}
