//! Reading policy JSON strictly: a key given twice in one object is an error. serde_json keeps
//! the last of duplicate keys, so `{"identities": [...], "identities": "any"}` would silently
//! widen a policy; a configuration must mean what every reader of it sees.

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `text` (an optional UTF-8 byte-order mark is skipped) into a [`Value`], rejecting
/// duplicate keys with their name and position. Every initra configuration file is read so.
pub fn parse(text: &str) -> Result<Value, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str::<Strict>(text)
        .map(|s| s.0)
        .map_err(|e| format!("invalid JSON: {e}"))
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} (a key may appear once per object)"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn duplicate_keys_are_errors_at_any_depth() {
        let e = parse(r#"{"identities": [], "identities": "any"}"#).unwrap_err();
        assert!(
            e.starts_with("invalid JSON: duplicate key \"identities\" (a key may appear once per object) at line 1"),
            "{e}"
        );
        let e = parse(r#"{"a": [{"m": "x", "m": "y"}]}"#).unwrap_err();
        assert!(e.contains("duplicate key \"m\""), "{e}");
    }

    #[test]
    fn values_are_those_serde_json_reads_and_a_bom_is_skipped() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "s", {"b": {}}], "c": 18446744073709551615}"#;
        let plain: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(text).unwrap(), plain);
        assert_eq!(parse(&format!("\u{feff}{text}")).unwrap(), plain);
        assert!(parse("{").unwrap_err().starts_with("invalid JSON: "));
    }
}
