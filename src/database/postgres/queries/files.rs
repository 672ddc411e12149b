//! Uploaded files (template archives).

use crate::database::FileStore;
use crate::database::Result;
use crate::database::models::File;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::tx::PgTx;

pub(crate) fn insert_file(tx: &PgTx<'_>, f: &File) -> Result<()> {
    let op = "insert file";
    tx.execute(
        op,
        "INSERT INTO files (id, hash, created_at, created_by, mimetype, data) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &new_id(op, "id", &f.id)?,
            &f.hash,
            &f.created_at,
            &new_id(op, "created_by", &f.created_by)?,
            &f.mimetype,
            &f.data,
        ],
    )?;
    Ok(())
}

pub(crate) fn get_file_by_id(tx: &PgTx<'_>, file_id: &str) -> Result<File> {
    let op = "get file by id";
    let r = tx.query_one(
        op,
        "SELECT id, hash, created_at, created_by, mimetype, data FROM files WHERE id = $1",
        &[&id(file_id)],
    )?;
    Ok(File {
        id: get_id(op, &r, 0)?,
        hash: get(op, &r, 1)?,
        created_at: get(op, &r, 2)?,
        created_by: get_id(op, &r, 3)?,
        mimetype: get(op, &r, 4)?,
        data: get(op, &r, 5)?,
    })
}

pub(crate) fn get_file_id_by_hash(tx: &PgTx<'_>, hash: &str, created_by: &str) -> Result<Option<String>> {
    let op = "get file id by hash";
    tx.query_opt(op, "SELECT id FROM files WHERE hash = $1 AND created_by = $2", &[&hash, &id(created_by)])?
        .map(|r| get_id(op, &r, 0))
        .transpose()
}

impl FileStore for PgTx<'_> {
    run_query! {
        fn insert_file(&self, file: &File) -> Result<()> => insert_file;
        fn get_file_by_id(&self, id: &str) -> Result<File> => get_file_by_id;
        fn get_file_id_by_hash(&self, hash: &str, created_by: &str) -> Result<Option<String>> => get_file_id_by_hash;
    }
}
