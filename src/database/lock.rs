//! Lock IDs: the stable, append-only numbering (upstream's numbers, never reused), and `gen_lock_id` for IDs derived
//! from strings.
//!
//! Each number is written out (never derived from declaration order) so that inserting a line
//! cannot renumber the rest; a test pins the table. IDs are never reused, even when a lock is
//! retired: retired ones stay listed as reserved.

use std::fmt;
use std::str::FromStr;

/// A well-known lock. The discriminant is the number stored in `locks.lock_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i64)]
pub enum LockId {
    /// Deployment ID and app signing key at startup.
    DeploymentSetup = 1,
    /// DERP mesh key at startup.
    EnterpriseDeploymentSetup = 2,
    /// The template usage rollup (lease).
    DbRollup = 3,
    /// The purge service (lease): one replica deletes old rows at a time.
    DbPurge = 4,
    /// Reserved.
    NotificationsReportGenerator = 5,
    /// Reserved.
    CryptoKeyRotation = 6,
    /// The prebuilds reconciler (lease).
    ReconcilePrebuilds = 7,
    /// Reserved.
    ReconcileSystemRoles = 8,
    /// Boundary usage flush and telemetry collection.
    BoundaryUsageStats = 9,
    /// Seeding AI providers from the environment.
    AiProvidersEnvSeed = 10,
}

impl LockId {
    /// Every lock ID, in numeric order.
    pub const ALL: [LockId; 10] = [
        LockId::DeploymentSetup,
        LockId::EnterpriseDeploymentSetup,
        LockId::DbRollup,
        LockId::DbPurge,
        LockId::NotificationsReportGenerator,
        LockId::CryptoKeyRotation,
        LockId::ReconcilePrebuilds,
        LockId::ReconcileSystemRoles,
        LockId::BoundaryUsageStats,
        LockId::AiProvidersEnvSeed,
    ];

    /// The number stored in the `locks` table.
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// The lock for a stored number, if it is a known one.
    pub fn from_i64(id: i64) -> Option<LockId> {
        LockId::ALL.into_iter().find(|l| l.as_i64() == id)
    }

    /// The upstream name, as printed by `coderlite locks`.
    pub fn name(self) -> &'static str {
        match self {
            LockId::DeploymentSetup => "DeploymentSetup",
            LockId::EnterpriseDeploymentSetup => "EnterpriseDeploymentSetup",
            LockId::DbRollup => "DbRollup",
            LockId::DbPurge => "DbPurge",
            LockId::NotificationsReportGenerator => "NotificationsReportGenerator",
            LockId::CryptoKeyRotation => "CryptoKeyRotation",
            LockId::ReconcilePrebuilds => "ReconcilePrebuilds",
            LockId::ReconcileSystemRoles => "ReconcileSystemRoles",
            LockId::BoundaryUsageStats => "BoundaryUsageStats",
            LockId::AiProvidersEnvSeed => "AiProvidersEnvSeed",
        }
    }
}

impl fmt::Display for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_i64(), self.name())
    }
}

impl FromStr for LockId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(n) = s.parse::<i64>() {
            return LockId::from_i64(n).ok_or_else(|| format!("unknown lock id {n}"));
        }
        LockId::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(s)).ok_or_else(|| format!("unknown lock {s:?}"))
    }
}

/// Derives a lock ID from a string: 64-bit FNV-1 (multiply, then XOR each byte), the u64
/// reinterpreted as i64. Used for per-key locks so writers of different keys never contend.
pub fn gen_lock_id(name: &str) -> i64 {
    const OFFSET_BASIS: u64 = 14695981039346656037;
    const PRIME: u64 = 1099511628211;
    let mut hash = OFFSET_BASIS;
    for byte in name.bytes() {
        hash = hash.wrapping_mul(PRIME);
        hash ^= u64::from(byte);
    }
    hash as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_pinned() {
        let table: Vec<(i64, &str)> = LockId::ALL.iter().map(|l| (l.as_i64(), l.name())).collect();
        assert_eq!(
            table,
            vec![
                (1, "DeploymentSetup"),
                (2, "EnterpriseDeploymentSetup"),
                (3, "DbRollup"),
                (4, "DbPurge"),
                (5, "NotificationsReportGenerator"),
                (6, "CryptoKeyRotation"),
                (7, "ReconcilePrebuilds"),
                (8, "ReconcileSystemRoles"),
                (9, "BoundaryUsageStats"),
                (10, "AiProvidersEnvSeed"),
            ]
        );
        for l in LockId::ALL {
            assert_eq!(LockId::from_i64(l.as_i64()), Some(l));
            assert_eq!(l.name().parse::<LockId>(), Ok(l));
        }
        assert_eq!(LockId::from_i64(11), None);
    }

    #[test]
    fn gen_lock_id_vectors() {
        assert_eq!(gen_lock_id(""), -3750763034362895579);
        assert_eq!(gen_lock_id("a"), -5808590958014384194);
        assert_eq!(gen_lock_id("a") as u64, 12638153115695167422);
        assert_eq!(gen_lock_id("agents_chat_system_prompt"), 2354946995010533013);
        assert_eq!(gen_lock_id("agents_chat_retention_days"), 3216191820633605443);
    }

    /// Every string the code derives a lock ID from. Add new ones here.
    pub(crate) const DERIVED_LOCK_NAMES: &[&str] = &[
        "agents_chat_retention_days",
        "agents_chat_debug_retention_days",
        "agents_chat_auto_archive_days",
        "agents_workspace_ttl",
        "agents_chat_system_prompt",
    ];

    #[test]
    fn derived_ids_are_distinct_from_each_other_and_the_fixed_ids() {
        let mut seen = std::collections::HashSet::new();
        for name in DERIVED_LOCK_NAMES {
            let id = gen_lock_id(name);
            assert!(seen.insert(id), "duplicate derived lock id for {name}");
            assert!(LockId::from_i64(id).is_none(), "{name} collides with a fixed lock id");
            assert!(!(1..=10).contains(&id));
        }
    }
}
