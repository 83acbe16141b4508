//! Reading configuration variables: the one place that parses them. A leaf
//! module (it depends on nothing else of kit), so configuration, database and
//! event settings can all use it without depending on each other.

use std::collections::BTreeMap;
use std::str::FromStr;

/// Where variables come from: the process environment (services), or a map
/// (tests, which must not depend on the environment they run in).
#[derive(Clone, Debug, Default)]
pub enum Vars {
    #[default]
    Process,
    Map(BTreeMap<String, String>),
}

impl Vars {
    /// A variable's value; unset and blank count as absent.
    pub fn get(&self, key: &str) -> Option<String> {
        let value = match self {
            Vars::Process => std::env::var(key).ok(),
            Vars::Map(map) => map.get(key).cloned(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The same variables with `key` set (on a map; the process environment
    /// is never written).
    pub fn with(mut self, key: &str, value: &str) -> Self {
        if let Vars::Map(map) = &mut self {
            map.insert(key.to_string(), value.to_string());
        }
        self
    }

    /// `key`, or `default` when absent.
    pub fn or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or_else(|| default.to_string())
    }

    /// `key` parsed, or `default` when absent; a present but unparsable value
    /// is an error naming it, never silently replaced by the default.
    pub fn parse<T>(&self, key: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            Some(value) => value
                .trim()
                .parse()
                .map_err(|err| anyhow::anyhow!("environment variable {key}={value:?} is invalid: {err}")),
            None => Ok(default),
        }
    }
}

/// Reads `key` from the process environment, falling back to `default`.
pub fn env_or(key: &str, default: &str) -> String {
    Vars::Process.or(key, default)
}

/// Reads and parses `key` from the process environment (see `Vars::parse`).
pub fn env_parse<T>(key: &str, default: T) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    Vars::Process.parse(key, default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_absent_and_garbage_is_an_error_naming_the_variable() {
        let vars = Vars::Map(BTreeMap::from([("A".into(), " ".into()), ("B".into(), "x".into())]));
        assert_eq!(vars.parse("A", 7).unwrap(), 7);
        let err = vars.parse::<u16>("B", 7).unwrap_err().to_string();
        assert!(err.contains("B=\"x\""), "{err}");
        assert_eq!(vars.or("C", "d"), "d");
    }
}
