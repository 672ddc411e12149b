//! `POST /files` (a template archive: tar or zip, at most 100 MiB, deduplicated per uploader;
//! 201 when new, 200 when the same user uploaded the same bytes) and `GET /files/{id}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::Path;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::post;

use crate::api::ApiError;
use crate::api::Req;
use crate::api::authed;
use crate::api::ok;
use crate::api::state::HttpState;
use crate::templates::import::MAX_FILE_BYTES;
use crate::templates::import::TAR;
use crate::templates::import::ZIP;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/files", post(upload).layer(DefaultBodyLimit::max(MAX_FILE_BYTES)))
        .route("/files/{file}", get(download))
}

async fn upload(State(s): State<Arc<HttpState>>, req: Req, body: Result<Bytes, BytesRejection>) -> Response {
    authed(s, req, move |api, req, caller| {
        let content_type = req.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if content_type != TAR && content_type != ZIP {
            return Err(ApiError::bad_request(format!("Unsupported content type header {content_type:?}.")));
        }
        let data =
            body.map_err(|e| ApiError::bad_request("Failed to read file from request.").detail(e.body_text()))?;
        if content_type == ZIP && zip::ZipArchive::new(std::io::Cursor::new(&data[..])).is_err() {
            return Err(ApiError::bad_request("Incomplete .zip archive file."));
        }
        let (id, created) = crate::templates::import::upload_file(api.store, &caller.user.id, content_type, &data)?;
        ok(if created { StatusCode::CREATED } else { StatusCode::OK }, &serde_json::json!({ "hash": id }))
    })
    .await
}

async fn download(State(s): State<Arc<HttpState>>, Path(id): Path<String>, req: Req) -> Response {
    authed(s, req, move |api, _req, caller| {
        if uuid::Uuid::parse_str(&id).is_err() {
            return Err(ApiError::bad_request("File id must be a valid UUID."));
        }
        let file = api.store.get_file_by_id(&id)?;
        if file.created_by != caller.user.id && !caller.roles.manage_templates() {
            return Err(ApiError::not_found());
        }
        let mut response = (StatusCode::OK, file.data).into_response();
        if let Ok(v) = HeaderValue::from_str(&file.mimetype) {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        Ok(response)
    })
    .await
}
