//! The `Store`'s domains: one trait per domain, so each engine's `queries/<domain>.rs`
//! implements exactly one of them and a reader finds a domain's SQL for both engines side by
//! side. [`crate::database::Store`] combines them with the transaction core.
//!
//! Each trait is declared once, through `store_domain!`, which also implements it for every
//! [`PooledStore`] (a store that owns a pool rather than one transaction): there, each method
//! runs in its own short transaction, read-only or read-write as the declaration says. The
//! transaction handles of the engines implement the traits with their SQL.
//!
//! Every method carries a one-line contract. Methods that take data take it borrowed, so a
//! transaction closure can be re-run (see [`crate::database::TxStore::in_tx`]).

use crate::database::TxStore;

/// A store that owns connections (a pool) rather than one transaction: every domain method
/// called on it runs in a transaction of its own, through [`TxStore::in_tx`].
pub trait PooledStore: TxStore + Sized {}

/// Declares a domain trait and implements it for every [`PooledStore`]. Each method is
/// marked `read` or `write`: the kind of transaction it runs in when called on a pool.
macro_rules! store_domain {
    (
        $(#[$trait_meta:meta])*
        pub trait $trait:ident {
            $(
                $(#[$meta:meta])*
                $kind:ident fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    ) => {
        $(#[$trait_meta])*
        pub trait $trait {
            $(
                $(#[$meta])*
                fn $name(&self $(, $arg: $ty)*) -> $ret;
            )*
        }

        impl<P: crate::database::domains::PooledStore> $trait for P {
            $(
                fn $name(&self $(, $arg: $ty)*) -> $ret {
                    crate::database::in_tx(self, crate::database::TxOptions::$kind(stringify!($name)), |tx| {
                        tx.$name($($arg),*)
                    })
                }
            )*
        }
    };
}

/// Declares a TEXT-stored enum with its spellings.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}

pub mod ai_providers;
pub mod api_keys;
pub mod audit;
pub mod boundary_usage;
pub mod files;
pub mod identity;
pub mod maintenance;
pub mod notifications;
pub mod prebuilds;
pub mod provisioner;
pub mod rollup;
pub mod system;
pub mod templates;
pub mod workspaces;

pub use ai_providers::AiProviderStore;
pub use api_keys::ApiKeyStore;
pub use audit::AuditStore;
pub use boundary_usage::BoundaryUsageStore;
pub use files::FileStore;
pub use identity::IdentityStore;
pub use maintenance::MaintenanceStore;
pub use notifications::NotificationStore;
pub use prebuilds::PrebuildsStore;
pub use provisioner::ProvisionerStore;
pub use rollup::RollupStore;
pub use system::SystemStore;
pub use templates::TemplateStore;
pub use workspaces::WorkspaceStore;

/// One page of a listing and how many rows the whole listing has under the same filter (0
/// for an empty page, as upstream's window count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub count: i64,
}

impl<T> Page<T> {
    /// A page from rows each read with the window count of all matches (`COUNT(*) OVER ()`).
    /// An empty page has no row to carry the count: past the first page, `count_all` answers
    /// it; an empty first page has 0.
    pub(crate) fn from_counted(
        rows: Vec<(T, i64)>,
        offset: u32,
        count_all: impl FnOnce() -> crate::database::Result<i64>,
    ) -> crate::database::Result<Self> {
        let count = match rows.first() {
            Some((_, n)) => *n,
            None if offset > 0 => count_all()?,
            None => 0,
        };
        Ok(Page { rows: rows.into_iter().map(|(row, _)| row).collect(), count })
    }
}
