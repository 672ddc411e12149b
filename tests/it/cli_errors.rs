//! Bad input and everyday use of the CLI (SPEC §10, §11, §13), each as a new user met it:
//! refused input exits non-zero with a message naming the input and leaves the database
//! exactly as it was; logs are quiet and clean; output is what the docs say.

use std::path::Path;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// A scratch directory with the demo fixtures loaded and its prebuilds provisioned.
struct Demo {
    dir: tempfile::TempDir,
}

impl Demo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let demo = Self { dir };
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.json");
        ok(&demo.run(&["fixtures", "load", fixtures.to_str().unwrap()]));
        ok(&demo.run(&["prebuilds", "reconcile", "--provision"]));
        demo
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("demo.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        coderlite(&self.db()).args(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["-o", "json"]].concat());
        ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs `args`, which must fail with `code` and a message containing each of `expected`,
    /// and leave the database unchanged.
    fn refused(&self, args: &[&str], code: i32, expected: &[&str]) -> String {
        let before = dump(&self.db());
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        for e in expected {
            assert!(stderr.contains(e), "{args:?}: {e:?} not in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(dump(&self.db()), before, "{args:?} changed the database");
        stderr
    }

    /// A preset of the demo's `coder` organization with a ready prebuild: (preset id,
    /// template name, preset name).
    fn ready_preset(&self) -> (String, String, String) {
        let status = self.json(&["prebuilds", "status"]);
        let p = status["presets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["eligible"].as_i64().unwrap() > 0 && p["organization_name"] == "coder")
            .expect("a preset with a ready prebuild");
        (
            p["preset_id"].as_str().unwrap().to_owned(),
            p["template_name"].as_str().unwrap().to_owned(),
            p["preset_name"].as_str().unwrap().to_owned(),
        )
    }
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Every row of every table, as sorted text: equal dumps mean an unchanged database.
fn dump(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut rows = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = stmt.column_count();
        let mut q = stmt.query([]).unwrap();
        while let Some(row) = q.next().unwrap() {
            let values: Vec<String> =
                (0..n).map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
            rows.push(format!("{table}: {}", values.join(", ")));
        }
    }
    rows.sort();
    rows
}

#[test]
fn claim_refuses_unknown_presets_system_users_and_bad_names() {
    let demo = Demo::new();
    for preset in ["not-a-uuid", "8f1d3c52-5b1e-4f7a-9a4e-2c8d6e0b7a13", "small", "docker/nope", "nope/small"] {
        demo.refused(
            &["prebuilds", "claim", "--preset", preset, "--user", "alice", "--name", "ws"],
            1,
            &[&format!("preset {preset:?} does not exist"), "TEMPLATE/PRESET"],
        );
    }
    let (preset_id, _, _) = demo.ready_preset();
    demo.refused(
        &["prebuilds", "claim", "--preset", &preset_id, "--user", "prebuilds", "--name", "mine"],
        1,
        &["system user"],
    );
    demo.refused(
        &["prebuilds", "claim", "--preset", &preset_id, "--user", "nobody", "--name", "x"],
        1,
        &["\"nobody\""],
    );
    for (name, why) in [
        ("", ">= 1 character"),
        ("bad name!", "alphanumeric with hyphens"),
        ("bad name/with slash", "alphanumeric with hyphens"),
        ("a--b", "alphanumeric with hyphens"),
        (&"x".repeat(33), "<= 32 characters"),
    ] {
        demo.refused(
            &["prebuilds", "claim", "--preset", &preset_id, "--user", "alice", "--name", name],
            1,
            &["invalid workspace name", why],
        );
    }
    // alice already has a workspace named "dev" (the demo's).
    demo.refused(
        &["prebuilds", "claim", "--preset", &preset_id, "--user", "alice", "--name", "dev"],
        1,
        &["user \"alice\" already has a workspace named \"dev\""],
    );
    let stderr =
        demo.refused(&["prebuilds", "claim", "--preset", &preset_id, "--user", "alice", "--name", "DEV"], 1, &[]);
    assert!(!stderr.contains("unique constraint"), "{stderr}");
}

#[test]
fn claim_accepts_a_preset_id_or_template_slash_preset() {
    let demo = Demo::new();
    let (preset_id, template, preset) = demo.ready_preset();
    let by_name = demo.json(&[
        "prebuilds",
        "claim",
        "--preset",
        &format!("{template}/{preset}"),
        "--user",
        "bob",
        "--name",
        "by-name",
    ]);
    assert_eq!(by_name["claimed"], true, "{by_name}");
    ok(&demo.run(&["prebuilds", "reconcile", "--provision"]));
    let by_id = demo.json(&["prebuilds", "claim", "--preset", &preset_id, "--user", "bob", "--name", "by-id"]);
    assert_eq!(by_id["claimed"], true, "{by_id}");
    ok(&demo.run(&["prebuilds", "reconcile", "--provision"]));

    // A template name used in two organizations needs ORG/TEMPLATE/PRESET.
    let extra = demo.dir.path().join("extra.json");
    std::fs::write(
        &extra,
        format!(
            r#"{{"templates": [{{"organization": "acme", "name": "{template}",
                "versions": [{{"name": "v1", "presets": [{{"name": "{preset}", "desired_instances": 1}}]}}]}}]}}"#
        ),
    )
    .unwrap();
    ok(&demo.run(&["fixtures", "load", extra.to_str().unwrap()]));
    demo.refused(
        &["prebuilds", "claim", "--preset", &format!("{template}/{preset}"), "--user", "bob", "--name", "x"],
        1,
        &["is ambiguous", "coder", "acme", "ORG/TEMPLATE/PRESET"],
    );
    let qualified = demo.json(&[
        "prebuilds",
        "claim",
        "--preset",
        &format!("coder/{template}/{preset}"),
        "--user",
        "bob",
        "--name",
        "qualified",
    ]);
    assert_eq!(qualified["claimed"], true, "{qualified}");
}

#[test]
fn invalidate_refuses_unknown_templates_and_takes_names() {
    let demo = Demo::new();
    for template in ["nope", "acme/docker", "8f1d3c52-5b1e-4f7a-9a4e-2c8d6e0b7a13"] {
        demo.refused(&["prebuilds", "invalidate", "--template", template], 1, &["does not exist", "templates list"]);
    }
    let by_name = demo.json(&["prebuilds", "invalidate", "--template", "docker"]);
    assert_eq!(by_name["invalidated_presets"].as_array().unwrap().len(), 3, "{by_name}");
    let templates = demo.json(&["templates", "list"]);
    let kubernetes = templates.as_array().unwrap().iter().find(|t| t["name"] == "kubernetes").unwrap();
    assert_eq!(kubernetes["organization_name"], "acme");
    let by_id = demo.json(&["prebuilds", "invalidate", "--template", kubernetes["id"].as_str().unwrap()]);
    assert_eq!(by_id["invalidated_presets"].as_array().unwrap().len(), 1, "{by_id}");
    assert_eq!(
        demo.json(&["prebuilds", "invalidate", "--template", "acme/gpu"])["invalidated_presets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn read_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo/nothing-here.db");
    for args in [
        &["locks"][..],
        &["users", "seats"],
        &["users", "list"],
        &["prebuilds", "status"],
        &["prebuilds", "pause"],
        &["db", "check"],
        &["rollup"],
        &["telemetry", "collect"],
        &["providers", "list"],
        &["templates", "list"],
        &["insights", "templates", "--start", "now-7d", "--end", "now"],
    ] {
        let out = coderlite(&db).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("no coderlite database at {}", db.display())), "{args:?}: {stderr}");
        assert!(stderr.contains("coderlite setup"), "a hint: {stderr}");
    }
    assert!(!db.parent().unwrap().exists(), "a read command created directories");
    // An empty file is not a coderlite database either, and stays empty.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let out = coderlite(&empty).args(["locks"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    // The commands that may create one do, with its directories.
    let fresh = dir.path().join("new/dir/fresh.db");
    ok(&coderlite(&fresh).args(["migrate"]).output().unwrap());
    assert!(fresh.exists());
    // -v says which database a command uses.
    let out = coderlite(&fresh).args(["-v", "locks"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("using database") && stderr.contains(&*fresh.to_string_lossy()), "{stderr}");
}

#[test]
fn fixtures_refuse_bad_values_with_their_json_path() {
    let demo = Demo::new();
    let write = |name: &str, text: &str| {
        let path = demo.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let template = |preset: &str| {
        format!(r#"{{"templates": [{{"name": "t1", "versions": [{{"name": "v1", "presets": [{preset}]}}]}}]}}"#)
    };
    for (text, location, why) in [
        (template(r#"{"name": "p", "scheduling_timezone": "Mars/Olympus"}"#), "templates[0].versions[0].presets[0].scheduling_timezone", "unknown time zone \"Mars/Olympus\""),
        (template(r#"{"name": "p", "desired_instances": -1}"#), "templates[0].versions[0].presets[0].desired_instances", "must not be negative"),
        ("[]".to_owned(), "", "the top level must be a JSON object"),
        (r#"{"templates": [{"name": "t2", "autostart_allowed_days": ["monday", "funday"], "versions": [{"name": "v1"}]}]}"#.to_owned(), "templates[0].autostart_allowed_days[1]", "unknown day \"funday\""),
        (r#"{"templates": [{"name": "t2", "default_ttl": "31d", "versions": [{"name": "v1"}]}]}"#.to_owned(), "templates[0].default_ttl", "at most 30 days"),
        (template(r#"{"name": "p", "scheduling_timezone": "UTC", "schedules": [{"cron": "* 8 * * 7", "desired_instances": 1}]}"#), "templates[0].versions[0].presets[0].schedules[0].cron", "above maximum (6)"),
        (template(r#"{"name": "p", "scheduling_timezone": "UTC", "schedules": [{"cron": "0 8 * * *", "desired_instances": 1}]}"#), "templates[0].versions[0].presets[0].schedules[0].cron", "minute field should be *"),
        (template(r#"{"name": "p", "scheduling_timezone": "UTC", "schedules": [{"cron": "* 8-12 * * *", "desired_instances": 1}, {"cron": "* 12 * * *", "desired_instances": 2}]}"#), "templates[0].versions[0].presets[0].schedules", "schedules overlap"),
        (template(r#"{"name": "p", "scheduling_timezone": "UTC", "schedules": [{"cron": "* 8 * * mon", "desired_instances": 1}, {"cron": "* 9 * * mon", "desired_instances": 2}]}"#), "templates[0].versions[0].presets[0].schedules", "only numbers, ranges, lists"),
        (template(r#"{"name": "p", "schedules": [{"cron": "* 8 * * *", "desired_instances": 1}]}"#), "templates[0].versions[0].presets[0].scheduling_timezone", "needs a scheduling_timezone"),
        (r#"{"users": [{"username": "bad name"}]}"#.to_owned(), "users[0].username", "alphanumeric"),
        (r#"{"workspaces": [{"template": "docker", "owner": "alice", "name": "under_score"}]}"#.to_owned(), "workspaces[0].name", "alphanumeric"),
        (r#"{"agent_stats_series": [{"workspace": "alice/dev", "from": "now-1h", "to": "now", "every": "0s"}]}"#.to_owned(), "agent_stats_series[0].every", "greater than zero"),
        (r#"{"agent_stats_series": [{"workspace": "alice/dev", "from": "now-1h", "to": "now", "every": "1000000000000h"}]}"#.to_owned(), "agent_stats_series[0].every", "too large"),
        (r#"{"agent_stats": [{"workspace": "alice/nope", "created_at": "now"}]}"#.to_owned(), "agent_stats[0].workspace", "unknown workspace \"alice/nope\""),
    ] {
        let file = write("bad.json", &text);
        let expected = if location.is_empty() { format!("{file}: {why}") } else { format!("{file}: {location}: ") };
        demo.refused(&["fixtures", "load", &file], 1, &[&expected, why]);
    }
}

#[test]
fn fixtures_refer_to_what_an_earlier_load_put_in_the_database() {
    let demo = Demo::new();
    let before = count(&demo.db(), "SELECT COUNT(*) FROM workspace_agent_stats");
    // alice/dev and docker came from the demo load, not from this file.
    let path = demo.dir.path().join("more.json");
    std::fs::write(
        &path,
        r#"{
          "workspaces": [{"template": "docker", "owner": "bob", "name": "second", "version": "v2", "preset": "small"}],
          "agent_stats": [{"workspace": "alice/dev", "created_at": "now", "connection_count": 1},
                          {"workspace": "bob/second", "created_at": "now", "connection_count": 1}]
        }"#,
    )
    .unwrap();
    ok(&demo.run(&["fixtures", "load", path.to_str().unwrap()]));
    assert_eq!(count(&demo.db(), "SELECT COUNT(*) FROM workspace_agent_stats"), before + 2);
    let alice_agent = count(
        &demo.db(),
        "SELECT COUNT(*) FROM workspace_agent_stats s JOIN workspace_agents a ON a.id = s.agent_id
         JOIN workspaces w ON w.id = s.workspace_id WHERE w.name = 'dev'",
    );
    assert!(alice_agent > 0, "the stats name the earlier workspace's own agent");

    // A template marked deleted can still carry workspaces (prebuild scenarios need them).
    let deleted = demo.dir.path().join("deleted.json");
    std::fs::write(
        &deleted,
        r#"{"templates": [{"name": "retired", "deleted": true,
             "versions": [{"name": "v1", "presets": [{"name": "p", "desired_instances": 1}]}]}],
           "workspaces": [{"template": "retired", "owner": "prebuilds", "name": "old-prebuild", "preset": "p"}]}"#,
    )
    .unwrap();
    ok(&demo.run(&["fixtures", "load", deleted.to_str().unwrap()]));
    assert_eq!(
        count(
            &demo.db(),
            "SELECT COUNT(*) FROM workspaces w JOIN templates t ON t.id = w.template_id WHERE t.deleted = 1"
        ),
        1
    );
}

#[test]
fn env_errors_name_the_variable_and_print_each_cause_once() {
    let demo = Demo::new();
    let out = coderlite(&demo.db())
        .args(["providers", "seed"])
        .env("CODER_AIBRIDGE_PROVIDER_0_NAME", "one")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("TYPE is required").count(), 1, "{stderr}");
    let out = coderlite(&demo.db())
        .args(["providers", "seed"])
        .env("CODER_AIBRIDGE_PROVIDER_1_TYPE", "openai")
        .env("CODER_AIBRIDGE_PROVIDER_1_KEY", "sk-0123456789")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("provider num 0 skipped").count(), 1, "{stderr}");
    assert!(stderr.contains("must start at 0 and have no gaps"), "{stderr}");

    // A bad interval variable only matters to the commands that use it.
    let out = coderlite(&demo.db())
        .args(["prebuilds", "status"])
        .env("CODER_WORKSPACE_PREBUILDS_RECONCILIATION_INTERVAL", "5x")
        .output()
        .unwrap();
    ok(&out);
    // A bad log filter is refused, not ignored.
    let out = coderlite(&demo.db()).args(["locks"]).env("CODERLITE_LOG", "info,[[[").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CODERLITE_LOG"), "{stderr}");
    // The telemetry period is the server's, from the same variable.
    let out = coderlite(&demo.db())
        .args(["telemetry", "collect", "-o", "json"])
        .env("CODERLITE_TELEMETRY_INTERVAL", "1m")
        .output()
        .unwrap();
    ok(&out);
    let collected: Value = serde_json::from_slice(&out.stdout).unwrap();
    if collected["collected"] == true {
        assert_eq!(collected["summary"]["period_duration_ms"], 60_000);
    }
    let out =
        coderlite(&demo.db()).args(["telemetry", "collect"]).env("CODERLITE_TELEMETRY_INTERVAL", "0").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CODERLITE_TELEMETRY_INTERVAL") && stderr.contains("greater than zero"), "{stderr}");
}

#[test]
fn unusable_paths_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let out = coderlite(dir.path()).args(["locks"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("is a directory"), "{stderr}");

    // A file the user may read but not write: run as an unprivileged user when we are root
    // (root writes through any mode bits), else take the write bit away.
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let db = dir.path().join("ro.db");
    ok(&coderlite(&db).args(["migrate"]).output().unwrap());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let mut cmd = coderlite(&db);
    cmd.args(["prebuilds", "pause"]);
    // SAFETY-free: geteuid via the process's own status file.
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if root {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("database file {} is read-only (permission denied)", db.display())), "{stderr}");
    assert!(!stderr.contains("read-only transaction"), "{stderr}");
    if !root {
        return;
    }

    // Another user's database, and another user's `-wal` and `-shm` beside a readable file
    // (a server running as root while an admin command runs as someone else): each named,
    // not SQLite's "unable to open database file", and never "no coderlite database".
    let as_nobody = |db: &Path| {
        let out = coderlite(db).args(["prebuilds", "status"]).uid(65534).gid(65534).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let private = dir.path().join("private.db");
    ok(&coderlite(&private).args(["migrate"]).output().unwrap());
    let stderr = as_nobody(&private);
    assert!(stderr.contains("cannot open the file (owned by another user?)"), "{stderr}");
    assert!(!stderr.contains("no coderlite database"), "{stderr}");

    let shared = dir.path().join("shared.db");
    ok(&coderlite(&shared).args(["migrate"]).output().unwrap());
    let config =
        coderlite::database::sqlite::StoreConfig::new(&shared, std::sync::Arc::new(coderlite::clock::RealClock), "t");
    let running = coderlite::database::sqlite::SqliteStore::open(config).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = as_nobody(&shared);
    let sidecars = format!("cannot open {0}-wal or {0}-shm (owned by another user?)", shared.display());
    assert!(stderr.contains(&sidecars), "{stderr}");
    assert!(stderr.contains("needs read and write access to the database, its -wal and -shm files"), "{stderr}");
    drop(running);
}

#[test]
fn insights_flags_take_dates_and_relative_times_and_name_themselves() {
    let demo = Demo::new();
    ok(&demo.run(&["rollup"]));
    let week = demo.json(&["insights", "templates", "--start", "now-7d", "--end", "now"]);
    assert!(week["active_users"].as_i64().unwrap() > 0, "{week}");
    let today = chrono::Utc::now().date_naive();
    let start = (today - chrono::Duration::days(7)).to_string();
    let by_date = demo.json(&["insights", "templates", "--start", &start, "--end", &today.to_string()]);
    assert!(by_date["active_users"].is_i64(), "{by_date}");
    let by_name = demo.json(&["insights", "templates", "--start", "now-7d", "--end", "now", "--template", "docker"]);
    assert!(by_name["template_ids"].as_array().unwrap().len() <= 1, "{by_name}");
    demo.refused(
        &["insights", "templates", "--start", "now-7d", "--end", "now", "--template", "nope"],
        1,
        &["template \"nope\" does not exist"],
    );
    let stderr = demo.refused(
        &["insights", "templates", "--start", "now", "--end", "now-7d"],
        1,
        &["--end must be after --start"],
    );
    assert!(!stderr.contains("query param"), "{stderr}");
    demo.refused(
        &["insights", "templates", "--start", "2026-01-01T10:30:00Z", "--end", "now"],
        1,
        &["--start must have the clock set to 00:00:00"],
    );
    demo.refused(
        &["insights", "interval", "--start", "now-7d", "--end", "now", "--interval", "month"],
        2,
        &["month", "day", "week"],
    );
    let days = demo.json(&["insights", "interval", "--start", "now-7d", "--end", "now"]);
    assert!(days.as_array().unwrap().len() >= 7, "{days}");
}

#[test]
fn durations_and_replica_ids_are_checked_with_clear_words() {
    let demo = Demo::new();
    demo.refused(&["server", "--rollup-interval", "0"], 2, &["--rollup-interval", "greater than zero"]);
    demo.refused(&["server", "--replica-id", "r1"], 2, &["--replica-id", "UUID"]);
    demo.refused(&["server", "--reconcile-interval", "1.5"], 2, &["missing unit"]);
    // Go-style durations are accepted: the server starts and stops.
    let mut server = Server::start(&demo.db(), &["--reconcile-interval", "1.5s", "--rollup-interval", "1h30m"]);
    let started = server.wait_for_message("coderlite server started", Duration::from_secs(30));
    assert_eq!(started["reconcile_interval"], "1.5s");
    let (code, _, _) = server.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn logs_are_quiet_plain_and_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("logs.db");
    // The failing demo preset backs off; a fast reconciler sees the same backoff many times.
    let server = Server::start_demo(&db);
    std::thread::sleep(Duration::from_secs(4));
    let (code, _, log) = server.terminate();
    assert_eq!(code, Some(0));
    let text: Vec<String> = log.iter().map(Value::to_string).collect();
    let migrations: Vec<&String> = text.iter().filter(|l| l.contains("applied migrations")).collect();
    assert_eq!(migrations.len(), 1, "{migrations:#?}");
    assert!(migrations[0].contains("\"from\":0"), "{}", migrations[0]);
    assert!(!text.iter().any(|l| l.contains("refinery")), "refinery lines: {text:#?}");
    let mut backoffs: Vec<String> = log
        .iter()
        .filter(|l| l["fields"]["message"] == "prebuilds backing off")
        .map(|l| format!("{}{}", l["fields"]["preset_id"], l["fields"]["backoff_until"]))
        .collect();
    let n = backoffs.len();
    backoffs.dedup();
    assert_eq!(backoffs.len(), n, "a backoff logged more than once");
    for line in log.iter().filter(|l| l["fields"].get("took_ms").is_some()) {
        let took = line["fields"]["took_ms"].to_string();
        assert!(took.split('.').nth(1).is_none_or(|d| d.len() <= 1), "unrounded: {line}");
    }
    // Human logs to a pipe carry no colour codes.
    let out = coderlite(&db).args(["-v", "locks"]).output().unwrap();
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'), "ANSI codes in piped logs");
}

#[test]
fn output_and_help_read_as_documented() {
    let demo = Demo::new();
    let table = demo.run(&["prebuilds", "status", "-o", "table"]);
    ok(&table);
    let text = String::from_utf8_lossy(&table.stdout);
    let header = text.lines().find(|l| l.contains("PRESET ID")).unwrap_or_else(|| panic!("{text}"));
    assert!(header.contains("VERSION"), "{header}");
    // The two "small" presets of docker (v1 and v2) are told apart by version and ID.
    let small: Vec<&str> = text.lines().filter(|l| l.contains(" small ")).collect();
    assert_eq!(small.len(), 2, "{text}");
    assert_ne!(small[0].split_whitespace().next(), small[1].split_whitespace().next());
    ok(&demo.run(&["users", "list", "-o", "human"]));
    let status = demo.json(&["prebuilds", "status"]);
    assert!(status["presets"][0]["template_version_name"].is_string(), "{status}");
    let templates = demo.json(&["templates", "list"]);
    assert_eq!(templates.as_array().unwrap().len(), 3, "{templates}");
    assert!(templates[0]["id"].is_string() && templates[0]["active_version_name"].is_string());

    let help = coderlite(&demo.db()).args(["server", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let (server_part, global_part) = help.split_once("Global options:").unwrap_or_else(|| panic!("{help}"));
    assert!(server_part.contains("--reconcile-interval") && !server_part.contains("--log-format"), "{help}");
    assert!(global_part.contains("--db") && global_part.contains("--log-format"), "{help}");
}

#[test]
fn claim_takes_an_autostart_schedule_and_a_ttl() {
    let demo = Demo::new();
    let (preset_id, _, _) = demo.ready_preset();
    demo.refused(
        &["prebuilds", "claim", "--preset", &preset_id, "--user", "bob", "--name", "x", "--ttl", "10s"],
        1,
        &["invalid workspace time to shutdown", "at least one minute"],
    );
    demo.refused(
        &["prebuilds", "claim", "--preset", &preset_id, "--user", "bob", "--name", "x", "--autostart", "30 9 1 * *"],
        1,
        &["invalid autostart schedule", "day-of-month and month to be *"],
    );
    let claimed = demo.json(&[
        "prebuilds",
        "claim",
        "--preset",
        &preset_id,
        "--user",
        "bob",
        "--name",
        "scheduled",
        "--ttl",
        "2h",
        "--autostart",
        "CRON_TZ=Europe/Berlin 30 9 * * 1-5",
    ]);
    assert_eq!(claimed["claimed"], true, "{claimed}");
    let ttl = count(&demo.db(), "SELECT ttl_ms FROM workspaces WHERE name = 'scheduled'");
    assert_eq!(ttl, 2 * 3_600_000);
    let with_next =
        count(&demo.db(), "SELECT COUNT(*) FROM workspaces WHERE name = 'scheduled' AND next_start_at IS NOT NULL");
    assert_eq!(with_next, 1);
}

/// An unreachable PostgreSQL server is a clear error naming host, port and database; the
/// URL's password appears neither in it nor in `-v` logs.
#[test]
fn an_unreachable_postgres_is_named_and_its_password_never_shown() {
    let url = "postgres://alice:s3cret-pw@127.0.0.1:1/coder";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .args(["-v", "--db", url, "locks"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:1/coder: host unreachable"), "{stderr}");
    assert!(stderr.contains("postgres://alice:***@127.0.0.1:1/coder"), "-v names the database: {stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// A missing database is named as such, not as "db error"; the server's own notices and
/// WARNINGs never reach the log at INFO.
#[test]
fn a_missing_postgres_database_says_so() {
    let Some(coderlite::testing::TestEngine::Postgres { url }) = crate::support::contract::postgres() else { return };
    let (base, _) = url.rsplit_once('/').unwrap();
    let missing = format!("{base}/coderlite_no_such_database");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_coderlite")).args(["--db", &missing, "locks"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database missing: database \"coderlite_no_such_database\" does not exist"), "{stderr}");
    let db = coderlite::testing::TestDb::postgres(&url).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .arg("--db")
        .arg(db.db_arg())
        .args(["-v", "setup"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("WARNING") && !stderr.contains("NOTICE"), "{stderr}");
}

/// Token names are one printable line: a newline or ESC is refused at the flag (exit 2); a
/// name already stored with one is printed escaped, one row per token; a system user is
/// refused in plain words.
#[test]
fn token_names_stay_on_one_line() {
    let db = coderlite::testing::TestDb::with_fixtures(&["demo"]).unwrap();
    for bad in ["two\nlines", "esc\u{1b}[31m", &"x".repeat(65)] {
        let out = coderlite(&db).args(["tokens", "create", "--user", "admin", "--name", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--name"), "{bad:?}");
    }
    let out =
        coderlite(&db).args(["tokens", "create", "--user", "admin", "--name", "ci", "-o", "json"]).output().unwrap();
    assert!(out.status.success());
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_owned();
    db.execute_sql(&format!("UPDATE api_keys SET token_name = 'evil' || char(10) || 'row' WHERE id = '{id}'")).unwrap();
    let out = coderlite(&db).args(["tokens", "list"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "a header and one row: {stdout}");
    assert!(stdout.contains("evil\\nrow"), "{stdout}");
    let out = coderlite(&db).args(["tokens", "create", "--user", "prebuilds"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a system user, and system users never authenticate"), "{stderr}");
}
