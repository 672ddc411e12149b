//! Site roles as upstream names them, and what each lets a caller read and do (the subset of
//! upstream's role table that covers what coderlite holds). Pure.
//!
//! As upstream: what the caller may not read answers 404 (nothing leaks); 403 is for an
//! action on something the caller can see.

/// A built-in site role: (name, display name). `member` is implicit: never stored, never
/// listed in a user's roles.
pub const SITE_ROLES: &[(&str, &str)] = &[
    ("owner", "Owner"),
    ("template-admin", "Template Admin"),
    ("user-admin", "User Admin"),
    ("auditor", "Auditor"),
    ("member", "Member"),
];

/// The display name of a site role (`""` for one coderlite does not know, as upstream).
pub fn display_name(role: &str) -> &'static str {
    SITE_ROLES.iter().find(|(n, _)| *n == role).map_or("", |(_, d)| d)
}

/// Whether `role` can be given to a user.
pub fn is_assignable(role: &str) -> bool {
    SITE_ROLES.iter().any(|(n, _)| *n == role && *n != "member")
}

/// A caller's site roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    pub owner: bool,
    pub template_admin: bool,
    pub user_admin: bool,
    pub auditor: bool,
}

impl Roles {
    pub fn from_names(names: &[String]) -> Self {
        let has = |r: &str| names.iter().any(|n| n == r);
        Self {
            owner: has("owner"),
            template_admin: has("template-admin"),
            user_admin: has("user-admin"),
            auditor: has("auditor"),
        }
    }

    /// Every user (members see only themselves).
    pub fn read_all_users(&self) -> bool {
        self.owner || self.user_admin || self.template_admin || self.auditor
    }

    /// Create, suspend, activate and delete users; change their roles.
    pub fn manage_users(&self) -> bool {
        self.owner || self.user_admin
    }

    /// Delete, suspend or change the roles of a user holding `target`: a user-admin manages
    /// users, but only an owner manages an owner (a user-admin cannot lock the owners out).
    pub fn manage_user(&self, target: &Roles) -> bool {
        self.manage_users() && (self.owner || !target.owner)
    }

    /// Change and delete templates and choose their active version.
    pub fn manage_templates(&self) -> bool {
        self.owner || self.template_admin
    }

    /// Every organization (members see those they belong to).
    pub fn read_all_organizations(&self) -> bool {
        self.owner || self.template_admin || self.user_admin || self.auditor
    }

    /// Every template (members see the templates of their organizations).
    pub fn read_all_templates(&self) -> bool {
        self.owner || self.template_admin || self.auditor
    }

    /// Every user's workspaces (members see their own).
    pub fn read_all_workspaces(&self) -> bool {
        self.owner || self.template_admin
    }

    /// Build (start, stop, delete) other users' workspaces.
    pub fn update_all_workspaces(&self) -> bool {
        self.owner
    }

    /// Create workspaces for other users.
    pub fn create_workspaces_for_others(&self) -> bool {
        self.owner
    }

    /// Template insights of all templates.
    /// Upstream's `audit_log` read: owners and auditors.
    pub fn read_audit_logs(&self) -> bool {
        self.owner || self.auditor
    }

    pub fn view_insights(&self) -> bool {
        self.owner || self.template_admin || self.auditor
    }

    /// Deployment-wide settings (prebuilds settings).
    pub fn update_deployment(&self) -> bool {
        self.owner
    }

    /// Other users' API keys.
    pub fn manage_all_keys(&self) -> bool {
        self.owner
    }
}

/// Why a change of a user's site roles is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChangeRefusal {
    /// A role coderlite does not know, or one that cannot be given (`member` is implicit).
    NotSupported(String),
    /// The caller may not grant or take away this role.
    NotPermitted(String),
}

/// Checks that `caller` may change a user's site roles from `current` to `requested`: every
/// requested role is a known, assignable one, and every role granted or taken away is one the
/// caller may assign. As upstream: only an owner assigns site roles (a user-admin may assign
/// only `member`, which is implicit here). `member` in `requested` is ignored.
pub fn check_role_change(caller: &Roles, current: &[String], requested: &[String]) -> Result<(), RoleChangeRefusal> {
    for role in requested.iter().filter(|r| *r != "member") {
        if !is_assignable(role) {
            return Err(RoleChangeRefusal::NotSupported(role.clone()));
        }
    }
    let changed = requested
        .iter()
        .filter(|r| *r != "member" && !current.contains(r))
        .chain(current.iter().filter(|r| !requested.contains(r)));
    for role in changed {
        if !caller.owner {
            return Err(RoleChangeRefusal::NotPermitted(role.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_change_site_roles() {
        let owner = Roles { owner: true, ..Default::default() };
        let uadmin = Roles { user_admin: true, ..Default::default() };
        let names = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(check_role_change(&owner, &[], &names(&["owner", "auditor", "member"])), Ok(()));
        assert_eq!(check_role_change(&owner, &names(&["owner"]), &[]), Ok(()));
        assert_eq!(
            check_role_change(&uadmin, &[], &names(&["template-admin"])),
            Err(RoleChangeRefusal::NotPermitted("template-admin".to_owned()))
        );
        assert_eq!(check_role_change(&uadmin, &names(&["auditor"]), &names(&["auditor", "member"])), Ok(()));
        assert_eq!(
            check_role_change(&owner, &[], &names(&["root"])),
            Err(RoleChangeRefusal::NotSupported("root".to_owned()))
        );
    }

    #[test]
    fn role_table() {
        let member = Roles::default();
        assert!(!member.read_all_users() && !member.read_all_workspaces() && !member.view_insights());
        let owner = Roles::from_names(&["owner".into()]);
        assert!(owner.read_all_users() && owner.manage_users() && owner.update_deployment());
        let auditor = Roles::from_names(&["auditor".into()]);
        assert!(auditor.read_all_users() && auditor.view_insights() && auditor.read_all_templates());
        assert!(!auditor.read_all_workspaces() && !auditor.manage_users());
        let template_admin = Roles::from_names(&["template-admin".into()]);
        assert!(template_admin.read_all_workspaces() && !template_admin.update_all_workspaces());
        let user_admin = Roles::from_names(&["user-admin".into()]);
        assert!(user_admin.manage_users() && !user_admin.read_all_templates());
        assert_eq!(display_name("template-admin"), "Template Admin");
        assert_eq!(display_name("nope"), "");
        assert!(is_assignable("owner") && !is_assignable("member") && !is_assignable("nope"));
    }
}
