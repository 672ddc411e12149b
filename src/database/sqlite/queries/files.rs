//! Uploaded files (template archives).

use rusqlite::params;

use crate::clock::to_micros;
use crate::database::FileStore;
use crate::database::Result;
use crate::database::models::File;
use crate::database::rows;
use crate::database::rows::FILE_COLUMNS;
use crate::database::sqlite::tx::SqliteTx;

impl FileStore for SqliteTx<'_> {
    fn insert_file(&self, f: &File) -> Result<()> {
        self.exec(
            "insert file",
            "INSERT INTO files (id, hash, created_at, created_by, mimetype, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![f.id, f.hash, to_micros(f.created_at), f.created_by, f.mimetype, f.data],
        )
    }

    fn get_file_by_id(&self, id: &str) -> Result<File> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?1");
        self.one("get file by id", &sql, [id], rows::file)
    }

    fn get_file_id_by_hash(&self, hash: &str, created_by: &str) -> Result<Option<String>> {
        let sql = "SELECT id FROM files WHERE hash = ?1 AND created_by = ?2";
        self.opt("get file id by hash", sql, [hash, created_by], |r| r.id(0))
    }
}
