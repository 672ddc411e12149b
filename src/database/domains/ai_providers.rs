//! AI providers and their keys: `AiProviderStore` and its rows.

use std::fmt;

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// AI providers and their keys.
    pub trait AiProviderStore {
        /// Providers by name; soft-deleted ones only with `include_deleted`.
        read fn list_ai_providers(&self, include_deleted: bool) -> Result<Vec<AiProvider>>;

        /// Inserts a provider (enabled, not deleted); a used name (deleted rows included) is `UniqueViolation { ai_providers_name_key }`.
        write fn insert_ai_provider(&self, params: &InsertAiProvider<'_>) -> Result<AiProvider>;

        /// Inserts a bearer key of a provider.
        write fn insert_ai_provider_key(&self, params: &InsertAiProviderKey<'_>) -> Result<()>;

        /// Every provider's keys, oldest first within each provider.
        read fn list_ai_provider_keys(&self) -> Result<Vec<AiProviderKey>>;

        /// Soft-deletes the live provider `name` (deleted, disabled); `None` when there is none.
        write fn soft_delete_ai_provider(&self, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>>;
    }
}

text_enum! {
    /// `ai_providers.type`.
    AiProviderType {
        Openai => "openai",
        Anthropic => "anthropic",
    }
}

/// A row of `ai_providers`. `settings` may hold secrets: never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct AiProvider {
    pub id: String,
    pub provider_type: AiProviderType,
    pub name: String,
    pub display_name: String,
    pub enabled: bool,
    pub deleted: bool,
    pub base_url: String,
    pub settings: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl fmt::Debug for AiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiProvider")
            .field("id", &self.id)
            .field("type", &self.provider_type)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("deleted", &self.deleted)
            .field("base_url", &self.base_url)
            .field("settings", &self.settings.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Parameters of `insert_ai_provider`.
#[derive(Clone)]
pub struct InsertAiProvider<'a> {
    pub id: &'a str,
    pub provider_type: AiProviderType,
    pub name: &'a str,
    pub display_name: &'a str,
    pub base_url: &'a str,
    pub settings: Option<&'a str>,
    pub created_at: Timestamp,
}

/// A row of `ai_provider_keys`. `api_key` is a secret: never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct AiProviderKey {
    pub id: String,
    pub provider_id: String,
    pub api_key: String,
    pub created_at: Timestamp,
}

impl fmt::Debug for AiProviderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiProviderKey").field("id", &self.id).field("provider_id", &self.provider_id).finish()
    }
}

/// A bearer key; `api_key` is a secret, never logged.
#[derive(Clone)]
pub struct InsertAiProviderKey<'a> {
    pub id: &'a str,
    pub provider_id: &'a str,
    pub api_key: &'a str,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for InsertAiProviderKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsertAiProviderKey")
            .field("id", &self.id)
            .field("provider_id", &self.provider_id)
            .finish_non_exhaustive()
    }
}
