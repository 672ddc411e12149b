//! Uploaded files (template archives).

use crate::database::FileStore;
use crate::database::Result;
use crate::database::models::File;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::FILE_COLUMNS;

impl FileStore for PgTx<'_> {
    fn insert_file(&self, f: &File) -> Result<()> {
        let op = "insert file";
        let (file_id, created_by) = (new_id(op, "id", &f.id)?, new_id(op, "created_by", &f.created_by)?);
        self.exec(
            op,
            "INSERT INTO files (id, hash, created_at, created_by, mimetype, data) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&file_id, &f.hash, &f.created_at, &created_by, &f.mimetype, &f.data],
        )
    }

    fn get_file_by_id(&self, file_id: &str) -> Result<File> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1");
        self.one("get file by id", &sql, &[&id(file_id)], rows::file)
    }

    fn get_file_id_by_hash(&self, hash: &str, created_by: &str) -> Result<Option<String>> {
        let sql = "SELECT id FROM files WHERE hash = $1 AND created_by = $2";
        self.opt("get file id by hash", sql, &[&hash, &id(created_by)], |r| r.id(0))
    }
}
