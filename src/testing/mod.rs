//! Test support that is also a product feature: fresh migrated databases in a few
//! milliseconds.
//!
//! **API boundary.** Other suites build on `TestDb`; its methods are part of the contract.

pub mod fixture_json;
pub mod fixtures;
mod testdb;

pub use crate::testing::testdb::EmptyDb;
pub use crate::testing::testdb::TestDb;
pub use crate::testing::testdb::TestEngine;
pub use crate::testing::testdb::execute_sql;
pub use crate::testing::testdb::query_i64;
pub use crate::testing::testdb::query_text;
