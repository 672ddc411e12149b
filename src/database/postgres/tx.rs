//! The transaction handle: the `Store` that `in_tx` closures receive on PostgreSQL.
//!
//! A transaction begins lazily, at its first statement. A transaction lock requested before
//! any statement is taken as a session advisory lock ahead of `BEGIN` (one round trip with
//! the lease check and the `BEGIN`), so the transaction's snapshot is taken after the lock
//! was granted; it is released right after `COMMIT` or `ROLLBACK` (one round trip with the
//! `COMMIT`). Write transactions are SERIALIZABLE: any read-then-write anomaly SQLite's
//! serialized writers ruled out becomes a serialization failure here, and the closure runs
//! again. Read-only transactions are REPEATABLE READ READ ONLY: one consistent snapshot.

use std::cell::Cell;
use std::cell::RefCell;
use std::cell::RefMut;
use std::time::Duration;

use postgres::Row;
use postgres::SimpleQueryMessage;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::database::Error;
use crate::database::LeaseGuard;
use crate::database::LockId;
use crate::database::Result;
use crate::database::TxFn;
use crate::database::TxOptions;
use crate::database::TxStore;
use crate::database::postgres::PgConn;
use crate::database::postgres::PgInner;
use crate::database::postgres::errors;
use crate::database::postgres::errors::Kind;

/// How an attempt at a transaction ended, when it did not commit.
pub(crate) enum Attempt {
    /// The error stands.
    Failed(Error),
    /// A transaction lock met another holder's live lease: retry after a backoff.
    Contended { lock_id: LockId, holder: String },
    /// A serialization failure or deadlock: retry after a backoff.
    Serialization,
}

pub(crate) struct PgTx<'a> {
    conn: RefCell<&'a mut PgConn>,
    opts: TxOptions,
    inner: &'a PgInner,
    begun: Cell<bool>,
    /// Session advisory locks taken before `BEGIN`; released when the transaction ends.
    session_locks: RefCell<Vec<LockId>>,
    /// Every transaction lock this transaction holds (re-entrancy).
    held: RefCell<Vec<LockId>>,
    contended: RefCell<Option<(LockId, String)>>,
    /// Set when a statement met a serialization failure or deadlock.
    retry: Cell<bool>,
}

impl<'a> PgTx<'a> {
    pub(crate) fn new(conn: &'a mut PgConn, opts: TxOptions, inner: &'a PgInner) -> Self {
        Self {
            conn: RefCell::new(conn),
            opts,
            inner,
            begun: Cell::new(false),
            session_locks: RefCell::new(Vec::new()),
            held: RefCell::new(Vec::new()),
            contended: RefCell::new(None),
            retry: Cell::new(false),
        }
    }

    fn begin_statement(&self) -> &'static str {
        if self.opts.read_only {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        } else {
            "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
    }

    /// Maps an error, noting a serialization failure for the retry loop.
    pub(crate) fn error(&self, op: &'static str, e: &postgres::Error) -> Error {
        let (error, kind) = errors::interpret(op, e);
        if kind == Kind::Retry {
            self.retry.set(true);
        }
        error
    }

    /// The connection, inside the transaction (begun now if this is its first statement).
    pub(crate) fn conn(&self, op: &'static str) -> Result<RefMut<'_, &'a mut PgConn>> {
        let mut conn = self.conn.borrow_mut();
        if !self.begun.get() {
            conn.client.batch_execute(self.begin_statement()).map_err(|e| self.error(op, &e))?;
            self.begun.set(true);
        }
        Ok(conn)
    }

    /// Runs `sql` (prepared once per connection) and returns its rows.
    pub(crate) fn query(&self, op: &'static str, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let mut conn = self.conn(op)?;
        let statement = conn.statement(sql).map_err(|e| self.error(op, &e))?;
        conn.client.query(&statement, params).map_err(|e| self.error(op, &e))
    }

    /// Runs `sql` and hands each row to `visit` as it arrives, holding none of them.
    pub(crate) fn query_each(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        visit: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.conn(op)?;
        let statement = conn.statement(sql).map_err(|e| self.error(op, &e))?;
        let mut rows = conn.client.query_raw(&statement, params.iter().copied()).map_err(|e| self.error(op, &e))?;
        while let Some(row) = rows.next().map_err(|e| self.error(op, &e))? {
            visit(&row)?;
        }
        Ok(())
    }

    /// The one row of `sql`; `NotFound` when there is none.
    pub(crate) fn query_one(&self, op: &'static str, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.query_opt(op, sql, params)?.ok_or(Error::NotFound { op })
    }

    /// The row of `sql`, if any.
    pub(crate) fn query_opt(&self, op: &'static str, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        Ok(self.query(op, sql, params)?.into_iter().next())
    }

    /// Runs `sql` and returns the number of rows it changed.
    pub(crate) fn execute(&self, op: &'static str, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let mut conn = self.conn(op)?;
        let statement = conn.statement(sql).map_err(|e| self.error(op, &e))?;
        conn.client.execute(&statement, params).map_err(|e| self.error(op, &e))
    }

    /// This transaction as a lock holder: `replica/tx:name`, as on SQLite.
    pub(crate) fn holder_name(&self) -> String {
        format!("{}/tx:{}", self.inner.config.replica_id, self.opts.id)
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.config.clock.now()
    }

    /// Prepares the session statements of transaction locks on this connection, once.
    fn prepare_lock_statements(&self, op: &'static str) -> Result<()> {
        let mut conn = self.conn.borrow_mut();
        if conn.lock_statements_prepared {
            return Ok(());
        }
        conn.client
            .batch_execute(
                "PREPARE coderlite_lock(bigint) AS SELECT pg_advisory_lock($1);
                 PREPARE coderlite_try_lock(bigint) AS SELECT pg_try_advisory_lock($1);
                 PREPARE coderlite_unlock(bigint) AS SELECT pg_advisory_unlock($1);
                 PREPARE coderlite_lease(bigint) AS
                     SELECT holder, (extract(epoch FROM expires_at) * 1000000)::bigint
                     FROM locks WHERE lock_id = $1 AND kind = 'lease'",
            )
            .map_err(|e| self.error(op, &e))?;
        conn.lock_statements_prepared = true;
        Ok(())
    }

    /// Takes transaction lock `id`; `Ok(false)` when `wait` is off and it is taken elsewhere.
    /// First in the transaction: a session lock, then the lease check and `BEGIN`, in one
    /// round trip. Later: a transaction advisory lock and a lease check.
    fn take_lock(&self, id: LockId, wait: bool, op: &'static str) -> Result<bool> {
        if self.opts.read_only {
            return Err(Error::ReadOnlyTransaction { op });
        }
        if self.held.borrow().contains(&id) {
            return Ok(true);
        }
        let n = id.as_i64();
        let lease = if !self.begun.get() {
            let lock = if wait { "coderlite_lock" } else { "coderlite_try_lock" };
            // The COMMIT ends the implicit transaction a multi-statement query runs in, so
            // the BEGIN after it can still set the isolation level; the session lock stays.
            // Server-side prepared statements: a simple query can run them without parsing
            // and planning them again on every transaction.
            let batch =
                format!("EXECUTE {lock}({n}); COMMIT; {}; EXECUTE coderlite_lease({n})", self.begin_statement());
            self.prepare_lock_statements(op)?;
            let messages = {
                let mut conn = self.conn.borrow_mut();
                conn.client.simple_query(&batch).map_err(|e| self.lock_error(id, op, &e))?
            };
            let rows: Vec<&postgres::SimpleQueryRow> = messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => Some(r),
                    _ => None,
                })
                .collect();
            // The first row answers the lock; the next (if any) is the lease.
            let granted = rows.first().and_then(|r| r.get(0)).is_none_or(|v| v != "f");
            if !granted {
                // Not granted (try): nothing was taken; the BEGIN ran, the transaction goes on.
                self.begun.set(true);
                return Ok(false);
            }
            self.session_locks.borrow_mut().push(id);
            self.begun.set(true);
            rows.get(1).map(|r| {
                let holder = r.get(0).unwrap_or_default().to_owned();
                let micros = r.get(1).and_then(|v| v.parse::<i64>().ok()).unwrap_or(i64::MIN);
                (holder, from_micros(micros))
            })
        } else {
            let sql = if wait {
                "SELECT true FROM (SELECT pg_advisory_xact_lock($1)) l"
            } else {
                "SELECT pg_try_advisory_xact_lock($1)"
            };
            let granted: bool = self.query_one(op, sql, &[&n])?.get(0);
            if !granted {
                return Ok(false);
            }
            tracing::debug!(lock_id = n, tx = self.opts.id, "transaction lock taken after the first statement");
            self.query_opt(op, "SELECT holder, expires_at FROM locks WHERE lock_id = $1 AND kind = 'lease'", &[&n])?
                .map(|r| (r.get(0), r.get(1)))
        };
        if let Some((holder, expires_at)) = lease {
            if expires_at > self.now() {
                return Err(self.contend(id, holder, wait));
            }
            tracing::warn!(lock_id = n, previous_holder = %holder, "took over an expired lease");
            self.execute(op, "DELETE FROM locks WHERE lock_id = $1 AND kind = 'lease'", &[&n])?;
        }
        self.held.borrow_mut().push(id);
        Ok(true)
    }

    /// A live lease of `holder` sits on `id`: a blocking take retries the whole transaction
    /// after a backoff; a try reports it.
    fn contend(&self, id: LockId, holder: String, wait: bool) -> Error {
        if wait {
            *self.contended.borrow_mut() = Some((id, holder.clone()));
        }
        let timeout_ms = u64::try_from(self.inner.config.lock_timeout.as_millis()).unwrap_or(u64::MAX);
        Error::LockNotAvailable { lock_id: id, holder, timeout_ms }
    }

    fn lock_error(&self, id: LockId, op: &'static str, e: &postgres::Error) -> Error {
        match self.error(op, e) {
            // The advisory lock wait ran into the lock timeout.
            Error::Busy { .. } if e.as_db_error().is_some() => {
                let timeout_ms = u64::try_from(self.inner.config.lock_timeout.as_millis()).unwrap_or(u64::MAX);
                Error::LockNotAvailable { lock_id: id, holder: "another transaction".to_owned(), timeout_ms }
            }
            other => other,
        }
    }

    /// Ends the attempt: commits when `res` is `Ok` and nothing asked for a retry, else
    /// rolls back; always releases the session locks.
    pub(crate) fn finish(self, res: Result<()>) -> std::result::Result<(), Attempt> {
        let contended = self.contended.borrow_mut().take();
        let retry = self.retry.get();
        let begun = self.begun.get();
        let locks: Vec<i64> = self.session_locks.borrow().iter().map(|l| l.as_i64()).collect();
        let unlock: String = locks.iter().map(|n| format!("; EXECUTE coderlite_unlock({n})")).collect();
        let mut conn = self.conn.borrow_mut();
        let committing = res.is_ok() && contended.is_none() && !retry;
        let end = if !begun {
            None
        } else if committing {
            Some("COMMIT")
        } else {
            Some("ROLLBACK")
        };
        let outcome = match end {
            Some(end) => conn.client.simple_query(&format!("{end}{unlock}")).map(|_| ()),
            None if !locks.is_empty() => conn.client.simple_query(unlock.trim_start_matches("; ")).map(|_| ()),
            None => Ok(()),
        };
        if let Err(e) = outcome {
            // The end failed (a serialization failure at COMMIT, or a dead connection): make
            // sure no session lock outlives this attempt on a pooled connection.
            if !locks.is_empty()
                && let Err(unlock_error) = conn.client.batch_execute("SELECT pg_advisory_unlock_all()")
            {
                tracing::warn!(error = %errors::without_secrets(&unlock_error), "release advisory locks");
            }
            let (error, kind) = errors::interpret("commit transaction", &e);
            if committing {
                return Err(if kind == Kind::Retry { Attempt::Serialization } else { Attempt::Failed(error) });
            }
        }
        if let Some((lock_id, holder)) = contended {
            return Err(Attempt::Contended { lock_id, holder });
        }
        if retry {
            return Err(Attempt::Serialization);
        }
        res.map_err(Attempt::Failed)
    }
}

impl TxStore for PgTx<'_> {
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        if self.opts.read_only && !opts.read_only {
            return Err(Error::ReadOnlyTransaction { op: "begin nested read-write transaction" });
        }
        f(self)
    }

    fn acquire_lock(&self, id: LockId) -> Result<()> {
        self.take_lock(id, true, "acquire lock").map(|_| ())
    }

    fn try_acquire_lock(&self, id: LockId) -> Result<bool> {
        if self.opts.read_only {
            let live = self.query_opt(
                "try acquire lock",
                "SELECT 1 FROM locks WHERE lock_id = $1 AND kind = 'lease' AND expires_at > $2",
                &[&id.as_i64(), &self.now()],
            )?;
            return Ok(live.is_none());
        }
        match self.take_lock(id, false, "try acquire lock") {
            Ok(taken) => Ok(taken),
            Err(Error::LockNotAvailable { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn try_acquire_lease(&self, _id: LockId, _holder: &str, _ttl: Duration) -> Result<Option<LeaseGuard>> {
        Err(Error::InTransaction { op: "try acquire lease" })
    }

    fn clock(&self) -> SharedClock {
        self.inner.config.clock.clone()
    }
}
