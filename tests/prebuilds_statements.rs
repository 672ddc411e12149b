//! A reconcile cycle with nothing to do issues the same number of statements with
//! 10,000 presets in 100 organizations as with 10. (Its own test binary: the statement
//! counter is process-wide.)

use std::time::Duration;

use coderlite::database::Error;
use coderlite::database::TxOptions;
use coderlite::database::in_tx;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::sqlite::SqliteStore;
use coderlite::database::sqlite::statements_executed;
use coderlite::prebuilds::reconciler::ReconcilerConfig;
use coderlite::prebuilds::reconciler::reconcile_once;
use coderlite::testing::TestDb;
use coderlite::testing::fixtures;

/// Ten presets wanting one prebuild each, all satisfied.
fn satisfied_presets(db: &TestDb) {
    let t = fixtures::template(&db.store).build().unwrap();
    for i in 0..10 {
        let p = fixtures::preset(&db.store, &t.version).name(&format!("p{i}")).desired_instances(1).build().unwrap();
        fixtures::workspace(&db.store, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&p).build().unwrap();
    }
}

/// Statements of one settled cycle (after a first cycle that did the membership writes).
fn settled_cycle_statements(db: &TestDb) -> (u64, usize) {
    let mut config = db.config();
    config.count_statements = true;
    let store = SqliteStore::open(config).unwrap();
    let rc = ReconcilerConfig::new(Duration::from_secs(60));
    let first = reconcile_once(&store, "count/reconcile", &rc).unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(first.created, 0);
    let before = statements_executed();
    let r = reconcile_once(&store, "count/reconcile", &rc).unwrap();
    let n = statements_executed() - before;
    assert!(r.acquired && r.errors.is_empty() && r.created + r.deleted + r.canceled == 0, "{r:?}");
    (n, store.get_template_presets_with_prebuilds_count())
}

trait PresetCount {
    fn get_template_presets_with_prebuilds_count(&self) -> usize;
}

impl PresetCount for SqliteStore {
    fn get_template_presets_with_prebuilds_count(&self) -> usize {
        use coderlite::database::prelude::*;
        self.get_template_presets_with_prebuilds().unwrap().len()
    }
}

#[test]
fn statement_count_does_not_grow_with_presets() {
    let small = TestDb::new().unwrap();
    satisfied_presets(&small);
    let (small_statements, small_presets) = settled_cycle_statements(&small);

    let large = TestDb::new().unwrap();
    satisfied_presets(&large);
    in_tx(&large.store, TxOptions::write("many presets"), |tx| {
        for o in 0..100 {
            let org = fixtures::organization(tx).name(&format!("org-{o}")).build()?;
            let t = fixtures::template(tx).org(&org).build()?;
            for p in 0..100 {
                if o == 0 && p < 10 {
                    continue;
                }
                fixtures::preset(tx, &t.version).name(&format!("p{p}")).desired_instances(0).build()?;
            }
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let (large_statements, large_presets) = settled_cycle_statements(&large);
    assert_eq!((small_presets, large_presets), (10, 10_000));
    assert_eq!(large_statements, small_statements, "statements per settled cycle must not depend on the presets");
    assert!(small_statements < 40, "{small_statements} statements");
}
