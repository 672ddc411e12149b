//! The code map's rules, checked (rust-analyzer's tidy tests, River's `verify/migrations`):
//! which module may import which, where each engine's client library may appear, and that
//! the two engines carry the same migrations and the same query files.

use std::path::Path;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

/// Whether `line` names `path` as a path of its own (`needle::`, not `other_needle::` or
/// `module::needle::`).
fn names_path(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '"')
    })
}

/// The files under `src/` (relative paths) whose code (not comments) names `needle`.
fn files_mentioning(needle: &str) -> Vec<String> {
    let src = root().join("src");
    sources(&src)
        .into_iter()
        .filter(|(_, text)| text.lines().any(|l| !l.trim_start().starts_with("//") && names_path(l, needle)))
        .map(|(path, _)| path.strip_prefix(&src).unwrap().to_string_lossy().into_owned())
        .collect()
}

fn outside(files: Vec<String>, allowed: &[&str]) -> Vec<String> {
    files.into_iter().filter(|f| !allowed.iter().any(|a| f.starts_with(a))).collect()
}

#[test]
fn the_api_never_imports_the_server() {
    assert_eq!(outside(files_mentioning("crate::server"), &["server/", "cli/"]), Vec::<String>::new());
}

#[test]
fn only_the_doors_import_the_api() {
    // The HTTP API is a room above the domain: the server starts it, the CLI configures it,
    // and nothing below depends on it.
    assert_eq!(outside(files_mentioning("crate::api"), &["api/", "server/"]), Vec::<String>::new());
    assert_eq!(outside(files_mentioning("coderlite::api"), &["cli/"]), Vec::<String>::new());
}

#[test]
fn workspaces_never_depend_on_prebuilds() {
    let files = files_mentioning("crate::prebuilds");
    assert_eq!(files.iter().filter(|f| f.starts_with("workspaces/")).count(), 0, "{files:?}");
}

#[test]
fn each_engines_client_stays_in_its_engine() {
    assert_eq!(
        outside(files_mentioning("rusqlite"), &["database/sqlite/", "testing/testdb.rs"]),
        Vec::<String>::new(),
        "rusqlite outside the SQLite engine"
    );
    assert_eq!(
        outside(files_mentioning("postgres::"), &["database/postgres/", "database/any.rs", "testing/testdb.rs"]),
        Vec::<String>::new(),
        "the postgres client outside the PostgreSQL engine"
    );
}

/// The names of the files in `dir` (no extension filter), sorted.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn both_engines_carry_the_same_migrations() {
    let sqlite = file_names(&root().join("migrations/sqlite"));
    let postgres = file_names(&root().join("migrations/postgres"));
    assert_eq!(sqlite, postgres, "one logical change is one file of the same name in each folder");
    assert!(!sqlite.is_empty());
    assert_eq!(
        coderlite::database::sqlite::binary_schema_version(),
        coderlite::database::postgres::binary_schema_version()
    );
}

#[test]
fn both_engines_have_the_same_query_files() {
    let sqlite = file_names(&root().join("src/database/sqlite/queries"));
    let postgres = file_names(&root().join("src/database/postgres/queries"));
    assert_eq!(sqlite, postgres, "a domain's queries live in same-named files on both engines");
}

/// Every `table.column` (views included) of a migrated database, sorted.
fn schema_columns(db: &coderlite::testing::TestDb) -> Vec<String> {
    let sql = match db.engine() {
        coderlite::database::Engine::Sqlite => {
            "SELECT group_concat(m.name || '.' || c.name, ',') FROM sqlite_master m, pragma_table_xinfo(m.name) c
             WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%'"
        }
        coderlite::database::Engine::Postgres => {
            "SELECT string_agg(table_name || '.' || column_name, ',') FROM information_schema.columns
             WHERE table_schema = 'public'"
        }
    };
    let mut columns: Vec<String> = db.query_text(sql).unwrap().split(',').map(str::to_owned).collect();
    columns.sort();
    columns
}

/// Both engines migrate to the same tables, views and columns: the schema a version number
/// names is one schema. The differences are named: PostgreSQL's `seq` columns keep the
/// insertion order SQLite's rowid keeps, and SQLite's `prebuilds_data_generation` counter
/// (bumped by every write behind the reconciler's snapshot) would be a row every PostgreSQL
/// writer collides on, so PostgreSQL has none.
#[test]
fn both_engines_migrate_to_the_same_columns() {
    let clock = std::sync::Arc::new(coderlite::clock::RealClock);
    let sqlite = coderlite::testing::TestDb::create(&coderlite::testing::TestEngine::Sqlite, clock.clone()).unwrap();
    let sqlite_columns: Vec<String> =
        schema_columns(&sqlite).into_iter().filter(|c| !c.starts_with("prebuilds_data_generation.")).collect();
    assert!(sqlite_columns.iter().any(|c| c == "provisioner_jobs.job_status"), "generated columns are listed");
    let Some(engine) = crate::support::contract::postgres() else { return };
    let postgres = coderlite::testing::TestDb::create(&engine, clock).unwrap();
    let postgres_columns: Vec<String> =
        schema_columns(&postgres).into_iter().filter(|c| !c.ends_with(".seq")).collect();
    let only = |a: &[String], b: &[String]| -> Vec<String> { a.iter().filter(|c| !b.contains(c)).cloned().collect() };
    assert_eq!(
        (only(&sqlite_columns, &postgres_columns), only(&postgres_columns, &sqlite_columns)),
        (Vec::new(), Vec::new()),
        "(only on SQLite, only on PostgreSQL)"
    );
}
