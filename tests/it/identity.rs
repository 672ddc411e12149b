//! Organizations, users, groups and system users (SPEC §4; reference/platform.md §5.4
//! scenarios 1-7) against the real store.

use std::sync::Arc;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::database::Error;
use coderlite::database::models::GetUsersParams;
use coderlite::database::models::InsertGroup;
use coderlite::database::models::InsertOrganization;
use coderlite::database::models::InsertUser;
use coderlite::database::models::LoginType;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::models::User;
use coderlite::database::models::UserStatus;
use coderlite::database::prelude::*;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;

fn setup(engine: &TestEngine) -> (TestDb, MockClock) {
    let clock = MockClock::new(Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap());
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    (db, clock)
}

fn human(store: &dyn Store, clock: &MockClock, username: &str) -> User {
    let id = uuid::Uuid::new_v4().to_string();
    store
        .insert_user(&InsertUser {
            id: &id,
            email: &format!("{username}@example.com"),
            username,
            name: username,
            status: UserStatus::Active,
            login_type: LoginType::Password,
            created_at: clock.now(),
            last_seen_at: clock.now(),
        })
        .unwrap()
}

fn usernames(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

fn all_users(include_system: bool) -> GetUsersParams<'static> {
    GetUsersParams { include_system, status: None, after_username: None, limit: 0 }
}

contract_tests! {
    /// Groups list by name in byte order (`Everyone` before lower-case names) and members by
    /// username ignoring case, the same on both engines whatever PostgreSQL's collation.
    fn groups_and_members_list_in_the_same_order_on_both_engines(engine) {
        let (db, clock) = setup(engine);
        let org = db.store.get_default_organization().unwrap();
        for name in ["ops", "developers"] {
            coderlite::testing::fixtures::group(&db.store).org(&org).name(name).build().unwrap();
        }
        let names: Vec<String> =
            db.store.get_groups_by_organization_id(&org.id).unwrap().into_iter().map(|g| g.name).collect();
        assert_eq!(names, ["Everyone", "developers", "ops"]);
        for username in ["bob", "Zed"] {
            let u = human(&db.store, &clock, username);
            db.store
                .insert_organization_member(&coderlite::database::models::InsertOrganizationMember {
                    organization_id: &org.id,
                    user_id: &u.id,
                    roles: &[],
                    created_at: clock.now(),
                })
                .unwrap();
        }
        let everyone: Vec<String> = db
            .store
            .get_group_members_by_organization_id(&org.id, false)
            .unwrap()
            .into_iter()
            .filter(|m| m.group_id == org.id)
            .map(|m| m.user_username)
            .collect();
        assert_eq!(everyone, ["bob", "Zed"]);
    }

    /// Scenario 1.
    fn migrations_create_the_prebuilds_user_in_the_default_org(engine) {
        let (db, _) = setup(engine);
        let org = db.store.get_default_organization().unwrap();
        assert_eq!(org.name, "coder");
        assert!(org.is_default);
        let user = db.store.get_user_by_id(PREBUILDS_SYSTEM_USER_ID).unwrap();
        assert_eq!(
            (user.username.as_str(), user.email.as_str(), user.name.as_str()),
            ("prebuilds", "prebuilds@system", "Prebuilds Owner")
        );
        assert!(user.is_system);
        assert_eq!(user.status, UserStatus::Active);
        assert_eq!(user.login_type, LoginType::None);
        let system_users: Vec<User> =
            db.store.get_users(&all_users(true)).unwrap().into_iter().filter(|u| u.is_system).collect();
        assert_eq!(system_users.len(), 1);
        let members = db.store.get_organization_members(Some(&org.id), true).unwrap();
        assert_eq!(members.iter().map(|m| m.user_id.as_str()).collect::<Vec<_>>(), vec![PREBUILDS_SYSTEM_USER_ID]);
        assert!(db.store.get_organization_members(Some(&org.id), false).unwrap().is_empty());
    }

    /// Scenario 2, with pagination following the same filter.
    fn user_listing_hides_system_users_unless_asked(engine) {
        let (db, clock) = setup(engine);
        for name in ["alice", "bob", "quinn", "zed"] {
            human(&db.store, &clock, name);
        }
        assert_eq!(usernames(&db.store.get_users(&all_users(false)).unwrap()), ["alice", "bob", "quinn", "zed"]);
        assert_eq!(
            usernames(&db.store.get_users(&all_users(true)).unwrap()),
            ["alice", "bob", "prebuilds", "quinn", "zed"]
        );
        let page = |include_system, after| {
            let p = GetUsersParams { include_system, status: None, after_username: after, limit: 2 };
            usernames(&db.store.get_users(&p).unwrap()).into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(page(false, Some("bob")), ["quinn", "zed"]);
        assert_eq!(page(true, Some("bob")), ["prebuilds", "quinn"]);
        assert_eq!(db.store.get_user_count(false).unwrap(), 4);
        assert_eq!(db.store.get_user_count(true).unwrap(), 5);
    }

    /// Scenarios 3 and 4: seats = active humans; org and group membership of the system user
    /// never changes it.
    fn active_user_count_and_seats_exclude_system_users(engine) {
        let (db, clock) = setup(engine);
        for name in ["a", "b", "c"] {
            human(&db.store, &clock, name);
        }
        let suspended = human(&db.store, &clock, "d");
        db.store.update_user_status(&suspended.id, UserStatus::Suspended, clock.now()).unwrap();
        assert_eq!(db.store.get_active_user_count(false).unwrap(), 3);
        assert_eq!(db.store.get_active_user_count(true).unwrap(), 4);

        let org = db
            .store
            .insert_organization(&InsertOrganization {
                id: &uuid::Uuid::new_v4().to_string(),
                name: "second",
                display_name: "Second",
                description: "",
                created_at: clock.now(),
            })
            .unwrap();
        db.store.insert_organization_member(&coderlite::database::models::InsertOrganizationMember { organization_id: &org.id, user_id: PREBUILDS_SYSTEM_USER_ID, roles: &[], created_at: clock.now() }).unwrap();
        let group = db
            .store
            .insert_group(&InsertGroup {
                id: &uuid::Uuid::new_v4().to_string(),
                name: "coderprebuiltworkspaces",
                display_name: "Prebuilt Workspaces",
                organization_id: &org.id,
                avatar_url: "",
                quota_allowance: 0,
            })
            .unwrap();
        db.store.insert_group_member(&group.id, PREBUILDS_SYSTEM_USER_ID).unwrap();
        assert_eq!(db.store.get_active_user_count(false).unwrap(), 3);
    }

    /// Scenario 5.
    fn dormancy_sweep_never_touches_system_users(engine) {
        let (db, clock) = setup(engine);
        let idle = human(&db.store, &clock, "idle");
        clock.advance(std::time::Duration::from_secs(90 * 24 * 3600));
        let recent = human(&db.store, &clock, "recent");
        let cutoff = clock.now() - chrono::Duration::days(30);
        let marked = db.store.update_inactive_users_to_dormant(cutoff, clock.now()).unwrap();
        assert_eq!(marked, vec![idle.id.clone()]);
        assert_eq!(db.store.get_user_by_id(&idle.id).unwrap().status, UserStatus::Dormant);
        assert_eq!(db.store.get_user_by_id(&recent.id).unwrap().status, UserStatus::Active);
        assert_eq!(db.store.get_user_by_id(PREBUILDS_SYSTEM_USER_ID).unwrap().status, UserStatus::Active);
    }

    /// Scenario 6.
    fn group_member_listings_filter_system_users_by_flag(engine) {
        let (db, clock) = setup(engine);
        let org = db.store.get_default_organization().unwrap();
        let alice = human(&db.store, &clock, "alice");
        let group = db
            .store
            .insert_group(&InsertGroup {
                id: &uuid::Uuid::new_v4().to_string(),
                name: "quota",
                display_name: "",
                organization_id: &org.id,
                avatar_url: "",
                quota_allowance: 10,
            })
            .unwrap();
        db.store.insert_group_member(&group.id, &alice.id).unwrap();
        db.store.insert_group_member(&group.id, PREBUILDS_SYSTEM_USER_ID).unwrap();
        let names = |include_system| {
            db.store
                .get_group_members_by_group_id(&group.id, include_system)
                .unwrap()
                .into_iter()
                .map(|m| m.user_username)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(false), ["alice"]);
        assert_eq!(names(true), ["alice", "prebuilds"]);
        assert_eq!(db.store.get_group_members_count_by_group_id(&group.id, false).unwrap(), 1);
        assert_eq!(db.store.get_group_members_count_by_group_id(&group.id, true).unwrap(), 2);
        let coderlite::database::models::Page { rows: page, count: total } =
            db.store.get_group_members_by_group_id_paginated(&group.id, true, 1, 1).unwrap();
        assert_eq!((page[0].user_username.as_str(), total), ("prebuilds", 2));
        let coderlite::database::models::Page { rows: page, count: total } =
            db.store.get_group_members_by_group_id_paginated(&group.id, false, 0, 10).unwrap();
        assert_eq!((page.len(), total), (1, 1));
        // The system user can be removed from the group again.
        db.store.delete_group_member(&group.id, PREBUILDS_SYSTEM_USER_ID).unwrap();
        assert_eq!(names(true), ["alice"]);
    }

    /// Scenario 7: the Everyone group (id = org id) holds every organization member.
    fn everyone_group_expands_to_all_org_members(engine) {
        let (db, clock) = setup(engine);
        let org = db.store.get_default_organization().unwrap();
        let groups = db.store.get_groups_by_organization_id(&org.id).unwrap();
        let everyone = groups.iter().find(|g| g.id == org.id).unwrap();
        assert_eq!((everyone.name.as_str(), everyone.organization_id.as_str()), ("Everyone", org.id.as_str()));
        for name in ["bob", "carol"] {
            let u = human(&db.store, &clock, name);
            db.store.insert_organization_member(&coderlite::database::models::InsertOrganizationMember { organization_id: &org.id, user_id: &u.id, roles: &["organization-member"], created_at: clock.now() }).unwrap();
        }
        let deleted = human(&db.store, &clock, "gone");
        db.store.insert_organization_member(&coderlite::database::models::InsertOrganizationMember { organization_id: &org.id, user_id: &deleted.id, roles: &[], created_at: clock.now() }).unwrap();
        db.store.delete_user(&deleted.id, clock.now()).unwrap();
        let names = |include_system| {
            db.store
                .get_group_members_by_group_id(&org.id, include_system)
                .unwrap()
                .into_iter()
                .map(|m| m.user_username)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(false), ["bob", "carol"]);
        assert_eq!(names(true), ["bob", "carol", "prebuilds"]);
        // A new organization gets its own Everyone group.
        let second = db
            .store
            .insert_organization(&InsertOrganization {
                id: &uuid::Uuid::new_v4().to_string(),
                name: "second",
                display_name: "",
                description: "",
                created_at: clock.now(),
            })
            .unwrap();
        let groups = db.store.get_groups_by_organization_id(&second.id).unwrap();
        assert_eq!(groups.iter().find(|g| g.id == second.id).unwrap().name, "Everyone");
    }

    fn system_users_cannot_be_suspended_deleted_made_dormant_or_renamed(engine) {
        let (db, clock) = setup(engine);
        let id = PREBUILDS_SYSTEM_USER_ID;
        for status in [UserStatus::Suspended, UserStatus::Dormant] {
            let err = db.store.update_user_status(id, status, clock.now()).unwrap_err();
            assert!(matches!(err, Error::SystemUser { .. }), "{err:?}");
        }
        let err = db.store.update_user_profile(&coderlite::database::models::UpdateUserProfile { id, username: "renamed", name: "Renamed", updated_at: clock.now() }).unwrap_err();
        assert!(matches!(err, Error::SystemUser { .. }), "{err:?}");
        assert!(err.to_string().contains("system user"), "{err}");
        assert!(matches!(db.store.delete_user(id, clock.now()), Err(Error::SystemUser { .. })));
        let user = db.store.get_user_by_id(id).unwrap();
        assert_eq!((user.username.as_str(), user.status, user.deleted), ("prebuilds", UserStatus::Active, false));
        // Humans can be changed; unknown users are NotFound.
        let alice = human(&db.store, &clock, "alice");
        assert_eq!(db.store.update_user_profile(&coderlite::database::models::UpdateUserProfile { id: &alice.id, username: "alicia", name: "Alicia", updated_at: clock.now() }).unwrap().username, "alicia");
        assert!(
            db.store.update_user_status("no-such-user", UserStatus::Suspended, clock.now()).unwrap_err().is_not_found()
        );
    }

    fn duplicate_rows_are_unique_violations_with_upstream_names(engine) {
        let (db, clock) = setup(engine);
        let org = db.store.get_default_organization().unwrap();
        let err = db.store.insert_organization_member(&coderlite::database::models::InsertOrganizationMember { organization_id: &org.id, user_id: PREBUILDS_SYSTEM_USER_ID, roles: &[], created_at: clock.now() }).unwrap_err();
        assert!(err.is_unique_violation_of("organization_members_pkey"), "{err:?}");
        fn prebuilds_group<'a>(id: &'a str, organization_id: &'a str) -> InsertGroup<'a> {
            InsertGroup {
                id,
                name: "coderprebuiltworkspaces",
                display_name: "Prebuilt Workspaces",
                organization_id,
                avatar_url: "",
                quota_allowance: 0,
            }
        }
        let (first_id, second_id) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
        let g = db.store.insert_group(&prebuilds_group(&first_id, &org.id)).unwrap();
        let err = db.store.insert_group(&prebuilds_group(&second_id, &org.id)).unwrap_err();
        assert!(err.is_unique_violation_of("groups_name_organization_id_key"), "{err:?}");
        db.store.insert_group_member(&g.id, PREBUILDS_SYSTEM_USER_ID).unwrap();
        let err = db.store.insert_group_member(&g.id, PREBUILDS_SYSTEM_USER_ID).unwrap_err();
        assert!(err.is_unique_violation_of("group_members_pkey"), "{err:?}");
        human(&db.store, &clock, "alice");
        let err = db
            .store
            .insert_user(&InsertUser {
                id: &uuid::Uuid::new_v4().to_string(),
                email: "ALICE@example.com",
                username: "alice2",
                name: "",
                status: UserStatus::Active,
                login_type: LoginType::Password,
                created_at: clock.now(),
                last_seen_at: clock.now(),
            })
            .unwrap_err();
        assert!(err.is_unique_violation_of("idx_users_email"), "{err:?}");
    }

    fn users_cli_lists_and_counts_seats(engine) {
        let (db, clock) = setup(engine);
        human(&db.store, &clock, "alice");
        let run = |args: &[&str]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
                .arg("--db")
                .arg(db.db_arg())
                .args(args)
                .args(["-o", "json"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let humans = run(&["users", "list"]);
        assert_eq!(humans.as_array().unwrap().len(), 1);
        assert_eq!(humans[0]["username"], "alice");
        assert_eq!(humans[0]["is_system"], false);
        assert_eq!(humans[0]["status"], "active");
        let everyone = run(&["users", "list", "--include-system"]);
        let system: Vec<_> = everyone.as_array().unwrap().iter().filter(|u| u["is_system"] == true).collect();
        assert_eq!(system.len(), 1);
        assert_eq!(system[0]["id"], PREBUILDS_SYSTEM_USER_ID);
        assert_eq!(system[0]["email"], "prebuilds@system");
        assert_eq!(run(&["users", "seats"]), serde_json::json!({"seats": 1}));
    }
}
