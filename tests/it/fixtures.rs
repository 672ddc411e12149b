//! JSON fixtures (SPEC §11): the demo set, all-or-nothing loads, and errors that name the
//! file and the JSON location.

use std::process::Command;

use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::prelude::*;
use coderlite::testing::TestDb;

fn data_version(db: &TestDb) -> (i64, i64) {
    (db.query_i64("SELECT COUNT(*) FROM templates").unwrap(), db.query_i64("SELECT COUNT(*) FROM users").unwrap())
}

fn load(db: &TestDb, files: &[&std::path::Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .arg("--db")
        .arg(db.db_arg())
        .args(["fixtures", "load"])
        .args(files)
        .output()
        .unwrap()
}

contract_tests! {
    fn demo_fixtures_hold_what_the_demo_promises(engine) {
        let db = TestDb::with_fixtures_on(engine, &["demo"]).unwrap();
        let orgs = db.store.list_organizations().unwrap();
        assert_eq!(orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["acme", "coder"]);
        let acme = orgs.iter().find(|o| o.name == "acme").unwrap();
        let coder = orgs.iter().find(|o| o.name == "coder").unwrap();

        let docker = db.store.get_template_by_organization_and_name(&coder.id, "docker").unwrap();
        let versions = db.store.get_template_versions_by_template_id(&docker.id).unwrap();
        assert_eq!(versions.len(), 2, "an active and an older version");
        let active = versions.iter().find(|v| v.id == docker.active_version_id).unwrap();
        assert_eq!(active.name, "v2");
        let presets = db.store.get_presets_by_template_version_id(&active.id).unwrap();
        let large = presets.iter().find(|p| p.name == "large").unwrap();
        assert_eq!((large.desired_instances, large.invalidate_after_secs), (Some(1), Some(3600)), "a preset with a TTL");
        assert_eq!(presets.iter().find(|p| p.name == "custom").unwrap().desired_instances, None);

        let k8s = db.store.get_template_by_organization_and_name(&acme.id, "kubernetes").unwrap();
        let office = &db.store.get_presets_by_template_version_id(&k8s.active_version_id).unwrap()[0];
        assert_eq!(db.store.get_preset_prebuild_schedules(&office.id).unwrap().len(), 1, "a preset with schedules");

        for t in [&docker, &k8s] {
            assert!(t.updated_at >= t.created_at, "{}: updated before it was created", t.name);
        }
        let admin = db.store.get_user_by_username("admin").unwrap();
        assert!(
            coderlite::identity::password::verify_password("coderlite-demo", &db.store.get_user_hashed_password(&admin.id).unwrap()),
            "the demo's admin logs in with the documented password"
        );

        let gpu = db.store.get_template_by_organization_and_name(&acme.id, "gpu").unwrap();
        assert!(db.store.get_template_version_by_id(&gpu.active_version_id).unwrap().fail_builds, "a failing version");

        let agent_stats = db.query_i64("SELECT COUNT(*) FROM workspace_agent_stats").unwrap();
        let app_stats = db.query_i64("SELECT COUNT(*) FROM workspace_app_stats").unwrap();
        assert!(agent_stats > 500 && app_stats > 50, "{agent_stats} agent stats, {app_stats} app stats");
        let span_micros = match db.engine() {
            coderlite::database::Engine::Sqlite => {
                db.query_i64("SELECT MAX(created_at) - MIN(created_at) FROM workspace_agent_stats").unwrap()
            }
            coderlite::database::Engine::Postgres => db
                .query_i64(
                    "SELECT (extract(epoch FROM MAX(created_at) - MIN(created_at)) * 1000000)::bigint \
                     FROM workspace_agent_stats",
                )
                .unwrap(),
        };
        assert_eq!(span_micros, 7 * 24 * 3600 * 1_000_000, "a week of agent stats");
        assert_eq!(db.store.get_active_user_count(false).unwrap(), 4);
        let admin = db.store.get_user_by_username("admin").unwrap();
        assert_eq!(admin.rbac_roles, ["owner"], "the demo has an owner");

        // The preset's parameters were recorded on the workspace's build.
        let dev =
            db.store.get_workspaces_by_template_id(&docker.id).unwrap().into_iter().find(|w| w.name == "dev").unwrap();
        let build = &db.store.get_workspace_builds_by_workspace_id(&dev.id).unwrap()[0];
        assert_eq!(db.store.get_workspace_build_parameters(&build.id).unwrap(), [coderlite::database::models::WorkspaceBuildParameter { name: "cpu".to_owned(), value: "2".to_owned() }]);
        // The developers group has two human members.
        let devs = db.store.get_group_by_org_and_name(&acme.id, "developers").unwrap();
        assert_eq!(db.store.get_group_members_count_by_group_id(&devs.id, true).unwrap(), 2);
    }

    fn a_file_with_one_bad_entity_writes_nothing_and_names_the_location(engine) {
        let db = TestDb::on(engine).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{
              "users": [{ "username": "dave" }],
              "templates": [
                { "name": "ok", "versions": [{ "name": "v1" }] },
                { "name": "broken", "organization": "no-such-org", "versions": [{ "name": "v1" }] }
              ]
            }"#,
        )
        .unwrap();
        let before = data_version(&db);
        let out = load(&db, &[&bad]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            stderr.trim_end(),
            format!(
                "error: load fixtures: {}: templates[1].organization: unknown organization \"no-such-org\"",
                bad.display()
            )
        );
        assert_eq!(data_version(&db), before, "nothing was written");
        assert!(db.store.get_user_by_username("dave").unwrap_err().is_not_found());
    }

    fn structural_errors_name_the_json_path(engine) {
        let db = TestDb::on(engine).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("typo.json");
        std::fs::write(
            &bad,
            r#"{"templates": [{"name": "t", "versions": [{"name": "v", "presets": [{"name": "p", "desired": 2}]}]}]}"#,
        )
        .unwrap();
        let out = load(&db, &[&bad]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with(&format!(
                "error: load fixtures: {}: templates[0].versions[0].presets[0].desired: unknown field `desired`",
                bad.display()
            )),
            "{stderr}"
        );
    }

    fn several_files_load_in_one_transaction(engine) {
        let db = TestDb::on(engine).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &good,
            r#"{"organizations": [{"name": "first"}], "users": [{"username": "erin", "organizations": ["first"]}]}"#,
        )
        .unwrap();
        std::fs::write(&bad, r#"{"groups": [{"organization": "first", "name": "g", "members": ["nobody"]}]}"#).unwrap();
        let before = data_version(&db);
        let out = load(&db, &[&good, &bad]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8(out.stderr).unwrap().contains("bad.json: groups[0].members[0]: unknown user \"nobody\""));
        assert_eq!(data_version(&db), before, "the good file was rolled back with the bad one");
        // The second file may refer to the first file's entities.
        std::fs::write(&bad, r#"{"groups": [{"organization": "first", "name": "g", "members": ["erin", "prebuilds"]}]}"#)
            .unwrap();
        let out = load(&db, &[&good, &bad]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let org = db.store.get_organization_by_name("first").unwrap();
        let g = db.store.get_group_by_org_and_name(&org.id, "g").unwrap();
        let members = db.store.get_group_members_by_group_id(&g.id, true).unwrap();
        assert!(members.iter().any(|m| m.user_id == PREBUILDS_SYSTEM_USER_ID));
    }
}

#[test]
fn checked_in_fixture_files_all_parse() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            coderlite::testing::fixture_json::parse(&path.display().to_string(), &text).unwrap();
        }
    }
}

/// A NUL anywhere in a fixture is refused naming its JSON path, and nothing loads.
#[test]
fn a_nul_in_a_fixture_is_named_by_its_json_path() {
    let db = TestDb::new().unwrap();
    let before = data_version(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nul.json");
    std::fs::write(&file, r#"{"users": [{"username": "ok"}, {"username": "nul", "name": "a\u0000b"}]}"#).unwrap();
    let out = load(&db, &[&file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("users[1].name") && stderr.contains("NUL"), "{stderr}");
    assert_eq!(data_version(&db), before);
}
