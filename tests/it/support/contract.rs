//! The contract harness: one test body, run on both engines. `contract_tests!` turns each
//! `fn name(engine) { … }` into `name::sqlite` and `name::postgres`; the body gets `engine:
//! &TestEngine` and creates its databases with `TestDb::create(engine, …)`.
//!
//! This is the only reader of `CODERLITE_TEST_POSTGRES_URL`. Without it the PostgreSQL half
//! passes as a no-op and one line per `cargo test` run says it was skipped and why; with
//! `CODERLITE_TEST_POSTGRES_REQUIRED=1`, a missing or unreachable server fails the tests.

use std::io::Write;
use std::sync::OnceLock;

use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;

/// The PostgreSQL engine of this run, or `None` when the PostgreSQL half is skipped.
pub fn postgres() -> Option<TestEngine> {
    static ENGINE: OnceLock<Result<TestEngine, String>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let url = std::env::var("CODERLITE_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| "CODERLITE_TEST_POSTGRES_URL is not set (run under scripts/with-postgres)".to_owned())?;
        // One database proves the server is reachable and builds the template.
        TestDb::postgres(&url).map_err(|e| format!("CODERLITE_TEST_POSTGRES_URL: {e}"))?;
        Ok(TestEngine::Postgres { url })
    });
    match engine {
        Ok(engine) => Some(engine.clone()),
        Err(why) => {
            if std::env::var("CODERLITE_TEST_POSTGRES_REQUIRED").is_ok_and(|v| v == "1") {
                panic!("CODERLITE_TEST_POSTGRES_REQUIRED=1 but the PostgreSQL half cannot run: {why}");
            }
            say_skipped_once(why);
            None
        }
    }
}

/// Prints the skip line once per `cargo test` run (all test binaries share the parent
/// process), straight to stderr so the test harness does not capture it.
fn say_skipped_once(why: &str) {
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| {
        let marker = std::env::temp_dir().join(format!("coderlite-pg-skipped-{}", std::os::unix::process::parent_id()));
        if std::fs::OpenOptions::new().write(true).create_new(true).open(&marker).is_ok() {
            let _ = writeln!(std::io::stderr(), "note: PostgreSQL half of the contract tests skipped: {why}");
        }
    });
}

/// Runs each test body on SQLite and on PostgreSQL (see the module docs).
#[macro_export]
macro_rules! contract_tests {
    ($( $(#[$meta:meta])* fn $name:ident($engine:ident) $body:block )*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                $(#[$meta])*
                #[test]
                fn sqlite() {
                    let $engine: &coderlite::testing::TestEngine = &coderlite::testing::TestEngine::Sqlite;
                    $body
                }

                $(#[$meta])*
                #[test]
                fn postgres() {
                    let Some(engine) = $crate::support::contract::postgres() else { return };
                    let $engine: &coderlite::testing::TestEngine = &engine;
                    $body
                }
            }
        )*
    };
}
