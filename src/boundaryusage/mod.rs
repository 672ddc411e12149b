//! Boundary usage telemetry: each process counts boundary usage in memory (a
//! [`Tracker`]), flushes it every minute to its row of `boundary_usage_stats`, and every
//! telemetry period exactly one process sums and empties the table ([`collect`]).
//!
//! Flush and collection both run in a write transaction holding lock 9
//! (`BoundaryUsageStats`), so a collection sees all of a flush or none of it. Together with
//! the tracker handing back a failed flush's data, every tracked request ends up in exactly
//! one collected summary (or still in the table, or still in memory): never lost, never
//! counted twice.
//!
//! Decision: unique counts are period-cumulative. The tracker's
//! cumulative sets are cleared only when a flush reports `new_period` (its row was inserted
//! because the previous period was collected), so one period's unique counts are exact for
//! one process, as the upstream package documents as its intent.

mod collect;
mod tracker;

pub use crate::boundaryusage::collect::BOUNDARY_USAGE_EVENT;
pub use crate::boundaryusage::collect::CollectedSummary;
pub use crate::boundaryusage::collect::collect;
pub use crate::boundaryusage::collect::period_ending_at;
pub use crate::boundaryusage::collect::run_collector_loop;
pub use crate::boundaryusage::tracker::FlushOutcome;
pub use crate::boundaryusage::tracker::Tracker;
pub use crate::boundaryusage::tracker::run_flush_loop;
