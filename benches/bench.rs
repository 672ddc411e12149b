//! The benchmark harness (SPEC §12): `cargo bench [-- FILTER...]` prints one JSON line per
//! figure, `{"figure", "value", "unit", "target", ...}`. Figures are measured, never asserted:
//! targets are checked by reading this output on the 2-core reference machine.
//!
//! PostgreSQL figures (SPEC §15) run when `CODERLITE_BENCH_POSTGRES_URL` names a server
//! whose user may create databases, e.g. under scripts/with-postgres:
//! `scripts/with-postgres sh -c 'CODERLITE_BENCH_POSTGRES_URL=$CODERLITE_TEST_POSTGRES_URL cargo bench -- postgres'`.

use std::alloc::GlobalAlloc;
use std::alloc::Layout;
use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicIsize;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;
use std::time::Instant;

use chrono::DurationRound;
use coderlite::boundaryusage::Tracker;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::clock::RealClock;
use coderlite::database::AnyStore;
use coderlite::database::Engine;
use coderlite::database::Location;
use coderlite::database::TxOptions;
use coderlite::database::in_tx;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::models::WorkspaceAgentStat;
use coderlite::database::models::WorkspaceAppStat;
use coderlite::database::prelude::*;
use coderlite::database::sqlite::SqliteStore;
use coderlite::database::sqlite::StoreConfig;
use coderlite::database::sqlite::Synchronous;
use coderlite::database::sqlite::statements_executed;
use coderlite::prebuilds::reconciler::CycleMemory;
use coderlite::prebuilds::reconciler::ReconcilerConfig;
use coderlite::prebuilds::reconciler::reconcile_once;
use coderlite::prebuilds::reconciler::reconcile_once_cached;
use coderlite::rollup;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;
use serde_json::json;
use uuid::Uuid;

/// The system allocator, counting the Rust heap while `HEAP_COUNTING` is on (SQLite's own
/// allocations go through its malloc and are not counted): what one rollup run holds at its
/// peak. Off, an allocation costs one relaxed load more.
struct CountingAlloc;

static HEAP_COUNTING: AtomicBool = AtomicBool::new(false);
static HEAP_BYTES: AtomicIsize = AtomicIsize::new(0);
static HEAP_PEAK: AtomicIsize = AtomicIsize::new(0);

fn count_heap(delta: isize) {
    if HEAP_COUNTING.load(Ordering::Relaxed) {
        let now = HEAP_BYTES.fetch_add(delta, Ordering::Relaxed) + delta;
        HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count_heap(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count_heap(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count_heap(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the Rust heap's peak above where it started, in MiB
/// (allocations made and freed inside `f` only; single-threaded callers).
fn with_heap_peak<T>(f: impl FnOnce() -> T) -> (T, f64) {
    HEAP_BYTES.store(0, Ordering::Relaxed);
    HEAP_PEAK.store(0, Ordering::Relaxed);
    HEAP_COUNTING.store(true, Ordering::Relaxed);
    let out = f();
    HEAP_COUNTING.store(false, Ordering::Relaxed);
    let peak = HEAP_PEAK.load(Ordering::Relaxed).max(0) as f64 / (1024.0 * 1024.0);
    (out, (peak * 100.0).round() / 100.0)
}

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));

    for synchronous in [Synchronous::Normal, Synchronous::Full] {
        for threads in [1, 4] {
            if wanted(&format!("lock_upsert/{}/{threads}", sync_name(synchronous))) {
                lock_protected_upsert(synchronous, threads);
            }
        }
    }
    if wanted("testdb") {
        testdb_creation(&TestEngine::Sqlite);
    }
    if wanted("setup_process") {
        setup_process();
    }
    if wanted("rollup") {
        rollup_runs(&TestEngine::Sqlite);
    }
    if wanted("reconcile") {
        reconcile_noop(&TestEngine::Sqlite);
        reconcile_create();
    }
    if let Some(url) = std::env::var("CODERLITE_BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty()) {
        let pg = TestEngine::Postgres { url };
        for threads in [1, 4] {
            if wanted(&format!("postgres/lock_upsert/{threads}")) {
                postgres_lock_upsert(&pg, threads);
            }
        }
        if wanted("postgres/testdb") {
            testdb_creation(&pg);
        }
        if wanted("postgres/reconcile") {
            reconcile_noop(&pg);
        }
        if wanted("postgres/rollup") {
            rollup_runs(&pg);
        }
    }
    if wanted("api") {
        api_latency();
    }
    if wanted("purge") {
        purge_old_agent_stats();
    }
    if wanted("backup") {
        backup_under_writes();
    }
    if wanted("soak") {
        demo_soak();
    }
    if wanted("ephemeral_start") {
        ephemeral_start();
    }
    if wanted("server_idle_rss") {
        server_idle_rss(false);
        server_idle_rss(true);
    }
}

/// Resident memory of an idle `server` (fresh file; with `demo`, the demo loaded and its
/// prebuilds settled), read from /proc after 5 s of running.
fn server_idle_rss(demo: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"));
    cmd.arg("--db").arg(dir.path().join("idle.db")).arg("server");
    if demo {
        cmd.arg("--demo");
    }
    let mut child = cmd.stderr(std::process::Stdio::null()).spawn().unwrap();
    thread::sleep(Duration::from_secs(5));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let rss_kib: Option<u64> = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "server exited with {exit}");
    emit(json!({
        "figure": if demo { "server_idle_rss_demo" } else { "server_idle_rss" },
        "value": rss_kib.map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0),
        "unit": "MiB",
        "target": "<= 30",
    }));
}

/// 50 `server --ephemeral` processes started and stopped one after another: the time from
/// spawn to the ready line (whole process: exec, migrate a fresh SQLite file, owner, token,
/// listen), then stdin closed and the exit awaited.
fn ephemeral_start() {
    let mut ready_ms = Vec::new();
    let mut stop_ms = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let server = coderlite::testing::TestServer::builder(env!("CARGO_BIN_EXE_coderlite")).start().unwrap();
        ready_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let stopping = Instant::now();
        assert!(server.stop().unwrap().success());
        stop_ms.push(stopping.elapsed().as_secs_f64() * 1000.0);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2] * 10.0).round() / 10.0
    };
    emit(json!({
        "figure": "ephemeral_start_to_ready_sqlite",
        "value": median(&mut ready_ms),
        "p99": (ready_ms[ready_ms.len() - 1] * 10.0).round() / 10.0,
        "unit": "ms",
        "target": "<= 50",
    }));
    emit(json!({ "figure": "ephemeral_stop", "value": median(&mut stop_ms), "unit": "ms" }));
}

/// 4 clients calling `url` for 10 s; `done` reads an answer and says whether it is the one
/// expected. Answers every call's time in ms and the count of failed calls.
fn load_clients(
    url: &str,
    token: &str,
    done: impl Fn(ureq::http::Response<ureq::Body>) -> bool + Send + Sync + Copy + 'static,
) -> (Vec<f64>, u64) {
    let run_for = Duration::from_secs(10);
    let started = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (url, token) = (url.to_owned(), token.to_owned());
            thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let (mut samples, mut errors) = (Vec::new(), 0u64);
                while started.elapsed() < run_for {
                    let t = Instant::now();
                    match agent.get(&url).header("Coder-Session-Token", &token).call().map(done) {
                        Ok(true) => samples.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => errors += 1,
                    }
                }
                (samples, errors)
            })
        })
        .collect();
    let (mut samples, mut errors) = (Vec::new(), 0);
    for c in clients {
        let (s, e) = c.join().unwrap();
        samples.extend(s);
        errors += e;
    }
    (samples, errors)
}

/// (p50, p99) of `samples`, rounded to 0.01.
fn p50_p99(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples.get(((samples.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(f64::NAN);
    ((pct(0.5) * 100.0).round() / 100.0, (pct(0.99) * 100.0).round() / 100.0)
}

fn sync_name(synchronous: Synchronous) -> &'static str {
    match synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    }
}

fn emit(value: serde_json::Value) {
    println!("{value}");
}

/// The boundary flush path, for ~2 s: each iteration tracks one request and flushes it, i.e.
/// one write transaction taking lock 9 (lock row), upserting the replica's row, releasing.
/// Each thread is its own tracker and replica.
fn lock_protected_upsert(synchronous: Synchronous, threads: usize) {
    let db = TestDb::with_config(|path| {
        let mut config = StoreConfig::new(path, Arc::new(RealClock), "bench");
        config.synchronous = synchronous;
        config
    })
    .unwrap();
    let run_for = Duration::from_secs(2);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let store = db.store.clone();
            thread::spawn(move || {
                let replica_id = format!("bench-{t}");
                let tracker = Tracker::new();
                let (workspace, user) = (Uuid::new_v4(), Uuid::new_v4());
                let mut n: u64 = 0;
                while started.elapsed() < run_for {
                    tracker.track(workspace, user, 1, 0);
                    tracker.flush(&store, &replica_id).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let secs = started.elapsed().as_secs_f64();
    let sync = sync_name(synchronous);
    let target = match (synchronous, threads) {
        (Synchronous::Normal, 1) => ">= 40000",
        (Synchronous::Normal, _) => ">= 0.9 x the 1-thread figure",
        (Synchronous::Full, _) => ">= 3400 (2 x PostgreSQL advisory lock)",
    };
    emit(json!({
        "figure": "lock_protected_boundary_upsert",
        "synchronous": sync,
        "threads": threads,
        "value": (total as f64 / secs).round(),
        "unit": "tx/s",
        "target": target,
    }));
}

/// The rollup's first run over 1,000,000 agent stats and 200,000 app sessions (a week of 50
/// workspaces), then a steady-state run after 5 new minutes of data.
fn rollup_runs(engine: &TestEngine) {
    let start = chrono::DateTime::parse_from_rfc3339("2024-06-08T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let clock = MockClock::new(start);
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    let templates: Vec<_> = (0..5).map(|_| fixtures::template(&db.store).build().unwrap()).collect();
    let workspaces: Vec<_> = (0..50)
        .map(|i| {
            let built = fixtures::workspace(&db.store, &templates[i % 5].template).build().unwrap();
            (built.workspace, built.agent_id.unwrap())
        })
        .collect();
    let week_secs = 7 * 24 * 3600;
    let agent = |i: usize, at: chrono::DateTime<chrono::Utc>| {
        let (ws, agent_id) = &workspaces[i % 50];
        WorkspaceAgentStat {
            id: Uuid::new_v4().to_string(),
            created_at: at,
            user_id: ws.owner_id.clone(),
            agent_id: agent_id.clone(),
            workspace_id: ws.id.clone(),
            template_id: ws.template_id.clone(),
            connection_count: 1,
            connection_median_latency_ms: 5.0 + (i % 40) as f64,
            rx_bytes: 0,
            tx_bytes: 0,
            session_count_vscode: i.is_multiple_of(3) as i64,
            session_count_jetbrains: i.is_multiple_of(5) as i64,
            session_count_reconnecting_pty: i.is_multiple_of(7) as i64,
            session_count_ssh: 1,
        }
    };
    let app = |i: usize, at: chrono::DateTime<chrono::Utc>| {
        let (ws, agent_id) = &workspaces[i % 50];
        WorkspaceAppStat {
            user_id: ws.owner_id.clone(),
            workspace_id: ws.id.clone(),
            agent_id: agent_id.clone(),
            access_method: if i.is_multiple_of(4) { "terminal".into() } else { "path".into() },
            slug_or_port: ["code-server", "jupyter", "8080"][i % 3].into(),
            session_id: Uuid::new_v4().to_string(),
            session_started_at: at,
            session_ended_at: at + chrono::Duration::minutes(1 + (i % 20) as i64),
            requests: 1,
        }
    };
    let first = start - chrono::Duration::seconds(week_secs);
    for chunk in 0..20 {
        let rows: Vec<_> = (chunk * 50_000..(chunk + 1) * 50_000)
            .map(|i| agent(i, first + chrono::Duration::milliseconds((i as i64) * week_secs * 1000 / 1_000_000)))
            .collect();
        db.store.insert_workspace_agent_stats(&rows).unwrap();
    }
    for chunk in 0..4 {
        let rows: Vec<_> = (chunk * 50_000..(chunk + 1) * 50_000)
            .map(|i| app(i, first + chrono::Duration::milliseconds((i as i64) * week_secs * 1000 / 200_000)))
            .collect();
        db.store.insert_workspace_app_stats(&rows).unwrap();
    }
    let (outcome, heap_peak_mib) = with_heap_peak(|| rollup::run_once(&db.store, "bench/rollup").unwrap());
    emit(json!({
        "figure": "rollup_first_run",
        "engine": engine.engine().as_str(),
        "agent_stats": 1_000_000,
        "app_stats": 200_000,
        "rows_written": outcome.rows_written,
        "rust_heap_peak_mib": heap_peak_mib,
        "value": (outcome.took.as_secs_f64() * 1000.0).round(),
        "unit": "ms",
        "target": if engine.engine() == Engine::Sqlite { "<= 5000" } else { "<= 10000" },
    }));
    // Five new minutes of data at the same density, then the steady-state run.
    clock.advance(std::time::Duration::from_secs(300));
    let per_minute = 1_000_000 / (7 * 24 * 60);
    let agents: Vec<_> = (0..per_minute * 5)
        .map(|i| agent(i, start + chrono::Duration::seconds((i * 300 / (per_minute * 5)) as i64)))
        .collect();
    db.store.insert_workspace_agent_stats(&agents).unwrap();
    let apps: Vec<_> = (0..100).map(|i| app(i, start + chrono::Duration::seconds(i as i64 * 3))).collect();
    db.store.insert_workspace_app_stats(&apps).unwrap();
    let (outcome, heap_peak_mib) = with_heap_peak(|| rollup::run_once(&db.store, "bench/rollup").unwrap());
    emit(json!({
        "figure": "rollup_steady_state",
        "engine": engine.engine().as_str(),
        "new_agent_stats": agents.len(),
        "rows_written": outcome.rows_written,
        "rust_heap_peak_mib": heap_peak_mib,
        "value": (outcome.took.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
        "unit": "ms",
        "target": "<= 50",
    }));
}

/// A settled reconcile cycle over 10,000 presets in 100 organizations with 20,000 running
/// prebuilds (median of 5), and on SQLite its statement count. PostgreSQL keeps no snapshot
/// cache: every cycle there is uncached.
fn reconcile_noop(engine: &TestEngine) {
    let db = TestDb::on(engine).unwrap();
    in_tx(&db.store, TxOptions::write("bench data"), |tx| {
        for o in 0..100 {
            let org = fixtures::organization(tx).name(&format!("org-{o}")).build()?;
            let t = fixtures::template(tx).org(&org).build()?;
            for p in 0..100 {
                let preset = fixtures::preset(tx, &t.version).name(&format!("p{p}")).desired_instances(2).build()?;
                for _ in 0..2 {
                    fixtures::workspace(tx, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&preset).build()?;
                }
            }
        }
        Ok::<_, coderlite::database::Error>(())
    })
    .unwrap();
    if let TestEngine::Postgres { url } = engine {
        // A running install has autovacuum's statistics; a bulk load a moment ago has none.
        db.execute_sql("ANALYZE").unwrap();
        // BENCH_KEEP_DB=NAME keeps a copy of the loaded database as NAME, for query-plan work.
        if let Ok(keep) = std::env::var("BENCH_KEEP_DB") {
            let Location::Postgres(test_url) = db.location() else { unreachable!() };
            let name = test_url.rsplit('/').next().unwrap().to_owned();
            let admin = Location::Postgres(url.clone());
            coderlite::testing::execute_sql(
                &admin,
                &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
            )
            .unwrap();
            coderlite::testing::execute_sql(&admin, &format!("CREATE DATABASE {keep} TEMPLATE {name}")).unwrap();
            eprintln!("kept the loaded database as {keep}");
            return;
        }
    }
    let store: AnyStore = match engine {
        TestEngine::Sqlite => {
            let mut config = db.config();
            config.count_statements = true;
            SqliteStore::open(config).unwrap().into()
        }
        TestEngine::Postgres { .. } => db.store.clone(),
    };
    let rc = ReconcilerConfig::new(Duration::from_secs(60));
    let first = reconcile_once(&store, "bench/reconcile", &rc).unwrap();
    assert_eq!(first.created + first.deleted, 0);
    // BENCH_KEEP_DB=PATH keeps a copy of the settled SQLite database, for query-plan work.
    if let (Ok(keep), TestEngine::Sqlite) = (std::env::var("BENCH_KEEP_DB"), engine) {
        std::fs::copy(db.path(), keep).unwrap();
    }
    // The run loop's way (its snapshot cache warm from the previous cycle), then a cycle
    // that reads the whole snapshot (cold: what any cycle after a change costs).
    let cache = CycleMemory::new();
    reconcile_once_cached(&store, "bench/reconcile", &rc, Some(&cache)).unwrap();
    let figures: &[(&str, bool)] = match engine {
        TestEngine::Sqlite => &[("reconcile_noop_cycle", true), ("reconcile_noop_cycle_uncached", false)],
        TestEngine::Postgres { .. } => &[("reconcile_noop_cycle_uncached", false)],
    };
    for &(figure, cached) in figures {
        let mut samples = Vec::new();
        let mut statements = 0;
        for _ in 0..5 {
            let before = statements_executed();
            let started = Instant::now();
            let r = reconcile_once_cached(&store, "bench/reconcile", &rc, cached.then_some(&cache)).unwrap();
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            statements = statements_executed() - before;
            assert!(r.acquired && r.created + r.deleted == 0);
        }
        samples.sort_by(f64::total_cmp);
        emit(json!({
            "figure": figure,
            "engine": engine.engine().as_str(),
            "presets": 10_000,
            "organizations": 100,
            "running_prebuilds": 20_000,
            "statements": (engine.engine() == Engine::Sqlite).then_some(statements),
            "value": (samples[2] * 10.0).round() / 10.0,
            "unit": "ms (median of 5)",
            "target": if engine.engine() == Engine::Sqlite { "<= 100" } else { "<= 1000" },
        }));
    }
}

/// One reconcile cycle creating 1,000 prebuilds (10 presets wanting 100 each).
fn reconcile_create() {
    let db = TestDb::new().unwrap();
    let t = fixtures::template(&db.store).build().unwrap();
    for p in 0..10 {
        fixtures::preset(&db.store, &t.version).name(&format!("p{p}")).desired_instances(100).build().unwrap();
    }
    let rc = ReconcilerConfig::new(Duration::from_secs(60));
    let started = Instant::now();
    let r = reconcile_once(&db.store, "bench/reconcile", &rc).unwrap();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(r.created, 1000);
    emit(json!({
        "figure": "reconcile_create_1000",
        "created": r.created,
        "value": ms.round(),
        "unit": "ms",
        "target": "<= 1000",
    }));
}

/// Median of a whole `coderlite setup` process on a fresh file (create, migrate, deployment
/// setup, print, exit), over 30 runs.
fn setup_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples: Vec<f64> = (0..30)
        .map(|i| {
            let path = dir.path().join(format!("setup-{i}.db"));
            let started = Instant::now();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
                .arg("--db")
                .arg(&path)
                .arg("setup")
                .output()
                .unwrap();
            assert!(out.status.success());
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    emit(json!({
        "figure": "setup_process_fresh_file",
        "value": (samples[samples.len() / 2] * 100.0).round() / 100.0,
        "unit": "ms (median)",
        "target": "<= 50",
    }));
}

/// Median and p90 of a fresh `TestDb` over 200 creations (after the per-process template;
/// on PostgreSQL, the drop of each database is outside the timing).
fn testdb_creation(engine: &TestEngine) {
    drop(TestDb::on(engine).unwrap());
    let mut samples: Vec<f64> = (0..200)
        .map(|_| {
            let started = Instant::now();
            let db = TestDb::on(engine).unwrap();
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            drop(db);
            ms
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    emit(json!({
        "figure": "testdb_create",
        "engine": engine.engine().as_str(),
        "value": (samples[samples.len() / 2] * 1000.0).round() / 1000.0,
        "p90": (samples[samples.len() * 9 / 10] * 1000.0).round() / 1000.0,
        "unit": "ms (median)",
        "target": if engine.engine() == Engine::Sqlite { "<= 5" } else { "<= 100" },
    }));
}

/// PostgreSQL: the boundary flush path (as `lock_protected_upsert`) against a raw loop of
/// `BEGIN; SELECT pg_advisory_xact_lock(9); upsert; COMMIT` at READ COMMITTED on plain
/// connections, the same thread count, in the same run: five rounds of 1 s each, the two
/// alternating, so drift of the machine or the server hits both alike.
fn postgres_lock_upsert(engine: &TestEngine, threads: usize) {
    let db = TestDb::on(engine).unwrap();
    let Location::Postgres(url) = db.location() else { unreachable!("a PostgreSQL test database") };
    let round = Duration::from_secs(1);
    let stores: Vec<AnyStore> = (0..threads).map(|t| db.open_another(&format!("bench-{t}")).unwrap()).collect();
    let mut clients: Vec<Option<postgres::Client>> =
        (0..threads).map(|_| Some(postgres::Client::connect(&url, postgres::NoTls).unwrap())).collect();
    let (mut ours, mut raw) = ((0u64, 0.0f64), (0u64, 0.0f64));
    for _ in 0..5 {
        let started = Instant::now();
        let workers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(t, store)| {
                let store = store.clone();
                thread::spawn(move || {
                    let replica_id = format!("bench-{t}");
                    let tracker = Tracker::new();
                    let (workspace, user) = (Uuid::new_v4(), Uuid::new_v4());
                    let mut n: u64 = 0;
                    while started.elapsed() < round {
                        tracker.track(workspace, user, 1, 0);
                        tracker.flush(&store, &replica_id).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        ours.0 += workers.into_iter().map(|w| w.join().unwrap()).sum::<u64>();
        ours.1 += started.elapsed().as_secs_f64();

        let started = Instant::now();
        let workers: Vec<_> = clients
            .iter_mut()
            .enumerate()
            .map(|(t, slot)| {
                let mut client = slot.take().unwrap();
                thread::spawn(move || {
                    let replica_id = format!("raw-{t}");
                    let lock = client.prepare("SELECT pg_advisory_xact_lock(9)").unwrap();
                    let upsert = client
                        .prepare(
                            "INSERT INTO boundary_usage_stats AS s (replica_id, unique_workspaces_count,
                                 unique_users_count, allowed_requests, denied_requests, window_start, updated_at)
                             VALUES ($1, 1, 1, 1, 0, now(), now())
                             ON CONFLICT (replica_id) DO UPDATE SET
                                 unique_workspaces_count = 1, unique_users_count = 1,
                                 allowed_requests = s.allowed_requests + excluded.allowed_requests,
                                 denied_requests = s.denied_requests + excluded.denied_requests,
                                 updated_at = excluded.updated_at",
                        )
                        .unwrap();
                    let mut n: u64 = 0;
                    while started.elapsed() < round {
                        let mut tx = client.transaction().unwrap();
                        tx.execute(&lock, &[]).unwrap();
                        tx.execute(&upsert, &[&replica_id]).unwrap();
                        tx.commit().unwrap();
                        n += 1;
                    }
                    (n, client)
                })
            })
            .collect();
        for (slot, worker) in clients.iter_mut().zip(workers) {
            let (n, client) = worker.join().unwrap();
            raw.0 += n;
            *slot = Some(client);
        }
        raw.1 += started.elapsed().as_secs_f64();
    }
    let (ours, raw) = (ours.0 as f64 / ours.1, raw.0 as f64 / raw.1);
    emit(json!({
        "figure": "lock_protected_boundary_upsert",
        "engine": "postgres",
        "threads": threads,
        "value": ours.round(),
        "raw_advisory_lock_loop": raw.round(),
        "ratio": (ours / raw * 100.0).round() / 100.0,
        "unit": "tx/s",
        "target": ">= 0.9 x the raw loop",
    }));
}

/// The HTTP API under load (SPEC §16): a server (reconciler and rollup every 10 s, the
/// provisioner running) on a SQLite file with 20,000 workspaces of 100 users and a week of
/// usage over 100 templates; 4 concurrent clients for 10 s on each of `GET
/// /api/v2/workspaces?limit=25` and `GET /api/v2/insights/templates` (a week). Reports p50
/// and p99 latency and the number of errors.
fn api_latency() {
    let start = chrono::Utc::now();
    let db = TestDb::new().unwrap();
    in_tx(&db.store, TxOptions::write("bench data"), |tx| {
        let users: Vec<_> =
            (0..100).map(|i| fixtures::user(tx).username(&format!("user-{i}")).build()).collect::<Result<_, _>>()?;
        let templates: Vec<_> =
            (0..100).map(|i| fixtures::template(tx).name(&format!("tpl-{i}")).build()).collect::<Result<_, _>>()?;
        for (n, user) in (0..20_000).map(|n| (n, &users[n % 100])) {
            fixtures::workspace(tx, &templates[n % 100].template).owner(&user.id).name(&format!("ws-{n}")).build()?;
        }
        let today = start.duration_trunc(chrono::Duration::days(1)).unwrap();
        let mut rows = Vec::new();
        for day in 1..=7 {
            for half_hour in (0..48).step_by(4) {
                let at = today - chrono::Duration::days(day) + chrono::Duration::minutes(30 * half_hour);
                for (i, t) in templates.iter().enumerate() {
                    rows.push(coderlite::database::models::TemplateUsageStat {
                        start_time: at,
                        end_time: at + chrono::Duration::minutes(30),
                        template_id: t.template.id.clone(),
                        user_id: users[i % 100].id.clone(),
                        median_latency_ms: Some(20.0),
                        usage_mins: 10,
                        ssh_mins: 5,
                        sftp_mins: 0,
                        reconnecting_pty_mins: 2,
                        vscode_mins: 3,
                        jetbrains_mins: 0,
                        app_usage_mins: None,
                    });
                }
            }
        }
        tx.upsert_template_usage_stats(&rows)?;
        Ok::<_, coderlite::database::Error>(())
    })
    .unwrap();
    let owner = fixtures::user(&db.store).username("bench-owner").roles(&["owner".to_owned()]).build().unwrap();
    let db_path = db.path();
    // BENCH_KEEP_DB=PATH keeps a copy of the loaded database, for query-plan work.
    if let Ok(keep) = std::env::var("BENCH_KEEP_DB") {
        db.sqlite().vacuum_into(std::path::Path::new(&keep)).unwrap();
        return;
    }
    let token = {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
            .arg("--db")
            .arg(&db_path)
            .args(["tokens", "create", "--user", &owner.username])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .arg("--db")
        .arg(&db_path)
        .args(["--log-format", "json", "server", "--http-address", "127.0.0.1:0"])
        .args(["--reconcile-interval", "10s", "--rollup-interval", "10s", "--provisioner-delay", "1s"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = server_address(&mut child);
    let today = start.date_naive();
    let insights = format!(
        "/api/v2/insights/templates?start_time={}T00:00:00Z&end_time={today}T00:00:00Z",
        today - chrono::Duration::days(7)
    );
    // An insights range of two thousand years: refused (400) before any work.
    let centuries =
        "/api/v2/insights/templates?start_time=0002-01-01T00:00:00Z&end_time=2026-12-04T00:00:00Z&interval=day"
            .to_owned();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let first: serde_json::Value = serde_json::from_str(
        &agent
            .get(format!("http://{addr}/api/v2/workspaces?limit=1"))
            .header("Coder-Session-Token", &token)
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let workspace_id = first["workspaces"][0]["id"].as_str().unwrap().to_owned();
    for (figure, path, expected) in [
        ("api_workspace_builds_list", format!("/api/v2/workspaces/{workspace_id}/builds"), 200),
        ("api_workspaces_list", "/api/v2/workspaces?limit=25".to_owned(), 200),
        ("api_insights_templates", insights, 200),
        ("api_insights_range_refused", centuries, 400),
    ] {
        let (samples, errors) = load_clients(&format!("http://{addr}{path}"), &token, move |mut res| {
            let ok = res.status() == expected;
            let _ = res.body_mut().read_to_vec();
            ok
        });
        let (p50, p99) = p50_p99(samples.clone());
        emit(json!({
            "figure": figure,
            "workspaces": 20_000,
            "templates": 100,
            "clients": 4,
            "requests": samples.len(),
            "errors": errors,
            "value": p99,
            "p50": p50,
            "unit": "ms (p99)",
            "target": if expected == 200 { "p99 <= 20 on SQLite, no errors" } else { "p99 <= 50, no errors" },
        }));
    }
    // The watch stream: connect, read the first `data` event (the workspace), close.
    let (samples, errors) =
        load_clients(&format!("http://{addr}/api/v2/workspaces/{workspace_id}/watch"), &token, |res| {
            use std::io::BufRead;
            let lines = std::io::BufReader::new(res.into_body().into_reader()).lines();
            lines.map_while(Result::ok).any(|l| l.starts_with("data: "))
        });
    let (p50, p99) = p50_p99(samples.clone());
    emit(json!({
        "figure": "api_workspace_watch_first_event",
        "workspaces": 20_000,
        "clients": 4,
        "streams": samples.len(),
        "errors": errors,
        "value": p99,
        "p50": p50,
        "unit": "ms (p99, connect to the first data event)",
    }));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let peak_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    emit(json!({
        "figure": "api_server_peak_rss",
        "value": peak_kib / 1024,
        "unit": "MiB (VmHWM after the three loads above)",
        "target": "< 100",
    }));
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// One purge run over 1,000,000 agent stats older than the 180-day retention (no rollup yet),
/// all inside one four-hour window so a single run takes them all: total time, write
/// transactions, and the longest of them.
fn purge_old_agent_stats() {
    let now = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let clock = MockClock::new(now);
    let db = TestDb::create(&TestEngine::Sqlite, Arc::new(clock)).unwrap();
    let t = fixtures::template(&db.store).build().unwrap();
    let built = fixtures::workspace(&db.store, &t.template).build().unwrap();
    let (ws, agent_id) = (built.workspace, built.agent_id.unwrap());
    let old = now - chrono::Duration::days(200);
    const TOTAL: usize = 1_000_000;
    for chunk in 0..TOTAL / 10_000 {
        let rows: Vec<WorkspaceAgentStat> = (0..10_000)
            .map(|i| WorkspaceAgentStat {
                id: Uuid::new_v4().to_string(),
                created_at: old + chrono::Duration::milliseconds(((chunk * 10_000 + i) * 14) as i64),
                user_id: ws.owner_id.clone(),
                agent_id: agent_id.clone(),
                workspace_id: ws.id.clone(),
                template_id: ws.template_id.clone(),
                connection_count: 1,
                connection_median_latency_ms: 12.0,
                rx_bytes: 100,
                tx_bytes: 100,
                session_count_vscode: 1,
                session_count_jetbrains: 0,
                session_count_reconnecting_pty: 0,
                session_count_ssh: 0,
            })
            .collect();
        db.store.insert_workspace_agent_stats(&rows).unwrap();
    }
    let report = coderlite::purge::purge_once(&db.store, "bench/purge", &coderlite::purge::PurgeConfig::default())
        .unwrap()
        .expect("the purge lease is free");
    let deleted = report.rows(coderlite::database::models::PurgeTarget::AgentStats);
    assert_eq!(deleted, TOTAL as u64, "one run takes the whole window");
    emit(json!({
        "figure": "purge_1m_agent_stats",
        "rows": deleted,
        "transactions": report.transactions,
        "value": (report.took.as_secs_f64() * 100.0).round() / 100.0,
        "unit": "s",
        "longest_transaction_ms": (report.longest_transaction.as_secs_f64() * 10_000.0).round() / 10.0,
        "target": "no long write transaction (each <= a few thousand rows)",
    }));
}

/// `db backup` (its own process, as an operator runs it) of a ~1 GB database while this
/// process keeps writing small transactions: the backup's time and the longest a write
/// waited meanwhile.
fn backup_under_writes() {
    let db = TestDb::on(&TestEngine::Sqlite).unwrap();
    let user = fixtures::user(&db.store).build().unwrap();
    // 100,000 notification messages of ~10 KB each, written by SQLite itself.
    coderlite::testing::execute_sql(
        &db.location(),
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
             INSERT INTO notification_messages (id, notification_template_id, user_id, payload, created_by, created_at, updated_at)
             SELECT printf('bench-%d', i), 'bench', '{}', json_object('pad', hex(randomblob(5000))), 'bench', 0, 0 FROM n",
            user.id
        ),
    )
    .unwrap();
    coderlite::testing::execute_sql(&db.location(), "PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    let db_bytes = std::fs::metadata(db.path()).unwrap().len();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup.db");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, done, user_id) = (db.store.clone(), done.clone(), user.id.clone());
        thread::spawn(move || {
            let (mut writes, mut longest) = (0u64, Duration::ZERO);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let t = Instant::now();
                let id = Uuid::new_v4().to_string();
                store
                    .insert_notification_message(&coderlite::database::models::InsertNotificationMessage {
                        id: &id,
                        notification_template_id: "bench",
                        user_id: &user_id,
                        payload: &json!({}),
                        created_at: RealClock.now(),
                    })
                    .unwrap();
                longest = longest.max(t.elapsed());
                writes += 1;
                thread::sleep(Duration::from_millis(5));
            }
            (writes, longest)
        })
    };
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .arg("--db")
        .arg(db.path())
        .args(["-o", "json", "db", "backup"])
        .arg(&dest)
        .output()
        .unwrap();
    let took = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (writes, longest) = writer.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    emit(json!({
        "figure": "backup_1gb",
        "database_mib": db_bytes / (1024 * 1024),
        "backup_mib": std::fs::metadata(&dest).unwrap().len() / (1024 * 1024),
        "value": (took.as_secs_f64() * 100.0).round() / 100.0,
        "unit": "s (VACUUM INTO, integrity check, rename)",
        "writes_meanwhile": writes,
        "longest_write_ms": (longest.as_secs_f64() * 10_000.0).round() / 10.0,
        "target": "writers never stall behind the backup",
    }));
}

/// The demo with fast intervals (and the purge every 30 s) for BENCH_SOAK_SECS (600): the
/// `-wal` file's size and the server's RSS, sampled every 10 s.
fn demo_soak() {
    let secs: u64 = std::env::var("BENCH_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(600);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("soak.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .arg("--db")
        .arg(&path)
        .args(["--log-format", "json", "server", "--demo", "--http-address", "127.0.0.1:0"])
        .args(["--reconcile-interval", "300ms", "--provisioner-delay", "100ms"])
        .args(["--rollup-interval", "1s", "--boundary-flush-interval", "200ms", "--telemetry-interval", "1s"])
        .args(["--agent-stats-interval", "200ms", "--purge-interval", "30s"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = server_address(&mut child);
    // SQLite's own heap (page caches fill as the file grows) beside the process's RSS.
    let sqlite_mib = || -> f64 {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let text = agent
            .get(&format!("http://{addr}/metrics"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        let bytes: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("coderlite_sqlite_memory_bytes "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN);
        (bytes / (1024.0 * 1024.0) * 10.0).round() / 10.0
    };
    let mut wal_path = path.clone().into_os_string();
    wal_path.push("-wal");
    let rss_mib = |pid: u32| -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        (kib / 1024.0 * 10.0).round() / 10.0
    };
    let mut samples = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        thread::sleep(Duration::from_secs(10));
        let wal = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
        samples.push((started.elapsed().as_secs(), wal, rss_mib(child.id()), sqlite_mib()));
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "server exited with {exit}");
    let db_mib = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0);
    let max_wal = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let rss: Vec<f64> = samples.iter().map(|s| s.2).collect();
    emit(json!({
        "figure": "demo_soak",
        "seconds": secs,
        "value": (max_wal as f64 / (1024.0 * 1024.0) * 100.0).round() / 100.0,
        "unit": "MiB (largest -wal sampled)",
        "database_mib": (db_mib * 10.0).round() / 10.0,
        "rss_mib_first": rss.first(),
        "rss_mib_at_half": rss.get(rss.len() / 2),
        "rss_mib_last": rss.last(),
        "rss_mib_max": rss.iter().copied().fold(f64::NAN, f64::max),
        "sqlite_heap_mib_first": samples.first().map(|s| s.3),
        "sqlite_heap_mib_last": samples.last().map(|s| s.3),
        "samples_seconds_wal_bytes_rss_mib_sqlite_heap_mib": samples.iter().map(|(t, w, r, q)| json!([t, w, r, q])).collect::<Vec<_>>(),
        "target": "WAL bounded, RSS flat",
    }));
}

/// The HTTP address a `server --log-format json --http-address 127.0.0.1:0` child logged at
/// start; its log is drained from then on.
fn server_address(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("server log").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["fields"]["message"] == "coderlite server started" {
            break v["fields"]["http_address"].as_str().unwrap().to_owned();
        }
    };
    thread::spawn(move || for _ in lines {});
    addr
}
