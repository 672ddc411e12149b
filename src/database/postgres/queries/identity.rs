//! Organizations, users, members and groups on PostgreSQL. Usernames and emails compare
//! case-insensitively (`lower()`, as upstream's unique indexes); text orders use the "C"
//! collation so both engines list in the same order.

use postgres::Row;

use crate::clock::Timestamp;
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
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::ids;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_id;
use crate::database::postgres::statements::PgRow;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::GROUP_COLUMNS;
use crate::database::rows::GROUP_MEMBER_COLUMNS;
use crate::database::rows::ORGANIZATION_COLUMNS;
use crate::database::rows::USER_COLUMNS;

fn organization(op: &'static str, r: &Row) -> Result<Organization> {
    rows::organization(&PgRow { op, row: r })
}

fn user(op: &'static str, r: &Row) -> Result<User> {
    rows::user(&PgRow { op, row: r })
}

fn group(op: &'static str, r: &Row) -> Result<Group> {
    rows::group(&PgRow { op, row: r })
}

fn group_member(op: &'static str, r: &Row) -> Result<GroupMember> {
    rows::group_member(&PgRow { op, row: r })
}

// --- organizations ----------------------------------------------------------------------

pub(crate) fn insert_organization(tx: &PgTx<'_>, p: &InsertOrganization<'_>) -> Result<Organization> {
    let op = "insert organization";
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO organizations (id, name, display_name, description, is_default, created_at, updated_at)
             VALUES ($1, $2, $3, $4, false, $5, $5) RETURNING {ORGANIZATION_COLUMNS}"
        ),
        &[&new_id(op, "id", p.id)?, &p.name, &p.display_name, &p.description, &p.created_at],
    )?;
    organization(op, &row)
}

pub(crate) fn get_organization_by_id(tx: &PgTx<'_>, org_id: &str) -> Result<Organization> {
    let op = "get organization by id";
    let row =
        tx.query_one(op, &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1"), &[&id(org_id)])?;
    organization(op, &row)
}

pub(crate) fn get_organization_by_name(tx: &PgTx<'_>, name: &str) -> Result<Organization> {
    let op = "get organization by name";
    let row =
        tx.query_one(op, &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE name = $1"), &[&name])?;
    organization(op, &row)
}

pub(crate) fn get_default_organization(tx: &PgTx<'_>) -> Result<Organization> {
    let op = "get default organization";
    let row = tx.query_one(op, &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE is_default"), &[])?;
    organization(op, &row)
}

pub(crate) fn list_organizations(tx: &PgTx<'_>) -> Result<Vec<Organization>> {
    let op = "list organizations";
    let rows =
        tx.query(op, &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY name COLLATE \"C\""), &[])?;
    rows.iter().map(|r| organization(op, r)).collect()
}

// --- users ------------------------------------------------------------------------------

pub(crate) fn insert_user(tx: &PgTx<'_>, p: &InsertUser<'_>) -> Result<User> {
    let op = "insert user";
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO users (id, email, username, name, status, login_type, is_system, created_at, updated_at,
                                last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, false, $7, $7, $8) RETURNING {USER_COLUMNS}"
        ),
        &[
            &new_id(op, "id", p.id)?,
            &p.email,
            &p.username,
            &p.name,
            &p.status.as_str(),
            &p.login_type.as_str(),
            &p.created_at,
            &p.last_seen_at,
        ],
    )?;
    user(op, &row)
}

pub(crate) fn get_user_by_id(tx: &PgTx<'_>, user_id: &str) -> Result<User> {
    let op = "get user by id";
    let row = tx.query_one(op, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id(user_id)])?;
    user(op, &row)
}

pub(crate) fn get_user_by_username(tx: &PgTx<'_>, username: &str) -> Result<User> {
    let op = "get user by username";
    let row = tx.query_one(
        op,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1) AND NOT deleted"),
        &[&username],
    )?;
    user(op, &row)
}

pub(crate) fn get_user_by_email(tx: &PgTx<'_>, email: &str) -> Result<User> {
    let op = "get user by email";
    let row = tx.query_one(
        op,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1) AND NOT deleted"),
        &[&email],
    )?;
    user(op, &row)
}

pub(crate) fn get_users_by_ids(tx: &PgTx<'_>, user_ids: &[String]) -> Result<Vec<User>> {
    let op = "get users by ids";
    let rows = tx.query(op, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1)"), &[&ids(user_ids)])?;
    rows.iter().map(|r| user(op, r)).collect()
}

pub(crate) fn get_user_hashed_password(tx: &PgTx<'_>, user_id: &str) -> Result<String> {
    let op = "get user hashed password";
    get(op, &tx.query_one(op, "SELECT hashed_password FROM users WHERE id = $1", &[&id(user_id)])?, 0)
}

pub(crate) fn update_user_hashed_password(
    tx: &PgTx<'_>,
    user_id: &str,
    hashed_password: &str,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update user hashed password";
    ensure_not_system(tx, op, user_id)?;
    let n = tx.execute(
        op,
        "UPDATE users SET hashed_password = $2, updated_at = $3 WHERE id = $1 AND NOT is_system",
        &[&id(user_id), &hashed_password, &updated_at],
    )?;
    if n == 0 {
        return Err(Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_user_roles(tx: &PgTx<'_>, user_id: &str, roles: &[String], updated_at: Timestamp) -> Result<User> {
    let op = "update user roles";
    ensure_not_system(tx, op, user_id)?;
    let roles = serde_json::json!(roles);
    let row = tx.query_one(
        op,
        &format!(
            "UPDATE users SET rbac_roles = $2, updated_at = $3 WHERE id = $1 AND NOT is_system RETURNING {USER_COLUMNS}"
        ),
        &[&id(user_id), &roles, &updated_at],
    )?;
    user(op, &row)
}

pub(crate) fn get_users(tx: &PgTx<'_>, p: &GetUsersParams<'_>) -> Result<Vec<User>> {
    let op = "get users";
    let limit: Option<i64> = (p.limit > 0).then_some(i64::from(p.limit));
    let rows = tx.query(
        op,
        &format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE NOT deleted
               AND ($1 OR NOT is_system)
               AND ($2::text IS NULL OR status = $2)
               AND ($3::text IS NULL OR lower(username) COLLATE \"C\" > lower($3) COLLATE \"C\")
             ORDER BY lower(username) COLLATE \"C\"
             LIMIT $4"
        ),
        &[&p.include_system, &p.status.map(UserStatus::as_str), &p.after_username, &limit],
    )?;
    rows.iter().map(|r| user(op, r)).collect()
}

pub(crate) fn get_user_count(tx: &PgTx<'_>, include_system: bool) -> Result<i64> {
    let op = "get user count";
    get(
        op,
        &tx.query_one(
            op,
            "SELECT COUNT(*) FROM users WHERE NOT deleted AND ($1 OR NOT is_system)",
            &[&include_system],
        )?,
        0,
    )
}

pub(crate) fn get_active_user_count(tx: &PgTx<'_>, include_system: bool) -> Result<i64> {
    let op = "get active user count";
    let row = tx.query_one(
        op,
        "SELECT COUNT(*) FROM users WHERE status = 'active' AND NOT deleted AND ($1 OR NOT is_system)",
        &[&include_system],
    )?;
    get(op, &row, 0)
}

/// Fails with `SystemUser` for system users, `NotFound` for unknown ones.
fn ensure_not_system(tx: &PgTx<'_>, op: &'static str, user_id: &str) -> Result<()> {
    let is_system: bool = get(op, &tx.query_one(op, "SELECT is_system FROM users WHERE id = $1", &[&id(user_id)])?, 0)?;
    if is_system {
        return Err(Error::SystemUser { op, user_id: user_id.to_owned() });
    }
    Ok(())
}

pub(crate) fn update_user_status(
    tx: &PgTx<'_>,
    user_id: &str,
    status: UserStatus,
    updated_at: Timestamp,
) -> Result<User> {
    let op = "update user status";
    ensure_not_system(tx, op, user_id)?;
    let row = tx.query_one(
        op,
        &format!(
            "UPDATE users SET status = $2, updated_at = $3 WHERE id = $1 AND NOT is_system RETURNING {USER_COLUMNS}"
        ),
        &[&id(user_id), &status.as_str(), &updated_at],
    )?;
    user(op, &row)
}

pub(crate) fn update_user_profile(
    tx: &PgTx<'_>,
    user_id: &str,
    username: &str,
    name: &str,
    updated_at: Timestamp,
) -> Result<User> {
    let op = "update user profile";
    ensure_not_system(tx, op, user_id)?;
    let row = tx.query_one(
        op,
        &format!(
            "UPDATE users SET username = $2, name = $3, updated_at = $4 WHERE id = $1 AND NOT is_system
             RETURNING {USER_COLUMNS}"
        ),
        &[&id(user_id), &username, &name, &updated_at],
    )?;
    user(op, &row)
}

pub(crate) fn delete_user(tx: &PgTx<'_>, user_id: &str, updated_at: Timestamp) -> Result<()> {
    let op = "delete user";
    ensure_not_system(tx, op, user_id)?;
    tx.execute(
        op,
        "UPDATE users SET deleted = true, updated_at = $2 WHERE id = $1 AND NOT is_system",
        &[&id(user_id), &updated_at],
    )?;
    Ok(())
}

pub(crate) fn update_inactive_users_to_dormant(
    tx: &PgTx<'_>,
    last_seen_before: Timestamp,
    updated_at: Timestamp,
) -> Result<Vec<String>> {
    let op = "update inactive users to dormant";
    let rows = tx.query(
        op,
        "UPDATE users SET status = 'dormant', updated_at = $2
         WHERE status = 'active' AND NOT deleted AND NOT is_system AND last_seen_at < $1
         RETURNING id",
        &[&last_seen_before, &updated_at],
    )?;
    let mut ids = rows.iter().map(|r| get_id(op, r, 0)).collect::<Result<Vec<_>>>()?;
    ids.sort();
    Ok(ids)
}

// --- organization members ---------------------------------------------------------------

pub(crate) fn insert_organization_member(
    tx: &PgTx<'_>,
    organization_id: &str,
    user_id: &str,
    roles: &[&str],
    created_at: Timestamp,
) -> Result<()> {
    let op = "insert organization member";
    let roles = serde_json::json!(roles);
    tx.execute(
        op,
        "INSERT INTO organization_members (organization_id, user_id, roles, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)",
        &[&new_id(op, "organization_id", organization_id)?, &new_id(op, "user_id", user_id)?, &roles, &created_at],
    )?;
    Ok(())
}

pub(crate) fn get_organization_members(
    tx: &PgTx<'_>,
    organization_id: Option<&str>,
    include_system: bool,
) -> Result<Vec<OrganizationMember>> {
    let op = "get organization members";
    let rows = tx.query(
        op,
        "SELECT m.organization_id, m.user_id, u.username, m.roles, m.created_at
         FROM organization_members m JOIN users u ON u.id = m.user_id AND NOT u.deleted
         WHERE ($1::uuid IS NULL OR m.organization_id = $1) AND ($2 OR NOT u.is_system)
         ORDER BY m.organization_id, lower(u.username) COLLATE \"C\"",
        &[&opt_id(organization_id), &include_system],
    )?;
    rows.iter()
        .map(|r| {
            let roles: serde_json::Value = get(op, r, 3)?;
            Ok(OrganizationMember {
                organization_id: get_id(op, r, 0)?,
                user_id: get_id(op, r, 1)?,
                username: get(op, r, 2)?,
                roles: serde_json::from_value(roles).map_err(|e| Error::InvalidValue {
                    op,
                    column: "organization_members.roles",
                    message: e.to_string(),
                })?,
                created_at: get(op, r, 4)?,
            })
        })
        .collect()
}

// --- groups -----------------------------------------------------------------------------

pub(crate) fn insert_group(tx: &PgTx<'_>, p: &InsertGroup<'_>) -> Result<Group> {
    let op = "insert group";
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO groups (id, name, display_name, organization_id, avatar_url, quota_allowance)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {GROUP_COLUMNS}"
        ),
        &[
            &new_id(op, "id", p.id)?,
            &p.name,
            &p.display_name,
            &new_id(op, "organization_id", p.organization_id)?,
            &p.avatar_url,
            &p.quota_allowance,
        ],
    )?;
    group(op, &row)
}

pub(crate) fn get_group_by_org_and_name(tx: &PgTx<'_>, organization_id: &str, name: &str) -> Result<Group> {
    let op = "get group by organization and name";
    let row = tx.query_one(
        op,
        &format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = $1 AND name = $2"),
        &[&id(organization_id), &name],
    )?;
    group(op, &row)
}

pub(crate) fn get_group_by_id(tx: &PgTx<'_>, group_id: &str) -> Result<Option<Group>> {
    let op = "get group by id";
    tx.query_opt(op, &format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = $1"), &[&id(group_id)])?
        .map(|r| group(op, &r))
        .transpose()
}

pub(crate) fn get_groups_by_organization_id(tx: &PgTx<'_>, organization_id: &str) -> Result<Vec<Group>> {
    let op = "get groups by organization id";
    let rows = tx.query(
        op,
        &format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = $1 ORDER BY name"),
        &[&id(organization_id)],
    )?;
    rows.iter().map(|r| group(op, r)).collect()
}

pub(crate) fn get_group_members_by_organization_id(
    tx: &PgTx<'_>,
    organization_id: &str,
    include_system: bool,
) -> Result<Vec<GroupMember>> {
    let op = "get group members by organization id";
    let rows = tx.query(
        op,
        &format!(
            "SELECT {GROUP_MEMBER_COLUMNS} FROM group_members_expanded
             WHERE organization_id = $1 AND ($2 OR NOT user_is_system)
             ORDER BY group_id, user_username"
        ),
        &[&id(organization_id), &include_system],
    )?;
    rows.iter().map(|r| group_member(op, r)).collect()
}

pub(crate) fn insert_group_member(tx: &PgTx<'_>, group_id: &str, user_id: &str) -> Result<()> {
    let op = "insert group member";
    tx.execute(
        op,
        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)",
        &[&new_id(op, "group_id", group_id)?, &new_id(op, "user_id", user_id)?],
    )?;
    Ok(())
}

pub(crate) fn delete_group_member(tx: &PgTx<'_>, group_id: &str, user_id: &str) -> Result<()> {
    tx.execute(
        "delete group member",
        "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
        &[&id(group_id), &id(user_id)],
    )?;
    Ok(())
}

pub(crate) fn get_group_members_by_group_id(
    tx: &PgTx<'_>,
    group_id: &str,
    include_system: bool,
) -> Result<Vec<GroupMember>> {
    get_group_members_by_group_id_paginated(tx, group_id, include_system, 0, 0).map(|(rows, _)| rows)
}

pub(crate) fn get_group_members_count_by_group_id(tx: &PgTx<'_>, group_id: &str, include_system: bool) -> Result<i64> {
    let op = "get group members count by group id";
    let row = tx.query_one(
        op,
        "SELECT COUNT(*) FROM group_members_expanded WHERE group_id = $1 AND ($2 OR NOT user_is_system)",
        &[&id(group_id), &include_system],
    )?;
    get(op, &row, 0)
}

/// A page of expanded members ordered by username, and the total count under the same
/// filter. `limit` 0 means no limit.
pub(crate) fn get_group_members_by_group_id_paginated(
    tx: &PgTx<'_>,
    group_id: &str,
    include_system: bool,
    offset: u32,
    limit: u32,
) -> Result<(Vec<GroupMember>, i64)> {
    let op = "get group members by group id";
    let limit: Option<i64> = (limit > 0).then_some(i64::from(limit));
    let rows = tx.query(
        op,
        &format!(
            "SELECT {GROUP_MEMBER_COLUMNS}, COUNT(*) OVER () FROM group_members_expanded
             WHERE group_id = $1 AND ($2 OR NOT user_is_system)
             ORDER BY lower(user_username) COLLATE \"C\"
             LIMIT $4 OFFSET $3"
        ),
        &[&id(group_id), &include_system, &i64::from(offset), &limit],
    )?;
    let mut total = match rows.first() {
        Some(r) => get(op, r, 7)?,
        None => 0,
    };
    let members = rows.iter().map(|r| group_member(op, r)).collect::<Result<Vec<_>>>()?;
    if members.is_empty() && offset > 0 {
        total = get_group_members_count_by_group_id(tx, group_id, include_system)?;
    }
    Ok((members, total))
}

impl IdentityStore for PgTx<'_> {
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
