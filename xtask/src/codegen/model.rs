//! The resolved model: version ranges parsed and clamped to the message's valid versions, types
//! resolved (including `commonStructs`), defaults turned into Rust expressions, names turned into
//! Rust identifiers. The emitter works only from this model.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};

use super::spec::{FieldSpec, MessageKind, MessageSpec};

/// An inclusive version range; empty when `min > max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) min: i16,
    pub(crate) max: i16,
}

impl Range {
    pub(crate) const NONE: Range = Range { min: 1, max: 0 };

    pub(crate) fn parse(s: &str) -> Result<Range> {
        let s = s.trim();
        if s == "none" {
            return Ok(Range::NONE);
        }
        let r = if let Some(min) = s.strip_suffix('+') {
            Range {
                min: min.parse()?,
                max: i16::MAX,
            }
        } else if let Some((a, b)) = s.split_once('-') {
            Range {
                min: a.parse()?,
                max: b.parse()?,
            }
        } else {
            let v = s
                .parse()
                .with_context(|| format!("bad version range {s:?}"))?;
            Range { min: v, max: v }
        };
        Ok(r)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.min > self.max
    }

    pub(crate) fn contains(&self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }

    pub(crate) fn intersect(&self, o: Range) -> Range {
        Range {
            min: self.min.max(o.min),
            max: self.max.min(o.max),
        }
    }

    /// `self` covers every version of `within` (vacuously true when `within` is empty).
    pub(crate) fn covers(&self, within: Range) -> bool {
        within.is_empty() || (self.min <= within.min && self.max >= within.max)
    }

    /// Human form used in docs: `3+`, `0-4`, `5`, `none`.
    pub(crate) fn describe(&self, valid: Range) -> String {
        if self.is_empty() {
            "none".into()
        } else if self.max >= valid.max {
            format!("{}+", self.min)
        } else if self.min == self.max {
            format!("{}", self.min)
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

/// A field's wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    I8,
    I16,
    /// An `int16` error code field (`ErrorCode`, `PartitionErrorCode`, ...), typed as
    /// `crate::ErrorCode`, which keeps unknown codes, so the wire value round-trips.
    ErrorCode,
    U16,
    I32,
    U32,
    I64,
    F64,
    String,
    Uuid,
    Bytes,
    Records,
    Array(Box<Ty>),
    /// A struct of the same message module, by Rust type name.
    Struct(String),
}

impl Ty {
    fn parse(s: &str) -> Ty {
        match s {
            "bool" => Ty::Bool,
            "int8" => Ty::I8,
            "int16" => Ty::I16,
            "uint16" => Ty::U16,
            "int32" => Ty::I32,
            "uint32" => Ty::U32,
            "int64" => Ty::I64,
            "float64" => Ty::F64,
            "string" => Ty::String,
            "uuid" => Ty::Uuid,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            s => match s.strip_prefix("[]") {
                Some(inner) => Ty::Array(Box::new(Ty::parse(inner))),
                None => Ty::Struct(s.to_string()),
            },
        }
    }

    /// The Rust type, without the `Option` a nullable field adds.
    pub(crate) fn rust(&self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::I8 => "i8".into(),
            Ty::I16 => "i16".into(),
            Ty::ErrorCode => "crate::ErrorCode".into(),
            Ty::U16 => "u16".into(),
            Ty::I32 => "i32".into(),
            Ty::U32 => "u32".into(),
            Ty::I64 => "i64".into(),
            Ty::F64 => "f64".into(),
            Ty::String => "String".into(),
            Ty::Uuid => "crate::Uuid".into(),
            Ty::Bytes | Ty::Records => "::bytes::Bytes".into(),
            Ty::Array(t) => format!("Vec<{}>", t.rust()),
            Ty::Struct(s) => s.clone(),
        }
    }

    /// Fixed encoded width, if any.
    pub(crate) fn fixed_width(&self) -> Option<usize> {
        Some(match self {
            Ty::Bool | Ty::I8 => 1,
            Ty::I16 | Ty::ErrorCode | Ty::U16 => 2,
            Ty::I32 | Ty::U32 => 4,
            Ty::I64 | Ty::F64 => 8,
            Ty::Uuid => 16,
            _ => return None,
        })
    }
}

/// A resolved field.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) spec_name: String,
    /// Rust field identifier (possibly `r#type`).
    pub(crate) ident: String,
    /// Setter name, `with_<snake>`.
    pub(crate) setter: String,
    pub(crate) ty: Ty,
    /// Whether the Rust type is wrapped in `Option` (nullable in some version, or records).
    pub(crate) optional: bool,
    pub(crate) versions: Range,
    pub(crate) nullable: Range,
    pub(crate) tag: Option<u32>,
    pub(crate) ignorable: bool,
    /// Rust expression for the spec default.
    pub(crate) default_expr: String,
    /// Whether `default_expr` equals the type's `Default::default()`.
    pub(crate) default_is_natural: bool,
    /// Override of the message's flexible versions for this field (`ClientId` in the header).
    pub(crate) flexible_override: Option<Range>,
    pub(crate) about: String,
    pub(crate) entity_type: Option<String>,
    pub(crate) map_key: bool,
}

/// A resolved struct (the message itself, an inline struct, or a common struct).
#[derive(Debug, Clone)]
pub(crate) struct Struct {
    pub(crate) name: String,
    /// `ProduceRequest` or `ProduceRequest.PartitionProduceData`, used in error messages.
    pub(crate) error_name: String,
    pub(crate) about: String,
    pub(crate) fields: Vec<Field>,
    pub(crate) top_level: bool,
    /// The fields of this message that hold this struct, as `(struct, field ident)`.
    pub(crate) used_by: Vec<(String, String)>,
}

/// A resolved message with all its structs (the top-level one first).
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) name: String,
    pub(crate) module: String,
    pub(crate) kind: MessageKind,
    pub(crate) api_key: Option<i16>,
    pub(crate) valid: Range,
    pub(crate) flexible: Range,
    pub(crate) deprecated: Option<Range>,
    pub(crate) latest_unstable: bool,
    pub(crate) listeners: Vec<String>,
    pub(crate) structs: Vec<Struct>,
    /// Lines for the generated file's header: which sources gave which versions.
    pub(crate) provenance: Vec<String>,
    /// One sentence for the docs: which versions come from which source.
    pub(crate) origin_doc: String,
    /// Names older specs gave this message (an API key reused by a renamed API).
    pub(crate) aliases: Vec<String>,
}

impl Message {
    /// Spec name without `Request`/`Response`, e.g. `Produce`.
    pub(crate) fn api_name(&self) -> &str {
        self.name
            .strip_suffix("Request")
            .or_else(|| self.name.strip_suffix("Response"))
            .unwrap_or(&self.name)
    }
}

/// `ThrottleTimeMs` -> `throttle_time_ms`, `KRaftVersionFeature` -> `k_raft_version_feature`.
pub(crate) fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe", "unsized",
    "use", "virtual", "where", "while", "yield",
];

/// Names that generated modules already use, so a struct may not take them.
const RESERVED_TYPES: &[&str] = &[
    "BufMut", "Bytes", "Option", "Result", "String", "Vec", "Default", "Self",
];

pub(crate) fn parse_int_default(s: &str) -> Result<i128> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i128::from_str_radix(hex, 16)?,
        None => digits.parse::<i128>()?,
    };
    Ok(if neg { -v } else { v })
}

struct Resolver<'a> {
    message: &'a str,
    valid: Range,
    common: BTreeMap<String, (&'a [FieldSpec], Range)>,
    structs: Vec<Struct>,
}

impl<'a> Resolver<'a> {
    fn add_struct(
        &mut self,
        name: &str,
        about: &str,
        fields: &'a [FieldSpec],
        top_level: bool,
    ) -> Result<()> {
        ensure!(
            !RESERVED_TYPES.contains(&name),
            "{}: struct name {name} is reserved",
            self.message
        );
        if self.structs.iter().any(|s| s.name == name) {
            // Common structs are emitted once; an inline struct may not reuse a name.
            if self.common.contains_key(name) {
                return Ok(());
            }
            bail!("{}: struct {name} defined twice", self.message);
        }
        let index = self.structs.len();
        self.structs.push(Struct {
            name: name.to_string(),
            error_name: if top_level {
                name.to_string()
            } else {
                format!("{}.{}", self.message, name)
            },
            about: about.to_string(),
            fields: Vec::new(),
            top_level,
            used_by: Vec::new(),
        });
        let mut resolved = Vec::new();
        for f in fields {
            resolved.push(
                self.field(name, f)
                    .with_context(|| format!("field {}", f.name))?,
            );
        }
        self.structs[index].fields = resolved;
        Ok(())
    }

    fn field(&mut self, parent: &str, f: &'a FieldSpec) -> Result<Field> {
        let ty = match Ty::parse(&f.ty) {
            // Every int16 whose name ends in ErrorCode is one of Kafka's error codes.
            Ty::I16 if f.name.ends_with("ErrorCode") => Ty::ErrorCode,
            ty => ty,
        };
        let versions = Range::parse(&f.versions)?.intersect(self.valid);
        let nullable = match &f.nullable_versions {
            Some(n) => Range::parse(n)?.intersect(self.valid),
            None => Range::NONE,
        };
        let struct_name = match &ty {
            Ty::Struct(s) => Some(s.clone()),
            Ty::Array(inner) => match &**inner {
                Ty::Struct(s) => Some(s.clone()),
                Ty::Array(_) => bail!("nested arrays are not supported"),
                _ => None,
            },
            _ => None,
        };
        if let Some(sn) = &struct_name {
            let about = f.about.clone().unwrap_or_default();
            match &f.fields {
                Some(fields) => self.add_struct(sn, &about, fields, false)?,
                None => {
                    let (fields, _) = *self
                        .common
                        .get(sn.as_str())
                        .with_context(|| format!("unknown type {sn}"))?;
                    self.add_struct(sn, &format!("Common struct `{sn}`."), fields, false)?;
                }
            }
            let ident = snake(&f.name);
            if let Some(s) = self.structs.iter_mut().find(|s| &s.name == sn) {
                s.used_by.push((parent.to_string(), ident));
            }
        } else {
            ensure!(f.fields.is_none(), "fields on a non-struct type");
        }
        let tag = f.tag()?;
        if let Some(t) = tag {
            let tv = Range::parse(
                f.tagged_versions
                    .as_deref()
                    .context("tag without taggedVersions")?,
            )?
            .intersect(self.valid);
            ensure!(
                tv == versions,
                "taggedVersions {tv:?} differ from versions {versions:?} (tag {t})"
            );
        } else {
            ensure!(f.tagged_versions.is_none(), "taggedVersions without tag");
        }
        let optional = !nullable.is_empty()
            || ty == Ty::Records
            || (f.nullable_versions.is_some()
                && matches!(ty, Ty::String | Ty::Bytes | Ty::Array(_) | Ty::Struct(_)));
        let default = f.default_str()?;
        let is_null_default = default.as_deref() == Some("null");
        ensure!(
            !is_null_default || optional,
            "default null on a non-nullable field"
        );
        let wrap = |e: String| if optional { format!("Some({e})") } else { e };
        let (default_expr, natural) = match &ty {
            Ty::Bool => {
                let v = match default.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(o) => bail!("bad bool default {o}"),
                };
                (v.to_string(), !v)
            }
            Ty::I8 | Ty::I16 | Ty::U16 | Ty::I32 | Ty::U32 | Ty::I64 => {
                let v = match &default {
                    Some(d) => {
                        parse_int_default(d).with_context(|| format!("bad int default {d}"))?
                    }
                    None => 0,
                };
                let ok = match ty {
                    Ty::I8 => i8::try_from(v).is_ok(),
                    Ty::I16 => i16::try_from(v).is_ok(),
                    Ty::U16 => u16::try_from(v).is_ok(),
                    Ty::I32 => i32::try_from(v).is_ok(),
                    Ty::U32 => u32::try_from(v).is_ok(),
                    _ => i64::try_from(v).is_ok(),
                };
                ensure!(ok, "default {v} out of range");
                (v.to_string(), v == 0)
            }
            Ty::ErrorCode => {
                let v = match &default {
                    Some(d) => {
                        parse_int_default(d).with_context(|| format!("bad int default {d}"))?
                    }
                    None => 0,
                };
                let v = i16::try_from(v).with_context(|| format!("default {v} out of range"))?;
                (format!("crate::ErrorCode::from_code({v})"), v == 0)
            }
            Ty::F64 => {
                let v: f64 = match &default {
                    Some(d) => d.parse()?,
                    None => 0.0,
                };
                (format!("{v:?}"), v == 0.0)
            }
            Ty::Uuid => {
                ensure!(default.is_none(), "uuid defaults are not supported");
                ("crate::Uuid::ZERO".into(), true)
            }
            Ty::String => match default.as_deref() {
                Some("null") => ("None".into(), true),
                None | Some("") => (wrap("String::new()".into()), !optional),
                Some(s) => (wrap(format!("String::from({s:?})")), false),
            },
            Ty::Bytes => match default.as_deref() {
                Some("null") => ("None".into(), true),
                None => (wrap("::bytes::Bytes::new()".into()), !optional),
                Some(o) => bail!("bytes default {o} not supported"),
            },
            // Kafka's Java code defaults records to null whatever the spec says.
            Ty::Records => ("None".into(), true),
            Ty::Array(_) => match default.as_deref() {
                Some("null") => ("None".into(), true),
                None => (wrap("Vec::new()".into()), !optional),
                Some(o) => bail!("array default {o} not supported"),
            },
            Ty::Struct(s) => match default.as_deref() {
                Some("null") => ("None".into(), true),
                None => (wrap(format!("{s}::default()")), !optional),
                Some(o) => bail!("struct default {o} not supported"),
            },
        };
        let sn = snake(&f.name);
        let ident = if KEYWORDS.contains(&sn.as_str()) {
            format!("r#{sn}")
        } else {
            sn.clone()
        };
        ensure!(
            sn != "unknown_tagged_fields",
            "field name clashes with unknown_tagged_fields"
        );
        Ok(Field {
            spec_name: f.name.clone(),
            ident,
            setter: format!("with_{sn}"),
            ty,
            optional,
            versions,
            nullable,
            tag,
            ignorable: f.ignorable,
            default_expr,
            default_is_natural: natural,
            flexible_override: f
                .flexible_versions
                .as_deref()
                .map(Range::parse)
                .transpose()?,
            about: f.about.clone().unwrap_or_default(),
            entity_type: f.entity_type.clone(),
            map_key: f.map_key,
        })
    }
}

/// Resolves one spec.
pub(crate) fn resolve(spec: &MessageSpec) -> Result<Message> {
    let valid = Range::parse(&spec.valid_versions)?;
    ensure!(
        !valid.is_empty() && valid.min >= 0,
        "{}: empty validVersions",
        spec.name
    );
    let flexible = Range::parse(&spec.flexible_versions)?;
    ensure!(
        flexible.is_empty() || flexible.max == i16::MAX,
        "{}: flexibleVersions must be open-ended",
        spec.name
    );
    let mut common = BTreeMap::new();
    for cs in &spec.common_structs {
        common.insert(
            cs.name.clone(),
            (cs.fields.as_slice(), Range::parse(&cs.versions)?),
        );
    }
    let mut r = Resolver {
        message: &spec.name,
        valid,
        common,
        structs: Vec::new(),
    };
    let about = match spec.kind {
        MessageKind::Request | MessageKind::Response => format!(
            "`{}` (API key {}), versions {}-{}.",
            spec.name,
            spec.api_key.context("request/response without apiKey")?,
            valid.min,
            valid.max
        ),
        _ => format!("`{}`, versions {}-{}.", spec.name, valid.min, valid.max),
    };
    r.add_struct(&spec.name, &about, &spec.fields, true)
        .with_context(|| format!("resolving {}", spec.name))?;
    // Tags must be unique per struct.
    for s in &r.structs {
        let mut tags: Vec<u32> = s.fields.iter().filter_map(|f| f.tag).collect();
        let n = tags.len();
        tags.sort_unstable();
        tags.dedup();
        ensure!(
            tags.len() == n,
            "{}: duplicate tags in {}",
            spec.name,
            s.name
        );
    }
    Ok(Message {
        name: spec.name.clone(),
        module: snake(&spec.name),
        kind: spec.kind,
        api_key: spec.api_key,
        valid,
        flexible: flexible.intersect(valid),
        deprecated: spec
            .deprecated_versions
            .as_deref()
            .map(Range::parse)
            .transpose()?,
        latest_unstable: spec.latest_version_unstable.unwrap_or(false),
        listeners: spec.listeners.clone().unwrap_or_default(),
        structs: r.structs,
        provenance: Vec::new(),
        origin_doc: String::new(),
        aliases: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake("ThrottleTimeMs"), "throttle_time_ms");
        assert_eq!(snake("KRaftVersionFeature"), "k_raft_version_feature");
        assert_eq!(snake("V3AndBelowTopics"), "v3_and_below_topics");
        assert_eq!(snake("ApiVersionsRequest"), "api_versions_request");
    }

    #[test]
    fn ranges() {
        assert_eq!(
            Range::parse("3+").unwrap(),
            Range {
                min: 3,
                max: i16::MAX
            }
        );
        assert_eq!(Range::parse("0-4").unwrap(), Range { min: 0, max: 4 });
        assert!(Range::parse("none").unwrap().is_empty());
        assert_eq!(Range::parse("5").unwrap(), Range { min: 5, max: 5 });
    }
}
