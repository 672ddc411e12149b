//! Organizations, users, members and groups: `IdentityStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::models::Page;

store_domain! {
    /// Identity: organizations, users, members, groups.
    pub trait IdentityStore {
        /// Inserts an organization (its Everyone group is created with it).
        write fn insert_organization(&self, params: &InsertOrganization<'_>) -> Result<Organization>;

        /// The organization with `id`; `NotFound` when absent.
        read fn get_organization_by_id(&self, id: &str) -> Result<Organization>;

        /// The organization named `name`; `NotFound` when absent.
        read fn get_organization_by_name(&self, name: &str) -> Result<Organization>;

        /// The default organization (`coder` unless renamed).
        read fn get_default_organization(&self) -> Result<Organization>;

        /// All organizations by name.
        read fn list_organizations(&self) -> Result<Vec<Organization>>;

        /// Inserts a human user (`is_system` false).
        write fn insert_user(&self, params: &InsertUser<'_>) -> Result<User>;

        /// The user with `id`, deleted or not; `NotFound` when absent.
        read fn get_user_by_id(&self, id: &str) -> Result<User>;

        /// The non-deleted user named `username`; `NotFound` when absent.
        read fn get_user_by_username(&self, username: &str) -> Result<User>;

        /// The non-deleted user with `email` (case-insensitive); `NotFound` when absent.
        read fn get_user_by_email(&self, email: &str) -> Result<User>;

        /// The users with these ids (deleted or not), in no particular order.
        read fn get_users_by_ids(&self, ids: &[String]) -> Result<Vec<User>>;

        /// The user's password hash (a PHC string; `""` when the user has no password).
        read fn get_user_hashed_password(&self, id: &str) -> Result<String>;

        /// Sets the user's password hash; system users are refused (`SystemUser`).
        write fn update_user_hashed_password(&self, id: &str, hashed_password: &str, updated_at: Timestamp) -> Result<()>;

        /// Replaces the user's site roles; system users are refused (`SystemUser`).
        write fn update_user_roles(&self, id: &str, roles: &[String], updated_at: Timestamp) -> Result<User>;

        /// Non-deleted users by username, filtered by `params` (system users only with `include_system`).
        read fn get_users(&self, params: &GetUsersParams<'_>) -> Result<Vec<User>>;

        /// Non-deleted users.
        read fn get_user_count(&self, include_system: bool) -> Result<i64>;

        /// Active non-deleted users; with `include_system = false` this is the license seat count.
        read fn get_active_user_count(&self, include_system: bool) -> Result<i64>;

        /// Sets a user's status; `SystemUser` for system users.
        write fn update_user_status(&self, id: &str, status: UserStatus, updated_at: Timestamp) -> Result<User>;

        /// Renames a user; `SystemUser` for system users.
        write fn update_user_profile(&self, params: &UpdateUserProfile<'_>) -> Result<User>;

        /// Soft-deletes a user; `SystemUser` for system users.
        write fn delete_user(&self, id: &str, updated_at: Timestamp) -> Result<()>;

        /// Marks active human users last seen before `last_seen_before` dormant (never system users); returns their IDs.
        write fn update_inactive_users_to_dormant(&self, last_seen_before: Timestamp, updated_at: Timestamp) -> Result<Vec<String>>;

        /// Adds a user to an organization; a duplicate is `UniqueViolation { organization_members_pkey }`.
        write fn insert_organization_member(&self, params: &InsertOrganizationMember<'_>) -> Result<()>;

        /// Members of one organization (or all) among non-deleted users.
        read fn get_organization_members(&self, organization_id: Option<&str>, include_system: bool) -> Result<Vec<OrganizationMember>>;

        /// Inserts a group; a duplicate name in the organization is `UniqueViolation { groups_name_organization_id_key }`.
        write fn insert_group(&self, params: &InsertGroup<'_>) -> Result<Group>;

        /// The group of `organization_id` named `name`; `NotFound` when absent.
        read fn get_group_by_org_and_name(&self, organization_id: &str, name: &str) -> Result<Group>;


        /// The groups of an organization (its Everyone group included), by name.
        read fn get_groups_by_organization_id(&self, organization_id: &str) -> Result<Vec<Group>>;

        /// Every expanded group member of an organization's groups, by group then username.
        read fn get_group_members_by_organization_id(&self, organization_id: &str, include_system: bool) -> Result<Vec<GroupMember>>;

        /// Adds an explicit group member; a duplicate is `UniqueViolation { group_members_pkey }`.
        write fn insert_group_member(&self, group_id: &str, user_id: &str) -> Result<()>;

        /// Removes an explicit group member.
        write fn delete_group_member(&self, group_id: &str, user_id: &str) -> Result<()>;

        /// Expanded members of a group (explicit members, or all organization members for Everyone).
        read fn get_group_members_by_group_id(&self, group_id: &str, include_system: bool) -> Result<Vec<GroupMember>>;

        /// The number of expanded members of a group.
        read fn get_group_members_count_by_group_id(&self, group_id: &str, include_system: bool) -> Result<i64>;

        /// A page of expanded members by username, and the total under the same filter (`limit` 0: all).
        read fn get_group_members_by_group_id_paginated(&self, group_id: &str, include_system: bool, offset: u32, limit: u32) -> Result<Page<GroupMember>>;

        /// Users who administer an organization's templates.
        read fn get_template_admins(&self, organization_id: &str) -> Result<Vec<String>>;
    }
}

/// The prebuilds system user's fixed ID.
pub const PREBUILDS_SYSTEM_USER_ID: &str = "c42fdf75-3097-471c-8c33-fb52454d81c0";

text_enum! {
    /// `users.status`.
    UserStatus {
        Active => "active",
        Suspended => "suspended",
        Dormant => "dormant",
    }
}

text_enum! {
    /// `users.login_type`.
    LoginType {
        Password => "password",
        Github => "github",
        Oidc => "oidc",
        Token => "token",
        None => "none",
    }
}

/// A row of `organizations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Parameters of `insert_organization`.
#[derive(Debug, Clone)]
pub struct InsertOrganization<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub created_at: Timestamp,
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    pub status: UserStatus,
    pub login_type: LoginType,
    pub is_system: bool,
    pub deleted: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// Site roles (`owner`, `template-admin`, `user-admin`, `auditor`); `member` is implicit.
    pub rbac_roles: Vec<String>,
    pub avatar_url: String,
}

/// Parameters of `insert_user` (never a system user: those come from migrations).
#[derive(Debug, Clone)]
pub struct InsertUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub name: &'a str,
    pub status: UserStatus,
    pub login_type: LoginType,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// Parameters of `get_users`: a page after `after_username` (exclusive), ordered by username.
#[derive(Debug, Clone)]
pub struct GetUsersParams<'a> {
    pub include_system: bool,
    pub status: Option<UserStatus>,
    pub after_username: Option<&'a str>,
    /// 0 means no limit.
    pub limit: u32,
}

/// A row of `organization_members` with its user's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationMember {
    pub organization_id: String,
    pub user_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
}

/// A row of `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub organization_id: String,
    pub avatar_url: String,
    pub quota_allowance: i64,
}

/// Parameters of `insert_group`.
#[derive(Debug, Clone)]
pub struct InsertGroup<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub organization_id: &'a str,
    pub avatar_url: &'a str,
    pub quota_allowance: i64,
}

/// A row of `group_members_expanded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub user_id: String,
    pub user_username: String,
    pub user_email: String,
    pub user_is_system: bool,
    pub organization_id: String,
    pub group_id: String,
    pub group_name: String,
}

#[derive(Debug, Clone)]
pub struct UpdateUserProfile<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub name: &'a str,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct InsertOrganizationMember<'a> {
    pub organization_id: &'a str,
    pub user_id: &'a str,
    pub roles: &'a [&'a str],
    pub created_at: Timestamp,
}
