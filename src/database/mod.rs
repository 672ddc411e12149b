//! The storage boundary: the `Store` trait is the one interface domain code sees.
//!
//! **API boundary.** Domain modules (deployment, aiproviders, boundaryusage, rollup,
//! prebuilds, provisioner, identity, workspaces) call only what is declared here. Two engines
//! implement it: [`sqlite`] (the embedded default) and [`postgres`]; neither engine's client
//! types cross this module's edge.
//!
//! Every method carries a one-line contract. Methods that take data take it borrowed, so a
//! transaction closure can be re-run (see [`Store::in_tx`]).

pub mod any;
pub mod copy;
pub mod domains;
pub mod errors;
pub mod lock;
pub mod models;
#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod rows;
mod schema;
pub mod snapshot;
pub mod sqlite;

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
pub use crate::database::any::AnyStore;
pub use crate::database::any::Engine;
pub use crate::database::any::Location;
pub use crate::database::any::OpenConfig;
pub use crate::database::domains::AiProviderStore;
pub use crate::database::domains::ApiKeyStore;
pub use crate::database::domains::AuditStore;
pub use crate::database::domains::BoundaryUsageStore;
pub use crate::database::domains::FileStore;
pub use crate::database::domains::IdentityStore;
pub use crate::database::domains::MaintenanceStore;
pub use crate::database::domains::NotificationStore;
pub use crate::database::domains::PooledStore;
pub use crate::database::domains::PrebuildsStore;
pub use crate::database::domains::ProvisionerStore;
pub use crate::database::domains::RollupStore;
pub use crate::database::domains::SystemStore;
pub use crate::database::domains::TemplateStore;
pub use crate::database::domains::WorkspaceStore;
pub use crate::database::errors::Error;
pub use crate::database::errors::Result;
pub use crate::database::lock::LockId;
pub use crate::database::lock::gen_lock_id;

/// Every store trait, for callers that hold a concrete store (`use
/// coderlite::database::prelude::*;`): a domain method on a concrete type needs its trait in
/// scope, while on `&dyn Store` the combined trait suffices.
pub mod prelude {
    pub use crate::database::AiProviderStore;
    pub use crate::database::ApiKeyStore;
    pub use crate::database::AuditStore;
    pub use crate::database::BoundaryUsageStore;
    pub use crate::database::FileStore;
    pub use crate::database::IdentityStore;
    pub use crate::database::MaintenanceStore;
    pub use crate::database::NotificationStore;
    pub use crate::database::PrebuildsStore;
    pub use crate::database::ProvisionerStore;
    pub use crate::database::RollupStore;
    pub use crate::database::Store;
    pub use crate::database::SystemStore;
    pub use crate::database::TemplateStore;
    pub use crate::database::TxStore;
    pub use crate::database::WorkspaceStore;
}

/// How a transaction is opened. No `Default`: the caller says what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOptions {
    /// Read-only transactions see one consistent snapshot (`BEGIN DEFERRED` on a WAL
    /// database) and never take the writer mutex. Writes inside them fail.
    pub read_only: bool,
    /// Names the transaction in logs, spans and transaction-lock holders. Never drives logic.
    pub id: &'static str,
}

impl TxOptions {
    /// A read-only transaction named `id`.
    pub fn read(id: &'static str) -> Self {
        Self { read_only: true, id }
    }

    /// A read-write (`BEGIN IMMEDIATE`) transaction named `id`.
    pub fn write(id: &'static str) -> Self {
        Self { read_only: false, id }
    }
}

/// The closure type of [`Store::in_tx`].
pub type TxFn<'a> = dyn FnMut(&dyn Store) -> Result<()> + 'a;

/// A store shared between threads and services.
pub type SharedStore = Arc<dyn Store + Send + Sync>;

/// The transaction core of every store: transactions, transaction locks, leases, and the
/// clock timestamps are bound from. Implemented by the pool-level store of each engine and by
/// its transaction handle.
pub trait TxStore {
    /// Runs `f` on one connection inside one transaction; commits if `f` returns `Ok`, rolls
    /// back otherwise. On a transaction handle it runs `f` inline (no BEGIN, no commit of its
    /// own); asking for read-write inside a read-only transaction is `ReadOnlyTransaction`.
    /// `f` may run more than once: when `acquire_lock` meets another holder's lease, the whole
    /// transaction is rolled back and retried, so take transaction locks first and keep side
    /// effects outside the closure.
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()>;

    /// Takes transaction lock `id` for the rest of the current read-write transaction (blocks
    /// while another holder's live lease sits on it, up to the lock timeout, then
    /// `LockNotAvailable`). Re-entrant. Outside a read-write transaction: an error.
    fn acquire_lock(&self, id: LockId) -> Result<()>;

    /// Like `acquire_lock` but never waits: false when another holder's live lease sits on
    /// `id`. In a read-only transaction it only answers the question and takes nothing.
    fn try_acquire_lock(&self, id: LockId) -> Result<bool>;

    /// Takes lease `id` for `holder` in its own short write transaction, or takes over an
    /// expired one; `None` at once when another live lease holds it. Not inside a transaction.
    fn try_acquire_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<Option<LeaseGuard>>;

    /// The clock this store binds timestamps from.
    fn clock(&self) -> SharedClock;

    /// Checkpoints SQLite's write-ahead log (passive; with `truncate`, waits up to the busy
    /// timeout for readers and writers and empties the file) and reports it. `None` for an
    /// engine without one, and on a transaction handle.
    fn checkpoint_wal(&self, _truncate: bool) -> Result<Option<models::WalStatus>> {
        Ok(None)
    }

    /// The write-ahead log's size without checkpointing; `None` without one.
    fn wal_status(&self) -> Result<Option<models::WalStatus>> {
        Ok(None)
    }
}

/// The one storage interface domain code sees: the transaction core and every domain (see
/// [`domains`]). Implemented by the pool-level store (each call runs in its own short
/// transaction) and by the transaction handle passed to `in_tx` closures.
pub trait Store:
    TxStore
    + SystemStore
    + ApiKeyStore
    + MaintenanceStore
    + BoundaryUsageStore
    + FileStore
    + IdentityStore
    + TemplateStore
    + WorkspaceStore
    + AiProviderStore
    + AuditStore
    + NotificationStore
    + RollupStore
    + PrebuildsStore
    + ProvisionerStore
{
}

impl<T> Store for T where
    T: ?Sized
        + TxStore
        + SystemStore
        + ApiKeyStore
        + MaintenanceStore
        + BoundaryUsageStore
        + FileStore
        + IdentityStore
        + TemplateStore
        + WorkspaceStore
        + AiProviderStore
        + AuditStore
        + NotificationStore
        + AuditStore
        + NotificationStore
        + RollupStore
        + PrebuildsStore
        + ProvisionerStore
{
}

/// Runs `f` in a transaction and carries its value and its own error type out of it: the
/// generic front of the object-safe [`Store::in_tx`].
pub fn in_tx<T, E>(store: &dyn Store, opts: TxOptions, mut f: impl FnMut(&dyn Store) -> Result<T, E>) -> Result<T, E>
where
    E: From<Error>,
{
    let mut value = None;
    let mut closure_error = None;
    let res = store.in_tx(opts, &mut |tx| match f(tx) {
        Ok(v) => {
            value = Some(v);
            Ok(())
        }
        Err(e) => {
            closure_error = Some(e);
            Err(Error::ClosureFailed)
        }
    });
    match res {
        Ok(()) => Ok(value.expect("in_tx: closure returned Ok without a value")),
        Err(Error::ClosureFailed) => Err(closure_error.expect("in_tx: closure error recorded")),
        Err(e) => Err(E::from(e)),
    }
}

thread_local! {
    /// Set while this thread runs a write transaction of any store: a second one on the same
    /// thread would wait forever on the writer mutex (or on SQLite's file lock).
    static IN_WRITE_TX: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread as writing for its lifetime. Both engines refuse a second write
/// transaction on a thread that runs one (SQLite would deadlock; PostgreSQL would at best
/// commit it apart from the outer one, which the domain code never means).
pub(crate) struct WriteThreadMark;

impl WriteThreadMark {
    pub(crate) fn enter(op: &'static str) -> Result<Self> {
        if IN_WRITE_TX.with(Cell::get) {
            return Err(Error::NestedWrite { op });
        }
        IN_WRITE_TX.with(|c| c.set(true));
        Ok(Self)
    }
}

impl Drop for WriteThreadMark {
    fn drop(&mut self) {
        IN_WRITE_TX.with(|c| c.set(false));
    }
}

/// What a `LeaseGuard` needs from the store that issued it.
pub(crate) trait LeaseBackend: Send + Sync {
    /// Extends the lease to now + ttl; false when it is no longer ours.
    fn renew_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<bool>;
    /// Deletes the lease row if it is still ours.
    fn release_lease(&self, id: LockId, holder: &str) -> Result<()>;
    fn clock(&self) -> SharedClock;
}

/// A held lease. A background heartbeat renews it every ttl/3; dropping the guard (or
/// [`LeaseGuard::release`]) stops the heartbeat and deletes the row. If the lease is lost (a
/// renew finds another holder), [`LeaseGuard::is_held`] turns false and the work should stop.
pub struct LeaseGuard {
    lock_id: LockId,
    holder: String,
    lost: Arc<AtomicBool>,
    cancel: Cancel,
    heartbeat: Option<JoinHandle<()>>,
    backend: Arc<dyn LeaseBackend>,
    released: bool,
}

impl fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseGuard")
            .field("lock_id", &self.lock_id)
            .field("holder", &self.holder)
            .field("held", &self.is_held())
            .finish()
    }
}

impl LeaseGuard {
    pub(crate) fn start(backend: Arc<dyn LeaseBackend>, lock_id: LockId, holder: &str, ttl: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let cancel = Cancel::new();
        let heartbeat = {
            let backend = Arc::clone(&backend);
            let lost = Arc::clone(&lost);
            let cancel = cancel.clone();
            let holder = holder.to_owned();
            std::thread::Builder::new()
                .name(format!("lease-{}", lock_id.as_i64()))
                .spawn(move || heartbeat_loop(&*backend, lock_id, &holder, ttl, &lost, &cancel))
                .expect("spawn lease heartbeat thread")
        };
        Self { lock_id, holder: holder.to_owned(), lost, cancel, heartbeat: Some(heartbeat), backend, released: false }
    }

    pub fn lock_id(&self) -> LockId {
        self.lock_id
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// False once a heartbeat found the lease taken by someone else.
    pub fn is_held(&self) -> bool {
        !self.lost.load(Ordering::SeqCst)
    }

    /// Stops the heartbeat and deletes the lease row, reporting a failure to delete.
    pub fn release(mut self) -> Result<()> {
        self.stop_heartbeat();
        self.released = true;
        self.backend.release_lease(self.lock_id, &self.holder)
    }

    /// Stops the heartbeat and leaves the row in place, as a crashed process would: the lease
    /// stays until it expires. For crash tests and for handing a lease to expiry on purpose.
    pub fn abandon(mut self) {
        self.stop_heartbeat();
        self.released = true;
    }

    fn stop_heartbeat(&mut self) {
        self.cancel.cancel();
        if let Some(handle) = self.heartbeat.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.stop_heartbeat();
        if let Err(error) = self.backend.release_lease(self.lock_id, &self.holder) {
            // The row expires on its own; the next holder takes it over after the ttl.
            tracing::warn!(lock_id = self.lock_id.as_i64(), holder = %self.holder, %error, "release lease");
        }
    }
}

fn heartbeat_loop(
    backend: &dyn LeaseBackend,
    lock_id: LockId,
    holder: &str,
    ttl: Duration,
    lost: &AtomicBool,
    cancel: &Cancel,
) {
    let clock = backend.clock();
    loop {
        if !clock.sleep_until(crate::clock::add_duration(clock.now(), ttl / 3), cancel) {
            return;
        }
        match backend.renew_lease(lock_id, holder, ttl) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(lock_id = lock_id.as_i64(), holder, "lease lost to another holder");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A transient failure (busy file): try again next beat; the ttl leaves two more.
            Err(error) => tracing::warn!(lock_id = lock_id.as_i64(), holder, %error, "renew lease"),
        }
    }
}
