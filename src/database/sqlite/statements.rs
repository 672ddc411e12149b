//! The statements of a transaction handle: the calls every query is written with (`one`,
//! `opt`, `all`, `each`, `exec`, `exec_count`, `exec_found`), each prepared once per
//! connection (rusqlite's statement cache), and rusqlite rows as the shared mappers of
//! [`crate::database::rows`] read them. `PgTx` has the same calls, so a query's two
//! versions differ only in their SQL and their parameters.

use rusqlite::Params;
use rusqlite::Row;

use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::database::Error;
use crate::database::Result;
use crate::database::rows::RowReader;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::json_at;
use crate::database::sqlite::tx::SqliteTx;

/// A rusqlite row as the shared mappers of [`crate::database::rows`] read it.
pub(crate) struct SqliteRow<'a, 'r> {
    pub op: &'static str,
    pub row: &'a Row<'r>,
}

impl SqliteRow<'_, '_> {
    fn get<T: rusqlite::types::FromSql>(&self, idx: usize) -> Result<T> {
        self.row.get(idx).map_err(|e| self.invalid(idx, e))
    }

    fn invalid(&self, idx: usize, e: rusqlite::Error) -> Error {
        Error::InvalidValue { op: self.op, column: "column", message: format!("column {idx}: {e}") }
    }
}

impl RowReader for SqliteRow<'_, '_> {
    fn op(&self) -> &'static str {
        self.op
    }

    fn text(&self, idx: usize) -> Result<String> {
        self.get(idx)
    }

    fn opt_text(&self, idx: usize) -> Result<Option<String>> {
        self.get(idx)
    }

    fn id(&self, idx: usize) -> Result<String> {
        self.get(idx)
    }

    fn opt_id(&self, idx: usize) -> Result<Option<String>> {
        self.get(idx)
    }

    fn bool(&self, idx: usize) -> Result<bool> {
        self.get(idx)
    }

    fn i64(&self, idx: usize) -> Result<i64> {
        self.get(idx)
    }

    fn opt_i64(&self, idx: usize) -> Result<Option<i64>> {
        self.get(idx)
    }

    fn time(&self, idx: usize) -> Result<Timestamp> {
        self.get(idx).map(from_micros)
    }

    fn opt_time(&self, idx: usize) -> Result<Option<Timestamp>> {
        self.get::<Option<i64>>(idx).map(|v| v.map(from_micros))
    }

    fn opt_bool(&self, idx: usize) -> Result<Option<bool>> {
        self.get(idx)
    }

    fn opt_f64(&self, idx: usize) -> Result<Option<f64>> {
        self.get(idx)
    }

    fn bytes(&self, idx: usize) -> Result<Vec<u8>> {
        self.get(idx)
    }

    fn json(&self, idx: usize) -> Result<serde_json::Value> {
        json_at(self.row, idx).map_err(|e| self.invalid(idx, e))
    }

    fn opt_json_text(&self, idx: usize) -> Result<Option<String>> {
        self.opt_text(idx)
    }
}

impl SqliteTx<'_> {
    /// The one row of `sql`, mapped by `map`; `NotFound` when there is none.
    pub(crate) fn one<T>(
        &self,
        op: &'static str,
        sql: &str,
        params: impl Params,
        map: impl Fn(&dyn RowReader) -> Result<T>,
    ) -> Result<T> {
        self.opt(op, sql, params, map)?.ok_or(Error::NotFound { op })
    }

    /// The first row of `sql`, mapped by `map`, if any.
    pub(crate) fn opt<T>(
        &self,
        op: &'static str,
        sql: &str,
        params: impl Params,
        map: impl Fn(&dyn RowReader) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut stmt = self.conn.prepare_cached(sql).op(op)?;
        let mut rows = stmt.query(params).op(op)?;
        rows.next().op(op)?.map(|row| map(&SqliteRow { op, row })).transpose()
    }

    /// Every row of `sql`, mapped by `map`.
    pub(crate) fn all<T>(
        &self,
        op: &'static str,
        sql: &str,
        params: impl Params,
        map: impl Fn(&dyn RowReader) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each(op, sql, params, |r| {
            out.push(map(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Hands each row of `sql` to `visit` as it is read, holding none of them.
    pub(crate) fn each(
        &self,
        op: &'static str,
        sql: &str,
        params: impl Params,
        mut visit: impl FnMut(&dyn RowReader) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql).op(op)?;
        let mut rows = stmt.query(params).op(op)?;
        while let Some(row) = rows.next().op(op)? {
            visit(&SqliteRow { op, row })?;
        }
        Ok(())
    }

    /// Runs `sql`.
    pub(crate) fn exec(&self, op: &'static str, sql: &str, params: impl Params) -> Result<()> {
        self.exec_count(op, sql, params).map(drop)
    }

    /// Runs `sql`; the number of rows it changed.
    pub(crate) fn exec_count(&self, op: &'static str, sql: &str, params: impl Params) -> Result<usize> {
        self.conn.prepare_cached(sql).op(op)?.execute(params).op(op)
    }

    /// Runs `sql`; `NotFound` when it changed no row.
    pub(crate) fn exec_found(&self, op: &'static str, sql: &str, params: impl Params) -> Result<()> {
        match self.exec_count(op, sql, params)? {
            0 => Err(Error::NotFound { op }),
            _ => Ok(()),
        }
    }
}
