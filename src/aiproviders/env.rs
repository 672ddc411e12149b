//! Parsing the environment into AI provider configuration (reference §3, PR-era rules).
//! Pure: takes the variables as pairs, so tests never touch the process environment.

use std::collections::BTreeMap;
use std::fmt;

/// The legacy variables' prefix.
pub const LEGACY_PREFIX: &str = "CODER_AIBRIDGE_";
/// The indexed variables' prefix: `CODER_AIBRIDGE_PROVIDER_<N>_<FIELD>`.
pub const INDEXED_PREFIX: &str = "CODER_AIBRIDGE_PROVIDER_";

pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1/";
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com/";
/// Bedrock model defaults (upstream ships non-empty defaults; they never mean "Bedrock is
/// configured").
pub const DEFAULT_BEDROCK_MODEL: &str = "global.anthropic.claude-sonnet-4-5-20250929-v1:0";
pub const DEFAULT_BEDROCK_SMALL_FAST_MODEL: &str = "global.anthropic.claude-haiku-4-5-20251001-v1:0";

/// The most keys one list may hold.
pub const MAX_KEYS: usize = 5;

/// A parse error; the text names the variable or provider index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError(pub String);

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvError {}

/// A value that must never be printed whole (keys, AWS secrets).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

/// Masks a secret for output: the first 3 characters, "…", the last 4; 8 characters or
/// fewer are masked completely.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        // A fixed mask: not even the length shows.
        return "********".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// The legacy (one provider each) variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyConfig {
    pub openai_key: Secret,
    pub openai_base_url: String,
    pub anthropic_key: Secret,
    pub anthropic_base_url: String,
    pub bedrock_base_url: String,
    pub bedrock_region: String,
    pub bedrock_access_key: Secret,
    pub bedrock_access_key_secret: Secret,
    pub bedrock_model: String,
    pub bedrock_small_fast_model: String,
}

/// One `CODER_AIBRIDGE_PROVIDER_<N>_*` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexedProvider {
    pub index: usize,
    /// As given (validated against openai, anthropic, copilot).
    pub provider_type: String,
    /// NAME, or TYPE when NAME is empty.
    pub name: String,
    /// True when NAME was not given.
    pub name_defaulted: bool,
    pub keys: Vec<Secret>,
    pub base_url: String,
    pub bedrock_base_url: String,
    pub bedrock_region: String,
    pub bedrock_access_keys: Vec<Secret>,
    pub bedrock_access_key_secrets: Vec<Secret>,
    pub bedrock_model: String,
    pub bedrock_small_fast_model: String,
}

/// Everything the environment says about AI providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvConfig {
    pub legacy: LegacyConfig,
    pub indexed: Vec<IndexedProvider>,
    /// Variables that look like indexed fields but are not (typos), one warning each.
    pub warnings: Vec<String>,
}

/// Types the parser accepts; `copilot` is valid here but not stored (skipped later).
const PARSER_TYPES: &[&str] = &["openai", "anthropic", "copilot"];

/// Parses the AI provider variables out of `vars` (other variables are ignored).
pub fn parse_env<I, K, V>(vars: I) -> Result<EnvConfig, EnvError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let vars: BTreeMap<String, String> =
        vars.into_iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect();
    let get = |suffix: &str| vars.get(&format!("{LEGACY_PREFIX}{suffix}")).cloned().unwrap_or_default();
    let or_default = |v: String, d: &str| if v.is_empty() { d.to_owned() } else { v };
    let legacy = LegacyConfig {
        openai_key: Secret(get("OPENAI_KEY")),
        openai_base_url: or_default(get("OPENAI_BASE_URL"), DEFAULT_OPENAI_BASE_URL),
        anthropic_key: Secret(get("ANTHROPIC_KEY")),
        anthropic_base_url: or_default(get("ANTHROPIC_BASE_URL"), DEFAULT_ANTHROPIC_BASE_URL),
        bedrock_base_url: get("BEDROCK_BASE_URL"),
        bedrock_region: get("BEDROCK_REGION"),
        bedrock_access_key: Secret(get("BEDROCK_ACCESS_KEY")),
        bedrock_access_key_secret: Secret(get("BEDROCK_ACCESS_KEY_SECRET")),
        bedrock_model: or_default(get("BEDROCK_MODEL"), DEFAULT_BEDROCK_MODEL),
        bedrock_small_fast_model: or_default(get("BEDROCK_SMALL_FAST_MODEL"), DEFAULT_BEDROCK_SMALL_FAST_MODEL),
    };
    let (indexed, warnings) = parse_indexed(&vars)?;
    Ok(EnvConfig { legacy, indexed, warnings })
}

/// The raw fields of one index, by upper-cased field name.
type RawFields = BTreeMap<String, (String, String)>;

fn parse_indexed(vars: &BTreeMap<String, String>) -> Result<(Vec<IndexedProvider>, Vec<String>), EnvError> {
    let mut by_index: BTreeMap<usize, RawFields> = BTreeMap::new();
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix(INDEXED_PREFIX) else { continue };
        let (number, field) = rest.split_once('_').unwrap_or((rest, ""));
        let index: usize = number.parse().map_err(|_| EnvError(format!("parse number: {var}")))?;
        by_index.entry(index).or_default().insert(field.to_ascii_uppercase(), (var.clone(), value.clone()));
    }
    let mut providers = Vec::new();
    let mut warnings = Vec::new();
    for (expected, (index, fields)) in by_index.into_iter().enumerate() {
        if index != expected {
            return Err(EnvError(format!(
                "provider num {expected} skipped (found CODER_AIBRIDGE_PROVIDER_{index}_* instead): the indices \
                 of CODER_AIBRIDGE_PROVIDER_<N>_* must start at 0 and have no gaps"
            )));
        }
        providers.push(parse_one(index, &fields, &mut warnings)?);
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for p in &providers {
        if let Some(first) = seen.get(&p.name)
            && p.name_defaulted
        {
            return Err(EnvError(format!(
                "provider {}: duplicate NAME {:?} (also provider {first}; multiple providers of the same type require \
                 explicit NAME fields)",
                p.index, p.name
            )));
        }
        seen.entry(p.name.clone()).or_insert(p.index);
    }
    Ok((providers, warnings))
}

const KNOWN_FIELDS: &[&str] = &[
    "TYPE",
    "NAME",
    "KEY",
    "KEYS",
    "BASE_URL",
    "BEDROCK_BASE_URL",
    "BEDROCK_REGION",
    "BEDROCK_ACCESS_KEY",
    "BEDROCK_ACCESS_KEYS",
    "BEDROCK_ACCESS_KEY_SECRET",
    "BEDROCK_ACCESS_KEY_SECRETS",
    "BEDROCK_MODEL",
    "BEDROCK_SMALL_FAST_MODEL",
];

fn parse_one(index: usize, fields: &RawFields, warnings: &mut Vec<String>) -> Result<IndexedProvider, EnvError> {
    for (field, (var, _)) in fields {
        if !KNOWN_FIELDS.contains(&field.as_str()) {
            warnings.push(format!("ignoring unknown AI provider field (check for typos): {var}"));
        }
    }
    let value = |field: &str| fields.get(field).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let provider_type = value("TYPE").to_ascii_lowercase();
    if provider_type.is_empty() {
        return Err(EnvError(format!("provider {index}: TYPE is required")));
    }
    if !PARSER_TYPES.contains(&provider_type.as_str()) {
        return Err(EnvError(format!(
            "provider {index}: unknown TYPE {provider_type:?} (expected one of {})",
            PARSER_TYPES.join(", ")
        )));
    }
    let keys = key_list(index, fields, "KEY", "KEYS")?;
    let bedrock_access_keys = key_list(index, fields, "BEDROCK_ACCESS_KEY", "BEDROCK_ACCESS_KEYS")?;
    let bedrock_access_key_secrets =
        key_list(index, fields, "BEDROCK_ACCESS_KEY_SECRET", "BEDROCK_ACCESS_KEY_SECRETS")?;
    let has_bedrock = fields.keys().any(|f| f.starts_with("BEDROCK_") && KNOWN_FIELDS.contains(&f.as_str()));
    if has_bedrock && provider_type != "anthropic" {
        return Err(EnvError(format!(
            "provider {index}: BEDROCK_* fields are only supported with TYPE anthropic (got {provider_type:?})"
        )));
    }
    match (bedrock_access_keys.is_empty(), bedrock_access_key_secrets.is_empty()) {
        (false, true) | (true, false) => {
            let (set, unset) = if bedrock_access_keys.is_empty() {
                ("BEDROCK_ACCESS_KEY_SECRET", "BEDROCK_ACCESS_KEY")
            } else {
                ("BEDROCK_ACCESS_KEY", "BEDROCK_ACCESS_KEY_SECRET")
            };
            return Err(EnvError(format!(
                "provider {index}: {INDEXED_PREFIX}{index}_{set} is set but {INDEXED_PREFIX}{index}_{unset} is not; \
                 Bedrock needs both"
            )));
        }
        _ => {}
    }
    if bedrock_access_keys.len() != bedrock_access_key_secrets.len() {
        return Err(EnvError(format!(
            "provider {index}: BEDROCK_ACCESS_KEYS count ({}) must match BEDROCK_ACCESS_KEY_SECRETS count ({})",
            bedrock_access_keys.len(),
            bedrock_access_key_secrets.len()
        )));
    }
    let name = value("NAME");
    let name_defaulted = name.is_empty();
    Ok(IndexedProvider {
        index,
        name: if name_defaulted { provider_type.clone() } else { name },
        name_defaulted,
        provider_type,
        keys,
        base_url: value("BASE_URL"),
        bedrock_base_url: value("BEDROCK_BASE_URL"),
        bedrock_region: value("BEDROCK_REGION"),
        bedrock_access_keys,
        bedrock_access_key_secrets,
        bedrock_model: value("BEDROCK_MODEL"),
        bedrock_small_fast_model: value("BEDROCK_SMALL_FAST_MODEL"),
    })
}

/// Reads a singular/plural key pair: `KEY` (one key) or `KEYS` (comma-separated, trimmed,
/// no empty entries, no duplicates, at most 5); both set is an error.
fn key_list(index: usize, fields: &RawFields, single: &str, plural: &str) -> Result<Vec<Secret>, EnvError> {
    let one = fields.get(single).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let many = fields.get(plural).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty());
    match (one, many) {
        (Some(_), Some(_)) => Err(EnvError(format!("provider {index}: {single} and {plural} are mutually exclusive"))),
        (Some(key), None) => Ok(vec![Secret(key.to_owned())]),
        (None, None) => Ok(Vec::new()),
        (None, Some(list)) => {
            let keys: Vec<&str> = list.split(',').map(str::trim).collect();
            if keys.len() > MAX_KEYS {
                return Err(EnvError(format!(
                    "provider {index}: {plural}: too many keys ({}), maximum is {MAX_KEYS}",
                    keys.len()
                )));
            }
            let mut out: Vec<Secret> = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                if key.is_empty() {
                    return Err(EnvError(format!("provider {index}: {plural}: key at index {i} is empty")));
                }
                if out.iter().any(|k| k.expose() == *key) {
                    return Err(EnvError(format!("provider {index}: {plural}: duplicate key at index {i}")));
                }
                out.push(Secret((*key).to_owned()));
            }
            Ok(out)
        }
    }
}
