//! Membership reconciliation (reference/prebuilds.md §8.3 scenarios 38-39, platform.md §5.4
//! scenarios 8-10) against the real store, including concurrent reconcilers.

use std::sync::Arc;

use coderlite::database::AnyStore;
use coderlite::database::models::Organization;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::prelude::*;
use coderlite::prebuilds::membership::PREBUILDS_GROUP_NAME;
use coderlite::prebuilds::membership::reconcile_membership;
use coderlite::testing::TestDb;
use coderlite::testing::fixtures;

const USER: &str = PREBUILDS_SYSTEM_USER_ID;

fn org_with_preset(db: &TestDb, name: &str, desired: Option<i64>) -> Organization {
    let org = fixtures::organization(&db.store).name(name).build().unwrap();
    let t = fixtures::template(&db.store).org(&org).build().unwrap();
    let mut p = fixtures::preset(&db.store, &t.version);
    if let Some(n) = desired {
        p = p.desired_instances(n);
    }
    p.build().unwrap();
    org
}

/// The organizations the prebuilds user belongs to, by id.
fn memberships(db: &TestDb) -> Vec<String> {
    let mut orgs: Vec<String> = db
        .store
        .get_organization_members(None, true)
        .unwrap()
        .into_iter()
        .filter(|m| m.user_id == USER)
        .map(|m| m.organization_id)
        .collect();
    orgs.sort();
    orgs
}

/// Sets up the target organization in one of the 8 (member?, group?, in group?) states.
fn target(db: &TestDb, desired: Option<i64>, member: bool, group: bool, in_group: bool) -> Organization {
    let org = org_with_preset(db, "target", desired);
    if member {
        db.store
            .insert_organization_member(&coderlite::database::models::InsertOrganizationMember {
                organization_id: &org.id,
                user_id: USER,
                roles: &[],
                created_at: db.store.clock().now(),
            })
            .unwrap();
    }
    if group {
        let mut g = fixtures::group(&db.store).org(&org).name(PREBUILDS_GROUP_NAME).display_name("Prebuilt Workspaces");
        if in_group {
            g = g.member(USER);
        }
        g.build().unwrap();
    }
    org
}

fn combinations() -> Vec<(bool, bool, bool)> {
    let mut out = Vec::new();
    for member in [false, true] {
        for group in [false, true] {
            for in_group in [false, true] {
                if in_group && !group {
                    continue;
                }
                out.push((member, group, in_group));
            }
        }
    }
    out
}

contract_tests! {
    /// Scenario 38 (and platform §5.4 scenario 10): presets without prebuilds → nothing changes.
    fn s38_org_without_configured_presets_is_left_alone(engine) {
        for (member, group, in_group) in combinations() {
            let db = TestDb::on(engine).unwrap();
            let unrelated = org_with_preset(&db, "unrelated", Some(1));
            db.store.insert_organization_member(&coderlite::database::models::InsertOrganizationMember { organization_id: &unrelated.id, user_id: USER, roles: &[], created_at: db.store.clock().now() }).unwrap();
            let org = target(&db, None, member, group, in_group);
            let before = memberships(&db);
            reconcile_membership(&db.store, USER, PREBUILDS_GROUP_NAME).unwrap();
            let members: Vec<_> =
                db.store.get_organization_members(Some(&org.id), true).unwrap().into_iter().map(|m| m.user_id).collect();
            assert_eq!(members.contains(&USER.to_owned()), member, "{member}/{group}/{in_group}");
            assert_eq!(db.store.get_group_by_org_and_name(&org.id, PREBUILDS_GROUP_NAME).is_ok(), group);
            assert_eq!(memberships(&db), before, "no membership added or removed");
        }
    }

    /// Scenario 39 (and platform §5.4 scenario 8): desired 0 still counts; in every starting
    /// state the user ends up a member and in the group, which exists with quota 0; a second run
    /// creates nothing.
    fn s39_configured_org_gets_member_group_and_group_member(engine) {
        for (member, group, in_group) in combinations() {
            let db = TestDb::on(engine).unwrap();
            let org = target(&db, Some(0), member, group, in_group);
            let report = reconcile_membership(&db.store, USER, PREBUILDS_GROUP_NAME).unwrap();
            assert_eq!(report.members_inserted, usize::from(!member));
            assert_eq!(report.groups_inserted, usize::from(!group));
            let members: Vec<_> =
                db.store.get_organization_members(Some(&org.id), true).unwrap().into_iter().map(|m| m.user_id).collect();
            assert!(members.contains(&USER.to_owned()));
            let g = db.store.get_group_by_org_and_name(&org.id, PREBUILDS_GROUP_NAME).unwrap();
            assert_eq!((g.display_name.as_str(), g.quota_allowance), ("Prebuilt Workspaces", 0));
            let group_members: Vec<_> =
                db.store.get_group_members_by_group_id(&g.id, true).unwrap().into_iter().map(|m| m.user_id).collect();
            assert_eq!(group_members, [USER]);
            // The default organization's membership from the migration is untouched.
            let default = db.store.get_default_organization().unwrap();
            assert_eq!(db.store.get_organization_members(Some(&default.id), true).unwrap().len(), 1);
            let again = reconcile_membership(&db.store, USER, PREBUILDS_GROUP_NAME).unwrap();
            assert_eq!((again.members_inserted, again.groups_inserted, again.group_members_inserted), (0, 0, 0));
        }
    }

    /// Scenario 9 of platform §5.4: two reconcilers at once on one organization → no error,
    /// exactly one group and one membership (repeated to give the race a chance).
    fn concurrent_reconcilers_create_each_row_once(engine) {
        for round in 0..20 {
            let db = TestDb::on(engine).unwrap();
            let org = org_with_preset(&db, &format!("race-{round}"), Some(1));
            let stores: Vec<AnyStore> = (0..2).map(|i| db.open_another(&format!("r{i}")).unwrap()).collect();
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let handles: Vec<_> = stores
                .into_iter()
                .map(|s| {
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        barrier.wait();
                        reconcile_membership(&s, USER, PREBUILDS_GROUP_NAME)
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
            let g = db.store.get_group_by_org_and_name(&org.id, PREBUILDS_GROUP_NAME).unwrap();
            assert_eq!(db.store.get_group_members_count_by_group_id(&g.id, true).unwrap(), 1);
            let groups = db
                .query_i64(&format!(
                    "SELECT COUNT(*) FROM groups WHERE organization_id = '{}' AND name = '{PREBUILDS_GROUP_NAME}'",
                    org.id
                ))
                .unwrap();
            assert_eq!(groups, 1);
        }
    }
}
