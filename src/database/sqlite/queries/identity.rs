//! Organizations, users, organization members, groups and group members.
//!
//! Every listing and count takes `include_system`; system users are protected from
//! suspension, deletion, dormancy and renaming.

use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::Row;
use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::Error;
use crate::database::IdentityStore;
use crate::database::Result;
use crate::database::models::GetUsersParams;
use crate::database::models::Group;
use crate::database::models::GroupMember;
use crate::database::models::InsertGroup;
use crate::database::models::InsertOrganization;
use crate::database::models::InsertUser;
use crate::database::models::Organization;
use crate::database::models::OrganizationMember;
use crate::database::models::User;
use crate::database::models::UserStatus;
use crate::database::rows;
use crate::database::rows::GROUP_COLUMNS;
use crate::database::rows::GROUP_MEMBER_COLUMNS;
use crate::database::rows::ORGANIZATION_COLUMNS;
use crate::database::rows::USER_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::from_row;
use crate::database::sqlite::queries::json_at;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::queries::timestamp_at;
use crate::database::sqlite::tx::SqliteTx;

fn organization_from_row(r: &Row<'_>) -> rusqlite::Result<Organization> {
    from_row(rows::organization, r)
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    from_row(rows::user, r)
}

fn group_from_row(r: &Row<'_>) -> rusqlite::Result<Group> {
    from_row(rows::group, r)
}

fn group_member_from_row(r: &Row<'_>) -> rusqlite::Result<GroupMember> {
    from_row(rows::group_member, r)
}

// --- organizations ----------------------------------------------------------------------

pub(crate) fn insert_organization(conn: &Connection, p: &InsertOrganization<'_>) -> Result<Organization> {
    let op = "insert organization";
    conn.prepare_cached(&format!(
        "INSERT INTO organizations (id, name, display_name, description, is_default, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5) RETURNING {ORGANIZATION_COLUMNS}"
    ))
    .op(op)?
    .query_row(params![p.id, p.name, p.display_name, p.description, to_micros(p.created_at)], organization_from_row)
    .op(op)
}

pub(crate) fn get_organization_by_id(conn: &Connection, id: &str) -> Result<Organization> {
    let op = "get organization by id";
    conn.prepare_cached(&format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = ?1"))
        .op(op)?
        .query_row([id], organization_from_row)
        .op(op)
}

pub(crate) fn get_organization_by_name(conn: &Connection, name: &str) -> Result<Organization> {
    let op = "get organization by name";
    conn.prepare_cached(&format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE name = ?1"))
        .op(op)?
        .query_row([name], organization_from_row)
        .op(op)
}

pub(crate) fn get_default_organization(conn: &Connection) -> Result<Organization> {
    let op = "get default organization";
    conn.prepare_cached(&format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE is_default = 1"))
        .op(op)?
        .query_row([], organization_from_row)
        .op(op)
}

pub(crate) fn list_organizations(conn: &Connection) -> Result<Vec<Organization>> {
    let op = "list organizations";
    conn.prepare_cached(&format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY name"))
        .op(op)?
        .query_map([], organization_from_row)
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)
}

// --- users ------------------------------------------------------------------------------

pub(crate) fn insert_user(conn: &Connection, p: &InsertUser<'_>) -> Result<User> {
    let op = "insert user";
    conn.prepare_cached(&format!(
        "INSERT INTO users (id, email, username, name, status, login_type, is_system, created_at, updated_at,
                            last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7, ?8) RETURNING {USER_COLUMNS}"
    ))
    .op(op)?
    .query_row(
        params![
            p.id,
            p.email,
            p.username,
            p.name,
            p.status.as_str(),
            p.login_type.as_str(),
            to_micros(p.created_at),
            to_micros(p.last_seen_at),
        ],
        user_from_row,
    )
    .op(op)
}

pub(crate) fn get_user_by_id(conn: &Connection, id: &str) -> Result<User> {
    let op = "get user by id";
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
        .op(op)?
        .query_row([id], user_from_row)
        .op(op)
}

pub(crate) fn get_user_by_username(conn: &Connection, username: &str) -> Result<User> {
    let op = "get user by username";
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1 AND deleted = 0"))
        .op(op)?
        .query_row([username], user_from_row)
        .op(op)
}

pub(crate) fn get_user_by_email(conn: &Connection, email: &str) -> Result<User> {
    let op = "get user by email";
    // `email` is COLLATE NOCASE: the comparison ignores case.
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1 AND deleted = 0"))
        .op(op)?
        .query_row([email], user_from_row)
        .op(op)
}

pub(crate) fn get_users_by_ids(conn: &Connection, ids: &[String]) -> Result<Vec<User>> {
    let op = "get users by ids";
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?1))"))
        .op(op)?
        .query_map([json_ids(ids)], user_from_row)
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)
}

pub(crate) fn get_user_hashed_password(conn: &Connection, id: &str) -> Result<String> {
    let op = "get user hashed password";
    conn.prepare_cached("SELECT hashed_password FROM users WHERE id = ?1").op(op)?.query_row([id], |r| r.get(0)).op(op)
}

pub(crate) fn update_user_hashed_password(
    conn: &Connection,
    id: &str,
    hashed_password: &str,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update user hashed password";
    ensure_not_system(conn, op, id)?;
    let n = conn
        .prepare_cached("UPDATE users SET hashed_password = ?2, updated_at = ?3 WHERE id = ?1 AND is_system = 0")
        .op(op)?
        .execute(params![id, hashed_password, to_micros(updated_at)])
        .op(op)?;
    if n == 0 {
        return Err(Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_user_roles(conn: &Connection, id: &str, roles: &[String], updated_at: Timestamp) -> Result<User> {
    let op = "update user roles";
    ensure_not_system(conn, op, id)?;
    let roles = serde_json::to_string(roles).map_err(|e| Error::Sqlite { op, message: e.to_string() })?;
    conn.prepare_cached(&format!(
        "UPDATE users SET rbac_roles = ?2, updated_at = ?3 WHERE id = ?1 AND is_system = 0 RETURNING {USER_COLUMNS}"
    ))
    .op(op)?
    .query_row(params![id, roles, to_micros(updated_at)], user_from_row)
    .op(op)
}

pub(crate) fn get_users(conn: &Connection, p: &GetUsersParams<'_>) -> Result<Vec<User>> {
    let op = "get users";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE deleted = 0
               AND (?1 OR is_system = 0)
               AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR username > ?3)
             ORDER BY username
             LIMIT CASE WHEN ?4 = 0 THEN -1 ELSE ?4 END"
        ))
        .op(op)?;
    stmt.query_map(
        params![p.include_system, p.status.map(UserStatus::as_str), p.after_username, p.limit],
        user_from_row,
    )
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Non-deleted users.
pub(crate) fn get_user_count(conn: &Connection, include_system: bool) -> Result<i64> {
    let op = "get user count";
    conn.prepare_cached("SELECT COUNT(*) FROM users WHERE deleted = 0 AND (?1 OR is_system = 0)")
        .op(op)?
        .query_row([include_system], |r| r.get(0))
        .op(op)
}

/// Active, non-deleted users: with `include_system = false`, the license seat count.
pub(crate) fn get_active_user_count(conn: &Connection, include_system: bool) -> Result<i64> {
    let op = "get active user count";
    conn.prepare_cached("SELECT COUNT(*) FROM users WHERE status = 'active' AND deleted = 0 AND (?1 OR is_system = 0)")
        .op(op)?
        .query_row([include_system], |r| r.get(0))
        .op(op)
}

/// Fails with `SystemUser` for system users, `NotFound` for unknown ones.
fn ensure_not_system(conn: &Connection, op: &'static str, id: &str) -> Result<()> {
    let is_system: bool = conn
        .prepare_cached("SELECT is_system FROM users WHERE id = ?1")
        .op(op)?
        .query_row([id], |r| r.get(0))
        .op(op)?;
    if is_system {
        return Err(Error::SystemUser { op, user_id: id.to_owned() });
    }
    Ok(())
}

pub(crate) fn update_user_status(
    conn: &Connection,
    id: &str,
    status: UserStatus,
    updated_at: Timestamp,
) -> Result<User> {
    let op = "update user status";
    ensure_not_system(conn, op, id)?;
    conn.prepare_cached(&format!(
        "UPDATE users SET status = ?2, updated_at = ?3 WHERE id = ?1 AND is_system = 0 RETURNING {USER_COLUMNS}"
    ))
    .op(op)?
    .query_row(params![id, status.as_str(), to_micros(updated_at)], user_from_row)
    .op(op)
}

pub(crate) fn update_user_profile(
    conn: &Connection,
    id: &str,
    username: &str,
    name: &str,
    updated_at: Timestamp,
) -> Result<User> {
    let op = "update user profile";
    ensure_not_system(conn, op, id)?;
    conn.prepare_cached(&format!(
        "UPDATE users SET username = ?2, name = ?3, updated_at = ?4 WHERE id = ?1 AND is_system = 0
         RETURNING {USER_COLUMNS}"
    ))
    .op(op)?
    .query_row(params![id, username, name, to_micros(updated_at)], user_from_row)
    .op(op)
}

/// Soft delete.
pub(crate) fn delete_user(conn: &Connection, id: &str, updated_at: Timestamp) -> Result<()> {
    let op = "delete user";
    ensure_not_system(conn, op, id)?;
    conn.prepare_cached("UPDATE users SET deleted = 1, updated_at = ?2 WHERE id = ?1 AND is_system = 0")
        .op(op)?
        .execute(params![id, to_micros(updated_at)])
        .op(op)?;
    Ok(())
}

/// Marks active human users last seen before `last_seen_before` dormant; returns their IDs.
/// System users are never touched.
pub(crate) fn update_inactive_users_to_dormant(
    conn: &Connection,
    last_seen_before: Timestamp,
    updated_at: Timestamp,
) -> Result<Vec<String>> {
    let op = "update inactive users to dormant";
    let mut ids: Vec<String> = conn
        .prepare_cached(
            "UPDATE users SET status = 'dormant', updated_at = ?2
             WHERE status = 'active' AND deleted = 0 AND is_system = 0 AND last_seen_at < ?1
             RETURNING id",
        )
        .op(op)?
        .query_map(params![to_micros(last_seen_before), to_micros(updated_at)], |r| r.get(0))
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)?;
    ids.sort();
    Ok(ids)
}

// --- organization members ---------------------------------------------------------------

pub(crate) fn insert_organization_member(
    conn: &Connection,
    organization_id: &str,
    user_id: &str,
    roles: &[&str],
    created_at: Timestamp,
) -> Result<()> {
    let op = "insert organization member";
    let roles = serde_json::to_string(roles).expect("roles serialize");
    conn.prepare_cached(
        "INSERT INTO organization_members (organization_id, user_id, roles, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )
    .op(op)?
    .execute(params![organization_id, user_id, roles, to_micros(created_at)])
    .op(op)?;
    Ok(())
}

/// Members of one organization (or all), non-deleted users only.
pub(crate) fn get_organization_members(
    conn: &Connection,
    organization_id: Option<&str>,
    include_system: bool,
) -> Result<Vec<OrganizationMember>> {
    let op = "get organization members";
    conn.prepare_cached(
        "SELECT m.organization_id, m.user_id, u.username, m.roles, m.created_at
         FROM organization_members m JOIN users u ON u.id = m.user_id AND u.deleted = 0
         WHERE (?1 IS NULL OR m.organization_id = ?1) AND (?2 OR u.is_system = 0)
         ORDER BY m.organization_id, u.username",
    )
    .op(op)?
    .query_map(params![organization_id, include_system], |r| {
        Ok(OrganizationMember {
            organization_id: r.get(0)?,
            user_id: r.get(1)?,
            username: r.get(2)?,
            roles: json_at(r, 3)?,
            created_at: timestamp_at(r, 4)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

// --- groups -----------------------------------------------------------------------------

pub(crate) fn insert_group(conn: &Connection, p: &InsertGroup<'_>) -> Result<Group> {
    let op = "insert group";
    conn.prepare_cached(&format!(
        "INSERT INTO groups (id, name, display_name, organization_id, avatar_url, quota_allowance)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {GROUP_COLUMNS}"
    ))
    .op(op)?
    .query_row(
        params![p.id, p.name, p.display_name, p.organization_id, p.avatar_url, p.quota_allowance],
        group_from_row,
    )
    .op(op)
}

pub(crate) fn get_group_by_org_and_name(conn: &Connection, organization_id: &str, name: &str) -> Result<Group> {
    let op = "get group by organization and name";
    conn.prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = ?1 AND name = ?2"))
        .op(op)?
        .query_row([organization_id, name], group_from_row)
        .op(op)
}

pub(crate) fn get_group_by_id(conn: &Connection, id: &str) -> Result<Option<Group>> {
    let op = "get group by id";
    conn.prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = ?1"))
        .op(op)?
        .query_row([id], group_from_row)
        .optional()
        .op(op)
}

pub(crate) fn get_groups_by_organization_id(conn: &Connection, organization_id: &str) -> Result<Vec<Group>> {
    let op = "get groups by organization id";
    conn.prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = ?1 ORDER BY name"))
        .op(op)?
        .query_map([organization_id], group_from_row)
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)
}

pub(crate) fn get_group_members_by_organization_id(
    conn: &Connection,
    organization_id: &str,
    include_system: bool,
) -> Result<Vec<GroupMember>> {
    let op = "get group members by organization id";
    conn.prepare_cached(&format!(
        "SELECT {GROUP_MEMBER_COLUMNS} FROM group_members_expanded
         WHERE organization_id = ?1 AND (?2 OR user_is_system = 0)
         ORDER BY group_id, user_username"
    ))
    .op(op)?
    .query_map(params![organization_id, include_system], group_member_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn insert_group_member(conn: &Connection, group_id: &str, user_id: &str) -> Result<()> {
    let op = "insert group member";
    conn.prepare_cached("INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2)")
        .op(op)?
        .execute([group_id, user_id])
        .op(op)?;
    Ok(())
}

pub(crate) fn delete_group_member(conn: &Connection, group_id: &str, user_id: &str) -> Result<()> {
    let op = "delete group member";
    conn.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")
        .op(op)?
        .execute([group_id, user_id])
        .op(op)?;
    Ok(())
}

/// Expanded members of one group (the Everyone group: every organization member).
pub(crate) fn get_group_members_by_group_id(
    conn: &Connection,
    group_id: &str,
    include_system: bool,
) -> Result<Vec<GroupMember>> {
    get_group_members_by_group_id_paginated(conn, group_id, include_system, 0, 0).map(|(rows, _)| rows)
}

pub(crate) fn get_group_members_count_by_group_id(
    conn: &Connection,
    group_id: &str,
    include_system: bool,
) -> Result<i64> {
    let op = "get group members count by group id";
    conn.prepare_cached(
        "SELECT COUNT(*) FROM group_members_expanded WHERE group_id = ?1 AND (?2 OR user_is_system = 0)",
    )
    .op(op)?
    .query_row(params![group_id, include_system], |r| r.get(0))
    .op(op)
}

/// A page of expanded members ordered by username, and the total count under the same
/// filter. `limit` 0 means no limit.
pub(crate) fn get_group_members_by_group_id_paginated(
    conn: &Connection,
    group_id: &str,
    include_system: bool,
    offset: u32,
    limit: u32,
) -> Result<(Vec<GroupMember>, i64)> {
    let op = "get group members by group id";
    let mut total = 0;
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {GROUP_MEMBER_COLUMNS}, COUNT(*) OVER () FROM group_members_expanded
             WHERE group_id = ?1 AND (?2 OR user_is_system = 0)
             ORDER BY user_username
             LIMIT CASE WHEN ?4 = 0 THEN -1 ELSE ?4 END OFFSET ?3"
        ))
        .op(op)?
        .query_map(params![group_id, include_system, offset, limit], |r| {
            Ok((group_member_from_row(r)?, r.get::<_, i64>(7)?))
        })
        .op(op)?
        .map(|row| {
            row.map(|(member, count)| {
                total = count;
                member
            })
        })
        .collect::<rusqlite::Result<Vec<_>>>()
        .op(op)?;
    if rows.is_empty() && offset > 0 {
        total = get_group_members_count_by_group_id(conn, group_id, include_system)?;
    }
    Ok((rows, total))
}

impl IdentityStore for SqliteTx<'_> {
    run_query! {
        fn insert_organization(&self, params: &InsertOrganization<'_>) -> Result<Organization> => insert_organization;
        fn get_organization_by_id(&self, id: &str) -> Result<Organization> => get_organization_by_id;
        fn get_organization_by_name(&self, name: &str) -> Result<Organization> => get_organization_by_name;
        fn get_default_organization(&self) -> Result<Organization> => get_default_organization;
        fn list_organizations(&self) -> Result<Vec<Organization>> => list_organizations;
        fn insert_user(&self, params: &InsertUser<'_>) -> Result<User> => insert_user;
        fn get_user_by_id(&self, id: &str) -> Result<User> => get_user_by_id;
        fn get_user_by_username(&self, username: &str) -> Result<User> => get_user_by_username;
        fn get_user_by_email(&self, email: &str) -> Result<User> => get_user_by_email;
        fn get_users_by_ids(&self, ids: &[String]) -> Result<Vec<User>> => get_users_by_ids;
        fn get_user_hashed_password(&self, id: &str) -> Result<String> => get_user_hashed_password;
        fn update_user_hashed_password(&self, id: &str, hashed_password: &str, updated_at: Timestamp) -> Result<()> => update_user_hashed_password;
        fn update_user_roles(&self, id: &str, roles: &[String], updated_at: Timestamp) -> Result<User> => update_user_roles;
        fn get_users(&self, params: &GetUsersParams<'_>) -> Result<Vec<User>> => get_users;
        fn get_user_count(&self, include_system: bool) -> Result<i64> => get_user_count;
        fn get_active_user_count(&self, include_system: bool) -> Result<i64> => get_active_user_count;
        fn update_user_status(&self, id: &str, status: UserStatus, updated_at: Timestamp) -> Result<User> => update_user_status;
        fn update_user_profile(&self, id: &str, username: &str, name: &str, updated_at: Timestamp) -> Result<User> => update_user_profile;
        fn delete_user(&self, id: &str, updated_at: Timestamp) -> Result<()> => delete_user;
        fn update_inactive_users_to_dormant(&self, last_seen_before: Timestamp, updated_at: Timestamp) -> Result<Vec<String>> => update_inactive_users_to_dormant;
        fn insert_organization_member(&self, organization_id: &str, user_id: &str, roles: &[&str], created_at: Timestamp) -> Result<()> => insert_organization_member;
        fn get_organization_members(&self, organization_id: Option<&str>, include_system: bool) -> Result<Vec<OrganizationMember>> => get_organization_members;
        fn insert_group(&self, params: &InsertGroup<'_>) -> Result<Group> => insert_group;
        fn get_group_by_org_and_name(&self, organization_id: &str, name: &str) -> Result<Group> => get_group_by_org_and_name;
        fn get_group_by_id(&self, id: &str) -> Result<Option<Group>> => get_group_by_id;
        fn get_groups_by_organization_id(&self, organization_id: &str) -> Result<Vec<Group>> => get_groups_by_organization_id;
        fn get_group_members_by_organization_id(&self, organization_id: &str, include_system: bool) -> Result<Vec<GroupMember>> => get_group_members_by_organization_id;
        fn insert_group_member(&self, group_id: &str, user_id: &str) -> Result<()> => insert_group_member;
        fn delete_group_member(&self, group_id: &str, user_id: &str) -> Result<()> => delete_group_member;
        fn get_group_members_by_group_id(&self, group_id: &str, include_system: bool) -> Result<Vec<GroupMember>> => get_group_members_by_group_id;
        fn get_group_members_count_by_group_id(&self, group_id: &str, include_system: bool) -> Result<i64> => get_group_members_count_by_group_id;
        fn get_group_members_by_group_id_paginated(&self, group_id: &str, include_system: bool, offset: u32, limit: u32) -> Result<(Vec<GroupMember>, i64)> => get_group_members_by_group_id_paginated;
    }
}
