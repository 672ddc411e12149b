//! The template and workspace data model (SPEC §9 data model) through the fixture builders,
//! against the real store.

use std::sync::Arc;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::database::Error;
use coderlite::database::TxOptions;
use coderlite::database::in_tx;
use coderlite::database::models::InsertTemplate;
use coderlite::database::models::JobStatus;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::models::PrebuildStatus;
use coderlite::database::models::WorkspaceTransition;
use coderlite::database::prelude::*;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;

fn setup(engine: &TestEngine) -> (TestDb, MockClock) {
    let clock = MockClock::new(Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap());
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    (db, clock)
}

contract_tests! {
    fn template_builder_stores_template_active_version_and_parameters(engine) {
        let (db, clock) = setup(engine);
        let org = fixtures::organization(&db.store).name("acme").build().unwrap();
        let t = fixtures::template(&db.store)
            .org(&org)
            .name("docker")
            .version_name("v1")
            .parameter("region", true, "")
            .parameter("size", false, "small")
            .build()
            .unwrap();
        assert_eq!(t.template.active_version_id, t.version.id);
        assert_eq!(t.version.template_id.as_deref(), Some(t.template.id.as_str()));
        assert_eq!(t.template.created_at, clock.now());
        let job = db.store.get_provisioner_job_by_id(&t.version.job_id).unwrap();
        assert_eq!(job.job_status, JobStatus::Succeeded);
        let params = db.store.get_template_version_parameters(&t.version.id).unwrap();
        let shape: Vec<_> = params.iter().map(|p| (p.name.as_str(), p.required, p.default_value.as_str())).collect();
        assert_eq!(shape, [("region", true, ""), ("size", false, "small")]);
        let found = db.store.get_template_by_organization_and_name(&org.id, "docker").unwrap();
        assert_eq!(found, t.template);

        let v2 = fixtures::template_version(&db.store, &t.template).name("v2").active(true).build().unwrap();
        assert_eq!(db.store.get_template_by_id(&t.template.id).unwrap().active_version_id, v2.id);
        let versions = db.store.get_template_versions_by_template_id(&t.template.id).unwrap();
        assert_eq!(versions.len(), 2);
    }

    fn a_template_whose_active_version_never_appears_fails_at_commit(engine) {
        let (db, clock) = setup(engine);
        let org = db.store.get_default_organization().unwrap();
        let (id, missing_version) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
        let res = in_tx(&db.store, TxOptions::write("dangling"), |tx| {
            tx.insert_template(&InsertTemplate {
                id: &id,
                organization_id: &org.id,
                name: "dangling",
                display_name: "",
                created_at: clock.now(),
                created_by: None,
                active_version_id: &missing_version,
                deprecated: "",
                description: "",
                icon: "",
                scheduling: coderlite::database::models::TemplateScheduling::DEFAULT,
            })
            .map(|_| ())
        });
        assert!(matches!(res, Err(Error::ForeignKey { op: "commit transaction" })), "{res:?}");
        assert!(db.store.get_template_by_id(&id).unwrap_err().is_not_found());
    }

    fn job_status_is_derived_from_the_job_row(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        for status in [
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
            JobStatus::Canceling,
            JobStatus::Canceled,
        ] {
            let ws = fixtures::workspace(&db.store, &t.template).job_status(status).build().unwrap();
            assert_eq!(ws.job.job_status, status);
            assert_eq!(db.store.get_provisioner_job_by_id(&ws.job.id).unwrap().job_status, status);
            assert_eq!(ws.agent_id.is_some(), status == JobStatus::Succeeded);
        }
    }

    fn presets_keep_their_prebuild_settings_parameters_and_schedules(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        let p = fixtures::preset(&db.store, &t.version)
            .name("large")
            .desired_instances(3)
            .invalidate_after_secs(3600)
            .scheduling_timezone("Europe/Berlin")
            .parameter("size", "large")
            .schedule("* 8-18 * * 1-5", 5)
            .build()
            .unwrap();
        let none = fixtures::preset(&db.store, &t.version).name("adhoc").build().unwrap();
        assert_eq!(none.desired_instances, None);
        let stored = db.store.get_preset_by_id(&p.id).unwrap();
        assert_eq!(stored.desired_instances, Some(3));
        assert_eq!(stored.invalidate_after_secs, Some(3600));
        assert_eq!(stored.scheduling_timezone, "Europe/Berlin");
        assert_eq!(stored.prebuild_status, PrebuildStatus::Healthy);
        assert_eq!(stored.last_invalidated_at, None);
        let params = db.store.get_preset_parameters_by_template_version_id(&t.version.id).unwrap();
        assert_eq!(params.len(), 1);
        assert_eq!((params[0].name.as_str(), params[0].value.as_str()), ("size", "large"));
        let schedules = db.store.get_preset_prebuild_schedules(&p.id).unwrap();
        assert_eq!((schedules[0].cron_expression.as_str(), schedules[0].desired_instances), ("* 8-18 * * 1-5", 5));
        let names: Vec<_> =
            db.store.get_presets_by_template_version_id(&t.version.id).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["adhoc", "large"]);
    }

    fn workspace_builder_defaults_and_prebuild_ownership(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        let preset = fixtures::preset(&db.store, &t.version).desired_instances(1).build().unwrap();
        let ws = fixtures::workspace(&db.store, &t.template).build().unwrap();
        let owner = db.store.get_user_by_id(&ws.workspace.owner_id).unwrap();
        assert!(!owner.is_system);
        assert_eq!((ws.build.build_number, ws.build.transition), (1, WorkspaceTransition::Start));
        assert_eq!(ws.build.template_version_id, t.version.id);
        assert_eq!(ws.build.initiator_id, owner.id);

        let prebuild = fixtures::workspace(&db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&preset)
            .build_parameter("size", "large")
            .build()
            .unwrap();
        assert_eq!(prebuild.build.initiator_id, PREBUILDS_SYSTEM_USER_ID);
        assert_eq!(prebuild.build.template_version_preset_id.as_deref(), Some(preset.id.as_str()));
        assert_eq!(
            db.store.get_workspace_build_parameters(&prebuild.build.id).unwrap(),
            [coderlite::database::models::WorkspaceBuildParameter { name: "size".to_owned(), value: "large".to_owned() }]
        );
        assert_eq!(db.store.get_workspaces_by_template_id(&t.template.id).unwrap().len(), 2);
        db.store.update_workspace_deleted(&ws.workspace.id, true, ws.workspace.created_at).unwrap();
        assert_eq!(db.store.get_workspaces_by_template_id(&t.template.id).unwrap().len(), 1);
    }

    fn workspace_names_are_unique_per_owner_ignoring_case(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        let first = fixtures::workspace(&db.store, &t.template).name("dev").build().unwrap();
        let err =
            fixtures::workspace(&db.store, &t.template).owner(&first.workspace.owner_id).name("DEV").build().unwrap_err();
        assert!(err.is_unique_violation_of("workspaces_owner_id_lower_idx"), "{err:?}");
        // Another owner may use the name; a deleted workspace frees it.
        fixtures::workspace(&db.store, &t.template).name("dev").build().unwrap();
        db.store.update_workspace_deleted(&first.workspace.id, true, first.workspace.created_at).unwrap();
        fixtures::workspace(&db.store, &t.template).owner(&first.workspace.owner_id).name("dev").build().unwrap();
    }

    fn usage_stats_are_stored_and_app_sessions_extend(engine) {
        let (db, clock) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        let ws = fixtures::workspace(&db.store, &t.template).build().unwrap();
        let agent = ws.agent_id.clone().unwrap();
        for _ in 0..3 {
            fixtures::agent_stat(&db.store, &ws.workspace, &agent).sessions(1, 1, 0, 0).build().unwrap();
        }
        let app = fixtures::app_stat(&db.store, &ws.workspace, &agent).app("terminal", "").build().unwrap();
        let mut longer = app.clone();
        longer.session_ended_at = clock.now() + chrono::Duration::minutes(5);
        db.store.insert_workspace_app_stats(&[longer]).unwrap();
        assert_eq!(db.query_i64("SELECT COUNT(*) FROM workspace_agent_stats").unwrap(), 3);
        assert_eq!(db.query_i64("SELECT COUNT(*) FROM workspace_app_stats").unwrap(), 1);
    }

    fn group_builder_adds_members_including_system_users(engine) {
        let (db, _) = setup(engine);
        let alice = fixtures::user(&db.store).username("alice").build().unwrap();
        let g = fixtures::group(&db.store)
            .name("devs")
            .quota_allowance(5)
            .member(&alice.id)
            .member(PREBUILDS_SYSTEM_USER_ID)
            .build()
            .unwrap();
        assert_eq!(db.store.get_group_members_count_by_group_id(&g.id, true).unwrap(), 2);
        assert_eq!(db.store.get_group_members_count_by_group_id(&g.id, false).unwrap(), 1);
        let org = db.store.get_default_organization().unwrap();
        let members = db.store.get_organization_members(Some(&org.id), false).unwrap();
        assert_eq!(members.iter().map(|m| m.username.as_str()).collect::<Vec<_>>(), ["alice"]);
    }
}
