//! Leases (rows of `locks`, taken in a short READ COMMITTED transaction holding the advisory
//! transaction lock of their id) and the listing of leases and advisory locks.

use std::time::Duration;

use postgres::Row;

use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::LockId;
use crate::database::Result;
use crate::database::models::LockRow;
use crate::database::postgres::PgConn;
use crate::database::postgres::errors;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_enum;
use crate::database::postgres::tx::PgTx;

fn map(op: &'static str) -> impl Fn(postgres::Error) -> Error {
    move |e| errors::interpret(op, &e).0
}

/// Takes lease `id` for `holder` until now + ttl, or takes over an expired one. False when a
/// live lease (of anyone, this holder included) sits on it. Holding the advisory lock of
/// `id` for the transaction makes it exclude transaction locks on the id.
pub(crate) fn take_lease(conn: &mut PgConn, id: LockId, holder: &str, now: Timestamp, ttl: Duration) -> Result<bool> {
    let op = "acquire lease";
    let expires_at = crate::clock::add_duration(now, ttl);
    let mut tx = conn.client.transaction().map_err(map(op))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&id.as_i64()]).map_err(map(op))?;
    let previous = tx
        .query_opt("SELECT holder, expires_at FROM locks WHERE lock_id = $1 AND kind = 'lease'", &[&id.as_i64()])
        .map_err(map(op))?;
    let taken = tx
        .execute(
            "INSERT INTO locks (lock_id, holder, kind, acquired_at, expires_at)
             VALUES ($1, $2, 'lease', $3, $4)
             ON CONFLICT (lock_id) DO UPDATE SET
                 holder = excluded.holder, kind = 'lease',
                 acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
             WHERE locks.kind = 'lease' AND locks.expires_at <= excluded.acquired_at",
            &[&id.as_i64(), &holder, &now, &expires_at],
        )
        .map_err(map(op))?
        == 1;
    tx.commit().map_err(map(op))?;
    // A live lease read before the insert was released meanwhile (a release takes no
    // advisory lock): that is no takeover.
    if taken
        && let Some(previous) = previous
        && previous.get::<_, Timestamp>(1) <= now
    {
        let (previous_holder, expired_at): (String, Timestamp) = (previous.get(0), previous.get(1));
        tracing::warn!(
            lock_id = id.as_i64(),
            holder,
            previous_holder = %previous_holder,
            expired_at = %crate::clock::format_rfc3339(expired_at),
            "took over an expired lease"
        );
    }
    Ok(taken)
}

/// Extends a lease still held by `holder`; false when it is someone else's now.
pub(crate) fn renew_lease(conn: &mut PgConn, id: LockId, holder: &str, expires_at: Timestamp) -> Result<bool> {
    let op = "renew lease";
    let n = conn
        .client
        .execute(
            "UPDATE locks SET expires_at = $3 WHERE lock_id = $1 AND holder = $2 AND kind = 'lease'",
            &[&id.as_i64(), &holder, &expires_at],
        )
        .map_err(map(op))?;
    Ok(n == 1)
}

/// Deletes a lease if `holder` still holds it; never someone else's.
pub(crate) fn release_lease(conn: &mut PgConn, id: LockId, holder: &str) -> Result<()> {
    let op = "release lease";
    conn.client
        .execute("DELETE FROM locks WHERE lock_id = $1 AND holder = $2 AND kind = 'lease'", &[&id.as_i64(), &holder])
        .map_err(map(op))?;
    Ok(())
}

fn lock_row(op: &'static str, r: &Row) -> Result<LockRow> {
    Ok(LockRow {
        lock_id: get(op, r, 0)?,
        holder: get(op, r, 1)?,
        kind: get_enum(op, "locks.kind", r, 2)?,
        acquired_at: get(op, r, 3)?,
        expires_at: get(op, r, 4)?,
    })
}

/// Leases on record, and the advisory locks held or awaited now (from `pg_locks`, with the
/// holder's `application_name`, i.e. its replica ID; "(waiting)" when not yet granted). The
/// calling transaction's own locks are named as on SQLite, `replica/tx:name`.
/// Advisory locks of other databases on the cluster are left out.
pub(crate) fn list_locks(tx: &PgTx<'_>) -> Result<Vec<LockRow>> {
    let op = "list locks";
    let rows = tx.query(
        op,
        "SELECT lock_id, holder, kind, acquired_at, expires_at FROM locks
         UNION ALL
         SELECT (l.classid::bigint << 32) | l.objid::bigint,
                CASE WHEN l.pid = pg_backend_pid() THEN $1
                     ELSE COALESCE(NULLIF(a.application_name, ''), 'pid ' || l.pid::text) END
                    || CASE WHEN l.granted THEN '' ELSE ' (waiting)' END,
                'transaction', COALESCE(a.xact_start, a.backend_start, now()), NULL::timestamptz
         FROM pg_locks l
         LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.objsubid = 1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY 1, 2",
        &[&tx.holder_name()],
    )?;
    rows.iter().map(|r| lock_row(op, r)).collect()
}
