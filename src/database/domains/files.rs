//! Uploaded files: `FileStore` and its row.

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// Uploaded files: the template archives a template import reads.
    pub trait FileStore {
        /// Inserts a file; a second upload of the same content by the same user is
        /// `UniqueViolation { files_hash_created_by_key }`.
        write fn insert_file(&self, file: &File) -> Result<()>;

        /// A file with its content.
        read fn get_file_by_id(&self, id: &str) -> Result<File>;

        /// The ID of the file `created_by` uploaded with this SHA-256, if any.
        read fn get_file_id_by_hash(&self, hash: &str, created_by: &str) -> Result<Option<String>>;
    }
}

/// An uploaded file (a template archive), deduplicated per uploader by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub id: String,
    /// Lowercase hex SHA-256 of `data`.
    pub hash: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub mimetype: String,
    pub data: Vec<u8>,
}
