//! Uploaded files (template archives).

use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::params;

use crate::clock::to_micros;
use crate::database::FileStore;
use crate::database::Result;
use crate::database::models::File;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::timestamp_at;
use crate::database::sqlite::tx::SqliteTx;

pub(crate) fn insert_file(conn: &Connection, f: &File) -> Result<()> {
    let op = "insert file";
    conn.prepare_cached(
        "INSERT INTO files (id, hash, created_at, created_by, mimetype, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .op(op)?
    .execute(params![f.id, f.hash, to_micros(f.created_at), f.created_by, f.mimetype, f.data])
    .op(op)?;
    Ok(())
}

pub(crate) fn get_file_by_id(conn: &Connection, id: &str) -> Result<File> {
    let op = "get file by id";
    conn.prepare_cached("SELECT id, hash, created_at, created_by, mimetype, data FROM files WHERE id = ?1")
        .op(op)?
        .query_row([id], |r| {
            Ok(File {
                id: r.get(0)?,
                hash: r.get(1)?,
                created_at: timestamp_at(r, 2)?,
                created_by: r.get(3)?,
                mimetype: r.get(4)?,
                data: r.get(5)?,
            })
        })
        .op(op)
}

pub(crate) fn get_file_id_by_hash(conn: &Connection, hash: &str, created_by: &str) -> Result<Option<String>> {
    let op = "get file id by hash";
    conn.prepare_cached("SELECT id FROM files WHERE hash = ?1 AND created_by = ?2")
        .op(op)?
        .query_row([hash, created_by], |r| r.get(0))
        .optional()
        .op(op)
}

impl FileStore for SqliteTx<'_> {
    run_query! {
        fn insert_file(&self, file: &File) -> Result<()> => insert_file;
        fn get_file_by_id(&self, id: &str) -> Result<File> => get_file_by_id;
        fn get_file_id_by_hash(&self, hash: &str, created_by: &str) -> Result<Option<String>> => get_file_id_by_hash;
    }
}
