//! Shared row mappers of the identity domain's queries.

use crate::database::Result;
use crate::database::models::File;
use crate::database::models::OrganizationMember;
use crate::database::rows::RowReader;
use crate::database::rows::json_as;

/// (organization id, user id, username, roles, created at).
pub(crate) fn organization_member(r: &dyn RowReader) -> Result<OrganizationMember> {
    Ok(OrganizationMember {
        organization_id: r.id(0)?,
        user_id: r.id(1)?,
        username: r.text(2)?,
        roles: json_as(r, 3, "organization_members.roles")?,
        created_at: r.time(4)?,
    })
}

pub(crate) const FILE_COLUMNS: &str = "id, hash, created_at, created_by, mimetype, data";

/// An uploaded file with its content.
pub(crate) fn file(r: &dyn RowReader) -> Result<File> {
    Ok(File {
        id: r.id(0)?,
        hash: r.text(1)?,
        created_at: r.time(2)?,
        created_by: r.id(3)?,
        mimetype: r.text(4)?,
        data: r.bytes(5)?,
    })
}
