//! Named snapshots of a whole database, for servers that test suites run against: save the
//! rows of every table a `db copy` copies, restore them later in one transaction. Leases,
//! registered replicas and migration history are the running processes' and stay as they
//! are.
//!
//! SQLite keeps each snapshot as a `VACUUM INTO` file in a private temporary directory;
//! PostgreSQL as a schema of the same database. Both are removed when [`Snapshots`] drops.

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::Mutex;

use crate::database::AnyStore;
use crate::database::Error;
use crate::database::Result;

/// The most snapshots one server keeps (each is a copy of the whole database).
pub const MAX_SNAPSHOTS: usize = 64;

/// The snapshots of one store.
pub struct Snapshots {
    store: AnyStore,
    place: Place,
    /// Name → the number its file or schema is named by.
    taken: Mutex<BTreeMap<String, u32>>,
}

enum Place {
    Files(tempfile::TempDir),
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Schemas {
        prefix: String,
    },
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots").field("names", &*self.taken.lock()).finish()
    }
}

/// A snapshot name: 1 to 64 letters, digits, `.`, `_` or `-`.
pub fn check_snapshot_name(name: &str) -> std::result::Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid { Ok(()) } else { Err("must be 1 to 64 letters, digits, '.', '_' or '-'".to_owned()) }
}

impl Snapshots {
    /// Snapshots of `store`; nothing is saved yet.
    pub fn new(store: AnyStore) -> Result<Self> {
        let place = match &store {
            AnyStore::Sqlite(_) => Place::Files(
                tempfile::Builder::new()
                    .prefix("coderlite-snapshots-")
                    .tempdir()
                    .map_err(|e| Error::Open { path: std::env::temp_dir(), message: e.to_string() })?,
            ),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => Place::Schemas {
                prefix: format!("coderlite_snapshot_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            },
        };
        Ok(Self { store, place, taken: Mutex::new(BTreeMap::new()) })
    }

    /// Saves the database as snapshot `name`, replacing one of that name.
    pub fn save(&self, name: &str) -> Result<()> {
        let mut taken = self.taken.lock();
        let number = match taken.get(name) {
            Some(n) => *n,
            None if taken.len() >= MAX_SNAPSHOTS => {
                return Err(Error::InvalidText {
                    op: "save snapshot",
                    message: format!("a server keeps at most {MAX_SNAPSHOTS} snapshots; save over an existing name"),
                });
            }
            None => taken.values().max().map_or(0, |n| n + 1),
        };
        match (&self.store, &self.place) {
            (AnyStore::Sqlite(s), Place::Files(dir)) => {
                // A new file, then renamed over the old one: a failed save keeps the old.
                let fresh = dir.path().join(format!("{number}.saving"));
                let _ = std::fs::remove_file(&fresh);
                s.vacuum_into(&fresh)?;
                std::fs::rename(&fresh, self.file(dir, number))
                    .map_err(|e| Error::Open { path: fresh.clone(), message: e.to_string() })?;
            }
            #[cfg(feature = "postgres")]
            (AnyStore::Postgres(s), Place::Schemas { prefix }) => {
                s.save_snapshot_schema(&format!("{prefix}_{number}"))?
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("snapshot place matches its engine"),
        }
        taken.insert(name.to_owned(), number);
        Ok(())
    }

    /// Restores snapshot `name` in one transaction; false when there is none of that name.
    pub fn restore(&self, name: &str) -> Result<bool> {
        let taken = self.taken.lock();
        let Some(number) = taken.get(name).copied() else {
            return Ok(false);
        };
        match (&self.store, &self.place) {
            (AnyStore::Sqlite(s), Place::Files(dir)) => s.restore_rows_from(&self.file(dir, number))?,
            #[cfg(feature = "postgres")]
            (AnyStore::Postgres(s), Place::Schemas { prefix }) => {
                s.restore_snapshot_schema(&format!("{prefix}_{number}"))?
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("snapshot place matches its engine"),
        }
        Ok(true)
    }

    /// The names saved, sorted.
    pub fn names(&self) -> Vec<String> {
        self.taken.lock().keys().cloned().collect()
    }

    fn file(&self, dir: &tempfile::TempDir, number: u32) -> PathBuf {
        dir.path().join(format!("{number}.db"))
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        #[cfg(feature = "postgres")]
        if let (AnyStore::Postgres(s), Place::Schemas { prefix }) = (&self.store, &self.place) {
            for number in self.taken.lock().values() {
                if let Err(error) = s.drop_snapshot_schema(&format!("{prefix}_{number}")) {
                    tracing::warn!(%error, "drop a snapshot schema");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_are_short_and_plain() {
        for good in ["a", "after-setup", "v1.2_x", &"n".repeat(64)] {
            assert_eq!(check_snapshot_name(good), Ok(()), "{good}");
        }
        for bad in ["", "has space", "a/b", "é", &"n".repeat(65), "x\0"] {
            assert!(check_snapshot_name(bad).is_err(), "{bad:?}");
        }
    }
}
