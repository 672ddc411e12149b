//! The pool of `query_only` reader connections, closed before the writer.
//!
//! SQLite removes the `-wal` and `-shm` files when the last connection to the database
//! closes, and only then. The writer closes last; that needs every reader closed first.
//! r2d2 opens connections on a worker thread, which holds the pool for a moment after it
//! hands a new connection over: a store dropped in that moment leaves the pool, and an idle
//! reader with it, alive until the worker lets go. When the process exits first (every CLI
//! command ends that way), the reader was still open when the writer closed, and the `-wal`
//! and `-shm` stay behind (1 run in 6 of `migrate` on a loaded machine). So each reader
//! connection is counted while it lives, and dropping the pool waits until none is left.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use parking_lot::Condvar;
use parking_lot::Mutex;
use r2d2::ManageConnection;
use r2d2::Pool;
use r2d2::PooledConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::database::Error;
use crate::database::Result;

/// How long dropping the pool waits for r2d2's worker to close the last reader. The worker
/// needs microseconds; the bound only guards against a reader leaked elsewhere.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A reader connection checked out of the pool.
pub(crate) type PooledReader = PooledConnection<ReaderManager>;

/// The reader pool. Declared before the writer in the store, so it is dropped (and waited
/// for) before the writer closes.
pub(crate) struct ReaderPool {
    pool: Option<Pool<ReaderManager>>,
    live: Arc<LiveReaders>,
}

impl ReaderPool {
    pub(crate) fn build(
        sqlite: SqliteConnectionManager,
        builder: r2d2::Builder<ReaderManager>,
    ) -> Result<Self, r2d2::Error> {
        let live = Arc::new(LiveReaders::default());
        let pool = builder.build(ReaderManager { sqlite, live: Arc::clone(&live) })?;
        Ok(Self { pool: Some(pool), live })
    }

    /// A reader connection for `op`.
    pub(crate) fn get(&self, op: &'static str) -> Result<PooledReader> {
        let pool = self.pool.as_ref().expect("the pool is present until the store is dropped");
        pool.get().map_err(|e| Error::Pool { op, message: e.to_string() })
    }
}

impl Drop for ReaderPool {
    fn drop(&mut self) {
        drop(self.pool.take());
        if !self.live.wait_until_none(CLOSE_WAIT) {
            tracing::warn!(
                wait_ms = CLOSE_WAIT.as_millis() as u64,
                "a reader connection outlived its store; the -wal and -shm files may stay behind"
            );
        }
    }
}

/// The number of reader connections open now.
#[derive(Default)]
struct LiveReaders {
    count: Mutex<usize>,
    none_left: Condvar,
}

impl LiveReaders {
    fn enter(self: &Arc<Self>) -> LiveReader {
        *self.count.lock() += 1;
        LiveReader(Arc::clone(self))
    }

    /// Waits until no reader is open, at most `timeout` (real time: this waits on another
    /// thread's progress). False when one still is.
    fn wait_until_none(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut count = self.count.lock();
        while *count > 0 {
            if self.none_left.wait_until(&mut count, deadline).timed_out() {
                return *count == 0;
            }
        }
        true
    }
}

/// Counts one reader connection while it lives.
struct LiveReader(Arc<LiveReaders>);

impl Drop for LiveReader {
    fn drop(&mut self) {
        let mut count = self.0.count.lock();
        *count -= 1;
        if *count == 0 {
            self.0.none_left.notify_all();
        }
    }
}

/// r2d2_sqlite's manager, with each connection counted while it lives.
pub(crate) struct ReaderManager {
    sqlite: SqliteConnectionManager,
    live: Arc<LiveReaders>,
}

/// A reader connection and its place in the count. The connection field comes first, so it
/// is closed before the count drops.
pub(crate) struct ReaderConnection {
    conn: Connection,
    _live: LiveReader,
}

impl Deref for ReaderConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl ManageConnection for ReaderManager {
    type Connection = ReaderConnection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<ReaderConnection, rusqlite::Error> {
        let conn = self.sqlite.connect()?;
        Ok(ReaderConnection { conn, _live: self.live.enter() })
    }

    fn is_valid(&self, reader: &mut ReaderConnection) -> Result<(), rusqlite::Error> {
        self.sqlite.is_valid(&mut reader.conn)
    }

    fn has_broken(&self, reader: &mut ReaderConnection) -> bool {
        self.sqlite.has_broken(&mut reader.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_when_the_last_reader_closes_on_another_thread() {
        let live = Arc::new(LiveReaders::default());
        let first = live.enter();
        let second = live.enter();
        assert!(!live.wait_until_none(Duration::from_millis(1)));
        drop(first);
        let closer = std::thread::spawn(move || drop(second));
        assert!(live.wait_until_none(Duration::from_secs(10)));
        closer.join().unwrap();
        assert_eq!(*live.count.lock(), 0);
    }
}
