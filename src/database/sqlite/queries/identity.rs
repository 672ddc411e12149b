//! Organizations, users, organization members, groups and group members.
//!
//! Every listing and count takes `include_system`; system users are protected from
//! suspension, deletion, dormancy and renaming.

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
use crate::database::models::InsertOrganizationMember;
use crate::database::models::InsertUser;
use crate::database::models::Organization;
use crate::database::models::OrganizationMember;
use crate::database::models::Page;
use crate::database::models::UpdateUserProfile;
use crate::database::models::User;
use crate::database::models::UserStatus;
use crate::database::rows;
use crate::database::rows::GROUP_COLUMNS;
use crate::database::rows::GROUP_MEMBER_COLUMNS;
use crate::database::rows::ORGANIZATION_COLUMNS;
use crate::database::rows::USER_COLUMNS;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::tx::SqliteTx;

/// Fails with `SystemUser` for system users, `NotFound` for unknown ones.
fn ensure_not_system(tx: &SqliteTx<'_>, op: &'static str, id: &str) -> Result<()> {
    if tx.one(op, "SELECT is_system FROM users WHERE id = ?1", [id], |r| r.bool(0))? {
        return Err(Error::SystemUser { op, user_id: id.to_owned() });
    }
    Ok(())
}

impl IdentityStore for SqliteTx<'_> {
    fn insert_organization(&self, p: &InsertOrganization<'_>) -> Result<Organization> {
        self.one(
            "insert organization",
            &format!(
                "INSERT INTO organizations (id, name, display_name, description, is_default, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5) RETURNING {ORGANIZATION_COLUMNS}"
            ),
            params![p.id, p.name, p.display_name, p.description, to_micros(p.created_at)],
            rows::organization,
        )
    }

    fn get_organization_by_id(&self, id: &str) -> Result<Organization> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = ?1");
        self.one("get organization by id", &sql, [id], rows::organization)
    }

    fn get_organization_by_name(&self, name: &str) -> Result<Organization> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE name = ?1");
        self.one("get organization by name", &sql, [name], rows::organization)
    }

    fn get_default_organization(&self) -> Result<Organization> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE is_default = 1");
        self.one("get default organization", &sql, [], rows::organization)
    }

    fn list_organizations(&self) -> Result<Vec<Organization>> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY name");
        self.all("list organizations", &sql, [], rows::organization)
    }

    fn insert_user(&self, p: &InsertUser<'_>) -> Result<User> {
        self.one(
            "insert user",
            &format!(
                "INSERT INTO users (id, email, username, name, status, login_type, is_system, created_at, updated_at,
                                    last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7, ?8) RETURNING {USER_COLUMNS}"
            ),
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
            rows::user,
        )
    }

    fn get_user_by_id(&self, id: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
        self.one("get user by id", &sql, [id], rows::user)
    }

    fn get_user_by_username(&self, username: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1 AND deleted = 0");
        self.one("get user by username", &sql, [username], rows::user)
    }

    /// `email` is COLLATE NOCASE: the comparison ignores case.
    fn get_user_by_email(&self, email: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1 AND deleted = 0");
        self.one("get user by email", &sql, [email], rows::user)
    }

    fn get_users_by_ids(&self, ids: &[String]) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?1))");
        self.all("get users by ids", &sql, [json_ids(ids)], rows::user)
    }

    fn get_user_hashed_password(&self, id: &str) -> Result<String> {
        self.one("get user hashed password", "SELECT hashed_password FROM users WHERE id = ?1", [id], |r| r.text(0))
    }

    fn update_user_hashed_password(&self, id: &str, hashed_password: &str, updated_at: Timestamp) -> Result<()> {
        let op = "update user hashed password";
        ensure_not_system(self, op, id)?;
        let sql = "UPDATE users SET hashed_password = ?2, updated_at = ?3 WHERE id = ?1 AND is_system = 0";
        self.exec_found(op, sql, params![id, hashed_password, to_micros(updated_at)])
    }

    fn update_user_roles(&self, id: &str, roles: &[String], updated_at: Timestamp) -> Result<User> {
        let op = "update user roles";
        ensure_not_system(self, op, id)?;
        let roles = serde_json::to_string(roles).map_err(|e| Error::Sqlite { op, message: e.to_string() })?;
        let sql = format!(
            "UPDATE users SET rbac_roles = ?2, updated_at = ?3 WHERE id = ?1 AND is_system = 0 RETURNING {USER_COLUMNS}"
        );
        self.one(op, &sql, params![id, roles, to_micros(updated_at)], rows::user)
    }

    fn get_users(&self, p: &GetUsersParams<'_>) -> Result<Vec<User>> {
        self.all(
            "get users",
            &format!(
                "SELECT {USER_COLUMNS} FROM users
                 WHERE deleted = 0
                   AND (?1 OR is_system = 0)
                   AND (?2 IS NULL OR status = ?2)
                   AND (?3 IS NULL OR username > ?3)
                 ORDER BY username
                 LIMIT CASE WHEN ?4 = 0 THEN -1 ELSE ?4 END"
            ),
            params![p.include_system, p.status.map(UserStatus::as_str), p.after_username, p.limit],
            rows::user,
        )
    }

    fn get_user_count(&self, include_system: bool) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM users WHERE deleted = 0 AND (?1 OR is_system = 0)";
        self.one("get user count", sql, [include_system], |r| r.i64(0))
    }

    fn get_active_user_count(&self, include_system: bool) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM users WHERE status = 'active' AND deleted = 0 AND (?1 OR is_system = 0)";
        self.one("get active user count", sql, [include_system], |r| r.i64(0))
    }

    fn update_user_status(&self, id: &str, status: UserStatus, updated_at: Timestamp) -> Result<User> {
        let op = "update user status";
        ensure_not_system(self, op, id)?;
        let sql = format!(
            "UPDATE users SET status = ?2, updated_at = ?3 WHERE id = ?1 AND is_system = 0 RETURNING {USER_COLUMNS}"
        );
        self.one(op, &sql, params![id, status.as_str(), to_micros(updated_at)], rows::user)
    }

    fn update_user_profile(&self, params: &UpdateUserProfile<'_>) -> Result<User> {
        let UpdateUserProfile { id, username, name, updated_at } = *params;
        let op = "update user profile";
        ensure_not_system(self, op, id)?;
        let sql = format!(
            "UPDATE users SET username = ?2, name = ?3, updated_at = ?4 WHERE id = ?1 AND is_system = 0
             RETURNING {USER_COLUMNS}"
        );
        self.one(op, &sql, params![id, username, name, to_micros(updated_at)], rows::user)
    }

    fn delete_user(&self, id: &str, updated_at: Timestamp) -> Result<()> {
        let op = "delete user";
        ensure_not_system(self, op, id)?;
        let sql = "UPDATE users SET deleted = 1, updated_at = ?2 WHERE id = ?1 AND is_system = 0";
        self.exec(op, sql, params![id, to_micros(updated_at)])
    }

    fn update_inactive_users_to_dormant(
        &self,
        last_seen_before: Timestamp,
        updated_at: Timestamp,
    ) -> Result<Vec<String>> {
        let mut ids = self.all(
            "update inactive users to dormant",
            "UPDATE users SET status = 'dormant', updated_at = ?2
             WHERE status = 'active' AND deleted = 0 AND is_system = 0 AND last_seen_at < ?1
             RETURNING id",
            params![to_micros(last_seen_before), to_micros(updated_at)],
            |r| r.id(0),
        )?;
        ids.sort();
        Ok(ids)
    }

    fn insert_organization_member(&self, params: &InsertOrganizationMember<'_>) -> Result<()> {
        let InsertOrganizationMember { organization_id, user_id, roles, created_at } = *params;
        let roles = serde_json::to_string(roles).expect("roles serialize");
        self.exec(
            "insert organization member",
            "INSERT INTO organization_members (organization_id, user_id, roles, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![organization_id, user_id, roles, to_micros(created_at)],
        )
    }

    fn get_organization_members(
        &self,
        organization_id: Option<&str>,
        include_system: bool,
    ) -> Result<Vec<OrganizationMember>> {
        self.all(
            "get organization members",
            "SELECT m.organization_id, m.user_id, u.username, m.roles, m.created_at
             FROM organization_members m JOIN users u ON u.id = m.user_id AND u.deleted = 0
             WHERE (?1 IS NULL OR m.organization_id = ?1) AND (?2 OR u.is_system = 0)
             ORDER BY m.organization_id, u.username",
            params![organization_id, include_system],
            rows::organization_member,
        )
    }

    fn insert_group(&self, p: &InsertGroup<'_>) -> Result<Group> {
        self.one(
            "insert group",
            &format!(
                "INSERT INTO groups (id, name, display_name, organization_id, avatar_url, quota_allowance)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {GROUP_COLUMNS}"
            ),
            params![p.id, p.name, p.display_name, p.organization_id, p.avatar_url, p.quota_allowance],
            rows::group,
        )
    }

    fn get_group_by_org_and_name(&self, organization_id: &str, name: &str) -> Result<Group> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = ?1 AND name = ?2");
        self.one("get group by organization and name", &sql, [organization_id, name], rows::group)
    }

    fn get_groups_by_organization_id(&self, organization_id: &str) -> Result<Vec<Group>> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = ?1 ORDER BY name");
        self.all("get groups by organization id", &sql, [organization_id], rows::group)
    }

    fn get_group_members_by_organization_id(
        &self,
        organization_id: &str,
        include_system: bool,
    ) -> Result<Vec<GroupMember>> {
        self.all(
            "get group members by organization id",
            &format!(
                "SELECT {GROUP_MEMBER_COLUMNS} FROM group_members_expanded
                 WHERE organization_id = ?1 AND (?2 OR user_is_system = 0)
                 ORDER BY group_id, user_username"
            ),
            params![organization_id, include_system],
            rows::group_member,
        )
    }

    fn insert_group_member(&self, group_id: &str, user_id: &str) -> Result<()> {
        let sql = "INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2)";
        self.exec("insert group member", sql, [group_id, user_id])
    }

    fn delete_group_member(&self, group_id: &str, user_id: &str) -> Result<()> {
        let sql = "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2";
        self.exec("delete group member", sql, [group_id, user_id])
    }

    fn get_group_members_by_group_id(&self, group_id: &str, include_system: bool) -> Result<Vec<GroupMember>> {
        self.get_group_members_by_group_id_paginated(group_id, include_system, 0, 0).map(|page| page.rows)
    }

    fn get_group_members_count_by_group_id(&self, group_id: &str, include_system: bool) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM group_members_expanded WHERE group_id = ?1 AND (?2 OR user_is_system = 0)";
        self.one("get group members count by group id", sql, params![group_id, include_system], |r| r.i64(0))
    }

    /// An empty page past the end still reports the total, counted apart.
    fn get_group_members_by_group_id_paginated(
        &self,
        group_id: &str,
        include_system: bool,
        offset: u32,
        limit: u32,
    ) -> Result<Page<GroupMember>> {
        let counted = self.all(
            "get group members by group id",
            &format!(
                "SELECT {GROUP_MEMBER_COLUMNS}, COUNT(*) OVER () FROM group_members_expanded
                     WHERE group_id = ?1 AND (?2 OR user_is_system = 0)
                     ORDER BY user_username
                     LIMIT CASE WHEN ?4 = 0 THEN -1 ELSE ?4 END OFFSET ?3"
            ),
            params![group_id, include_system, offset, limit],
            |r| Ok((rows::group_member(r)?, r.i64(7)?)),
        )?;
        Page::from_counted(counted, offset, || self.get_group_members_count_by_group_id(group_id, include_system))
    }

    /// Site owners and template admins, and the organization's admins and template admins.
    fn get_template_admins(&self, organization_id: &str) -> Result<Vec<String>> {
        let sql = "SELECT u.id FROM users u
                   WHERE u.deleted = 0 AND u.is_system = 0 AND (
                       EXISTS (SELECT 1 FROM json_each(u.rbac_roles) r WHERE r.value IN ('owner', 'template-admin'))
                       OR EXISTS (SELECT 1 FROM organization_members m, json_each(m.roles) r
                                  WHERE m.user_id = u.id AND m.organization_id = ?1
                                    AND r.value IN ('organization-admin', 'organization-template-admin')))
                   ORDER BY u.id";
        self.all("get template admins", sql, [organization_id], |r| r.id(0))
    }
}
