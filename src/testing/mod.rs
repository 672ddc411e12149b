//! Test support that is also a product feature: fresh migrated databases in a few
//! milliseconds.
//!
//! **API boundary.** Other suites build on `TestDb`; its methods are part of the contract.

pub mod control;
pub mod fixture_json;
pub mod fixtures;
mod server;
mod testdb;

pub use crate::testing::server::ReadyLine;
pub use crate::testing::server::TestServer;
pub use crate::testing::server::TestServerBuilder;
pub use crate::testing::server::TestServerError;
pub use crate::testing::testdb::EmptyDb;
pub use crate::testing::testdb::TestDb;
pub use crate::testing::testdb::TestEngine;
pub use crate::testing::testdb::execute_sql;
pub use crate::testing::testdb::query_i64;
pub use crate::testing::testdb::query_text;
