//! Merging the specs of several Kafka releases into one spec per message.
//!
//! Kafka's specs only ever describe one release: the 3.9-era ones have every version from 0 up,
//! Kafka 4.x's cut the oldest versions (Produce starts at 3) and add new ones (Produce 12-13).
//! We generate one struct per message whose valid versions are the union, and the merge is
//! checked, never guessed:
//!
//! - For every version both specs declare, every field must agree: name, type, the versions it
//!   is present, nullable and tagged in, its tag, its default and its field-level flexible
//!   versions; so must the message's flexible versions. Any disagreement is an error naming the
//!   message, the field and the versions.
//! - A field (or the struct it holds) that only one spec has must lie outside the versions the
//!   other spec declares. So a field the newer spec removed, which the old versions still carry
//!   (ListOffsets v0's `MaxNumOffsets`), is kept for those versions.
//! - A version the older spec marks `latestVersionUnstable` is not the older spec's to give: its
//!   shape was still changing (ReadShareGroupStateSummary v0's response gained `LeaderEpoch`
//!   before it was released). It takes the newer spec's shape, or is not generated when the newer
//!   spec does not declare it. This is the one case in which the two specs may disagree.
//! - Versions only the newer spec has take its shape, versions only the older one has keep
//!   theirs; the union must be contiguous.
//! - An API key that a newer spec gives to a renamed API (ListClientMetricsResources, key 74,
//!   became ListConfigResources) is merged under the newest name when the shapes agree field by
//!   field, compared by position since the names changed; the old names become documented
//!   aliases.
//!
//! Documentation-only facts (`about`, `entityType`, `mapKey`) are taken from the newest spec that
//! has the field. `ignorable` speaks of the versions a field is absent from, so it is taken from
//! the spec in which the field is absent from some version; when both are, they must agree.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Result};

use super::model::{parse_int_default, Range};
use super::spec::{FieldSpec, MessageKind, MessageSpec, StructSpec};

/// Fields a newer spec renamed without changing them on the wire, as `(path of the field in the
/// older spec, newer name)`. Declared here, never guessed: such a pair is matched and checked like
/// any other field, the newest name is generated, and the header notes the rename.
const FIELD_RENAMES: &[(&str, &str)] = &[
    // KIP-848: the consumer protocol's member epoch travels in the same int32.
    (
        "TxnOffsetCommitRequest.GenerationId",
        "GenerationIdOrMemberEpoch",
    ),
    // KIP-996 (Vote v2, PreVote): the candidate became the replica sending the request.
    (
        "VoteRequest.Topics.Partitions.CandidateEpoch",
        "ReplicaEpoch",
    ),
    ("VoteRequest.Topics.Partitions.CandidateId", "ReplicaId"),
    (
        "VoteRequest.Topics.Partitions.CandidateDirectoryId",
        "ReplicaDirectoryId",
    ),
];

/// One source of specs: the files it holds and how the generated headers name it.
#[derive(Debug)]
pub(crate) struct SpecSource {
    /// Full description for the generated headers: path or Maven coordinates, and commit.
    pub(crate) label: String,
    /// Short name for per-message lines and errors, e.g. `kafka-clients 4.4.0`.
    pub(crate) short: String,
    /// `(file name, parsed spec)` of every file.
    pub(crate) specs: Vec<(String, MessageSpec)>,
}

/// Which source supplies which versions of a merged message.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// Index into the source list.
    pub(crate) source: usize,
    /// The spec file it came from.
    pub(crate) file: String,
    pub(crate) versions: Range,
}

/// One message after merging every source.
#[derive(Debug, Clone)]
pub(crate) struct Merged {
    pub(crate) spec: MessageSpec,
    /// In version order; empty when no source declares a version (a removed API's stub).
    pub(crate) origins: Vec<Origin>,
    /// Versions declared by two sources, checked equal: `(older, newer, versions)`.
    pub(crate) checked: Vec<(usize, usize, Range)>,
    /// Names older sources gave the same API key: `(source, name)`.
    pub(crate) aliases: Vec<(usize, String)>,
    /// What the merge decided beyond "union", for the generated header.
    pub(crate) notes: Vec<String>,
}

/// Merges every message of `sources` (oldest first). Requests and responses are matched by API
/// key, everything else by name.
pub(crate) fn merge_all(sources: &[SpecSource]) -> Result<Vec<Merged>> {
    let mut acc: BTreeMap<String, Merged> = BTreeMap::new();
    // Every message's first disagreement, so one run shows them all.
    let mut errors = Vec::new();
    for (si, src) in sources.iter().enumerate() {
        // Kafka marks only the request `latestVersionUnstable`, but the response version is as
        // unstable as the request version that asks for it (ReadShareGroupStateSummary v0's
        // response gained `LeaderEpoch` before release while only the request was marked).
        let unstable: Vec<i16> = src
            .specs
            .iter()
            .filter(|(_, s)| {
                s.kind == MessageKind::Request && s.latest_version_unstable == Some(true)
            })
            .filter_map(|(_, s)| s.api_key)
            .collect();
        let mut seen = Vec::new();
        for (file, spec) in &src.specs {
            let mut spec = spec.clone();
            if spec.kind == MessageKind::Response
                && spec.api_key.is_some_and(|k| unstable.contains(&k))
            {
                spec.latest_version_unstable = Some(true);
            }
            let spec = &spec;
            let key = match (spec.kind, spec.api_key) {
                (MessageKind::Request | MessageKind::Response, Some(k)) => {
                    format!("{:?} {k}", spec.kind)
                }
                _ => format!("name {}", spec.name),
            };
            ensure!(
                !seen.contains(&key),
                "{}: two specs for {key} ({file})",
                src.short
            );
            seen.push(key.clone());
            let merged = match acc.remove(&key) {
                None => {
                    let valid = Range::parse(&spec.valid_versions)?;
                    Merged {
                        spec: spec.clone(),
                        origins: if valid.is_empty() {
                            Vec::new()
                        } else {
                            vec![Origin {
                                source: si,
                                file: file.clone(),
                                versions: valid,
                            }]
                        },
                        checked: Vec::new(),
                        aliases: Vec::new(),
                        notes: Vec::new(),
                    }
                }
                Some(prev) => match merge_pair(prev.clone(), sources, si, file, spec) {
                    Ok(m) => m,
                    Err(e) => {
                        errors.push(format!("{e:#}"));
                        prev
                    }
                },
            };
            acc.insert(key, merged);
        }
    }
    if !errors.is_empty() {
        bail!(
            "the specs disagree ({} messages):\n  {}",
            errors.len(),
            errors.join("\n  ")
        );
    }
    Ok(acc.into_values().collect())
}

/// The spec text of a range: `none`, `5`, `3-11`.
fn range_str(r: Range) -> String {
    if r.is_empty() {
        "none".into()
    } else if r.min == r.max {
        r.min.to_string()
    } else {
        format!("{}-{}", r.min, r.max)
    }
}

/// The text a reader sees in errors and headers: `v5`, `v3-11`, `no versions`.
fn vs(r: Range) -> String {
    if r.is_empty() {
        "no versions".into()
    } else if r.min == r.max {
        format!("v{}", r.min)
    } else {
        format!("v{}-{}", r.min, r.max)
    }
}

fn norm(r: Range) -> Range {
    if r.is_empty() {
        Range::NONE
    } else {
        r
    }
}

/// `r` without the versions of `s`: up to two pieces.
fn minus(r: Range, s: Range) -> Vec<Range> {
    if r.is_empty() {
        return Vec::new();
    }
    if s.is_empty() || s.max < r.min || s.min > r.max {
        return vec![r];
    }
    let mut out = Vec::new();
    if r.min < s.min {
        out.push(Range {
            min: r.min,
            max: s.min - 1,
        });
    }
    if r.max > s.max {
        out.push(Range {
            min: s.max + 1,
            max: r.max,
        });
    }
    out
}

/// The union of `pieces` if it is one contiguous range.
fn hull(pieces: &[Range]) -> Option<Range> {
    let mut p: Vec<Range> = pieces.iter().copied().filter(|r| !r.is_empty()).collect();
    p.sort_by_key(|r| r.min);
    let mut out: Option<Range> = None;
    for r in p {
        out = Some(match out {
            None => r,
            Some(o) if r.min <= o.max.saturating_add(1) => Range {
                min: o.min,
                max: o.max.max(r.max),
            },
            Some(_) => return None,
        });
    }
    Some(out.unwrap_or(Range::NONE))
}

fn merge_pair(
    prev: Merged,
    sources: &[SpecSource],
    bi: usize,
    b_file: &str,
    b: &MessageSpec,
) -> Result<Merged> {
    let a = &prev.spec;
    let b_valid = Range::parse(&b.valid_versions)?;
    let mut notes = prev.notes.clone();
    let b_src = &sources[bi].short;
    if b_valid.is_empty() {
        // A removed API's stub (Kafka 4's `"validVersions": "none"`): the old versions stay.
        if !prev.origins.is_empty() {
            notes.push(format!("{b_src} declares no versions ({b_file})"));
        }
        return Ok(Merged { notes, ..prev });
    }
    let mut a_valid = Range::parse(&a.valid_versions)?;
    let renamed = a.name != b.name && !a_valid.is_empty();
    // The older spec's unstable latest version is not its to give (see the module docs).
    if a.latest_version_unstable == Some(true) && !a_valid.is_empty() {
        let v = a_valid.max;
        let a_src = prev
            .origins
            .iter()
            .find(|o| o.versions.contains(v))
            .map_or("an older spec", |o| sources[o.source].short.as_str());
        notes.push(if b_valid.contains(v) {
            format!("v{v} is unstable in {a_src}; it has {b_src}'s shape")
        } else {
            format!("v{v} is unstable in {a_src} and {b_src} does not declare it: not generated")
        });
        a_valid.max -= 1;
    }
    let mut origins: Vec<Origin> = Vec::new();
    for o in &prev.origins {
        for piece in minus(o.versions.intersect(a_valid), b_valid) {
            origins.push(Origin {
                versions: piece,
                ..o.clone()
            });
        }
    }
    origins.push(Origin {
        source: bi,
        file: b_file.to_string(),
        versions: b_valid,
    });
    origins.sort_by_key(|o| o.versions.min);
    let mut aliases = prev.aliases.clone();
    if a.name != b.name {
        let src = prev.origins.last().map_or(0, |o| o.source);
        aliases.push((src, a.name.clone()));
    }
    if a_valid.is_empty() {
        return Ok(Merged {
            spec: b.clone(),
            origins,
            checked: prev.checked,
            aliases,
            notes,
        });
    }
    let overlap = norm(a_valid.intersect(b_valid));
    let union = Range {
        min: a_valid.min.min(b_valid.min),
        max: a_valid.max.max(b_valid.max),
    };
    ensure!(
        a_valid.max.saturating_add(1) >= b_valid.min
            && b_valid.max.saturating_add(1) >= a_valid.min,
        "{}: {} declares {} and {b_src} {}, which leaves a gap",
        b.name,
        older_name(&prev, sources),
        vs(a_valid),
        vs(b_valid)
    );
    let cx = Cx {
        a_src: older_name(&prev, sources),
        b_src,
        a_valid,
        b_valid,
        overlap,
        renamed,
        renames: Default::default(),
    };
    let a_flex = Range::parse(&a.flexible_versions)?.intersect(a_valid);
    let b_flex = Range::parse(&b.flexible_versions)?.intersect(b_valid);
    let flex = cx.merge_prop(&b.name, "flexible versions", a_flex, b_flex)?;
    ensure!(
        flex.is_empty() || flex.max == union.max,
        "{}: merged flexible versions {} are not open-ended",
        b.name,
        vs(flex)
    );
    let a_dep = opt_range(&a.deprecated_versions)?.intersect(a_valid);
    let b_dep = opt_range(&b.deprecated_versions)?.intersect(b_valid);
    // Documentation only: Kafka 4 dropped the deprecations along with the versions they were
    // about, so deprecations only the older spec states are kept for the versions it supplies.
    let dep = hull(&[minus(a_dep, b_valid), vec![b_dep]].concat()).unwrap_or(b_dep);

    let fields = cx.merge_fields(&b.name, &a.fields, &b.fields, (a_valid, b_valid))?;
    let mut common_structs = Vec::new();
    for bs in &b.common_structs {
        match a.common_structs.iter().find(|s| s.name == bs.name) {
            Some(as_) => common_structs.push(StructSpec {
                name: bs.name.clone(),
                versions: merge_struct_versions(&as_.versions, &bs.versions)?,
                fields: cx.merge_fields(
                    &format!("{}.{}", b.name, bs.name),
                    &as_.fields,
                    &bs.fields,
                    (a_valid, b_valid),
                )?,
            }),
            None => common_structs.push(bs.clone()),
        }
    }
    for as_ in &a.common_structs {
        if !b.common_structs.iter().any(|s| s.name == as_.name) {
            common_structs.push(as_.clone());
        }
    }
    let mut listeners = a.listeners.clone().unwrap_or_default();
    for l in b.listeners.iter().flatten() {
        if !listeners.contains(l) {
            listeners.push(l.clone());
        }
    }
    let latest_unstable = if b_valid.max >= a_valid.max {
        b.latest_version_unstable
    } else {
        a.latest_version_unstable
    };
    notes.extend(cx.renames.take());
    let mut checked = prev.checked.clone();
    if !overlap.is_empty() {
        let older = prev
            .origins
            .iter()
            .rev()
            .find(|o| !o.versions.intersect(overlap).is_empty())
            .map_or(0, |o| o.source);
        checked.push((older, bi, overlap));
    }
    Ok(Merged {
        spec: MessageSpec {
            api_key: b.api_key,
            kind: b.kind,
            listeners: (!listeners.is_empty()).then_some(listeners),
            name: b.name.clone(),
            valid_versions: range_str(union),
            deprecated_versions: (!dep.is_empty()).then(|| range_str(dep)),
            flexible_versions: if flex.is_empty() {
                "none".into()
            } else {
                format!("{}+", flex.min)
            },
            latest_version_unstable: latest_unstable,
            fields,
            common_structs,
        },
        origins,
        checked,
        aliases,
        notes,
    })
}

/// The short name of the source that supplied the newest versions of `prev`.
fn older_name<'a>(prev: &Merged, sources: &'a [SpecSource]) -> &'a str {
    prev.origins
        .last()
        .map_or("an older spec", |o| sources[o.source].short.as_str())
}

fn opt_range(s: &Option<String>) -> Result<Range> {
    s.as_deref().map_or(Ok(Range::NONE), Range::parse)
}

fn merge_struct_versions(a: &str, b: &str) -> Result<String> {
    let (a, b) = (Range::parse(a)?, Range::parse(b)?);
    Ok(match hull(&[a, b]) {
        Some(r) if r.max == i16::MAX => format!("{}+", r.min),
        Some(r) => range_str(r),
        None => bail!("common struct versions {a:?} and {b:?} leave a gap"),
    })
}

/// Types whose names are not structs.
const PRIMITIVES: &[&str] = &[
    "bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "uuid",
    "bytes", "records",
];

/// `(is array, element type name, whether the element is a struct)`.
fn shape(ty: &str) -> (bool, &str, bool) {
    let (array, inner) = match ty.strip_prefix("[]") {
        Some(i) => (true, i),
        None => (false, ty),
    };
    (array, inner, !PRIMITIVES.contains(&inner))
}

/// A default in a canonical form, so `"0"`, `0`, `"0x0"` and no default compare equal.
fn canonical_default(f: &FieldSpec) -> Result<String> {
    let d = f.default_str()?;
    let (_, inner, is_struct) = shape(&f.ty);
    let array = f.ty.starts_with("[]");
    Ok(match (array || is_struct, inner) {
        (false, "int8" | "int16" | "uint16" | "int32" | "uint32" | "int64") => match d {
            Some(d) if d != "null" => parse_int_default(&d)?.to_string(),
            other => other.unwrap_or_else(|| "0".into()),
        },
        (false, "float64") => match d {
            Some(d) => format!("{:?}", d.parse::<f64>()?),
            None => "0.0".into(),
        },
        (false, "bool") => d.unwrap_or_else(|| "false".into()).to_ascii_lowercase(),
        _ => d.unwrap_or_default(),
    })
}

struct Cx<'a> {
    a_src: &'a str,
    b_src: &'a str,
    /// The versions the older side supplies (its unstable latest version removed).
    a_valid: Range,
    b_valid: Range,
    overlap: Range,
    /// The API was renamed: fields are matched by position and may be renamed too.
    renamed: bool,
    /// Renames from [`FIELD_RENAMES`] that were applied, for the notes.
    renames: std::cell::RefCell<Vec<String>>,
}

impl Cx<'_> {
    /// Merges a per-version property (`ra` of the older side, `rb` of the newer, each within its
    /// side's versions): equal on the overlap, and one contiguous range in all.
    fn merge_prop(&self, path: &str, what: &str, ra: Range, rb: Range) -> Result<Range> {
        let (ra, rb) = (
            norm(ra.intersect(self.a_valid)),
            norm(rb.intersect(self.b_valid)),
        );
        let (oa, ob) = (
            norm(ra.intersect(self.overlap)),
            norm(rb.intersect(self.overlap)),
        );
        ensure!(
            oa == ob,
            "{path}: {what} disagree in {}, which both specs declare: {} in {} but {} in {}",
            vs(self.overlap),
            vs(oa),
            self.a_src,
            vs(ob),
            self.b_src
        );
        let mut pieces = minus(ra, self.b_valid);
        pieces.push(rb);
        hull(&pieces).ok_or_else(|| {
            anyhow::anyhow!(
                "{path}: {what} are {} in {} and {} in {}, which is not one range",
                vs(ra),
                self.a_src,
                vs(rb),
                self.b_src
            )
        })
    }

    /// Merges the fields of one struct. `scope` is the versions each side has the struct in
    /// (those of the field that holds it).
    fn merge_fields(
        &self,
        path: &str,
        af: &[FieldSpec],
        bf: &[FieldSpec],
        scope: (Range, Range),
    ) -> Result<Vec<FieldSpec>> {
        // Pairs of (older index, newer index).
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        if self.renamed {
            for i in 0..af.len().min(bf.len()) {
                pairs.push((i, i));
            }
        } else {
            for (ib, f) in bf.iter().enumerate() {
                let renamed_from = |g: &FieldSpec| {
                    FIELD_RENAMES
                        .contains(&(format!("{path}.{}", g.name).as_str(), f.name.as_str()))
                };
                if let Some(ia) = af.iter().position(|g| g.name == f.name || renamed_from(g)) {
                    if af[ia].name != f.name {
                        self.renames.borrow_mut().push(format!(
                            "{path}.{} is {} in {}",
                            af[ia].name, f.name, self.b_src
                        ));
                    }
                    pairs.push((ia, ib));
                }
            }
        }
        // Fields on the wire keep their relative order in every version.
        let untagged: Vec<usize> = pairs
            .iter()
            .filter(|(ia, ib)| af[*ia].tag.is_none() && bf[*ib].tag.is_none())
            .map(|(ia, _)| *ia)
            .collect();
        if let Some(w) = untagged.windows(2).find(|w| w[0] > w[1]) {
            bail!(
                "{path}: fields {} and {} are in a different order in {} and {}",
                af[w[1]].name,
                af[w[0]].name,
                self.a_src,
                self.b_src
            );
        }
        let mut out = Vec::new();
        let mut a_done = vec![false; af.len()];
        for (ia, _) in &pairs {
            a_done[*ia] = true;
        }
        let mut next_a = 0;
        for (ib, fb) in bf.iter().enumerate() {
            match pairs.iter().find(|(_, j)| *j == ib) {
                Some(&(ia, _)) => {
                    if fb.tag.is_none() {
                        // Older-only fields that come before this one in the older spec.
                        while next_a < ia {
                            if !a_done[next_a] {
                                a_done[next_a] = true;
                                out.extend(self.one_sided(path, &af[next_a], true)?);
                            }
                            next_a += 1;
                        }
                    }
                    out.push(self.merge_field(path, &af[ia], fb, scope)?);
                }
                None => out.extend(self.one_sided(path, fb, false)?),
            }
        }
        for (ia, f) in af.iter().enumerate() {
            if !a_done[ia] {
                out.extend(self.one_sided(path, f, true)?);
            }
        }
        Ok(out)
    }

    /// A field only one side has: it must lie outside the versions the other side declares.
    fn one_sided(&self, path: &str, f: &FieldSpec, older: bool) -> Result<Option<FieldSpec>> {
        let (valid, src, other) = if older {
            (self.a_valid, self.a_src, self.b_src)
        } else {
            (self.b_valid, self.b_src, self.a_src)
        };
        let r = norm(Range::parse(&f.versions)?.intersect(valid));
        let clash = norm(r.intersect(self.overlap));
        ensure!(
            clash.is_empty(),
            "{path}.{}: only {src} has this field, in {}, which {other} declares too",
            f.name,
            vs(clash),
        );
        if r.is_empty() && older {
            // Only in the older side's unstable version, which the newer spec replaced.
            return Ok(None);
        }
        let mut f = f.clone();
        if !r.is_empty() {
            f.versions = range_str(r);
            if f.tagged_versions.is_some() {
                f.tagged_versions = Some(range_str(r));
            }
        }
        Ok(Some(f))
    }

    fn merge_field(
        &self,
        path: &str,
        fa: &FieldSpec,
        fb: &FieldSpec,
        scope: (Range, Range),
    ) -> Result<FieldSpec> {
        let here = format!("{path}.{}", fb.name);
        let err_ctx = |what: &str, a: &str, b: &str| {
            anyhow::anyhow!(
                "{here}: {what} differ in {}: {a} in {} but {b} in {}",
                vs(self.overlap),
                self.a_src,
                self.b_src
            )
        };
        let (a_arr, a_inner, a_struct) = shape(&fa.ty);
        let (b_arr, b_inner, b_struct) = shape(&fb.ty);
        let same_type = a_arr == b_arr
            && a_struct == b_struct
            && (a_inner == b_inner || (a_struct && self.renamed));
        if !same_type {
            return Err(err_ctx("types", &fa.ty, &fb.ty));
        }
        let versions = self.merge_prop(
            &here,
            "versions",
            Range::parse(&fa.versions)?,
            Range::parse(&fb.versions)?,
        )?;
        let nullable = self.merge_prop(
            &here,
            "nullable versions",
            opt_range(&fa.nullable_versions)?,
            opt_range(&fb.nullable_versions)?,
        )?;
        let (ta, tb) = (fa.tag()?, fb.tag()?);
        if ta != tb {
            return Err(err_ctx("tags", &format!("{ta:?}"), &format!("{tb:?}")));
        }
        if ta.is_some() {
            self.merge_prop(
                &here,
                "tagged versions",
                opt_range(&fa.tagged_versions)?,
                opt_range(&fb.tagged_versions)?,
            )?;
        }
        let (da, db) = (canonical_default(fa)?, canonical_default(fb)?);
        if da != db {
            return Err(err_ctx("defaults", &da, &db));
        }
        let flex_a = opt_range(&fa.flexible_versions)?;
        let flex_b = opt_range(&fb.flexible_versions)?;
        if fa.flexible_versions.is_some() != fb.flexible_versions.is_some()
            || norm(flex_a.intersect(self.overlap)) != norm(flex_b.intersect(self.overlap))
        {
            return Err(err_ctx(
                "field flexible versions",
                fa.flexible_versions.as_deref().unwrap_or("the message's"),
                fb.flexible_versions.as_deref().unwrap_or("the message's"),
            ));
        }
        let fields = match (&fa.fields, &fb.fields) {
            (Some(a), Some(b)) => {
                let inner = (
                    Range::parse(&fa.versions)?.intersect(scope.0),
                    Range::parse(&fb.versions)?.intersect(scope.1),
                );
                Some(self.merge_fields(&here, a, b, inner)?)
            }
            (None, None) => None,
            _ => bail!(
                "{here}: struct {b_inner} is inline in one spec and a common struct in the other"
            ),
        };
        // `ignorable` speaks of the versions a field is absent from (while the struct holding it
        // is there), so a side in which the field is in every such version has nothing to say
        // (RequestHeader's ClientId is ignorable for v0, which Kafka 4's spec no longer declares).
        let absent_in = |f: &FieldSpec, scope: Range| -> Result<bool> {
            Ok(!Range::parse(&f.versions)?.intersect(scope).covers(scope))
        };
        let ignorable = match (absent_in(fa, scope.0)?, absent_in(fb, scope.1)?) {
            (true, true) if fa.ignorable != fb.ignorable => {
                return Err(err_ctx(
                    "ignorable flags",
                    &fa.ignorable.to_string(),
                    &fb.ignorable.to_string(),
                ))
            }
            (true, false) => fa.ignorable,
            _ => fb.ignorable,
        };
        let mut f = fb.clone();
        f.ignorable = ignorable;
        f.versions = range_str(versions);
        if fa.nullable_versions.is_some() || fb.nullable_versions.is_some() {
            f.nullable_versions = Some(range_str(nullable));
        }
        if ta.is_some() {
            f.tagged_versions = Some(range_str(versions));
        }
        f.fields = fields;
        if f.about.is_none() {
            f.about = fa.about.clone();
        }
        if f.entity_type.is_none() {
            f.entity_type = fa.entity_type.clone();
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(short: &str, files: &[&str]) -> SpecSource {
        SpecSource {
            label: short.into(),
            short: short.into(),
            specs: files
                .iter()
                .map(|t| {
                    (
                        "X.json".to_string(),
                        super::super::spec::parse("X.json", t).unwrap(),
                    )
                })
                .collect(),
        }
    }

    fn msg(valid: &str, extra: &str, fields: &str) -> String {
        format!(
            r#"{{ "apiKey": 99, "type": "request", "name": "XRequest", "validVersions": "{valid}",
                 "flexibleVersions": "2+" {extra}, "fields": [ {fields} ] }}"#
        )
    }

    fn merge(old: &str, new: &str) -> Result<Merged> {
        let mut all = merge_all(&[source("old", &[old]), source("new", &[new])])?;
        Ok(all.remove(0))
    }

    const A: &str = r#"{ "name": "A", "type": "int32", "versions": "0+" }"#;

    #[test]
    fn union_of_old_low_and_new_high_versions() {
        let old = msg(
            "0-3",
            "",
            &format!(r#"{A}, {{ "name": "Gone", "type": "int8", "versions": "0" }}"#),
        );
        let new = msg(
            "1-5",
            "",
            &format!(r#"{A}, {{ "name": "New", "type": "int8", "versions": "5+" }}"#),
        );
        let m = merge(&old, &new).unwrap();
        assert_eq!(m.spec.valid_versions, "0-5");
        let f: Vec<(&str, &str)> = m
            .spec
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.versions.as_str()))
            .collect();
        assert_eq!(f, [("A", "0-5"), ("New", "5"), ("Gone", "0")]);
        let o: Vec<(usize, Range)> = m.origins.iter().map(|o| (o.source, o.versions)).collect();
        assert_eq!(
            o,
            [(0, Range { min: 0, max: 0 }), (1, Range { min: 1, max: 5 })]
        );
    }

    #[test]
    fn disagreements_name_message_field_and_versions() {
        let old = msg("0-3", "", A);
        for (new_field, what) in [
            (
                r#"{ "name": "A", "type": "int64", "versions": "0+" }"#,
                "types",
            ),
            (
                r#"{ "name": "A", "type": "int32", "versions": "3+" }"#,
                "versions",
            ),
            (
                r#"{ "name": "A", "type": "int32", "versions": "0+", "default": 5 }"#,
                "defaults",
            ),
            (
                r#"{ "name": "A", "type": "int32", "versions": "0+", "taggedVersions": "2+", "tag": 0 }"#,
                "tags",
            ),
            (
                r#"{ "name": "B", "type": "int32", "versions": "0+" }"#,
                "only new has this field",
            ),
        ] {
            let err = format!("{:#}", merge(&old, &msg("2-5", "", new_field)).unwrap_err());
            assert!(err.contains("XRequest."), "{err}");
            assert!(err.contains(what), "{what}: {err}");
            assert!(err.contains("v2-3"), "{what}: {err}");
        }
        // A flexible version the older spec does not agree on.
        let new = msg("2-5", "", A).replace(r#""2+""#, r#""3+""#);
        let err = format!("{:#}", merge(&old, &new).unwrap_err());
        assert!(err.contains("flexible versions disagree in v2-3"), "{err}");
    }

    #[test]
    fn unstable_latest_version_takes_the_newer_shape() {
        let b = r#"{ "name": "B", "type": "int32", "versions": "1+" }"#;
        let old = msg("0-1", r#", "latestVersionUnstable": true"#, A);
        let new = msg("0-1", "", &format!("{A}, {b}"));
        let m = merge(&old, &new).unwrap();
        assert_eq!(m.spec.fields.len(), 2);
        assert!(
            m.notes[0].contains("v1 is unstable in old"),
            "{:?}",
            m.notes
        );
        // Without the flag the same specs disagree.
        let old = msg("0-1", "", A);
        assert!(merge(&old, &new).is_err());
        // An unstable version the newer spec does not have is dropped.
        let old = msg("0", r#", "latestVersionUnstable": true"#, A);
        let m = merge(&old, &msg("1-2", "", A)).unwrap();
        assert_eq!(m.spec.valid_versions, "1-2");
        assert!(m.notes[0].contains("not generated"), "{:?}", m.notes);
    }

    #[test]
    fn renamed_api_merges_by_position_and_keeps_an_alias() {
        let old = msg("0", "", A);
        let new = msg(
            "0-1",
            "",
            &format!(
                r#"{}, {{ "name": "C", "type": "int8", "versions": "1+" }}"#,
                A.replace("\"A\"", "\"Renamed\"")
            ),
        )
        .replace("XRequest", "YRequest");
        let m = merge(&old, &new).unwrap();
        assert_eq!(m.spec.name, "YRequest");
        assert_eq!(m.aliases, [(0, "XRequest".to_string())]);
        assert_eq!(m.spec.fields[0].name, "Renamed");
        let new = new.replace(
            r#""Renamed", "type": "int32""#,
            r#""Renamed", "type": "int16""#,
        );
        assert!(merge(&old, &new).is_err());
    }

    #[test]
    fn a_gap_between_the_specs_is_an_error() {
        let err = format!(
            "{:#}",
            merge(&msg("0-1", "", A), &msg("3-4", "", A)).unwrap_err()
        );
        assert!(err.contains("gap"), "{err}");
    }

    #[test]
    fn removed_api_stub_keeps_the_old_versions() {
        let stub = r#"{ "apiKey": 99, "type": "request", "name": "XRequest", "validVersions": "none", "fields": [] }"#;
        let m = merge(&msg("0-3", "", A), stub).unwrap();
        assert_eq!(m.spec.valid_versions, "0-3");
        assert_eq!(m.origins.len(), 1);
    }
}
