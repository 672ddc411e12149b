//! `db copy` on PostgreSQL: the source is a REPEATABLE READ READ ONLY transaction read
//! through a cursor in batches; the destination one transaction with deferrable constraints
//! deferred, filled by binary `COPY … FROM STDIN` per batch.

use std::collections::HashMap;

use postgres::Row;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::ToSql;
use postgres::types::Type;
use r2d2::PooledConnection;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::Result;
use crate::database::copy::BATCH_ROWS;
use crate::database::copy::CopySource;
use crate::database::copy::CopyTarget;
use crate::database::copy::CopyValue;
use crate::database::postgres::Manager;
use crate::database::postgres::PgStore;
use crate::database::postgres::errors;

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn map(op: &'static str) -> impl Fn(postgres::Error) -> Error {
    move |e| errors::interpret(op, &e).0
}

/// The data columns of `table`: not generated, not the `seq` that keeps insertion order.
fn columns(client: &mut postgres::Client, table: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1
               AND is_generated = 'NEVER' AND column_name <> 'seq'
             ORDER BY ordinal_position",
            &[&table],
        )
        .map_err(map("copy: read columns"))?;
    if rows.is_empty() {
        return Err(Error::CopyRefused { message: format!("no table {table} in the PostgreSQL database") });
    }
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn count(client: &mut postgres::Client, table: &str, condition: Option<&str>) -> Result<u64> {
    let sql = match condition {
        Some(c) => format!("SELECT COUNT(*) FROM {} WHERE {c}", quote(table)),
        None => format!("SELECT COUNT(*) FROM {}", quote(table)),
    };
    let n: i64 = client.query_one(&sql, &[]).map_err(map("copy: count rows"))?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

fn has_seq(client: &mut postgres::Client, table: &str) -> Result<bool> {
    let row = client
        .query_opt(
            "SELECT 1 FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'seq'",
            &[&table],
        )
        .map_err(map("copy: read columns"))?;
    Ok(row.is_some())
}

pub(crate) struct PgCopySource {
    conn: PooledConnection<Manager>,
}

impl PgStore {
    /// The source side of `db copy`: one REPEATABLE READ READ ONLY snapshot, held until the
    /// source is dropped.
    pub fn copy_source(&self) -> Result<Box<dyn CopySource + '_>> {
        let mut conn = self.conn("copy")?;
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")
            .map_err(map("copy: begin snapshot"))?;
        Ok(Box::new(PgCopySource { conn }))
    }

    /// The destination side of `db copy`: one transaction, committed at the end.
    pub fn copy_target(&self) -> Result<Box<dyn CopyTarget + '_>> {
        let mut conn = self.conn("copy")?;
        conn.client.batch_execute("BEGIN; SET CONSTRAINTS ALL DEFERRED").map_err(map("copy: begin transaction"))?;
        Ok(Box::new(PgCopyTarget { conn, open: true, types: HashMap::new() }))
    }
}

impl Drop for PgCopySource {
    fn drop(&mut self) {
        let _ = self.conn.client.batch_execute("ROLLBACK");
    }
}

fn from_pg(row: &Row, i: usize) -> Result<CopyValue> {
    let op = "copy: read rows";
    let bad = |e: postgres::Error| Error::InvalidValue { op, column: "column", message: e.to_string() };
    let ty = row.columns()[i].type_();
    let value = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i).map_err(bad)?.map(CopyValue::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i).map_err(bad)?.map(|v| CopyValue::Int(i64::from(v)))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i).map_err(bad)?.map(CopyValue::Float)
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i).map_err(bad)?.map(CopyValue::Bool)
    } else if *ty == Type::UUID {
        row.try_get::<_, Option<Uuid>>(i).map_err(bad)?.map(CopyValue::Uuid)
    } else if *ty == Type::TIMESTAMPTZ {
        row.try_get::<_, Option<Timestamp>>(i).map_err(bad)?.map(CopyValue::Time)
    } else if *ty == Type::JSONB || *ty == Type::JSON {
        row.try_get::<_, Option<serde_json::Value>>(i).map_err(bad)?.map(CopyValue::Json)
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        row.try_get::<_, Option<String>>(i).map_err(bad)?.map(CopyValue::Text)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i).map_err(bad)?.map(CopyValue::Bytes)
    } else {
        return Err(Error::InvalidValue { op, column: "column", message: format!("unsupported column type {ty}") });
    };
    Ok(value.unwrap_or(CopyValue::Null))
}

/// `v` as a value of the PostgreSQL column type `ty`, converting from SQLite's
/// representations (microseconds, 0/1, text UUIDs and JSON).
fn to_pg(v: &CopyValue, ty: &Type, table: &str, column: &str) -> Result<Box<dyn ToSql + Sync>> {
    let mismatch = || Error::CopyRefused { message: format!("{table}.{column}: cannot store {v:?} in a {ty} column") };
    let null = matches!(v, CopyValue::Null);
    let boxed: Box<dyn ToSql + Sync> = if *ty == Type::INT8 {
        Box::new(match v {
            CopyValue::Int(i) => Some(*i),
            CopyValue::Bool(b) => Some(i64::from(*b)),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::INT4 {
        Box::new(match v {
            CopyValue::Int(i) => Some(i32::try_from(*i).map_err(|_| mismatch())?),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::FLOAT8 {
        Box::new(match v {
            CopyValue::Float(f) => Some(*f),
            CopyValue::Int(i) => Some(*i as f64),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::BOOL {
        Box::new(match v {
            CopyValue::Bool(b) => Some(*b),
            CopyValue::Int(i) => Some(*i != 0),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::UUID {
        Box::new(match v {
            CopyValue::Uuid(u) => Some(*u),
            CopyValue::Text(t) => Some(Uuid::parse_str(t).map_err(|_| mismatch())?),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::TIMESTAMPTZ {
        Box::new(match v {
            CopyValue::Time(t) => Some(*t),
            CopyValue::Int(i) => Some(crate::clock::from_micros(*i)),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::JSONB || *ty == Type::JSON {
        Box::new(match v {
            CopyValue::Json(j) => Some(j.clone()),
            CopyValue::Text(t) => Some(serde_json::from_str::<serde_json::Value>(t).map_err(|_| mismatch())?),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        Box::new(match v {
            CopyValue::Text(t) => Some(t.clone()),
            CopyValue::Uuid(u) => Some(u.to_string()),
            CopyValue::Json(j) => Some(j.to_string()),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else if *ty == Type::BYTEA {
        Box::new(match v {
            CopyValue::Bytes(b) => Some(b.clone()),
            _ if null => None,
            _ => return Err(mismatch()),
        })
    } else {
        return Err(mismatch());
    };
    Ok(boxed)
}

impl CopySource for PgCopySource {
    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        columns(&mut self.conn.client, table)
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        count(&mut self.conn.client, table, None)
    }

    fn read(
        &mut self,
        table: &str,
        columns: &[String],
        sink: &mut dyn FnMut(&[Vec<CopyValue>]) -> Result<()>,
    ) -> Result<u64> {
        let op = "copy: read rows";
        let client = &mut self.conn.client;
        let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let order = if has_seq(client, table)? { " ORDER BY seq" } else { "" };
        client
            .batch_execute(&format!(
                "DECLARE coderlite_copy NO SCROLL CURSOR FOR SELECT {} FROM {}{order}",
                list.join(", "),
                quote(table)
            ))
            .map_err(map(op))?;
        let fetch = format!("FETCH {BATCH_ROWS} FROM coderlite_copy");
        let mut n = 0;
        loop {
            let rows = client.query(&fetch, &[]).map_err(map(op))?;
            if rows.is_empty() {
                break;
            }
            let batch = rows
                .iter()
                .map(|r| (0..columns.len()).map(|i| from_pg(r, i)).collect::<Result<Vec<_>>>())
                .collect::<Result<Vec<_>>>()?;
            sink(&batch)?;
            n += batch.len() as u64;
        }
        client.batch_execute("CLOSE coderlite_copy").map_err(map(op))?;
        Ok(n)
    }
}

pub(crate) struct PgCopyTarget {
    conn: PooledConnection<Manager>,
    open: bool,
    /// Column types per table, for converting values.
    types: HashMap<String, Vec<Type>>,
}

impl PgCopyTarget {
    fn types(&mut self, table: &str, columns: &[String]) -> Result<Vec<Type>> {
        if let Some(t) = self.types.get(table) {
            return Ok(t.clone());
        }
        let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let stmt = self
            .conn
            .client
            .prepare(&format!("SELECT {} FROM {} LIMIT 0", list.join(", "), quote(table)))
            .map_err(map("copy: read column types"))?;
        let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
        self.types.insert(table.to_owned(), types.clone());
        Ok(types)
    }
}

impl CopyTarget for PgCopyTarget {
    fn columns(&mut self, table: &str) -> Result<Vec<String>> {
        columns(&mut self.conn.client, table)
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        count(&mut self.conn.client, table, None)
    }

    fn count_where(&mut self, table: &str, condition: &str) -> Result<u64> {
        count(&mut self.conn.client, table, Some(condition))
    }

    fn delete_all(&mut self, table: &str) -> Result<()> {
        self.conn.client.batch_execute(&format!("DELETE FROM {}", quote(table))).map_err(map("copy: clear table"))
    }

    fn insert(&mut self, table: &str, columns: &[String], rows: &[Vec<CopyValue>]) -> Result<()> {
        let op = "copy: insert rows";
        let types = self.types(table, columns)?;
        let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let sink = self
            .conn
            .client
            .copy_in(&format!("COPY {} ({}) FROM STDIN BINARY", quote(table), list.join(", ")))
            .map_err(map(op))?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        for row in rows {
            let values = row
                .iter()
                .zip(&types)
                .zip(columns)
                .map(|((v, ty), c)| to_pg(v, ty, table, c))
                .collect::<Result<Vec<_>>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|b| b.as_ref()).collect();
            writer.write(&refs).map_err(map(op))?;
        }
        writer.finish().map_err(map(op))?;
        Ok(())
    }

    fn finish_table(&mut self, table: &str) -> Result<()> {
        // Serial ids were copied as they are: move their sequences past them.
        let op = "copy: move id sequences";
        let serial = self
            .conn
            .client
            .query(
                "SELECT column_name::text, pg_get_serial_sequence(quote_ident($1), column_name)
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'seq'
                   AND pg_get_serial_sequence(quote_ident($1), column_name) IS NOT NULL",
                &[&table],
            )
            .map_err(map(op))?;
        for row in serial {
            let (column, sequence): (String, String) = (row.get(0), row.get(1));
            self.conn
                .client
                .execute(
                    &format!(
                        "SELECT setval($1::text::regclass, COALESCE(MAX({c}), 1), MAX({c}) IS NOT NULL) FROM {t}",
                        c = quote(&column),
                        t = quote(table)
                    ),
                    &[&sequence],
                )
                .map_err(map(op))?;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.client.batch_execute("COMMIT").map_err(map("copy: commit"))?;
        self.open = false;
        // Fresh statistics for the planner: autovacuum would take its time, and the
        // reconciler's and rollup's queries plan badly on tables it has never analyzed.
        self.conn.client.batch_execute("ANALYZE").map_err(map("copy: analyze"))?;
        Ok(())
    }
}

impl Drop for PgCopyTarget {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.client.batch_execute("ROLLBACK");
        }
    }
}
