//! Reading JSON objects field by field, so every configuration error names its exact path
//! (`identities[1].mr_td: expected 48 bytes, got 32`) and unknown keys are errors (fail closed).

use std::collections::BTreeSet;
use std::str::FromStr;

use serde_json::{Map, Value};

/// A JSON object being read; remembers which keys were used.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
    used: BTreeSet<&'a str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(value: &'a Value, path: &str) -> Result<Self, String> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_owned(),
                used: BTreeSet::new(),
            }),
            other => Err(format!(
                "{}: expected an object, got {}",
                display(path),
                kind(other)
            )),
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`, if present. An explicit `null` is returned as such, so every typed
    /// reader rejects it: a template variable left empty must not switch a check off.
    pub(crate) fn get(&mut self, key: &'a str) -> Option<&'a Value> {
        let v = self.map.get(key)?;
        self.used.insert(key);
        Some(v)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn string(&mut self, key: &'a str) -> Result<Option<&'a str>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!(
                "{}: expected a string, got {}",
                self.path(key),
                kind(other)
            )),
        }
    }

    pub(crate) fn hex<T: FromStr<Err = initra_evidence::Error>>(
        &mut self,
        key: &'a str,
    ) -> Result<Option<T>, String> {
        let path = self.path(key);
        match self.string(key)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|e| hex_error(&path, s, &e)),
        }
    }

    pub(crate) fn u16(&mut self, key: &'a str) -> Result<Option<u16>, String> {
        let path = self.path(key);
        match self.get(key) {
            None => Ok(None),
            Some(v) => value_u16(v).map(Some).map_err(|e| format!("{path}: {e}")),
        }
    }

    pub(crate) fn u32(&mut self, key: &'a str) -> Result<Option<u32>, String> {
        let path = self.path(key);
        match self.get(key) {
            None => Ok(None),
            Some(v) => value_u64(v)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| format!("{path}: expected an integer 0..=4294967295, got {v}")),
        }
    }

    pub(crate) fn u8(&mut self, key: &'a str) -> Result<Option<u8>, String> {
        let path = self.path(key);
        match self.get(key) {
            None => Ok(None),
            Some(v) => value_u64(v)
                .and_then(|n| u8::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| format!("{path}: expected an integer 0..=255, got {v}")),
        }
    }

    /// A u64 given as a JSON number or a string, decimal or `0x` hex (policy bit masks).
    pub(crate) fn u64(&mut self, key: &'a str) -> Result<Option<u64>, String> {
        let path = self.path(key);
        match self.get(key) {
            None => Ok(None),
            Some(v) => value_u64(v).map(Some).ok_or_else(|| {
                format!("{path}: expected an integer (number, or string \"0x..\"), got {v}")
            }),
        }
    }

    pub(crate) fn bool(&mut self, key: &'a str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!(
                "{}: expected true or false, got {}",
                self.path(key),
                kind(other)
            )),
        }
    }

    pub(crate) fn array(&mut self, key: &'a str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(format!(
                "{}: expected an array, got {}",
                self.path(key),
                kind(other)
            )),
        }
    }

    /// The keys never asked for, in order.
    pub(crate) fn unknown(&self) -> Vec<&'a str> {
        self.map
            .keys()
            .map(String::as_str)
            .filter(|k| !self.used.contains(k))
            .collect()
    }

    /// Fails on keys never asked for (a typo must not silently disable a check).
    pub(crate) fn finish(&self) -> Result<(), String> {
        match self.unknown().as_slice() {
            [] => Ok(()),
            keys => Err(format!(
                "{}: unknown field(s) {}",
                display(&self.path),
                keys.join(", ")
            )),
        }
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "top level"
    } else {
        path
    }
}

pub(crate) fn hex_error(path: &str, value: &str, e: &initra_evidence::Error) -> String {
    match e {
        initra_evidence::Error::LengthMismatch {
            expected, actual, ..
        } => format!("{path}: expected {expected} bytes of hex, got {actual}"),
        _ => format!("{path}: not hex: {value:?}"),
    }
}

/// A u16 given as a JSON number (or a decimal string, as some generated configs have).
pub(crate) fn value_u16(v: &Value) -> Result<u16, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("expected an integer 0..=65535, got {v}"))
}

/// A u64 from a JSON number, or a decimal / `0x` hex string.
pub(crate) fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
