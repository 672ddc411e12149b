//! The transaction handle: the `Store` that `in_tx` closures receive. Every query runs on
//! its one connection; transaction locks are rows it inserts and deletes before COMMIT.

use std::cell::RefCell;
use std::time::Duration;

use rusqlite::Connection;

use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::LeaseGuard;
use crate::database::LockId;
use crate::database::Result;
use crate::database::TxFn;
use crate::database::TxOptions;
use crate::database::TxStore;
use crate::database::sqlite::Inner;
use crate::database::sqlite::queries;
use crate::database::sqlite::queries::locks::TakeLock;

pub(crate) struct SqliteTx<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) opts: TxOptions,
    pub(crate) inner: &'a Inner,
    /// Transaction locks this transaction holds (rows to delete before COMMIT).
    held: RefCell<Vec<LockId>>,
    /// Set when `acquire_lock` met another holder's lease: the outermost `in_tx` rolls back,
    /// backs off and re-runs the transaction.
    contended: RefCell<Option<(LockId, String)>>,
}

impl<'a> SqliteTx<'a> {
    pub(crate) fn new(conn: &'a Connection, opts: TxOptions, inner: &'a Inner) -> Self {
        Self { conn, opts, inner, held: RefCell::new(Vec::new()), contended: RefCell::new(None) }
    }

    pub(crate) fn take_contended(&self) -> Option<(LockId, String)> {
        self.contended.borrow_mut().take()
    }

    /// Deletes this transaction's lock rows; called just before COMMIT so none is published.
    pub(crate) fn release_transaction_locks(&self) -> Result<()> {
        if self.held.borrow_mut().drain(..).count() > 0 {
            queries::locks::release_transaction_locks(self.conn)?;
        }
        Ok(())
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.config.clock.now()
    }

    fn holder(&self) -> String {
        format!("{}/tx:{}", self.inner.config.replica_id, self.opts.id)
    }

    fn take_lock(&self, id: LockId, op: &'static str) -> Result<Option<String>> {
        if self.opts.read_only {
            return Err(Error::ReadOnlyTransaction { op });
        }
        if self.held.borrow().contains(&id) {
            return Ok(None);
        }
        let now = self.inner.config.clock.now();
        match queries::locks::take_transaction_lock(self.conn, id, &self.holder(), now)? {
            TakeLock::Taken => {
                self.held.borrow_mut().push(id);
                Ok(None)
            }
            TakeLock::HeldByLease { holder } => Ok(Some(holder)),
        }
    }
}

impl TxStore for SqliteTx<'_> {
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        if self.opts.read_only && !opts.read_only {
            return Err(Error::ReadOnlyTransaction { op: "begin nested read-write transaction" });
        }
        f(self)
    }

    fn acquire_lock(&self, id: LockId) -> Result<()> {
        match self.take_lock(id, "acquire lock")? {
            None => Ok(()),
            Some(holder) => {
                *self.contended.borrow_mut() = Some((id, holder.clone()));
                let timeout_ms = u64::try_from(self.inner.config.lock_timeout.as_millis()).unwrap_or(u64::MAX);
                Err(Error::LockNotAvailable { lock_id: id, holder, timeout_ms })
            }
        }
    }

    fn try_acquire_lock(&self, id: LockId) -> Result<bool> {
        if self.opts.read_only {
            let now = self.inner.config.clock.now();
            return Ok(queries::locks::live_lease_holder(self.conn, id, now)?.is_none());
        }
        Ok(self.take_lock(id, "try acquire lock")?.is_none())
    }

    fn try_acquire_lease(&self, _id: LockId, _holder: &str, _ttl: Duration) -> Result<Option<LeaseGuard>> {
        Err(Error::InTransaction { op: "try acquire lease" })
    }

    fn clock(&self) -> SharedClock {
        self.inner.config.clock.clone()
    }
}
