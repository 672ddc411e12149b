//! Membership reconciliation : the prebuilds user must be a
//! member of every organization with prebuild presets, and of that organization's
//! `coderprebuiltworkspaces` group (quotas are charged through it).
//!
//! One read query answers everything; only missing rows are inserted, each in its own short
//! write transaction. A unique violation means a concurrent creator won and counts as success
//! (after a group collision the group id is re-read). Other errors are collected per
//! organization; the loop goes on and the joined error is returned.

use std::fmt;

use crate::database;
use crate::database::Store;
use crate::database::models::InsertGroup;

/// The group holding the prebuilds user in each organization.
pub const PREBUILDS_GROUP_NAME: &str = "coderprebuiltworkspaces";
pub const PREBUILDS_GROUP_DISPLAY_NAME: &str = "Prebuilt Workspaces";

/// What a membership pass inserted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipReport {
    pub organizations: usize,
    pub members_inserted: usize,
    pub groups_inserted: usize,
    pub group_members_inserted: usize,
}

/// Errors of some organizations (the others were reconciled).
#[derive(Debug)]
pub struct MembershipError {
    pub errors: Vec<(String, database::Error)>,
}

impl fmt::Display for MembershipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reconcile prebuilds membership: ")?;
        for (i, (org, err)) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "organization {org:?}: {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MembershipError {}

/// Makes `user_id` a member of every organization with prebuild presets and of its group
/// `group_name`.
pub fn reconcile_membership(
    store: &dyn Store,
    user_id: &str,
    group_name: &str,
) -> Result<MembershipReport, MembershipError> {
    let rows = store
        .get_organizations_with_prebuild_status(user_id, group_name)
        .map_err(|e| MembershipError { errors: vec![(String::new(), e)] })?;
    let mut report = MembershipReport { organizations: rows.len(), ..MembershipReport::default() };
    let mut errors = Vec::new();
    for row in rows {
        let org = row.organization_name.clone();
        let res = (|| -> database::Result<()> {
            let now = store.clock().now();
            if !row.has_prebuild_user {
                match store.insert_organization_member(&crate::database::models::InsertOrganizationMember {
                    organization_id: &row.organization_id,
                    user_id,
                    roles: &[],
                    created_at: now,
                }) {
                    Ok(()) => report.members_inserted += 1,
                    Err(e) if e.is_unique_violation() => {}
                    Err(e) => return Err(e),
                }
            }
            let group_id = match row.prebuilds_group_id {
                Some(id) => id,
                None => {
                    let insert = InsertGroup {
                        id: &uuid::Uuid::new_v4().to_string(),
                        name: group_name,
                        display_name: PREBUILDS_GROUP_DISPLAY_NAME,
                        organization_id: &row.organization_id,
                        avatar_url: "",
                        quota_allowance: 0,
                    };
                    match store.insert_group(&insert) {
                        Ok(g) => {
                            report.groups_inserted += 1;
                            g.id
                        }
                        // Another reconciler created it first: use theirs.
                        Err(e) if e.is_unique_violation() => {
                            store.get_group_by_org_and_name(&row.organization_id, group_name)?.id
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            if !row.has_prebuild_user_in_group {
                match store.insert_group_member(&group_id, user_id) {
                    Ok(()) => report.group_members_inserted += 1,
                    Err(e) if e.is_unique_violation() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        if let Err(e) = res {
            tracing::warn!(organization_id = %row.organization_id, error = %e, "reconcile prebuilds membership");
            errors.push((org, e));
        }
    }
    if errors.is_empty() { Ok(report) } else { Err(MembershipError { errors }) }
}
