//! `db copy` on SQLite: a reader connection in one `BEGIN DEFERRED` snapshot as the source;
//! the writer connection in one `BEGIN IMMEDIATE` transaction, foreign keys deferred to the
//! commit, as the destination.

use std::sync::MutexGuard;

use rusqlite::Connection;
use rusqlite::types::Value;
use rusqlite::types::ValueRef;

use crate::database::Error;
use crate::database::Result;
use crate::database::WriteThreadMark;
use crate::database::copy::BATCH_ROWS;
use crate::database::copy::CopySource;
use crate::database::copy::CopyTarget;
use crate::database::copy::CopyValue;
use crate::database::sqlite::SqliteStore;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::readers::PooledReader;

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn columns(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let op = "copy: read columns";
    let mut stmt = conn.prepare_cached("SELECT name FROM pragma_table_info(?1) ORDER BY cid").op(op)?;
    let names = stmt.query_map([table], |r| r.get(0)).op(op)?.collect::<rusqlite::Result<Vec<String>>>().op(op)?;
    if names.is_empty() {
        return Err(Error::CopyRefused { message: format!("no table {table} in the SQLite database") });
    }
    Ok(names)
}

fn count(conn: &Connection, table: &str, condition: Option<&str>) -> Result<u64> {
    let sql = match condition {
        Some(c) => format!("SELECT COUNT(*) FROM {} WHERE {c}", quote(table)),
        None => format!("SELECT COUNT(*) FROM {}", quote(table)),
    };
    let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).op("copy: count rows")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) struct SqliteCopySource {
    conn: PooledReader,
}

impl SqliteStore {
    /// The source side of `db copy`: one read snapshot, held until the source is dropped.
    pub fn copy_source(&self) -> Result<Box<dyn CopySource + '_>> {
        let conn = self.inner.readers.get("copy")?;
        // A deferred transaction takes its snapshot at the first read: read at once.
        conn.execute_batch("BEGIN DEFERRED; SELECT COUNT(*) FROM sqlite_master;").op("copy: begin snapshot")?;
        Ok(Box::new(SqliteCopySource { conn }))
    }

    /// The destination side of `db copy`: the writer connection in one transaction.
    pub fn copy_target(&self) -> Result<Box<dyn CopyTarget + '_>> {
        let mark = WriteThreadMark::enter("copy")?;
        let conn = self.inner.lock_writer();
        conn.execute_batch("BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON;").op("copy: begin transaction")?;
        Ok(Box::new(SqliteCopyTarget { conn, open: true, _mark: mark }))
    }
}

impl Drop for SqliteCopySource {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn from_sqlite(v: ValueRef<'_>) -> Result<CopyValue> {
    Ok(match v {
        ValueRef::Null => CopyValue::Null,
        ValueRef::Integer(i) => CopyValue::Int(i),
        ValueRef::Real(f) => CopyValue::Float(f),
        ValueRef::Text(t) => CopyValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => CopyValue::Bytes(b.to_vec()),
    })
}

fn to_sqlite(v: &CopyValue) -> Value {
    match v {
        CopyValue::Null => Value::Null,
        CopyValue::Int(i) => Value::Integer(*i),
        CopyValue::Float(f) => Value::Real(*f),
        CopyValue::Text(t) => Value::Text(t.clone()),
        CopyValue::Bool(b) => Value::Integer(i64::from(*b)),
        CopyValue::Uuid(u) => Value::Text(u.to_string()),
        CopyValue::Time(t) => Value::Integer(crate::clock::to_micros(*t)),
        CopyValue::Json(j) => Value::Text(j.to_string()),
        CopyValue::Bytes(b) => Value::Blob(b.clone()),
    }
}

impl CopySource for SqliteCopySource {
    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        columns(&self.conn, table)
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        count(&self.conn, table, None)
    }

    fn read(
        &mut self,
        table: &str,
        columns: &[String],
        sink: &mut dyn FnMut(&[Vec<CopyValue>]) -> Result<()>,
    ) -> Result<u64> {
        let op = "copy: read rows";
        let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        // A full scan visits rows in rowid (insertion) order, or key order without rowid.
        let sql = format!("SELECT {} FROM {}", list.join(", "), quote(table));
        let mut stmt = self.conn.prepare(&sql).op(op)?;
        let mut rows = stmt.query([]).op(op)?;
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let mut n = 0;
        while let Some(row) = rows.next().op(op)? {
            let values = (0..columns.len()).map(|i| from_sqlite(row.get_ref(i).op(op)?)).collect::<Result<Vec<_>>>()?;
            batch.push(values);
            if batch.len() == BATCH_ROWS {
                sink(&batch)?;
                n += batch.len() as u64;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            sink(&batch)?;
            n += batch.len() as u64;
        }
        Ok(n)
    }
}

pub(crate) struct SqliteCopyTarget<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
    _mark: WriteThreadMark,
}

impl CopyTarget for SqliteCopyTarget<'_> {
    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        columns(&self.conn, table)
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        count(&self.conn, table, None)
    }

    fn count_where(&mut self, table: &str, condition: &str) -> Result<u64> {
        count(&self.conn, table, Some(condition))
    }

    fn delete_all(&mut self, table: &str) -> Result<()> {
        self.conn.execute(&format!("DELETE FROM {}", quote(table)), []).op("copy: clear table")?;
        Ok(())
    }

    fn insert(&mut self, table: &str, columns: &[String], rows: &[Vec<CopyValue>]) -> Result<()> {
        let op = "copy: insert rows";
        let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!("INSERT INTO {} ({}) VALUES ({})", quote(table), list.join(", "), marks.join(", "));
        let mut stmt = self.conn.prepare_cached(&sql).op(op)?;
        for row in rows {
            let values: Vec<Value> = row.iter().map(to_sqlite).collect();
            stmt.execute(rusqlite::params_from_iter(values)).op(op)?;
        }
        Ok(())
    }

    fn finish_table(&mut self, _table: &str) -> Result<()> {
        // AUTOINCREMENT keys move sqlite_sequence past explicitly inserted ids by themselves.
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.execute_batch("COMMIT").op("copy: commit")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteCopyTarget<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
