//! Normalizing parsed env into desired providers, the
//! canonical hash, and the settings blob. Pure.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;
use sha2::Digest;
use sha2::Sha256;

use crate::aiproviders::env::EnvConfig;
use crate::aiproviders::env::EnvError;
use crate::aiproviders::env::IndexedProvider;
use crate::aiproviders::env::Secret;
use crate::database::models::AiProviderType;

/// Bedrock settings of an anthropic provider. Stored only with both credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BedrockSettings {
    pub region: String,
    pub model: String,
    pub small_fast_model: String,
    pub access_key: Secret,
    pub access_key_secret: Secret,
}

/// A provider the environment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredProvider {
    pub name: String,
    pub provider_type: AiProviderType,
    pub base_url: String,
    /// Bearer keys in env order (seeded only when the row is first created).
    pub keys: Vec<Secret>,
    pub bedrock: Option<BedrockSettings>,
}

impl DesiredProvider {
    pub fn hash(&self) -> String {
        canonical_hash(self.provider_type, &self.base_url, self.bedrock.as_ref())
    }
}

/// The result of normalization: providers sorted by name, plus notes to log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub providers: Vec<DesiredProvider>,
    /// Informational notes (skipped types, ignored fields), never containing secrets.
    pub notes: Vec<String>,
}

/// The name rule `^[a-z0-9]+(-[a-z0-9]+)*$`.
pub fn is_valid_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// Turns parsed env into desired providers, sorted by name.
pub fn desired_providers(env: &EnvConfig) -> Result<Desired, EnvError> {
    let mut notes = Vec::new();
    let mut legacy: BTreeMap<String, DesiredProvider> = BTreeMap::new();
    let l = &env.legacy;
    if !l.openai_key.is_empty() {
        legacy.insert(
            "openai".to_owned(),
            DesiredProvider {
                name: "openai".to_owned(),
                provider_type: AiProviderType::Openai,
                base_url: l.openai_base_url.clone(),
                keys: vec![l.openai_key.clone()],
                bedrock: None,
            },
        );
    }
    let bedrock = bedrock_settings(
        "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY",
        "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET",
        &l.bedrock_region,
        &l.bedrock_model,
        &l.bedrock_small_fast_model,
        l.bedrock_access_key.clone(),
        l.bedrock_access_key_secret.clone(),
    )?;
    if bedrock.is_none() && (!l.bedrock_region.is_empty() || !l.bedrock_base_url.is_empty()) {
        notes.push(
            "CODER_AIBRIDGE_BEDROCK_REGION/BASE_URL set without Bedrock credentials: no Bedrock settings are seeded"
                .to_owned(),
        );
    }
    if bedrock.is_some() && !l.bedrock_base_url.is_empty() {
        notes.push(
            "CODER_AIBRIDGE_BEDROCK_BASE_URL is not stored by this version; the Anthropic base URL is used".to_owned(),
        );
    }
    if !l.anthropic_key.is_empty() || bedrock.is_some() {
        let keys = if l.anthropic_key.is_empty() { Vec::new() } else { vec![l.anthropic_key.clone()] };
        legacy.insert(
            "anthropic".to_owned(),
            DesiredProvider {
                name: "anthropic".to_owned(),
                provider_type: AiProviderType::Anthropic,
                base_url: l.anthropic_base_url.clone(),
                keys,
                bedrock,
            },
        );
    }

    let mut indexed: BTreeMap<String, DesiredProvider> = BTreeMap::new();
    for p in &env.indexed {
        let Some(desired) = indexed_provider(p, &mut notes)? else { continue };
        if legacy.contains_key(&desired.name) {
            return Err(EnvError(format!(
                "indexed AI provider {:?} conflicts with the legacy env var of the same name; remove one or the other",
                desired.name
            )));
        }
        match indexed.get(&desired.name) {
            Some(existing) if *existing == desired => {}
            Some(_) => {
                return Err(EnvError(format!(
                    "provider {}: duplicate NAME {:?}: duplicate AI provider name with conflicting fields",
                    p.index, desired.name
                )));
            }
            None => {
                indexed.insert(desired.name.clone(), desired);
            }
        }
    }
    let mut providers: Vec<DesiredProvider> = legacy.into_values().chain(indexed.into_values()).collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Desired { providers, notes })
}

fn indexed_provider(p: &IndexedProvider, notes: &mut Vec<String>) -> Result<Option<DesiredProvider>, EnvError> {
    if p.name.is_empty() {
        return Err(EnvError("indexed AI provider must have a name or type".to_owned()));
    }
    if !is_valid_provider_name(&p.name) {
        return Err(EnvError(format!("invalid AI provider name {:?}: must match ^[a-z0-9]+(-[a-z0-9]+)*$", p.name)));
    }
    let provider_type = match p.provider_type.parse::<AiProviderType>() {
        Ok(t) => t,
        Err(_) => {
            notes
                .push(format!("skipping indexed AI provider {:?} with unsupported type {:?}", p.name, p.provider_type));
            return Ok(None);
        }
    };
    let mut keys = p.keys.clone();
    let mut bedrock = None;
    if provider_type == AiProviderType::Anthropic {
        let prefix = format!("CODER_AIBRIDGE_PROVIDER_{}_", p.index);
        bedrock = bedrock_settings(
            &format!("{prefix}BEDROCK_ACCESS_KEY"),
            &format!("{prefix}BEDROCK_ACCESS_KEY_SECRET"),
            &p.bedrock_region,
            &p.bedrock_model,
            &p.bedrock_small_fast_model,
            p.bedrock_access_keys.first().cloned().unwrap_or_default(),
            p.bedrock_access_key_secrets.first().cloned().unwrap_or_default(),
        )?;
        if bedrock.is_some() && !keys.is_empty() {
            notes.push(format!(
                "indexed AI provider {:?} uses Bedrock credentials; its bearer keys are not seeded",
                p.name
            ));
            keys.clear();
        }
        if !p.bedrock_base_url.is_empty() {
            notes.push(format!("indexed AI provider {:?}: BEDROCK_BASE_URL is not stored by this version", p.name));
        }
    }
    Ok(Some(DesiredProvider { name: p.name.clone(), provider_type, base_url: p.base_url.clone(), keys, bedrock }))
}

/// Bedrock settings when both credentials are set; exactly one set is an error naming both
/// variables. Region and models alone never make Bedrock settings.
fn bedrock_settings(
    key_var: &str,
    secret_var: &str,
    region: &str,
    model: &str,
    small_fast_model: &str,
    access_key: Secret,
    access_key_secret: Secret,
) -> Result<Option<BedrockSettings>, EnvError> {
    match (access_key.is_empty(), access_key_secret.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some(BedrockSettings {
            region: region.to_owned(),
            model: model.to_owned(),
            small_fast_model: small_fast_model.to_owned(),
            access_key,
            access_key_secret,
        })),
        (false, true) => Err(EnvError(format!("{key_var} is set but {secret_var} is not; Bedrock needs both"))),
        (true, false) => Err(EnvError(format!("{secret_var} is set but {key_var} is not; Bedrock needs both"))),
    }
}

/// The fields that define a provider for drift detection, in a fixed order.
#[derive(Serialize)]
struct CanonicalProvider<'a> {
    #[serde(rename = "type")]
    provider_type: &'a str,
    base_url: &'a str,
    bedrock_region: &'a str,
    bedrock_model: &'a str,
    bedrock_small_fast_model: &'a str,
    bedrock_access_key: &'a str,
    bedrock_access_key_secret: &'a str,
}

/// SHA-256 (lowercase hex) of the canonical JSON of type, base_url and the five Bedrock
/// fields (empty when none). Bearer keys are excluded: rotating one is not drift.
pub fn canonical_hash(provider_type: AiProviderType, base_url: &str, bedrock: Option<&BedrockSettings>) -> String {
    let b = bedrock.cloned().unwrap_or_default();
    let canonical = CanonicalProvider {
        provider_type: provider_type.as_str(),
        base_url,
        bedrock_region: &b.region,
        bedrock_model: &b.model,
        bedrock_small_fast_model: &b.small_fast_model,
        bedrock_access_key: b.access_key.expose(),
        bedrock_access_key_secret: b.access_key_secret.expose(),
    };
    let json = serde_json::to_vec(&canonical).expect("canonical provider serializes");
    hex::encode(Sha256::digest(json))
}

/// The stored settings blob: `{"_type":"bedrock","_version":1, ...}`, empty fields omitted.
#[derive(Serialize, Deserialize, Default)]
struct SettingsBlob {
    #[serde(rename = "_type")]
    kind: Option<String>,
    #[serde(rename = "_version")]
    version: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    model: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    small_fast_model: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    access_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    access_key_secret: String,
}

/// Encodes settings for storage: `None` is SQL NULL.
pub fn encode_settings(bedrock: Option<&BedrockSettings>) -> Option<String> {
    bedrock.map(|b| {
        serde_json::to_string(&SettingsBlob {
            kind: Some("bedrock".to_owned()),
            version: Some(1),
            region: b.region.clone(),
            model: b.model.clone(),
            small_fast_model: b.small_fast_model.clone(),
            access_key: b.access_key.expose().to_owned(),
            access_key_secret: b.access_key_secret.expose().to_owned(),
        })
        .expect("settings serialize")
    })
}

/// Decodes stored settings: NULL, empty or `null` mean none.
pub fn decode_settings(settings: Option<&str>) -> Result<Option<BedrockSettings>, String> {
    let Some(text) = settings.map(str::trim).filter(|t| !t.is_empty() && *t != "null") else {
        return Ok(None);
    };
    let blob: SettingsBlob = serde_json::from_str(text).map_err(|e| format!("settings are not a JSON object: {e}"))?;
    match blob.kind.as_deref() {
        None => Err("settings missing _type discriminator".to_owned()),
        Some("bedrock") if blob.version == Some(1) => Ok(Some(BedrockSettings {
            region: blob.region,
            model: blob.model,
            small_fast_model: blob.small_fast_model,
            access_key: Secret(blob.access_key),
            access_key_secret: Secret(blob.access_key_secret),
        })),
        Some("bedrock") => Err(format!("unsupported bedrock settings version {:?}", blob.version)),
        Some(other) => Err(format!("unknown settings _type {other:?}")),
    }
}
