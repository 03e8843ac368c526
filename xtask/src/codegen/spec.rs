//! The JSON message specs as Kafka writes them, modelled with serde. Unknown keys are errors, so a
//! new spec feature fails the generator loudly instead of being silently ignored.

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// One `*.json` file: a request, response, header or data message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MessageSpec {
    pub(crate) api_key: Option<i16>,
    #[serde(rename = "type")]
    pub(crate) kind: MessageKind,
    /// Which broker roles serve the API; documented only.
    pub(crate) listeners: Option<Vec<String>>,
    pub(crate) name: String,
    pub(crate) valid_versions: String,
    pub(crate) deprecated_versions: Option<String>,
    /// Absent only in the stubs of removed APIs (Kafka 4's `"validVersions": "none"`).
    #[serde(default = "none")]
    pub(crate) flexible_versions: String,
    pub(crate) latest_version_unstable: Option<bool>,
    #[serde(default)]
    pub(crate) fields: Vec<FieldSpec>,
    #[serde(default)]
    pub(crate) common_structs: Vec<StructSpec>,
}

fn none() -> String {
    "none".to_string()
}

/// The `type` of a message spec.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) enum MessageKind {
    Request,
    Response,
    Header,
    Data,
}

/// A struct shared by several fields of one message (`commonStructs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct StructSpec {
    pub(crate) name: String,
    pub(crate) versions: String,
    pub(crate) fields: Vec<FieldSpec>,
}

/// One field of a message or struct.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FieldSpec {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) ty: String,
    pub(crate) versions: String,
    pub(crate) about: Option<String>,
    pub(crate) fields: Option<Vec<FieldSpec>>,
    /// A string in most specs, sometimes a bare number.
    pub(crate) default: Option<serde_json::Value>,
    pub(crate) entity_type: Option<String>,
    #[serde(default)]
    pub(crate) ignorable: bool,
    pub(crate) nullable_versions: Option<String>,
    #[serde(default)]
    pub(crate) map_key: bool,
    pub(crate) tagged_versions: Option<String>,
    /// A number in most specs, sometimes a string.
    pub(crate) tag: Option<serde_json::Value>,
    /// Java-only optimisation hint; `bytes` are always zero-copy here.
    #[serde(default, rename = "zeroCopy")]
    pub(crate) _zero_copy: bool,
    pub(crate) flexible_versions: Option<String>,
}

impl FieldSpec {
    /// The tag as a number, accepting `0` and `"0"`.
    pub(crate) fn tag(&self) -> Result<Option<u32>> {
        match &self.tag {
            None => Ok(None),
            Some(serde_json::Value::Number(n)) => Ok(Some(
                n.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .with_context(|| format!("bad tag {n} on {}", self.name))?,
            )),
            Some(serde_json::Value::String(s)) => {
                Ok(Some(s.parse().with_context(|| {
                    format!("bad tag {s:?} on {}", self.name)
                })?))
            }
            Some(other) => bail!("bad tag {other} on {}", self.name),
        }
    }

    /// The default as a string (`"-1"`, `"null"`, `"false"`), accepting bare JSON scalars.
    pub(crate) fn default_str(&self) -> Result<Option<String>> {
        match &self.default {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => bail!("bad default {other} on {}", self.name),
        }
    }
}

/// Removes `//` line comments (but not `//` inside string literals) so serde_json can parse the
/// spec. Newlines are kept so serde_json's line numbers still match the file.
pub(crate) fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for skipped in chars.by_ref() {
                if skipped == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses one spec file's text.
///
/// Goes through `serde_json::Value` first because some specs repeat a key with the same value
/// (Jackson, which Kafka uses, keeps the last one), which a derived struct would reject.
pub(crate) fn parse(file_name: &str, src: &str) -> Result<MessageSpec> {
    let value: serde_json::Value = serde_json::from_str(&strip_comments(src))
        .with_context(|| format!("parsing {file_name}"))?;
    serde_json::from_value(value).with_context(|| format!("reading the spec in {file_name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors() {
        let ok = r#"{ "type": "data", "name": "X", "validVersions": "0", "flexibleVersions": "none",
                      "fields": [ { "name": "A", "type": "int32", "versions": "0+" } ] }"#;
        assert!(parse("X.json", ok).is_ok());
        let bad = ok.replace(r#""versions": "0+""#, r#""versions": "0+", "newKey": 1"#);
        let err = format!("{:#}", parse("X.json", &bad).unwrap_err());
        assert!(err.contains("newKey"), "{err}");
    }

    #[test]
    fn comments_are_stripped_but_not_inside_strings() {
        let src = "// head\n{ \"a\": \"http://x\\\"//y\", // tail\n \"b\": 1 }";
        let v: serde_json::Value = serde_json::from_str(&strip_comments(src)).unwrap();
        assert_eq!(v["a"], "http://x\"//y");
        assert_eq!(v["b"], 1);
    }
}
