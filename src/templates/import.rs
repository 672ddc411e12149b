//! Template versions from uploaded archives (upstream's `POST /files` then
//! `POST /organizations/{org}/templateversions`): the archive carries the version's content as
//! `coderlite.json` (the fixture format of one version); the echo provisioner's import job
//! reads it and writes parameters and presets, or fails with the fixture loader's message.
//! Other files in the archive are kept and ignored; Terraform is not run.

use std::io::Read;

use crate::database;
use crate::database::Store;
use crate::database::models::ProvisionerJob;
use crate::testing::fixture_json;
use crate::testing::fixture_json::VERSION_DOCUMENT;

/// Upstream's upload limit: `10 * (10 << 20)` bytes (100 MiB).
pub const MAX_FILE_BYTES: usize = 10 * (10 << 20);
/// The content types `POST /files` accepts (upstream's).
pub const TAR: &str = "application/x-tar";
pub const ZIP: &str = "application/zip";
/// The largest version document read (it is JSON of a few presets).
const MAX_DOCUMENT_BYTES: u64 = 4 << 20;

/// The text of `coderlite.json` at the root of a tar or zip archive (`./coderlite.json` too);
/// `Ok(None)` when the archive has none. An archive that cannot be read is an error naming why.
pub fn document_in_archive(mimetype: &str, data: &[u8]) -> Result<Option<String>, String> {
    let is_document = |path: &str| path.trim_start_matches("./") == VERSION_DOCUMENT;
    let read_text = |reader: &mut dyn Read| -> Result<String, String> {
        let mut text = String::new();
        reader
            .take(MAX_DOCUMENT_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("read {VERSION_DOCUMENT}: {e}"))?;
        if text.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(format!("{VERSION_DOCUMENT} is larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        Ok(text)
    };
    match mimetype {
        ZIP => {
            let mut archive =
                zip::ZipArchive::new(std::io::Cursor::new(data)).map_err(|e| format!("read the zip archive: {e}"))?;
            for i in 0..archive.len() {
                let mut entry = archive.by_index(i).map_err(|e| format!("read the zip archive: {e}"))?;
                if entry.is_file() && is_document(entry.name()) {
                    return read_text(&mut entry).map(Some);
                }
            }
            Ok(None)
        }
        _ => {
            let mut archive = tar::Archive::new(data);
            for entry in archive.entries().map_err(|e| format!("read the tar archive: {e}"))? {
                let mut entry = entry.map_err(|e| format!("read the tar archive: {e}"))?;
                let path =
                    entry.path().map_err(|e| format!("read the tar archive: {e}"))?.to_string_lossy().into_owned();
                if entry.header().entry_type().is_file() && is_document(&path) {
                    return read_text(&mut entry).map(Some);
                }
            }
            Ok(None)
        }
    }
}

/// Why an import failed: the job's error (a document or archive problem), or the database.
#[derive(Debug)]
pub enum ImportError {
    Failed(String),
    Database(database::Error),
}

impl From<database::Error> for ImportError {
    fn from(e: database::Error) -> Self {
        ImportError::Database(e)
    }
}

/// Writes the content of an import job's archive into its template version, in the caller's
/// transaction (roll it back on `Err`). Answers what it found, for the job's log.
pub fn import_version(tx: &dyn Store, job: &ProvisionerJob) -> Result<String, ImportError> {
    let version_id = job
        .input
        .get("template_version_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ImportError::Failed("the import job names no template version".to_owned()))?;
    let version = tx.get_template_version_by_id(version_id)?;
    let Some(file_id) = &job.file_id else {
        return Ok("no archive: an empty version".to_owned());
    };
    let file = tx.get_file_by_id(file_id)?;
    let Some(text) = document_in_archive(&file.mimetype, &file.data).map_err(ImportError::Failed)? else {
        return Ok(format!("no {VERSION_DOCUMENT} in the archive: a version without parameters or presets"));
    };
    let doc = fixture_json::parse_version_document(VERSION_DOCUMENT, &text)
        .map_err(|e| ImportError::Failed(e.to_string()))?;
    fixture_json::load_version_document(tx, &version, &doc, VERSION_DOCUMENT)
        .map_err(|e| ImportError::Failed(e.to_string()))?;
    Ok(format!(
        "{VERSION_DOCUMENT}: {} parameters, {} presets{}",
        doc.parameters.len(),
        doc.presets.len(),
        if doc.fail_builds { ", builds fail" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, text.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn the_document_is_found_at_the_root_of_a_tar() {
        let data = tar_of(&[("main.tf", "# ignored"), ("./coderlite.json", "{\"fail_builds\": true}")]);
        assert_eq!(document_in_archive(TAR, &data).unwrap().as_deref(), Some("{\"fail_builds\": true}"));
        assert_eq!(document_in_archive(TAR, &tar_of(&[("sub/coderlite.json", "{}")])).unwrap(), None);
        assert!(document_in_archive(ZIP, b"not a zip").unwrap_err().contains("zip"));
    }
}

/// Why a version was not created.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error("Template does not exist.")]
    TemplateNotFound,
    #[error("File not found.")]
    FileNotFound,
    #[error("A template version with name {0:?} already exists for this template.")]
    NameTaken(String),
    #[error(transparent)]
    Database(#[from] database::Error),
}

/// A new version of `template_id` (or of no template yet) in `organization_id` whose import
/// job reads file `file_id`; the job is pending for the provisioner.
pub fn create_version(
    store: &dyn Store,
    organization_id: &str,
    template_id: Option<&str>,
    name: &str,
    file_id: &str,
    created_by: &str,
) -> Result<crate::database::models::TemplateVersion, VersionError> {
    use crate::database::models::InsertProvisionerJob;
    use crate::database::models::InsertTemplateVersion;
    use crate::database::models::ProvisionerJobType;
    database::in_tx(store, database::TxOptions::write("create template version"), |tx| {
        if let Some(t) = template_id {
            match tx.get_template_by_id(t) {
                Ok(t) if t.organization_id == organization_id && !t.deleted => {}
                Ok(_) => return Err(VersionError::TemplateNotFound),
                Err(e) if e.is_not_found() => return Err(VersionError::TemplateNotFound),
                Err(e) => return Err(e.into()),
            }
            if tx.get_template_versions_by_template_id(t)?.iter().any(|v| v.name == name) {
                return Err(VersionError::NameTaken(name.to_owned()));
            }
        }
        match tx.get_file_by_id(file_id) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Err(VersionError::FileNotFound),
            Err(e) => return Err(e.into()),
        }
        let now = tx.clock().now();
        let version_id = uuid::Uuid::new_v4().to_string();
        let job = tx.insert_provisioner_job(&InsertProvisionerJob {
            id: &uuid::Uuid::new_v4().to_string(),
            created_at: now,
            initiator_id: created_by,
            organization_id,
            job_type: ProvisionerJobType::TemplateVersionImport,
            input: &serde_json::json!({ "template_version_id": version_id }),
            started_at: None,
            completed_at: None,
            canceled_at: None,
            error: None,
            worker_id: None,
            file_id: Some(file_id),
        })?;
        Ok(tx.insert_template_version(&InsertTemplateVersion {
            id: &version_id,
            template_id,
            organization_id,
            name,
            created_at: now,
            created_by: Some(created_by),
            job_id: &job.id,
            fail_builds: false,
        })?)
    })
}

/// Stores an upload of `created_by` unless the same user uploaded the same bytes before;
/// answers (file id, whether it is new).
pub fn upload_file(
    store: &dyn Store,
    created_by: &str,
    mimetype: &str,
    data: &[u8],
) -> database::Result<(String, bool)> {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(data));
    database::in_tx(store, database::TxOptions::write("upload file"), |tx| {
        if let Some(id) = tx.get_file_id_by_hash(&hash, created_by)? {
            return Ok((id, false));
        }
        let id = uuid::Uuid::new_v4().to_string();
        tx.insert_file(&crate::database::models::File {
            id: id.clone(),
            hash: hash.clone(),
            created_at: tx.clock().now(),
            created_by: created_by.to_owned(),
            mimetype: mimetype.to_owned(),
            data: data.to_vec(),
        })?;
        Ok((id, true))
    })
}
