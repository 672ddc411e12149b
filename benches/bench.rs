//! The benchmark harness (SPEC §12): `cargo bench [-- FILTER...]` prints one JSON line per
//! figure, `{"figure", "value", "unit", "target", ...}`. Figures are measured, never asserted:
//! targets are checked by reading this output on the 2-core reference machine.

use std::sync::Arc;
use std::thread;
use std::time::Duration;
use std::time::Instant;

use coderlite::boundaryusage::Tracker;
use coderlite::clock::RealClock;
use coderlite::database::sqlite::SqliteStore;
use coderlite::database::sqlite::StoreConfig;
use coderlite::database::sqlite::Synchronous;
use coderlite::testing::TestDb;
use serde_json::json;
use uuid::Uuid;

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
        testdb_creation();
    }
    if wanted("setup_process") {
        setup_process();
    }
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
            let store: SqliteStore = db.store.clone();
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

/// Median and p90 of `TestDb::new()` over 200 creations (after the per-process template).
fn testdb_creation() {
    drop(TestDb::new().unwrap());
    let mut samples: Vec<f64> = (0..200)
        .map(|_| {
            let started = Instant::now();
            let db = TestDb::new().unwrap();
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            drop(db);
            ms
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    emit(json!({
        "figure": "testdb_create",
        "value": (samples[samples.len() / 2] * 1000.0).round() / 1000.0,
        "p90": (samples[samples.len() * 9 / 10] * 1000.0).round() / 1000.0,
        "unit": "ms (median)",
        "target": "<= 5",
    }));
}
