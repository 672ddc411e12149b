//! Snapshots of the whole database as schemas of the same database: a test-control server's
//! snapshots and reset. Saving copies every copied table (not leases, replicas or migration
//! history) and the sequence positions into the named schema in one transaction; restoring
//! puts them back in one transaction. Readers see the old rows or the new ones.

use crate::database::Error;
use crate::database::Result;
use crate::database::copy::COPIED_TABLES;
use crate::database::postgres::PgStore;
use crate::database::postgres::errors;

fn map(op: &'static str) -> impl Fn(postgres::Error) -> Error {
    move |e| errors::interpret(op, &e).0
}

/// A schema name coderlite made: lowercase letters, digits and underscores only, so it is
/// safe to splice into SQL.
fn check_schema(schema: &str) -> Result<()> {
    let safe = !schema.is_empty()
        && schema.len() <= 63
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if safe {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            op: "snapshot",
            column: "schema",
            message: format!("bad snapshot schema {schema:?}"),
        })
    }
}

impl PgStore {
    /// Copies every copied table and the sequence positions into `schema` (replacing a
    /// snapshot of that name), in one repeatable-read transaction.
    pub fn save_snapshot_schema(&self, schema: &str) -> Result<()> {
        let op = "save snapshot";
        check_schema(schema)?;
        let mut conn = self.conn(op)?;
        let mut tx = conn
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .map_err(map(op))?;
        let mut sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};\n");
        for table in COPIED_TABLES {
            sql.push_str(&format!("CREATE TABLE {schema}.{table} AS TABLE {table};\n"));
        }
        sql.push_str(&format!(
            "CREATE TABLE {schema}.coderlite_sequences AS
               SELECT sequencename::text AS name, last_value FROM pg_sequences WHERE schemaname = current_schema();\n"
        ));
        tx.batch_execute(&sql).map_err(map(op))?;
        tx.commit().map_err(map(op))
    }

    /// Replaces the rows of every copied table and the sequence positions with those saved
    /// in `schema`, in one transaction. Triggers run as for any write.
    pub fn restore_snapshot_schema(&self, schema: &str) -> Result<()> {
        let op = "restore snapshot";
        check_schema(schema)?;
        let mut conn = self.conn(op)?;
        let mut tx = conn.client.transaction().map_err(map(op))?;
        // Parents are filled first; a table is emptied again just before it is filled, for
        // the rows an insert trigger made (an organization's Everyone group).
        let mut sql = format!("SET CONSTRAINTS ALL DEFERRED;\nTRUNCATE {};\n", COPIED_TABLES.join(", "));
        for table in COPIED_TABLES {
            // Generated columns (a job's status) are computed, never inserted.
            let columns: Vec<String> = tx
                .query(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
                     ORDER BY ordinal_position",
                    &[table],
                )
                .map_err(map(op))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let columns = columns.join(", ");
            sql.push_str(&format!(
                "DELETE FROM {table};\nINSERT INTO {table} ({columns}) SELECT {columns} FROM {schema}.{table};\n"
            ));
        }
        sql.push_str(&format!(
            "SELECT setval(format('%I.%I', current_schema(), name)::regclass, COALESCE(last_value, 1), last_value IS NOT NULL)
             FROM {schema}.coderlite_sequences;\n"
        ));
        tx.batch_execute(&sql).map_err(map(op))?;
        tx.commit().map_err(map(op))
    }

    /// Drops a snapshot schema (no error when it is gone already).
    pub fn drop_snapshot_schema(&self, schema: &str) -> Result<()> {
        let op = "drop snapshot";
        check_schema(schema)?;
        let mut conn = self.conn(op)?;
        conn.client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).map_err(map(op))
    }
}
