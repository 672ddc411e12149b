//! Organizations, users, members and groups on PostgreSQL. Usernames and emails compare
//! case-insensitively (`lower()`, as upstream's unique indexes); text orders use the "C"
//! collation so both engines list in the same order.

use crate::clock::Timestamp;
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
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::ids;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::GROUP_COLUMNS;
use crate::database::rows::GROUP_MEMBER_COLUMNS;
use crate::database::rows::ORGANIZATION_COLUMNS;
use crate::database::rows::USER_COLUMNS;

/// Fails with `SystemUser` for system users, `NotFound` for unknown ones.
fn ensure_not_system(tx: &PgTx<'_>, op: &'static str, user_id: &str) -> Result<()> {
    if tx.one(op, "SELECT is_system FROM users WHERE id = $1", &[&id(user_id)], |r| r.bool(0))? {
        return Err(Error::SystemUser { op, user_id: user_id.to_owned() });
    }
    Ok(())
}

impl IdentityStore for PgTx<'_> {
    fn insert_organization(&self, p: &InsertOrganization<'_>) -> Result<Organization> {
        let op = "insert organization";
        self.one(
            op,
            &format!(
                "INSERT INTO organizations (id, name, display_name, description, is_default, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, false, $5, $5) RETURNING {ORGANIZATION_COLUMNS}"
            ),
            &[&new_id(op, "id", p.id)?, &p.name, &p.display_name, &p.description, &p.created_at],
            rows::organization,
        )
    }

    fn get_organization_by_id(&self, org_id: &str) -> Result<Organization> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1");
        self.one("get organization by id", &sql, &[&id(org_id)], rows::organization)
    }

    fn get_organization_by_name(&self, name: &str) -> Result<Organization> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE name = $1");
        self.one("get organization by name", &sql, &[&name], rows::organization)
    }

    fn get_default_organization(&self) -> Result<Organization> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE is_default");
        self.one("get default organization", &sql, &[], rows::organization)
    }

    fn list_organizations(&self) -> Result<Vec<Organization>> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY name COLLATE \"C\"");
        self.all("list organizations", &sql, &[], rows::organization)
    }

    fn insert_user(&self, p: &InsertUser<'_>) -> Result<User> {
        let op = "insert user";
        self.one(
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
            rows::user,
        )
    }

    fn get_user_by_id(&self, user_id: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        self.one("get user by id", &sql, &[&id(user_id)], rows::user)
    }

    fn get_user_by_username(&self, username: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1) AND NOT deleted");
        self.one("get user by username", &sql, &[&username], rows::user)
    }

    fn get_user_by_email(&self, email: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1) AND NOT deleted");
        self.one("get user by email", &sql, &[&email], rows::user)
    }

    fn get_users_by_ids(&self, user_ids: &[String]) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1)");
        self.all("get users by ids", &sql, &[&ids(user_ids)], rows::user)
    }

    fn get_user_hashed_password(&self, user_id: &str) -> Result<String> {
        let sql = "SELECT hashed_password FROM users WHERE id = $1";
        self.one("get user hashed password", sql, &[&id(user_id)], |r| r.text(0))
    }

    fn update_user_hashed_password(&self, user_id: &str, hashed_password: &str, updated_at: Timestamp) -> Result<()> {
        let op = "update user hashed password";
        ensure_not_system(self, op, user_id)?;
        let sql = "UPDATE users SET hashed_password = $2, updated_at = $3 WHERE id = $1 AND NOT is_system";
        self.exec_found(op, sql, &[&id(user_id), &hashed_password, &updated_at])
    }

    fn update_user_roles(&self, user_id: &str, roles: &[String], updated_at: Timestamp) -> Result<User> {
        let op = "update user roles";
        ensure_not_system(self, op, user_id)?;
        let roles = serde_json::json!(roles);
        let sql = format!(
            "UPDATE users SET rbac_roles = $2, updated_at = $3 WHERE id = $1 AND NOT is_system RETURNING {USER_COLUMNS}"
        );
        self.one(op, &sql, &[&id(user_id), &roles, &updated_at], rows::user)
    }

    fn get_users(&self, p: &GetUsersParams<'_>) -> Result<Vec<User>> {
        let limit: Option<i64> = (p.limit > 0).then_some(i64::from(p.limit));
        self.all(
            "get users",
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
            rows::user,
        )
    }

    fn get_user_count(&self, include_system: bool) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM users WHERE NOT deleted AND ($1 OR NOT is_system)";
        self.one("get user count", sql, &[&include_system], |r| r.i64(0))
    }

    fn get_active_user_count(&self, include_system: bool) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM users WHERE status = 'active' AND NOT deleted AND ($1 OR NOT is_system)";
        self.one("get active user count", sql, &[&include_system], |r| r.i64(0))
    }

    fn update_user_status(&self, user_id: &str, status: UserStatus, updated_at: Timestamp) -> Result<User> {
        let op = "update user status";
        ensure_not_system(self, op, user_id)?;
        let sql = format!(
            "UPDATE users SET status = $2, updated_at = $3 WHERE id = $1 AND NOT is_system RETURNING {USER_COLUMNS}"
        );
        self.one(op, &sql, &[&id(user_id), &status.as_str(), &updated_at], rows::user)
    }

    fn update_user_profile(&self, params: &UpdateUserProfile<'_>) -> Result<User> {
        let UpdateUserProfile { id: user_id, username, name, updated_at } = *params;
        let op = "update user profile";
        ensure_not_system(self, op, user_id)?;
        let sql = format!(
            "UPDATE users SET username = $2, name = $3, updated_at = $4 WHERE id = $1 AND NOT is_system
             RETURNING {USER_COLUMNS}"
        );
        self.one(op, &sql, &[&id(user_id), &username, &name, &updated_at], rows::user)
    }

    fn delete_user(&self, user_id: &str, updated_at: Timestamp) -> Result<()> {
        let op = "delete user";
        ensure_not_system(self, op, user_id)?;
        let sql = "UPDATE users SET deleted = true, updated_at = $2 WHERE id = $1 AND NOT is_system";
        self.exec(op, sql, &[&id(user_id), &updated_at])
    }

    fn update_inactive_users_to_dormant(
        &self,
        last_seen_before: Timestamp,
        updated_at: Timestamp,
    ) -> Result<Vec<String>> {
        let mut ids = self.all(
            "update inactive users to dormant",
            "UPDATE users SET status = 'dormant', updated_at = $2
             WHERE status = 'active' AND NOT deleted AND NOT is_system AND last_seen_at < $1
             RETURNING id",
            &[&last_seen_before, &updated_at],
            |r| r.id(0),
        )?;
        ids.sort();
        Ok(ids)
    }

    fn insert_organization_member(&self, params: &InsertOrganizationMember<'_>) -> Result<()> {
        let InsertOrganizationMember { organization_id, user_id, roles, created_at } = *params;
        let op = "insert organization member";
        let roles = serde_json::json!(roles);
        self.exec(
            op,
            "INSERT INTO organization_members (organization_id, user_id, roles, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)",
            &[&new_id(op, "organization_id", organization_id)?, &new_id(op, "user_id", user_id)?, &roles, &created_at],
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
             FROM organization_members m JOIN users u ON u.id = m.user_id AND NOT u.deleted
             WHERE ($1::uuid IS NULL OR m.organization_id = $1) AND ($2 OR NOT u.is_system)
             ORDER BY m.organization_id, lower(u.username) COLLATE \"C\"",
            &[&opt_id(organization_id), &include_system],
            rows::organization_member,
        )
    }

    fn insert_group(&self, p: &InsertGroup<'_>) -> Result<Group> {
        let op = "insert group";
        self.one(
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
            rows::group,
        )
    }

    fn get_group_by_org_and_name(&self, organization_id: &str, name: &str) -> Result<Group> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = $1 AND name = $2");
        self.one("get group by organization and name", &sql, &[&id(organization_id), &name], rows::group)
    }

    fn get_groups_by_organization_id(&self, organization_id: &str) -> Result<Vec<Group>> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE organization_id = $1 ORDER BY name COLLATE \"C\"");
        self.all("get groups by organization id", &sql, &[&id(organization_id)], rows::group)
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
                 WHERE organization_id = $1 AND ($2 OR NOT user_is_system)
                 ORDER BY group_id, lower(user_username) COLLATE \"C\""
            ),
            &[&id(organization_id), &include_system],
            rows::group_member,
        )
    }

    fn insert_group_member(&self, group_id: &str, user_id: &str) -> Result<()> {
        let op = "insert group member";
        let sql = "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)";
        self.exec(op, sql, &[&new_id(op, "group_id", group_id)?, &new_id(op, "user_id", user_id)?])
    }

    fn delete_group_member(&self, group_id: &str, user_id: &str) -> Result<()> {
        let sql = "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2";
        self.exec("delete group member", sql, &[&id(group_id), &id(user_id)])
    }

    fn get_group_members_by_group_id(&self, group_id: &str, include_system: bool) -> Result<Vec<GroupMember>> {
        self.get_group_members_by_group_id_paginated(group_id, include_system, 0, 0).map(|page| page.rows)
    }

    fn get_group_members_count_by_group_id(&self, group_id: &str, include_system: bool) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM group_members_expanded WHERE group_id = $1 AND ($2 OR NOT user_is_system)";
        self.one("get group members count by group id", sql, &[&id(group_id), &include_system], |r| r.i64(0))
    }

    /// An empty page past the end still reports the total, counted apart.
    fn get_group_members_by_group_id_paginated(
        &self,
        group_id: &str,
        include_system: bool,
        offset: u32,
        limit: u32,
    ) -> Result<Page<GroupMember>> {
        let limit: Option<i64> = (limit > 0).then_some(i64::from(limit));
        let counted = self.all(
            "get group members by group id",
            &format!(
                "SELECT {GROUP_MEMBER_COLUMNS}, COUNT(*) OVER () FROM group_members_expanded
                     WHERE group_id = $1 AND ($2 OR NOT user_is_system)
                     ORDER BY lower(user_username) COLLATE \"C\"
                     LIMIT $4 OFFSET $3"
            ),
            &[&id(group_id), &include_system, &i64::from(offset), &limit],
            |r| Ok((rows::group_member(r)?, r.i64(7)?)),
        )?;
        Page::from_counted(counted, offset, || self.get_group_members_count_by_group_id(group_id, include_system))
    }

    /// Site owners and template admins, and the organization's admins and template admins.
    fn get_template_admins(&self, organization_id: &str) -> Result<Vec<String>> {
        let sql = "SELECT u.id FROM users u
                   WHERE NOT u.deleted AND NOT u.is_system AND (
                       EXISTS (SELECT 1 FROM jsonb_array_elements_text(u.rbac_roles) r(role)
                               WHERE r.role IN ('owner', 'template-admin'))
                       OR EXISTS (SELECT 1 FROM organization_members m, jsonb_array_elements_text(m.roles) r(role)
                                  WHERE m.user_id = u.id AND m.organization_id = $1
                                    AND r.role IN ('organization-admin', 'organization-template-admin')))
                   ORDER BY u.id";
        self.all("get template admins", sql, &[&id(organization_id)], |r| r.id(0))
    }
}
