//! From TOML text to the raw, spanned structs, reporting every structural
//! error (a value of the wrong type, an unknown key) with its line and
//! column, not only the first: the serde deserializer stops at the first
//! error, so the text is parsed once into a spanned TOML tree (a syntax
//! error can only be reported once: nothing after it is known) and each
//! top-level section and each `[[neighbors]]`, `[[routes]]`, `[[layer2]]`
//! entry is deserialized on its own.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::{ConfigError, ConfigErrors, Locator};
use super::raw::RawConfig;

fn syntax(locator: &Locator<'_>, error: toml::de::Error) -> ConfigError {
    let offset = error.span().map_or(0, |span| span.start);
    ConfigError::Syntax { location: locator.locate(offset), error }
}

/// One value as `T`, or its error.
fn one<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    locator: &Locator<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    T::deserialize(ValueDeserializer::from(value)).map_err(|e| errors.push(syntax(locator, e))).ok()
}

/// Each entry of an array of tables as `T`, every entry's error collected.
fn each<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    locator: &Locator<'_>,
    errors: &mut Vec<ConfigError>,
) -> Vec<Spanned<T>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => {
            items.into_iter().filter_map(|item| one(item, locator, errors)).collect()
        }
        other => one(Spanned::new(span, other), locator, errors).unwrap_or_default(),
    }
}

/// The entries without their places (the policy tables keep none: their
/// validation finds them again in the text).
fn plain<T>(entries: Vec<Spanned<T>>) -> Vec<T> {
    entries.into_iter().map(Spanned::into_inner).collect()
}

/// Parses `text` into a [`RawConfig`], or every structural error.
pub(super) fn parse(text: &str, locator: &Locator<'_>) -> Result<RawConfig, ConfigErrors> {
    let root = DeTable::parse(text).map_err(|error| syntax(locator, error))?;
    let root_span = root.span();
    let mut raw = RawConfig::default();
    let mut errors = Vec::new();
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "global" => raw.global = one(value, locator, &mut errors),
            "api" => raw.api = one(value, locator, &mut errors),
            "metrics" => raw.metrics = one(value, locator, &mut errors),
            "layer2_gratuitous" => raw.layer2_gratuitous = one(value, locator, &mut errors),
            "neighbors" => raw.neighbors = each(value, locator, &mut errors),
            "routes" => raw.routes = each(value, locator, &mut errors),
            "layer2" => raw.layer2 = each(value, locator, &mut errors),
            "prefix_sets" => raw.prefix_sets = plain(each(value, locator, &mut errors)),
            "community_sets" => raw.community_sets = plain(each(value, locator, &mut errors)),
            "large_community_sets" => {
                raw.large_community_sets = plain(each(value, locator, &mut errors));
            }
            "as_path_sets" => raw.as_path_sets = plain(each(value, locator, &mut errors)),
            "policies" => raw.policies = plain(each(value, locator, &mut errors)),
            _ => {
                // The whole-document deserializer words the unknown key
                // (with the keys it expected) and places it.
                let name = key.get_ref().to_string();
                let mut alone = DeTable::new();
                alone.insert(key, value);
                let table = toml::de::Deserializer::from(Spanned::new(root_span.clone(), alone));
                let error = match RawConfig::deserialize(table) {
                    Err(error) => error,
                    // A key `RawConfig` knows but no arm above reads: it
                    // would be dropped silently, so say so (a bug, caught by
                    // any test that uses the key).
                    Ok(_) => <toml::de::Error as serde::de::Error>::custom(format!(
                        "key `{name}` is known but not read by bgpd's config parser"
                    )),
                };
                errors.push(syntax(locator, error));
            }
        }
    }
    if errors.is_empty() {
        Ok(raw)
    } else {
        errors.sort_by_key(|e| e.location().map(|l| (l.line, l.column)));
        Err(ConfigErrors { errors })
    }
}
