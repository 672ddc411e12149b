//! The template usage rollup (SPEC §8) against the real store: reference/platform.md §2.7
//! scenarios 2-7, the duplicate-slug decision, two processes on lease 3, and a property test
//! against a straightforward minute-by-minute reference computation.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

use chrono::DurationRound;
use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::MockClock;
use coderlite::clock::Timestamp;
use coderlite::database::LockId;
use coderlite::database::models::TemplateUsageStat;
use coderlite::database::models::Workspace;
use coderlite::database::models::WorkspaceAgentStat;
use coderlite::database::models::WorkspaceAppStat;
use coderlite::database::prelude::*;
use coderlite::rollup;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;

const MIN: chrono::Duration = chrono::Duration::minutes(1);

struct Env {
    db: TestDb,
    _clock: MockClock,
    ws: Workspace,
    agent: String,
}

fn setup(engine: &TestEngine, now: Timestamp) -> Env {
    let clock = MockClock::new(now);
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    let t = fixtures::template(&db.store).build().unwrap();
    let built = fixtures::workspace(&db.store, &t.template).build().unwrap();
    Env { db, _clock: clock, ws: built.workspace, agent: built.agent_id.unwrap() }
}

impl Env {
    fn agent_stat(&self, at: Timestamp, conn: i64, latency: f64, sessions: (i64, i64, i64, i64)) {
        let (ssh, vscode, jetbrains, pty) = sessions;
        fixtures::agent_stat(&self.db.store, &self.ws, &self.agent)
            .created_at(at)
            .connections(conn, latency)
            .sessions(ssh, vscode, jetbrains, pty)
            .build()
            .unwrap();
    }

    fn app_stat(&self, method: &str, slug: &str, start: Timestamp, end: Timestamp) {
        fixtures::app_stat(&self.db.store, &self.ws, &self.agent)
            .app(method, slug)
            .session(start, end)
            .build()
            .unwrap();
    }

    fn rollup(&self) -> usize {
        let outcome = rollup::run_once(&self.db.store, "test/rollup").unwrap();
        assert!(outcome.acquired);
        outcome.rows_written
    }

    fn rows(&self) -> Vec<TemplateUsageStat> {
        let far = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
        let early = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
        self.db.store.get_template_usage_stats(early, far, &[]).unwrap()
    }
}

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 34, 56).unwrap()
}

contract_tests! {
    /// Scenario 2 (upstream's basic rollup test).
    fn s02_basic_rollup(engine) {
        let env = setup(engine, now());
        let h = now().duration_trunc(chrono::Duration::hours(1)).unwrap() - chrono::Duration::hours(1);
        let t0 = h - chrono::Duration::days(182);
        let day = chrono::Duration::days(1);
        env.agent_stat(t0 - day, 1, 1.0, (1, 0, 0, 0));
        env.app_stat("path", "code-server", t0 - day, t0 - day + MIN);
        let a1 = t0 + day;
        let a2 = a1 + MIN;
        env.agent_stat(a1, 1, 1.0, (0, 0, 0, 1));
        env.agent_stat(a2, 1, 1.0, (0, 0, 0, 1));
        env.app_stat("path", "code-server", a2, a2 + MIN);
        env.app_stat("path", "code-server", a2 + MIN, a2 + MIN * 2);
        env.rollup();

        let rows = env.db.store.get_template_usage_stats(t0 - MIN, h, &[]).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let r = &rows[0];
        assert_eq!((r.start_time, r.end_time), (a1, a1 + chrono::Duration::minutes(30)));
        assert_eq!(r.template_id, env.ws.template_id);
        assert_eq!(r.user_id, env.ws.owner_id);
        assert_eq!(r.median_latency_ms, Some(1.0));
        assert_eq!(r.usage_mins, 3, "minutes a1, a2 and a2+1; a2 counted once");
        assert_eq!(r.reconnecting_pty_mins, 2);
        assert_eq!((r.ssh_mins, r.sftp_mins, r.vscode_mins, r.jetbrains_mins), (0, 0, 0, 0));
        assert_eq!(r.app_usage_mins, Some(BTreeMap::from([("code-server".to_owned(), 2)])));
        // The T0-1d bucket exists too; it is only outside the requested range.
        assert_eq!(env.rows().len(), 2);
    }

    /// Scenario 4: a second run without new raw data writes nothing and changes nothing.
    fn s04_rerun_writes_nothing(engine) {
        let env = setup(engine, now());
        let t = now() - chrono::Duration::hours(2);
        env.agent_stat(t, 1, 5.0, (1, 1, 0, 0));
        env.app_stat("subdomain", "jupyter", t, t + MIN * 5);
        assert_eq!(env.rollup(), 1);
        let before = env.rows();
        assert_eq!(env.rollup(), 0);
        assert_eq!(env.rows(), before);
    }

    /// Scenario 5: late data in the newest bucket is picked up; data older than the window is not.
    fn s05_late_data(engine) {
        let env = setup(engine, now());
        let newest = Utc.with_ymd_and_hms(2024, 6, 1, 11, 0, 0).unwrap();
        env.agent_stat(newest, 1, 5.0, (1, 0, 0, 0));
        env.rollup();
        assert_eq!(env.rows()[0].usage_mins, 1);
        env.agent_stat(newest + MIN * 5, 1, 5.0, (1, 0, 0, 0));
        env.agent_stat(newest - chrono::Duration::hours(3), 1, 5.0, (1, 0, 0, 0));
        env.rollup();
        let rows = env.rows();
        assert_eq!(rows.len(), 1, "the stat 3 hours before the newest bucket is outside the window");
        assert_eq!(rows[0].usage_mins, 2);
    }

    /// Scenario 6: sessions without any connection in the half hour, and no apps → no row.
    fn s06_no_connection_no_row(engine) {
        let env = setup(engine, now());
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 11, 0, 0).unwrap();
        env.agent_stat(t, 0, 5.0, (1, 0, 0, 0));
        env.agent_stat(t + MIN, 0, 5.0, (0, 1, 0, 0));
        env.rollup();
        assert!(env.rows().is_empty());
        // An app session in the same half hour counts even without connections, alone.
        env.app_stat("path", "code-server", t, t + MIN);
        env.rollup();
        let rows = env.rows();
        assert_eq!((rows[0].usage_mins, rows[0].ssh_mins, rows[0].vscode_mins), (1, 0, 0));
    }

    /// Scenario 7, plus the decision for one slug reached two ways: the union of its minutes.
    fn s07_terminal_app_and_duplicate_slug_union(engine) {
        let env = setup(engine, now());
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 10, 0, 0).unwrap();
        env.agent_stat(t, 1, 5.0, (1, 0, 0, 0));
        env.app_stat("terminal", "", t, t + MIN * 3);
        env.app_stat("path", "code-server", t, t + MIN * 4);
        env.app_stat("subdomain", "code-server", t + MIN * 2, t + MIN * 6);
        env.rollup();
        let apps = env.rows()[0].app_usage_mins.clone().unwrap();
        assert_eq!(apps, BTreeMap::from([("[terminal]".to_owned(), 3), ("code-server".to_owned(), 6)]));
        let text = env.db.query_text("SELECT CAST(app_usage_mins AS TEXT) FROM template_usage_stats").unwrap();
        let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(stored, serde_json::json!({"[terminal]": 3, "code-server": 6}));
        if env.db.engine() == coderlite::database::Engine::Sqlite {
            // SQLite keeps the text as written: compact, keys sorted (jsonb orders its own way).
            assert_eq!(text, r#"{"[terminal]":3,"code-server":6}"#, "keys sorted");
        }
    }

    fn session_minute_edges_follow_the_end_minus_one_microsecond_rule(engine) {
        let env = setup(engine, now());
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 10, 0, 0).unwrap();
        env.app_stat("path", "a", t, t + MIN);
        env.app_stat("path", "b", t + chrono::Duration::seconds(30), t + chrono::Duration::seconds(40));
        env.app_stat("path", "c", t + chrono::Duration::seconds(30), t + chrono::Duration::seconds(61));
        env.agent_stat(t, 1, 2.0, (1, 0, 0, 0));
        env.rollup();
        let apps = env.rows()[0].app_usage_mins.clone().unwrap();
        assert_eq!(apps, BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 1), ("c".to_owned(), 2)]));
    }

    fn latency_is_the_continuous_median_of_active_minutes(engine) {
        let env = setup(engine, now());
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 10, 0, 0).unwrap();
        env.agent_stat(t, 1, 10.0, (1, 0, 0, 0));
        env.agent_stat(t + MIN, 1, 20.0, (1, 0, 0, 0));
        // A session-less stat in an active minute counts; zero latency never does.
        env.agent_stat(t + MIN, 1, 40.0, (0, 0, 0, 0));
        env.agent_stat(t + MIN, 1, 0.0, (1, 0, 0, 0));
        // A session-less stat in an inactive minute does not count.
        env.agent_stat(t + MIN * 10, 1, 1000.0, (0, 0, 0, 0));
        env.rollup();
        // Values 10, 20, 40: median 20. Add one more for an even count.
        assert_eq!(env.rows()[0].median_latency_ms, Some(20.0));
        env.agent_stat(t + MIN * 2, 1, 50.0, (1, 0, 0, 0));
        env.rollup();
        assert_eq!(env.rows()[0].median_latency_ms, Some(30.0));
    }

    fn nothing_to_roll_up_writes_nothing(engine) {
        let env = setup(engine, now());
        assert_eq!(env.rollup(), 0);
        assert!(env.rows().is_empty());
    }

    /// Scenario 3 with processes: while another process holds lease 3, `coderlite rollup` does
    /// nothing and says so; afterwards one run writes the row; concurrent runs leave one row.
    fn s03_two_processes_one_lease(engine) {
        let db = TestDb::on(engine).unwrap();
        let t = fixtures::template(&db.store).build().unwrap();
        let built = fixtures::workspace(&db.store, &t.template).build().unwrap();
        let ref_time = db.store.clock().now().duration_trunc(chrono::Duration::hours(1)).unwrap();
        fixtures::agent_stat(&db.store, &built.workspace, built.agent_id.as_ref().unwrap())
            .created_at(ref_time - MIN)
            .connections(1, 3.0)
            .sessions(1, 0, 0, 0)
            .build()
            .unwrap();
        let bin = env!("CARGO_BIN_EXE_coderlite");
        let rollup = || {
            let out = Command::new(bin).arg("--db").arg(db.db_arg()).args(["rollup", "-o", "json"]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let holder = db
            .store
            .try_acquire_lease(LockId::DbRollup, "other-replica/rollup", std::time::Duration::from_secs(60))
            .unwrap()
            .unwrap();
        let blocked = rollup();
        assert_eq!((blocked["acquired"].as_bool(), blocked["rows_written"].as_u64()), (Some(false), Some(0)));
        holder.release().unwrap();
        let ran = rollup();
        assert_eq!((ran["acquired"].as_bool(), ran["rows_written"].as_u64()), (Some(true), Some(1)));
        assert!(ran["took_ms"].as_f64().is_some());
        let children: Vec<_> = (0..2)
            .map(|_| Command::new(bin).arg("--db").arg(db.db_arg()).args(["rollup", "-o", "json"]).output().unwrap())
            .collect();
        assert!(children.iter().all(|o| o.status.success()));
        let rows = db.store.get_template_usage_stats(ref_time - chrono::Duration::hours(1), ref_time, &[]).unwrap();
        assert_eq!(rows.len(), 1);
    }
}

// --- the property test --------------------------------------------------------------------

/// A tiny deterministic generator (xorshift64*), so the dataset is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The reference semantics, computed naively minute by minute over the raw rows.
fn reference(
    window_start: Timestamp,
    now: Timestamp,
    agents: &[WorkspaceAgentStat],
    apps: &[(WorkspaceAppStat, String)],
) -> Vec<TemplateUsageStat> {
    type Key = (Timestamp, String, String);
    let bucket = |t: Timestamp| t.duration_trunc(chrono::Duration::minutes(30)).unwrap();
    let minute = |t: Timestamp| t.duration_trunc(MIN).unwrap();
    let in_window = |t: Timestamp| t >= window_start && t < now;
    // Per key: agent sets by category, has_connection, app sets by name.
    let mut agent_sets: BTreeMap<Key, [BTreeSet<Timestamp>; 5]> = BTreeMap::new();
    let mut has_conn: BTreeMap<Key, bool> = BTreeMap::new();
    let mut app_sets: BTreeMap<Key, BTreeMap<String, BTreeSet<Timestamp>>> = BTreeMap::new();
    for s in agents.iter().filter(|s| in_window(s.created_at)) {
        let counts =
            [s.session_count_ssh, s.session_count_reconnecting_pty, s.session_count_vscode, s.session_count_jetbrains];
        if counts.iter().all(|c| *c <= 0) {
            continue;
        }
        let key = (bucket(s.created_at), s.template_id.clone(), s.user_id.clone());
        let sets = agent_sets.entry(key.clone()).or_default();
        let m = minute(s.created_at);
        sets[0].insert(m);
        for (i, c) in counts.iter().enumerate() {
            if *c > 0 {
                sets[i + 1].insert(m);
            }
        }
        *has_conn.entry(key).or_default() |= s.connection_count > 0;
    }
    for (a, template_id) in apps {
        let name = if a.access_method == "terminal" { "[terminal]".to_owned() } else { a.slug_or_port.clone() };
        let mut m = minute(a.session_started_at);
        let last = minute(a.session_ended_at - chrono::Duration::microseconds(1));
        while m <= last {
            if in_window(m) {
                let key = (bucket(m), template_id.clone(), a.user_id.clone());
                app_sets.entry(key).or_default().entry(name.clone()).or_default().insert(m);
            }
            m += MIN;
        }
    }
    let keys: BTreeSet<Key> = agent_sets.keys().filter(|k| has_conn[*k]).chain(app_sets.keys()).cloned().collect();
    keys.into_iter()
        .map(|key| {
            let empty: [BTreeSet<Timestamp>; 5] = Default::default();
            let agent = if has_conn.get(&key).copied().unwrap_or(false) { &agent_sets[&key] } else { &empty };
            let app = app_sets.get(&key);
            let mut active: BTreeSet<Timestamp> = agent[0].clone();
            for set in app.iter().flat_map(|a| a.values()) {
                active.extend(set);
            }
            let mut latencies: Vec<f64> = agents
                .iter()
                .filter(|s| s.template_id == key.1 && s.user_id == key.2)
                .filter(|s| s.connection_median_latency_ms > 0.0 && active.contains(&minute(s.created_at)))
                .map(|s| s.connection_median_latency_ms)
                .collect();
            latencies.sort_by(f64::total_cmp);
            let n = latencies.len();
            let median = (n > 0)
                .then(|| if n % 2 == 1 { latencies[n / 2] } else { (latencies[n / 2 - 1] + latencies[n / 2]) / 2.0 });
            let count = |s: &BTreeSet<Timestamp>| s.len() as i64;
            TemplateUsageStat {
                start_time: key.0,
                end_time: key.0 + chrono::Duration::minutes(30),
                template_id: key.1.clone(),
                user_id: key.2.clone(),
                median_latency_ms: median,
                usage_mins: active.len() as i64,
                ssh_mins: count(&agent[1]),
                sftp_mins: 0,
                reconnecting_pty_mins: count(&agent[2]),
                vscode_mins: count(&agent[3]),
                jetbrains_mins: count(&agent[4]),
                app_usage_mins: app.map(|a| a.iter().map(|(k, v)| (k.clone(), v.len() as i64)).collect()),
            }
        })
        .collect()
}

contract_tests! {
    fn rollup_equals_the_minute_by_minute_reference_on_random_data(engine) {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
        let clock = MockClock::new(now);
        let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
        let mut rng = Rng(0x5EED_1234_ABCD_0042);
        let templates: Vec<_> = (0..3).map(|_| fixtures::template(&db.store).build().unwrap()).collect();
        let mut workspaces = Vec::new();
        for i in 0..8 {
            let built = fixtures::workspace(&db.store, &templates[i % 3].template).build().unwrap();
            workspaces.push((built.workspace, built.agent_id.unwrap()));
        }
        let span_minutes = 6 * 60;
        let start = now - chrono::Duration::minutes(span_minutes);
        let mut agents = Vec::new();
        for _ in 0..3000 {
            let (ws, agent) = &workspaces[rng.below(8) as usize];
            let at = start + chrono::Duration::seconds(rng.below(span_minutes as u64 * 60) as i64);
            let session = |rng: &mut Rng| if rng.below(3) == 0 { rng.below(3) as i64 } else { 0 };
            agents.push(WorkspaceAgentStat {
                id: uuid::Uuid::new_v4().to_string(),
                created_at: at,
                user_id: ws.owner_id.clone(),
                agent_id: agent.clone(),
                workspace_id: ws.id.clone(),
                template_id: ws.template_id.clone(),
                connection_count: if rng.below(5) == 0 { 0 } else { 1 + rng.below(3) as i64 },
                connection_median_latency_ms: if rng.below(4) == 0 { 0.0 } else { (rng.below(2000) as f64) / 10.0 },
                rx_bytes: 0,
                tx_bytes: 0,
                session_count_vscode: session(&mut rng),
                session_count_jetbrains: session(&mut rng),
                session_count_reconnecting_pty: session(&mut rng),
                session_count_ssh: session(&mut rng),
            });
        }
        let mut apps = Vec::new();
        let slugs = ["code-server", "jupyter", "8080", ""];
        let methods = ["path", "subdomain", "terminal"];
        for _ in 0..800 {
            let (ws, agent) = &workspaces[rng.below(8) as usize];
            let begin = start - chrono::Duration::minutes(30)
                + chrono::Duration::seconds(rng.below((span_minutes as u64 + 60) * 60) as i64);
            let length = chrono::Duration::seconds(rng.below(50 * 60) as i64);
            apps.push((
                WorkspaceAppStat {
                    user_id: ws.owner_id.clone(),
                    workspace_id: ws.id.clone(),
                    agent_id: agent.clone(),
                    access_method: methods[rng.below(3) as usize].to_owned(),
                    slug_or_port: slugs[rng.below(4) as usize].to_owned(),
                    session_id: uuid::Uuid::new_v4().to_string(),
                    session_started_at: begin,
                    session_ended_at: begin + length,
                    requests: 1,
                },
                ws.template_id.clone(),
            ));
        }
        db.store.insert_workspace_agent_stats(&agents).unwrap();
        db.store.insert_workspace_app_stats(&apps.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>()).unwrap();

        assert!(rollup::run_once(&db.store, "prop").unwrap().acquired);
        let earliest = agents.iter().map(|a| a.created_at).min().unwrap();
        let window = earliest.duration_trunc(chrono::Duration::hours(1)).unwrap();
        let expected = reference(window, now, &agents, &apps);
        let far = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
        let actual = db.store.get_template_usage_stats(window - chrono::Duration::days(1), far, &[]).unwrap();
        assert!(expected.len() >= 80, "the dataset is too sparse: {} of at most 96 rows", expected.len());
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a, e);
        }
    }
}

// --- the Rolluper service -----------------------------------------------------------------

contract_tests! {
    /// Scenario 1: a rolluper on an empty store closes cleanly, its thread joined.
    fn s01_close_joins_the_worker(engine) {
        let db = TestDb::on(engine).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let store: coderlite::database::SharedStore = Arc::new(db.store.clone());
        let r = rollup::Rolluper::start(
            store,
            db.store.clock(),
            "r/rollup".into(),
            std::time::Duration::from_millis(250),
            Some(tx),
        );
        let first = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(first.outcome.acquired);
        r.close();
        // The worker's sender is gone with its thread.
        while rx.try_recv().is_ok() {}
        assert!(matches!(rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Disconnected)));
    }

    /// Started at 12:03:10, runs happen at 12:03:10, 12:05:00, 12:10:00; a run whose slot passed
    /// while it was busy is followed at once by the next, and the runs never overlap.
    fn rolluper_runs_at_once_then_on_aligned_slots(engine) {
        let t = |h, m, s| Utc.with_ymd_and_hms(2024, 6, 1, h, m, s).unwrap();
        let clock = MockClock::new(t(12, 3, 10));
        let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let store: coderlite::database::SharedStore = Arc::new(db.store.clone());
        let r = rollup::Rolluper::start(
            store,
            Arc::new(clock.clone()),
            "r/rollup".into(),
            std::time::Duration::from_secs(300),
            Some(tx),
        );
        let recv = || rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap().at;
        assert_eq!(recv(), t(12, 3, 10));
        clock.wait_for_sleepers(1);
        assert_eq!(clock.next_deadline(), Some(t(12, 5, 0)));
        assert!(rx.try_recv().is_err(), "no run before the slot");
        clock.set(t(12, 5, 0));
        assert_eq!(recv(), t(12, 5, 0));
        clock.wait_for_sleepers(1);
        clock.set(t(12, 10, 0));
        assert_eq!(recv(), t(12, 10, 0));
        clock.wait_for_sleepers(1);
        // The 12:15 slot passes while the service is busy (the clock jumps past it): the next run
        // starts straight away at 12:16:30, and the slot after that is 12:20.
        clock.set(t(12, 16, 30));
        assert_eq!(recv(), t(12, 16, 30));
        clock.wait_for_sleepers(1);
        assert_eq!(clock.next_deadline(), Some(t(12, 20, 0)));
        r.close();
    }
}

// --- insights reads -----------------------------------------------------------------------

/// Fixed IDs, so the sorted template IDs of a report are known in advance.
const TPL_A: &str = "00000000-0000-4000-8000-00000000000a";
const TPL_B: &str = "00000000-0000-4000-8000-00000000000b";
const USER: &str = "00000000-0000-4000-8000-000000000001";

fn usage_row(start: Timestamp, template: &str, user: &str, usage: i64) -> TemplateUsageStat {
    TemplateUsageStat {
        start_time: start,
        end_time: start + chrono::Duration::minutes(30),
        template_id: template.to_owned(),
        user_id: user.to_owned(),
        median_latency_ms: None,
        usage_mins: usage,
        ssh_mins: usage,
        sftp_mins: 0,
        reconnecting_pty_mins: 0,
        vscode_mins: 0,
        jetbrains_mins: 0,
        app_usage_mins: None,
    }
}

contract_tests! {
    /// Scenario 8.
    fn s08_usage_is_capped_at_30_minutes_per_half_hour_across_templates(engine) {
        let db = TestDb::on(engine).unwrap();
        let b = Utc.with_ymd_and_hms(2024, 6, 1, 10, 0, 0).unwrap();
        db.store.upsert_template_usage_stats(&[usage_row(b, TPL_A, USER, 20), usage_row(b, TPL_B, USER, 20)]).unwrap();
        let day = b - chrono::Duration::hours(10);
        let rows = db.store.get_template_usage_stats(day, day + chrono::Duration::days(1), &[]).unwrap();
        assert_eq!(rows.iter().map(|r| r.usage_mins).collect::<Vec<_>>(), [20, 20]);
        let i = rollup::insights::template_insights(&rows);
        assert_eq!(i.usage_total_seconds, 1800);
        assert_eq!(i.ssh_seconds, 1800);
        assert_eq!(i.active_users, 1);
        assert_eq!(i.template_ids, [TPL_A, TPL_B]);
        // Filtering by template reads only that template's rows.
        let only_a =
            db.store.get_template_usage_stats(day, day + chrono::Duration::days(1), &[TPL_A.to_owned()]).unwrap();
        assert_eq!(rollup::insights::template_insights(&only_a).usage_total_seconds, 1200);
    }
}

/// Scenario 9.
#[test]
fn s09_interval_report_lists_every_interval() {
    let s = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let rows = vec![usage_row(s + chrono::Duration::hours(30), "tpl", "u", 5)];
    let report = rollup::insights::insights_by_interval(&rows, s, s + chrono::Duration::days(3), 1);
    assert_eq!(report.iter().map(|i| i.active_users).collect::<Vec<_>>(), [0, 1, 0]);
    assert_eq!(report[1].template_ids, ["tpl"]);
    assert_eq!(report[2].end_time, s + chrono::Duration::days(3));
    // A partial last interval is clamped to the end.
    let partial = rollup::insights::insights_by_interval(&rows, s, s + chrono::Duration::hours(36), 1);
    assert_eq!(partial.len(), 2);
    assert_eq!(partial[1].end_time, s + chrono::Duration::hours(36));
}

/// Scenario 10: the "today" rule, in the client's UTC offset (+02:00, local now 14:20).
#[test]
fn s10_today_rule() {
    use rollup::insights::parse_insights_time_range as range;
    use rollup::insights::parse_report_interval;
    let now = Utc.with_ymd_and_hms(2024, 6, 10, 12, 20, 0).unwrap();
    let start = "2024-06-09T00:00:00+02:00";
    assert!(range(now, start, "2024-06-10T15:00:00+02:00").is_ok());
    let err = |end: &str| range(now, start, end).unwrap_err().to_string();
    assert!(err("2024-06-10T16:00:00+02:00").contains("must not be in the future"));
    assert!(err("2024-06-10T14:30:00+02:00").contains("clock set to 14:00:00"));
    assert!(err("2024-06-09T10:00:00+02:00").contains("clock set to 00:00:00"));
    assert!(
        range(now, "2024-06-09T01:00:00+02:00", "2024-06-10T00:00:00+02:00")
            .unwrap_err()
            .to_string()
            .contains("start_time")
    );
    assert!(
        range(now, "2024-06-10T00:00:00+02:00", "2024-06-09T00:00:00+02:00").unwrap_err().to_string().contains("after")
    );
    assert!(range(now, "0001-01-01T00:00:00Z", "2024-06-10T00:00:00+02:00").unwrap_err().to_string().contains("zero"));
    // Weeks: the last interval must be a full week or at least 6 days.
    let day = |d: u32| Utc.with_ymd_and_hms(2024, 5, d, 0, 0, 0).unwrap();
    let week_err = parse_report_interval(day(1), day(13), "week").unwrap_err().to_string();
    assert_eq!(week_err, "Last report interval should have at least 6 days.");
    assert!(parse_report_interval(day(1), day(15), "week").is_ok(), "two full weeks");
    assert!(parse_report_interval(day(1), day(14), "week").is_ok(), "a week and 6 days");
    assert!(parse_report_interval(day(1), day(13), "day").is_ok());
    assert!(parse_report_interval(day(1), day(13), "month").is_err());
}

#[test]
fn app_user_latency_and_activity_reads() {
    let b = Utc.with_ymd_and_hms(2024, 6, 1, 10, 0, 0).unwrap();
    let mut a = usage_row(b, "tpl-a", "u1", 10);
    a.app_usage_mins =
        Some(BTreeMap::from([("code-server".to_owned(), 20), ("[terminal]".to_owned(), 5), ("8080".to_owned(), 1)]));
    a.median_latency_ms = Some(10.0);
    let mut c = usage_row(b, "tpl-b", "u1", 25);
    c.app_usage_mins = Some(BTreeMap::from([("code-server".to_owned(), 20)]));
    c.median_latency_ms = Some(30.0);
    let d = usage_row(b + chrono::Duration::minutes(30), "tpl-a", "u2", 7);
    let rows = vec![a, c, d];
    let apps = rollup::insights::app_insights(&rows);
    let code = apps.iter().find(|x| x.app_name == "code-server").unwrap();
    assert_eq!((code.usage_seconds, code.active_users, code.is_app), (1800, 1, true), "capped at 30 per half hour");
    assert_eq!(code.template_ids, ["tpl-a", "tpl-b"]);
    assert!(!apps.iter().find(|x| x.app_name == "[terminal]").unwrap().is_app);
    assert!(!apps.iter().find(|x| x.app_name == "8080").unwrap().is_app);
    let latency = rollup::insights::user_latency(&rows);
    assert_eq!((latency[0].p50_ms, latency[0].p95_ms), (20.0, 29.0));
    assert_eq!((latency[1].p50_ms, latency[1].p95_ms), (-1.0, -1.0));
    let activity = rollup::insights::user_activity(&rows);
    assert_eq!((activity[0].user_id.as_str(), activity[0].usage_seconds), ("u1", 1800));
    assert_eq!((activity[1].user_id.as_str(), activity[1].usage_seconds), ("u2", 420));
}

contract_tests! {
    fn insights_cli_prints_the_json_shapes(engine) {
        let db = TestDb::on(engine).unwrap();
        let today = db.store.clock().now().duration_trunc(chrono::Duration::days(1)).unwrap();
        let b = today - chrono::Duration::hours(12);
        db.store.upsert_template_usage_stats(&[usage_row(b, TPL_A, USER, 20)]).unwrap();
        let start = coderlite::clock::format_rfc3339(today - chrono::Duration::days(1));
        let end = coderlite::clock::format_rfc3339(today);
        let run = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_coderlite"))
                .arg("--db")
                .arg(db.db_arg())
                .args(args)
                .args(["--start", &start, "--end", &end, "-o", "json"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let t = run(&["insights", "templates"]);
        assert_eq!(
            t,
            serde_json::json!({
                "active_users": 1, "usage_total_seconds": 1200, "ssh_seconds": 1200, "sftp_seconds": 0,
                "reconnecting_pty_seconds": 0, "vscode_seconds": 0, "jetbrains_seconds": 0, "template_ids": [TPL_A]
            })
        );
        assert_eq!(run(&["insights", "apps"]), serde_json::json!([]));
        let i = run(&["insights", "interval"]);
        assert_eq!(i[0]["active_users"], 1);
        let bad = Command::new(env!("CARGO_BIN_EXE_coderlite"))
            .arg("--db")
            .arg(db.db_arg())
            .args(["insights", "templates", "--start", "2024-06-01T03:00:00Z", "--end", &end])
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("must have the clock set to 00:00:00"));
    }

    /// Step B keeps every minute in [window start, now): an app session reported as starting
    /// later in the current minute than the rollup's `now` (M+58s against a rollup at M+10s)
    /// still covers minute M.
    fn a_session_starting_after_now_in_the_current_minute_counts(engine) {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 34, 10).unwrap();
        let e = setup(engine, now);
        let minute = Utc.with_ymd_and_hms(2024, 6, 1, 12, 34, 0).unwrap();
        // A connection earlier in the bucket opens the window.
        e.agent_stat(minute - MIN * 2, 1, 10.0, (1, 0, 0, 0));
        e.app_stat("path", "code-server", minute + chrono::Duration::seconds(58), minute + MIN * 5);
        // A session entirely in the next minute is in the future: not counted.
        e.app_stat("path", "jupyter", minute + MIN + chrono::Duration::seconds(5), minute + MIN * 3);
        e.rollup();
        let rows = e.rows();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let apps = rows[0].app_usage_mins.clone().unwrap();
        assert_eq!(apps, BTreeMap::from([("code-server".to_owned(), 1)]), "minute 12:34 only, clamped to now");
    }
}
