//! AI providers seeded from the environment (SPEC §6): the PR-era parser table of reference
//! §9.4, seed scenarios 1-12 of §9.1 against the real store, credentials rules, drift
//! rollback, concurrent setups, and secrets never printed.

use std::collections::HashSet;
use std::process::Command;

use coderlite::aiproviders;
use coderlite::aiproviders::SeedError;
use coderlite::aiproviders::desired_providers;
use coderlite::aiproviders::parse_env;
use coderlite::database::models::AiProvider;
use coderlite::database::models::AiProviderType;
use coderlite::database::prelude::*;
use coderlite::testing::TestDb;

use crate::support::audit_logs;

type Env = Vec<(&'static str, &'static str)>;

fn seed(db: &TestDb, env: &[(&str, &str)]) -> Result<aiproviders::SeedReport, SeedError> {
    aiproviders::seed_from_env(&db.store, env.iter().copied())
}

fn live(db: &TestDb) -> Vec<AiProvider> {
    db.store.list_ai_providers(false).unwrap()
}

fn keys_of(db: &TestDb, provider: &AiProvider) -> Vec<String> {
    db.store
        .list_ai_provider_keys()
        .unwrap()
        .into_iter()
        .filter(|k| k.provider_id == provider.id)
        .map(|k| k.api_key)
        .collect()
}

fn audit_count(db: &TestDb) -> usize {
    audit_logs(&db.store, "ai_provider").len() + audit_logs(&db.store, "ai_provider_key").len()
}

/// Everything a drift rollback must leave alone: rows, keys and audit entries.
fn snapshot(db: &TestDb) -> (Vec<String>, usize, usize) {
    let names = db.store.list_ai_providers(true).unwrap().into_iter().map(|p| p.name).collect();
    (names, db.store.list_ai_provider_keys().unwrap().len(), audit_count(db))
}

// --- §9.4: the env parser -----------------------------------------------------------------

fn parse_err(env: &[(&str, &str)]) -> String {
    match parse_env(env.iter().copied()).and_then(|e| desired_providers(&e)) {
        Ok(d) => panic!("expected an error, got {:?}", d.providers.iter().map(|p| &p.name).collect::<Vec<_>>()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn parser_accepts_the_pr_era_success_cases() {
    // Empty, and unrelated env ignored.
    let env = parse_env([("PATH", "/bin"), ("CODER_AIBRIDGE_ENABLED", "true")]).unwrap();
    assert!(env.indexed.is_empty() && env.warnings.is_empty());
    // Single provider with every basic field.
    let env = parse_env([
        ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
        ("CODER_AIBRIDGE_PROVIDER_0_NAME", "main"),
        ("CODER_AIBRIDGE_PROVIDER_0_KEY", "sk-1"),
        ("CODER_AIBRIDGE_PROVIDER_0_BASE_URL", "https://example.com/v1"),
    ])
    .unwrap();
    let p = &env.indexed[0];
    assert_eq!(
        (p.name.as_str(), p.provider_type.as_str(), p.base_url.as_str()),
        ("main", "openai", "https://example.com/v1")
    );
    assert_eq!(p.keys.iter().map(|k| k.expose()).collect::<Vec<_>>(), ["sk-1"]);
    // Default name = type; mixed types including copilot; same type with distinct names.
    let env = parse_env([
        ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
        ("CODER_AIBRIDGE_PROVIDER_1_TYPE", "openai"),
        ("CODER_AIBRIDGE_PROVIDER_2_TYPE", "copilot"),
        ("CODER_AIBRIDGE_PROVIDER_3_TYPE", "openai"),
        ("CODER_AIBRIDGE_PROVIDER_3_NAME", "second-openai"),
    ])
    .unwrap();
    let names: Vec<_> = env.indexed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["anthropic", "openai", "copilot", "second-openai"]);
    // Bedrock fields (all six), plural aliases, trimmed comma-separated keys.
    let env = parse_env([
        ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
        ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_BASE_URL", "https://bedrock.example"),
        ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_REGION", "us-west-2"),
        ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEYS", " AKIA1 , AKIA2 "),
        ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS", "s1,s2"),
        ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_MODEL", "m"),
        ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_SMALL_FAST_MODEL", "f"),
        ("CODER_AIBRIDGE_PROVIDER_1_TYPE", "openai"),
        ("CODER_AIBRIDGE_PROVIDER_1_KEYS", " sk-a ,sk-b,  sk-c"),
    ])
    .unwrap();
    let b = &env.indexed[0];
    assert_eq!(
        (b.bedrock_region.as_str(), b.bedrock_model.as_str(), b.bedrock_small_fast_model.as_str()),
        ("us-west-2", "m", "f")
    );
    assert_eq!(b.bedrock_access_keys.iter().map(|k| k.expose()).collect::<Vec<_>>(), ["AKIA1", "AKIA2"]);
    assert_eq!(env.indexed[1].keys.iter().map(|k| k.expose()).collect::<Vec<_>>(), ["sk-a", "sk-b", "sk-c"]);
}

#[test]
fn parser_orders_indices_numerically_whatever_the_variable_order() {
    let mut env: Vec<(String, String)> = (0..=10)
        .rev()
        .map(|i| (format!("CODER_AIBRIDGE_PROVIDER_{i}_TYPE"), "openai".to_owned()))
        .chain((0..=10).map(|i| (format!("CODER_AIBRIDGE_PROVIDER_{i}_NAME"), format!("p{i}"))))
        .collect();
    env.swap(0, 7);
    let parsed = parse_env(env).unwrap();
    let indices: Vec<_> = parsed.indexed.iter().map(|p| p.index).collect();
    assert_eq!(indices, (0..=10).collect::<Vec<_>>());
    assert_eq!(parsed.indexed[10].name, "p10");
}

#[test]
fn parser_field_names_ignore_case_and_unknown_fields_warn_once_each() {
    let env = parse_env([
        ("CODER_AIBRIDGE_PROVIDER_0_Type", "openai"),
        ("CODER_AIBRIDGE_PROVIDER_0_Name", "test"),
        ("CODER_AIBRIDGE_PROVIDER_0_KYE", "oops"),
        ("CODER_AIBRIDGE_PROVIDER_0_BASEURL", "oops"),
    ])
    .unwrap();
    assert_eq!(env.indexed[0].name, "test");
    assert_eq!(env.warnings.len(), 2);
    assert!(env.warnings.iter().all(|w| w.contains("ignoring unknown AI provider field")));
    assert!(env.warnings[0].contains("CODER_AIBRIDGE_PROVIDER_0_BASEURL"));
}

#[test]
fn parser_rejects_the_pr_era_failure_cases() {
    let table: Vec<(Env, &str)> = vec![
        (vec![("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"), ("CODER_AIBRIDGE_PROVIDER_2_TYPE", "openai")], "skipped"),
        (vec![("CODER_AIBRIDGE_PROVIDER_XXX_TYPE", "openai")], "parse number"),
        (vec![("CODER_AIBRIDGE_PROVIDER_0_NAME", "x")], "TYPE is required"),
        (vec![("CODER_AIBRIDGE_PROVIDER_0_TYPE", "gemini")], "unknown TYPE"),
        (
            vec![("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"), ("CODER_AIBRIDGE_PROVIDER_1_TYPE", "openai")],
            "duplicate NAME",
        ),
        (
            vec![
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
                ("CODER_AIBRIDGE_PROVIDER_0_NAME", "same"),
                ("CODER_AIBRIDGE_PROVIDER_0_KEY", "sk-1"),
                ("CODER_AIBRIDGE_PROVIDER_1_TYPE", "openai"),
                ("CODER_AIBRIDGE_PROVIDER_1_NAME", "same"),
                ("CODER_AIBRIDGE_PROVIDER_1_KEY", "sk-2"),
            ],
            "duplicate NAME",
        ),
        (
            vec![
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_REGION", "us-east-1"),
            ],
            "BEDROCK_* fields are only supported with TYPE",
        ),
        (
            vec![
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
                ("CODER_AIBRIDGE_PROVIDER_0_KEY", "a"),
                ("CODER_AIBRIDGE_PROVIDER_0_KEYS", "b,c"),
            ],
            "KEY and KEYS are mutually exclusive",
        ),
        (
            vec![
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY", "a"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEYS", "b"),
            ],
            "BEDROCK_ACCESS_KEY and BEDROCK_ACCESS_KEYS are mutually exclusive",
        ),
        (
            vec![
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET", "a"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS", "b"),
            ],
            "BEDROCK_ACCESS_KEY_SECRET and BEDROCK_ACCESS_KEY_SECRETS are mutually exclusive",
        ),
        (
            vec![("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"), ("CODER_AIBRIDGE_PROVIDER_0_KEYS", "a, ,b")],
            "key at index 1 is empty",
        ),
        (
            vec![("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"), ("CODER_AIBRIDGE_PROVIDER_0_KEYS", "a,b,a")],
            "duplicate key at index 2",
        ),
        (
            vec![("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"), ("CODER_AIBRIDGE_PROVIDER_0_KEYS", "a,b,c,d,e,f")],
            "too many keys (6), maximum is 5",
        ),
        (
            vec![
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEYS", "a,b,c,d,e,f"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS", "a,b,c,d,e,f"),
            ],
            "too many keys (6), maximum is 5",
        ),
        (
            vec![
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEYS", "a,b"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS", "s"),
            ],
            "BEDROCK_ACCESS_KEYS count (2) must match BEDROCK_ACCESS_KEY_SECRETS count (1)",
        ),
    ];
    for (env, expected) in table {
        let err = parse_err(&env);
        assert!(err.contains(expected), "{env:?}: {err:?} does not contain {expected:?}");
    }
}

// --- §9.1: the seed -----------------------------------------------------------------------

contract_tests! {
    /// Scenario 1.
    fn s01_empty_config_is_a_no_op(engine) {
        let db = TestDb::on(engine).unwrap();
        let report = seed(&db, &[]).unwrap();
        assert!(report.inserted.is_empty());
        assert_eq!(audit_count(&db), 0);
        assert!(db.store.list_ai_providers(true).unwrap().is_empty());
    }

    /// Scenario 2.
    fn s02_legacy_openai_then_a_rerun_writes_nothing(engine) {
        let db = TestDb::on(engine).unwrap();
        let env =
            [("CODER_AIBRIDGE_OPENAI_BASE_URL", "https://api.openai.com/v1"), ("CODER_AIBRIDGE_OPENAI_KEY", "sk-legacy")];
        assert_eq!(seed(&db, &env).unwrap().inserted, ["openai"]);
        let rows = live(&db);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(
            (row.name.as_str(), row.provider_type, row.base_url.as_str()),
            ("openai", AiProviderType::Openai, "https://api.openai.com/v1")
        );
        assert!(row.enabled && !row.deleted);
        assert_eq!(row.display_name, "openai");
        assert_eq!(row.settings, None);
        assert_eq!(keys_of(&db, row), ["sk-legacy"]);
        let audits = audit_count(&db);
        assert_eq!(audits, 2, "one for the provider, one for its key");
        let again = seed(&db, &env).unwrap();
        assert!(again.inserted.is_empty());
        assert_eq!(again.unchanged, ["openai"]);
        assert_eq!(audit_count(&db), audits);
        assert_eq!(live(&db).len(), 1);
        assert_eq!(keys_of(&db, row).len(), 1);
    }

    /// Scenario 3.
    fn s03_key_rotation_is_not_drift_but_a_base_url_change_is(engine) {
        let db = TestDb::on(engine).unwrap();
        let base = ("CODER_AIBRIDGE_OPENAI_BASE_URL", "https://api.openai.com/v1");
        seed(&db, &[base, ("CODER_AIBRIDGE_OPENAI_KEY", "sk-original")]).unwrap();
        seed(&db, &[base, ("CODER_AIBRIDGE_OPENAI_KEY", "sk-rotated")]).unwrap();
        let err = seed(
            &db,
            &[("CODER_AIBRIDGE_OPENAI_BASE_URL", "https://api.openai.com/v2"), ("CODER_AIBRIDGE_OPENAI_KEY", "sk-rotated")],
        )
        .unwrap_err();
        assert!(matches!(err, SeedError::Drift { .. }));
        let text = err.to_string();
        assert!(text.contains("different fields"), "{text}");
        assert!(text.contains("\"openai\""), "{text}");
        assert!(text.contains("providers delete openai"), "the error says how to resolve it: {text}");
    }

    /// Scenario 4.
    fn s04_legacy_anthropic_with_bedrock_keeps_its_key_and_settings(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(
            &db,
            &[
                ("CODER_AIBRIDGE_ANTHROPIC_BASE_URL", "https://api.anthropic.com/"),
                ("CODER_AIBRIDGE_ANTHROPIC_KEY", "sk-ant"),
                ("CODER_AIBRIDGE_BEDROCK_REGION", "us-west-2"),
                ("CODER_AIBRIDGE_BEDROCK_ACCESS_KEY", "AKIA"),
                ("CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET", "secret"),
                ("CODER_AIBRIDGE_BEDROCK_MODEL", "anthropic.claude-3-5-sonnet"),
                ("CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL", "anthropic.claude-3-5-haiku"),
            ],
        )
        .unwrap();
        let row = &live(&db)[0];
        assert_eq!((row.name.as_str(), row.provider_type), ("anthropic", AiProviderType::Anthropic));
        let settings = row.settings.clone().unwrap();
        for part in [
            "us-west-2",
            "anthropic.claude-3-5-sonnet",
            "anthropic.claude-3-5-haiku",
            "AKIA",
            "secret",
            "\"_type\":\"bedrock\"",
            "\"_version\":1",
        ] {
            assert!(settings.contains(part), "{part} missing from settings");
        }
        assert_eq!(keys_of(&db, row), ["sk-ant"]);
    }

    /// Scenario 5.
    fn s05_bedrock_only_anthropic_has_no_keys(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(
            &db,
            &[
                ("CODER_AIBRIDGE_BEDROCK_REGION", "us-east-1"),
                ("CODER_AIBRIDGE_BEDROCK_ACCESS_KEY", "AKIAONLY"),
                ("CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET", "secretonly"),
                ("CODER_AIBRIDGE_BEDROCK_MODEL", "anthropic.claude-3-5-sonnet"),
            ],
        )
        .unwrap();
        let row = &live(&db)[0];
        assert_eq!(row.name, "anthropic");
        let settings = row.settings.clone().unwrap();
        assert!(settings.contains("us-east-1") && settings.contains("AKIAONLY") && settings.contains("secretonly"));
        assert!(keys_of(&db, row).is_empty());
    }

    /// Scenario 6.
    fn s06_indexed_providers(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(
            &db,
            &[
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
                ("CODER_AIBRIDGE_PROVIDER_0_NAME", "primary-openai"),
                ("CODER_AIBRIDGE_PROVIDER_0_KEYS", "sk-1,sk-2"),
                ("CODER_AIBRIDGE_PROVIDER_1_TYPE", "anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_1_NAME", "primary-anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_1_KEY", "sk-ant-1"),
                ("CODER_AIBRIDGE_PROVIDER_1_BEDROCK_REGION", "us-west-2"),
                ("CODER_AIBRIDGE_PROVIDER_1_BEDROCK_MODEL", "m"),
                ("CODER_AIBRIDGE_PROVIDER_1_BEDROCK_SMALL_FAST_MODEL", "f"),
            ],
        )
        .unwrap();
        let rows = live(&db);
        let openai = rows.iter().find(|p| p.name == "primary-openai").unwrap();
        assert_eq!(keys_of(&db, openai), ["sk-1", "sk-2"], "oldest first is env order");
        let anthropic = rows.iter().find(|p| p.name == "primary-anthropic").unwrap();
        assert_eq!(anthropic.provider_type, AiProviderType::Anthropic);
        assert_eq!(anthropic.settings, None, "region and models without credentials are not Bedrock");
        assert_eq!(keys_of(&db, anthropic), ["sk-ant-1"]);
    }

    /// Scenario 7.
    fn s07_bedrock_indexed_provider_has_no_keys(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(
            &db,
            &[
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_0_NAME", "bedrock-anthropic"),
                ("CODER_AIBRIDGE_PROVIDER_0_BASE_URL", "https://bedrock.example"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_REGION", "us-west-2"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_MODEL", "m"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY", "AKIA-indexed"),
                ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET", "indexed-secret"),
                ("CODER_AIBRIDGE_PROVIDER_0_KEYS", "sk-should-not-be-seeded"),
            ],
        )
        .unwrap();
        let row = &live(&db)[0];
        let settings = row.settings.clone().unwrap();
        assert!(settings.contains("AKIA-indexed") && settings.contains("indexed-secret"));
        assert!(!settings.contains("sk-should-not-be-seeded"));
        assert!(keys_of(&db, row).is_empty());
    }

    /// Scenario 8.
    fn s08_legacy_and_indexed_with_the_same_name_conflict(engine) {
        let db = TestDb::on(engine).unwrap();
        let err = seed(
            &db,
            &[
                ("CODER_AIBRIDGE_OPENAI_KEY", "sk-legacy"),
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
                ("CODER_AIBRIDGE_PROVIDER_0_KEY", "sk-indexed"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("conflicts with the legacy env var"), "{err}");
        assert!(db.store.list_ai_providers(true).unwrap().is_empty());
    }

    /// Scenario 9.
    fn s09_invalid_provider_name(engine) {
        let db = TestDb::on(engine).unwrap();
        let err =
            seed(&db, &[("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"), ("CODER_AIBRIDGE_PROVIDER_0_NAME", "Bad_Name")])
                .unwrap_err();
        assert!(err.to_string().contains("invalid AI provider name \"Bad_Name\""), "{err}");
        for bad in ["-x", "x-", "a--b", "", "a_b", "UPPER"] {
            assert!(!aiproviders::desired::is_valid_provider_name(bad), "{bad:?}");
        }
        for good in ["a", "a-b", "gpt4-mini-2", "0"] {
            assert!(aiproviders::desired::is_valid_provider_name(good), "{good:?}");
        }
    }

    /// Scenario 10.
    fn s10_unknown_provider_type_is_skipped(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(
            &db,
            &[
                ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "copilot"),
                ("CODER_AIBRIDGE_PROVIDER_0_NAME", "gh-copilot"),
                ("CODER_AIBRIDGE_PROVIDER_1_TYPE", "openai"),
                ("CODER_AIBRIDGE_PROVIDER_1_NAME", "real-openai"),
                ("CODER_AIBRIDGE_PROVIDER_1_KEY", "sk-real"),
            ],
        )
        .unwrap();
        assert_eq!(live(&db).iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["real-openai"]);
    }

    /// Scenario 11.
    fn s11_soft_deleted_row_is_not_resurrected(engine) {
        let db = TestDb::on(engine).unwrap();
        let env = [("CODER_AIBRIDGE_OPENAI_KEY", "sk-legacy")];
        seed(&db, &env).unwrap();
        assert!(aiproviders::delete_provider(&db.store, "openai").unwrap().is_some());
        let report = seed(&db, &env).unwrap();
        assert_eq!(report.skipped_deleted, ["openai"]);
        assert!(live(&db).is_empty());
        let all = db.store.list_ai_providers(true).unwrap();
        assert_eq!((all.len(), all[0].deleted, all[0].enabled), (1, true, false));
        let deletes: Vec<_> =
            audit_logs(&db.store, "ai_provider").into_iter().filter(|a| a.action == "delete").collect();
        assert_eq!(deletes.len(), 1);
    }

    /// Scenario 12.
    fn s12_existing_keys_are_preserved(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(&db, &[("CODER_AIBRIDGE_OPENAI_KEY", "sk-original")]).unwrap();
        seed(&db, &[("CODER_AIBRIDGE_OPENAI_KEY", "sk-rotated")]).unwrap();
        assert_eq!(keys_of(&db, &live(&db)[0]), ["sk-original"]);
    }

    fn access_key_without_secret_and_the_reverse_name_both_variables_and_write_nothing(engine) {
        let db = TestDb::on(engine).unwrap();
        let cases: [(Env, [&str; 2]); 4] = [
            (
                vec![("CODER_AIBRIDGE_ANTHROPIC_KEY", "sk-ant"), ("CODER_AIBRIDGE_BEDROCK_ACCESS_KEY", "AKIA")],
                ["CODER_AIBRIDGE_BEDROCK_ACCESS_KEY", "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET"],
            ),
            (
                vec![("CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET", "shh")],
                ["CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET", "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY"],
            ),
            (
                vec![
                    ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
                    ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY", "AKIA"),
                ],
                ["CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY", "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET"],
            ),
            (
                vec![
                    ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic"),
                    ("CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET", "shh"),
                ],
                ["CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET", "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY"],
            ),
        ];
        for (env, [set, unset]) in cases {
            let err = seed(&db, &env).unwrap_err().to_string();
            assert!(err.contains(&format!("{set} is set but {unset} is not")), "{err}");
            assert!(!err.contains("AKIA") && !err.contains("shh"), "{err}");
        }
        assert!(db.store.list_ai_providers(true).unwrap().is_empty());
        assert_eq!(audit_count(&db), 0);
    }

    fn legacy_bedrock_region_alone_creates_no_row(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(&db, &[("CODER_AIBRIDGE_BEDROCK_REGION", "us-east-1")]).unwrap();
        assert!(db.store.list_ai_providers(true).unwrap().is_empty());
        // With the model defaults and an Anthropic key: a plain bearer provider.
        seed(&db, &[("CODER_AIBRIDGE_ANTHROPIC_KEY", "sk-ant-only"), ("CODER_AIBRIDGE_BEDROCK_REGION", "us-east-1")])
            .unwrap();
        let row = &live(&db)[0];
        assert_eq!(row.settings, None);
    }

    fn identical_indexed_duplicates_dedupe_and_differing_ones_conflict(engine) {
        let db = TestDb::on(engine).unwrap();
        let twice = [
            ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
            ("CODER_AIBRIDGE_PROVIDER_0_NAME", "shared"),
            ("CODER_AIBRIDGE_PROVIDER_0_KEY", "sk-same"),
            ("CODER_AIBRIDGE_PROVIDER_1_TYPE", "openai"),
            ("CODER_AIBRIDGE_PROVIDER_1_NAME", "shared"),
            ("CODER_AIBRIDGE_PROVIDER_1_KEY", "sk-same"),
        ];
        seed(&db, &twice).unwrap();
        assert_eq!(keys_of(&db, &live(&db)[0]).len(), 1);
        let mut differing = twice.to_vec();
        differing[5] = ("CODER_AIBRIDGE_PROVIDER_1_BASE_URL", "https://elsewhere");
        let err = seed(&db, &differing).unwrap_err().to_string();
        assert!(err.contains("conflicting fields") && err.contains("duplicate NAME"), "{err}");
    }

    /// Drift after a successful seed rolls the whole run back: a provider inserted earlier in the
    /// same run (it sorts first) is gone too.
    fn drift_leaves_the_database_exactly_as_it_was(engine) {
        let db = TestDb::on(engine).unwrap();
        seed(&db, &[("CODER_AIBRIDGE_OPENAI_KEY", "sk-1")]).unwrap();
        let before = snapshot(&db);
        let err = seed(
            &db,
            &[
                ("CODER_AIBRIDGE_ANTHROPIC_KEY", "sk-ant"),
                ("CODER_AIBRIDGE_OPENAI_KEY", "sk-1"),
                ("CODER_AIBRIDGE_OPENAI_BASE_URL", "https://drifted.example/v1"),
            ],
        )
        .unwrap_err();
        assert!(matches!(err, SeedError::Drift { ref name } if name == "openai"), "{err}");
        assert_eq!(snapshot(&db), before);
        assert!(db.store.list_locks().unwrap().is_empty());
    }
}

// --- processes: concurrency and secrets ---------------------------------------------------

const SECRETS: [&str; 4] =
    ["sk-proc-openai-0123456789", "sk-proc-anthropic-9876543210", "AKIAPROCESS12345", "aws-secret-value-abcdef"];

fn provider_env(cmd: &mut Command) -> &mut Command {
    cmd.env("CODER_AIBRIDGE_OPENAI_KEY", SECRETS[0])
        .env("CODER_AIBRIDGE_PROVIDER_0_TYPE", "anthropic")
        .env("CODER_AIBRIDGE_PROVIDER_0_NAME", "claude")
        .env("CODER_AIBRIDGE_PROVIDER_0_KEY", SECRETS[1])
        .env("CODER_AIBRIDGE_PROVIDER_1_TYPE", "anthropic")
        .env("CODER_AIBRIDGE_PROVIDER_1_NAME", "bedrock")
        .env("CODER_AIBRIDGE_PROVIDER_1_BEDROCK_REGION", "us-west-2")
        .env("CODER_AIBRIDGE_PROVIDER_1_BEDROCK_ACCESS_KEY", SECRETS[2])
        .env("CODER_AIBRIDGE_PROVIDER_1_BEDROCK_ACCESS_KEY_SECRET", SECRETS[3])
}

fn coderlite(db: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coderlite"));
    cmd.arg("--db").arg(db).env_remove("CODERLITE_LOG");
    cmd
}

#[test]
fn six_concurrent_setups_seed_each_provider_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.db");
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut cmd = coderlite(&path);
            provider_env(&mut cmd)
                .args(["setup", "-o", "json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut seeded_total = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        seeded_total += v["providers_seeded"].as_u64().unwrap();
    }
    assert_eq!(seeded_total, 3, "each provider inserted by exactly one process");
    let db = coderlite::database::sqlite::SqliteStore::open(coderlite::database::sqlite::StoreConfig::new(
        &path,
        std::sync::Arc::new(coderlite::clock::RealClock),
        "check",
    ))
    .unwrap();
    let names: Vec<_> = db.list_ai_providers(true).unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["bedrock", "claude", "openai"]);
    assert_eq!(db.list_ai_provider_keys().unwrap().len(), 2);
    assert_eq!(audit_logs(&db, "ai_provider").len(), 3);
    assert_eq!(audit_logs(&db, "ai_provider_key").len(), 2);
}

#[test]
fn no_output_or_log_line_contains_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.db");
    let mut transcript = String::new();
    let mut run = |args: &[&str], drift: bool| {
        let mut cmd = coderlite(&path);
        provider_env(&mut cmd).args(["-vv"]).args(args);
        if drift {
            cmd.env("CODER_AIBRIDGE_OPENAI_BASE_URL", "https://drift.example/v1");
        }
        let out = cmd.output().unwrap();
        transcript.push_str(&String::from_utf8_lossy(&out.stdout));
        transcript.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    };
    assert!(run(&["setup"], false).status.success());
    assert!(run(&["--log-format", "json", "setup", "-o", "json"], false).status.success());
    assert!(run(&["providers", "list"], false).status.success());
    let listed = run(&["providers", "list", "-o", "json"], false);
    assert!(run(&["providers", "seed"], false).status.success());
    let drift = run(&["setup"], true);
    assert_eq!(drift.status.code(), Some(1));
    // With -vv, debug lines (the database in use) come before the one error line.
    let stderr = String::from_utf8_lossy(&drift.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("error: seed ai providers from env: ")), "{stderr}");
    for secret in SECRETS {
        assert!(!transcript.contains(secret), "{secret} leaked:\n{transcript}");
    }
    assert!(transcript.contains("seeded ai provider from environment"), "the logs were captured");

    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let openai = list.as_array().unwrap().iter().find(|p| p["name"] == "openai").unwrap();
    assert_eq!(openai["keys"][0], "sk-…6789");
    assert_eq!(openai["bedrock"], serde_json::Value::Null);
    assert_eq!(openai["type"], "openai");
    let bedrock = list.as_array().unwrap().iter().find(|p| p["name"] == "bedrock").unwrap();
    assert_eq!(bedrock["bedrock"]["region"], "us-west-2");
    assert_eq!(bedrock["bedrock"]["access_key"], "AKI…2345");
    let keys: HashSet<&str> = ["id", "name", "type", "base_url", "enabled", "deleted", "bedrock", "keys"].into();
    assert_eq!(openai.as_object().unwrap().keys().map(String::as_str).collect::<HashSet<_>>(), keys);
    assert_eq!(aiproviders::mask("short"), "********");
}
