//! The `prebuilds` commands (SPEC §10 shapes), metrics (reference §6, scenarios 18 and 27),
//! and two processes reconciling one file at once.

use std::process::Command;
use std::time::Duration;

use coderlite::database::models::JobStatus;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::prelude::*;
use coderlite::prebuilds::metrics::collect_metrics;
use coderlite::prebuilds::reconciler::ReconcilerConfig;
use coderlite::prebuilds::reconciler::reconcile_once;
use coderlite::prebuilds::reconciler::set_paused;
use coderlite::testing::TestDb;
use coderlite::testing::fixtures;

fn cli(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .arg("--db")
        .arg(db.db_arg())
        .env_remove("CODER_WORKSPACE_PREBUILDS_RECONCILIATION_INTERVAL")
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

contract_tests! {
    fn commands_print_the_json_shapes(engine) {
        let db = TestDb::on(engine).unwrap();
        let t = fixtures::template(&db.store).name("docker").build().unwrap();
        let p = fixtures::preset(&db.store, &t.version).name("small").desired_instances(2).build().unwrap();
        fixtures::user(&db.store).username("alice").build().unwrap();

        let r = cli(&db, &["prebuilds", "reconcile", "--provision"]);
        assert_eq!(
            r,
            serde_json::json!({"acquired": true, "paused": false, "created": 2, "deleted": 0, "canceled": 0, "errors": []})
        );
        let status = cli(&db, &["prebuilds", "status"]);
        assert_eq!(status["paused"], false);
        let s = &status["presets"][0];
        assert_eq!(
            (s["preset_name"].as_str(), s["template_name"].as_str(), s["organization_name"].as_str()),
            (Some("small"), Some("docker"), Some("coder"))
        );
        assert_eq!(
            (s["active"].as_bool(), s["desired"].as_i64(), s["running"].as_i64(), s["eligible"].as_i64()),
            (Some(true), Some(2), Some(2), Some(2))
        );
        for key in ["starting", "stopping", "deleting", "expired", "extraneous"] {
            assert_eq!(s[key], 0, "{key}");
        }
        assert_eq!(
            (s["backoff_until"].clone(), s["hard_limited"].clone()),
            (serde_json::Value::Null, serde_json::json!(false))
        );
        assert_eq!(s["preset_id"], p.id);

        let claim = cli(&db, &["prebuilds", "claim", "--preset", &p.id, "--user", "alice", "--name", "mine"]);
        assert_eq!((claim["claimed"].as_bool(), claim["name"].as_str()), (Some(true), Some("mine")));
        assert!(claim["workspace_id"].is_string());
        let again = cli(&db, &["prebuilds", "claim", "--preset", &p.id, "--user", "alice", "--name", "mine-2"]);
        assert_eq!(again["claimed"], true);
        // Nothing to claim: the JSON says so on stdout, and the exit code is 1.
        let none = Command::new(env!("CARGO_BIN_EXE_coderlite"))
            .arg("--db")
            .arg(db.db_arg())
            .args(["prebuilds", "claim", "--preset", &p.id, "--user", "alice", "--name", "mine-3", "-o", "json"])
            .output()
            .unwrap();
        assert_eq!(none.status.code(), Some(1));
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&none.stdout).unwrap(),
            serde_json::json!({"claimed": false, "workspace_id": null, "name": null})
        );
        assert!(String::from_utf8_lossy(&none.stderr).contains("no prebuilt workspace of the preset is ready"));

        assert_eq!(cli(&db, &["prebuilds", "pause"]), serde_json::json!({"paused": true}));
        assert_eq!(cli(&db, &["prebuilds", "status"])["paused"], true);
        let paused = cli(&db, &["prebuilds", "reconcile"]);
        assert_eq!((paused["paused"].as_bool(), paused["created"].as_i64()), (Some(true), Some(0)));
        assert_eq!(cli(&db, &["prebuilds", "resume"]), serde_json::json!({"paused": false}));
        assert_eq!(cli(&db, &["prebuilds", "reconcile"])["created"], 2, "the claimed ones are replaced");
        let inv = cli(&db, &["prebuilds", "invalidate", "--template", &t.template.id]);
        assert_eq!(inv["invalidated_presets"].as_array().unwrap().len(), 1);
    }

    /// Scenarios 18 (gauge) and 27 (paused metric), and the Prometheus text.
    fn metrics_report_counters_gauges_hard_limit_and_pause(engine) {
        let db = TestDb::on(engine).unwrap();
        let mut config = ReconcilerConfig::new(Duration::from_secs(60));
        config.failure_hard_limit = 1;
        config.backoff_interval = Duration::ZERO;
        let t = fixtures::template(&db.store).name("docker").build().unwrap();
        let p = fixtures::preset(&db.store, &t.version).name("small").desired_instances(1).build().unwrap();
        fixtures::workspace(&db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p)
            .job_status(JobStatus::Failed)
            .build()
            .unwrap();
        reconcile_once(&db.store, "m", &config).unwrap();
        let m = collect_metrics(&db.store, &config).unwrap();
        assert!(!m.paused);
        assert_eq!((m.counters[0].created_count, m.counters[0].failed_count), (1, 1));
        assert!(m.hard_limited.contains(&("coder".to_owned(), "docker".to_owned(), "small".to_owned())));
        let text = m.render_prometheus();
        assert!(text.contains(r#"coderd_prebuilt_workspaces_preset_hard_limited{template_name="docker",preset_name="small",organization_name="coder"} 1"#), "{text}");
        assert!(text.contains(r#"coderd_prebuilt_workspaces_created_total{template_name="docker",preset_name="small",organization_name="coder"} 1"#));
        assert!(text.contains("coderd_prebuilt_workspaces_reconciliation_paused 0"));
        set_paused(&db.store, true).unwrap();
        assert!(
            collect_metrics(&db.store, &config)
                .unwrap()
                .render_prometheus()
                .contains("coderd_prebuilt_workspaces_reconciliation_paused 1")
        );
        // A new active version: the hard-limited series disappears.
        fixtures::template_version(&db.store, &t.template).active(true).build().unwrap();
        assert!(collect_metrics(&db.store, &config).unwrap().hard_limited.is_empty());
    }

    /// Two processes run `prebuilds reconcile --provision` in a loop on one file against a preset
    /// wanting 5: never more than 5 running prebuilds, and no job acquired twice.
    fn two_processes_reconciling_never_overshoot(engine) {
        let db = TestDb::on(engine).unwrap();
        let t = fixtures::template(&db.store).build().unwrap();
        fixtures::preset(&db.store, &t.version).desired_instances(5).build().unwrap();
        let script = format!(
            "for i in $(seq 1 15); do {bin} --db \"$DB\" prebuilds reconcile --provision -o json >/dev/null || exit 1; done",
            bin = env!("CARGO_BIN_EXE_coderlite"),
        );
        let children: Vec<_> =
            (0..2).map(|_| Command::new("sh").args(["-c", &script]).env("DB", db.db_arg()).spawn().unwrap()).collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut running_children = children;
        while !running_children.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the reconcile loops did not finish");
            let running = db.store.get_running_prebuilt_workspaces().unwrap().len();
            assert!(running <= 5, "{running} running prebuilds");
            running_children.retain_mut(|c| match c.try_wait().unwrap() {
                Some(status) => {
                    assert!(status.success());
                    false
                }
                None => true,
            });
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(db.store.get_running_prebuilt_workspaces().unwrap().len(), 5);
        let live = db
            .query_i64(&format!(
                "SELECT COUNT(*) FROM workspaces WHERE owner_id = '{PREBUILDS_SYSTEM_USER_ID}' AND deleted = false"
            ))
            .unwrap();
        assert_eq!(live, 5, "no duplicate prebuilds beyond desired");
        // Every job was acquired exactly once: each has one worker, and each is completed.
        let unfinished = db.query_i64("SELECT COUNT(*) FROM provisioner_jobs WHERE completed_at IS NULL").unwrap();
        assert_eq!(unfinished, 0);
    }
}
