//! Restoring the rows of a snapshot file (a `VACUUM INTO` of this database) into the live
//! database, in one write transaction: what a test-control server's reset and snapshot
//! restore run. Readers see the old rows or the new ones, never a mix.

use std::path::Path;

use crate::database::Error;
use crate::database::Result;
use crate::database::WriteThreadMark;
use crate::database::copy::COPIED_TABLES;
use crate::database::sqlite::SqliteStore;
use crate::database::sqlite::Txn;
use crate::database::sqlite::errors::OpContext;

impl SqliteStore {
    /// Replaces the rows of every copied table (not leases, replicas or migration history)
    /// with those of the database file `source`, which must hold this schema (a
    /// `VACUUM INTO` of this database). Triggers run as for any write, so the data generation
    /// moves on and no cache keyed on it serves old rows.
    pub fn restore_rows_from(&self, source: &Path) -> Result<()> {
        let op = "restore snapshot";
        let source =
            source.to_str().ok_or_else(|| Error::Sqlite { op, message: "snapshot path is not UTF-8".into() })?;
        let _mark = WriteThreadMark::enter(op)?;
        let conn = self.inner.lock_writer();
        conn.execute("ATTACH DATABASE ?1 AS snapshot", [source]).op(op)?;
        let restored = (|| {
            let txn = Txn::begin(&conn, "BEGIN IMMEDIATE")?;
            // Parents are emptied last and filled first; a table is emptied again just before
            // it is filled, for the rows an insert trigger made (an organization's Everyone
            // group).
            let mut sql = String::from("PRAGMA defer_foreign_keys = ON;\n");
            for table in COPIED_TABLES.iter().rev() {
                sql.push_str(&format!("DELETE FROM main.{table};\n"));
            }
            for table in COPIED_TABLES {
                // Generated columns (a job's status) are computed, never inserted.
                let columns: Vec<String> = conn
                    .prepare_cached("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0 ORDER BY cid")
                    .op(op)?
                    .query_map([table], |r| r.get(0))
                    .op(op)?
                    .collect::<rusqlite::Result<_>>()
                    .op(op)?;
                let columns = columns.join(", ");
                sql.push_str(&format!(
                    "DELETE FROM main.{table};\nINSERT INTO main.{table} ({columns}) SELECT {columns} FROM snapshot.{table};\n"
                ));
            }
            sql.push_str(
                "DELETE FROM main.sqlite_sequence;\nINSERT INTO main.sqlite_sequence SELECT * FROM snapshot.sqlite_sequence;\n",
            );
            conn.execute_batch(&sql).op(op)?;
            txn.commit()
        })();
        let detached = conn.execute("DETACH DATABASE snapshot", []).op(op).map(|_| ());
        restored.and(detached)
    }
}
