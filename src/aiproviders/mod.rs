//! AI providers seeded from the environment.
//!
//! Three stages: `env` parses the variables (pure), `desired` normalizes them into providers
//! and computes the canonical hash (pure), `seed` writes what is missing in one write
//! transaction holding lock 10. Errors abort before the database is touched when they come
//! from the environment; a drift error rolls back everything the run did.
//!
//! **Architecture Invariant:** no key or AWS secret reaches a log line, an error, or CLI
//! output whole; `Secret` and the row types have redacting `Debug`, and output uses `mask`.

pub mod desired;
pub mod env;
pub mod seed;

pub use crate::aiproviders::desired::DesiredProvider;
pub use crate::aiproviders::desired::desired_providers;
pub use crate::aiproviders::env::mask;
pub use crate::aiproviders::env::parse_env;
pub use crate::aiproviders::seed::SeedError;
pub use crate::aiproviders::seed::SeedReport;
pub use crate::aiproviders::seed::delete_provider;
pub use crate::aiproviders::seed::seed_ai_providers;
use crate::database::Store;

/// Parses `vars`, normalizes, logs the parser's warnings and notes, and seeds.
pub fn seed_from_env<I, K, V>(store: &dyn Store, vars: I) -> Result<SeedReport, SeedError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let env = parse_env(vars)?;
    for warning in &env.warnings {
        tracing::warn!(warning = %warning, "ai provider env");
    }
    let desired = desired_providers(&env)?;
    for note in &desired.notes {
        tracing::info!(note = %note, "ai provider env");
    }
    seed_ai_providers(store, &desired.providers)
}
