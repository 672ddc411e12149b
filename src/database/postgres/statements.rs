//! The statements of a transaction handle: the calls every query is written with (`one`,
//! `opt`, `all`, `exec`, `exec_count`, `exec_found`), each prepared once per
//! connection, and postgres rows as the shared mappers of [`crate::database::rows`] read
//! them. `SqliteTx` has the same calls, so a query's two versions differ only in their SQL
//! and their parameters.

use postgres::Row;
use postgres::types::ToSql;

use crate::database::Error;
use crate::database::Result;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::get_opt_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows::RowReader;

/// A postgres row as the shared mappers of [`crate::database::rows`] read it.
pub(crate) struct PgRow<'a> {
    pub op: &'static str,
    pub row: &'a Row,
}

impl RowReader for PgRow<'_> {
    fn op(&self) -> &'static str {
        self.op
    }

    fn text(&self, idx: usize) -> Result<String> {
        get(self.op, self.row, idx)
    }

    fn opt_text(&self, idx: usize) -> Result<Option<String>> {
        get(self.op, self.row, idx)
    }

    fn id(&self, idx: usize) -> Result<String> {
        get_id(self.op, self.row, idx)
    }

    fn opt_id(&self, idx: usize) -> Result<Option<String>> {
        get_opt_id(self.op, self.row, idx)
    }

    fn bool(&self, idx: usize) -> Result<bool> {
        get(self.op, self.row, idx)
    }

    fn i64(&self, idx: usize) -> Result<i64> {
        get(self.op, self.row, idx)
    }

    fn opt_i64(&self, idx: usize) -> Result<Option<i64>> {
        get(self.op, self.row, idx)
    }

    fn time(&self, idx: usize) -> Result<crate::clock::Timestamp> {
        get(self.op, self.row, idx)
    }

    fn opt_time(&self, idx: usize) -> Result<Option<crate::clock::Timestamp>> {
        get(self.op, self.row, idx)
    }

    fn opt_bool(&self, idx: usize) -> Result<Option<bool>> {
        get(self.op, self.row, idx)
    }

    fn opt_f64(&self, idx: usize) -> Result<Option<f64>> {
        get(self.op, self.row, idx)
    }

    fn bytes(&self, idx: usize) -> Result<Vec<u8>> {
        get(self.op, self.row, idx)
    }

    fn json(&self, idx: usize) -> Result<serde_json::Value> {
        get(self.op, self.row, idx)
    }

    fn opt_json_text(&self, idx: usize) -> Result<Option<String>> {
        // jsonb comes back as a value; stored text is compact JSON on both engines.
        Ok(get::<Option<serde_json::Value>>(self.op, self.row, idx)?.map(|v| v.to_string()))
    }
}

/// Parameters of a statement.
pub(crate) type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl PgTx<'_> {
    /// The one row of `sql`, mapped by `map`; `NotFound` when there is none.
    pub(crate) fn one<T>(
        &self,
        op: &'static str,
        sql: &str,
        params: Params<'_>,
        map: impl Fn(&dyn RowReader) -> Result<T>,
    ) -> Result<T> {
        self.opt(op, sql, params, map)?.ok_or(Error::NotFound { op })
    }

    /// The first row of `sql`, mapped by `map`, if any.
    pub(crate) fn opt<T>(
        &self,
        op: &'static str,
        sql: &str,
        params: Params<'_>,
        map: impl Fn(&dyn RowReader) -> Result<T>,
    ) -> Result<Option<T>> {
        self.query_opt(op, sql, params)?.map(|row| map(&PgRow { op, row: &row })).transpose()
    }

    /// Every row of `sql`, mapped by `map`.
    pub(crate) fn all<T>(
        &self,
        op: &'static str,
        sql: &str,
        params: Params<'_>,
        map: impl Fn(&dyn RowReader) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.query(op, sql, params)?.iter().map(|row| map(&PgRow { op, row })).collect()
    }

    /// Runs `sql`.
    pub(crate) fn exec(&self, op: &'static str, sql: &str, params: Params<'_>) -> Result<()> {
        self.execute(op, sql, params).map(drop)
    }

    /// Runs `sql`; the number of rows it changed.
    pub(crate) fn exec_count(&self, op: &'static str, sql: &str, params: Params<'_>) -> Result<usize> {
        self.execute(op, sql, params).map(|n| n as usize)
    }

    /// Runs `sql`; `NotFound` when it changed no row.
    pub(crate) fn exec_found(&self, op: &'static str, sql: &str, params: Params<'_>) -> Result<()> {
        match self.execute(op, sql, params)? {
            0 => Err(Error::NotFound { op }),
            _ => Ok(()),
        }
    }
}
