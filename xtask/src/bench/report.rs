//! The result tables: every metric of every run, each with its ratio to the baseline arm's run
//! of the same phase, configuration and topic source in the same harness run.

use std::fmt::Write as _;

/// Producing or consuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Produce,
    Consume,
}

/// One arm's run.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) arm: String,
    pub(crate) phase: Phase,
    /// The configuration's label (`acks=all idem, lz4`).
    pub(crate) config: String,
    /// Consume runs: the arm whose producer wrote the topic.
    pub(crate) source: Option<String>,
    /// The measurements, or why there are none.
    pub(crate) outcome: Result<Stats, String>,
    pub(crate) notes: Vec<String>,
    /// Produce runs: the bytes the topic takes on the broker afterwards (batches, headers,
    /// compression and all).
    pub(crate) log_bytes: Option<u64>,
    /// After [`aggregate`] of several runs: the largest distance of one run's records/s from
    /// their median, relative to it.
    pub(crate) spread: Option<f64>,
}

/// Folds the repetitions of each run (same arm, phase, configuration, source) into one row:
/// each metric is the median of the successful repetitions; a row fails only if all failed.
pub(crate) fn aggregate(reps: Vec<Row>) -> Vec<Row> {
    let mut groups: Vec<Vec<Row>> = Vec::new();
    for row in reps {
        match groups.iter_mut().find(|g| {
            let f = &g[0];
            f.arm == row.arm
                && f.phase == row.phase
                && f.config == row.config
                && f.source == row.source
        }) {
            Some(g) => g.push(row),
            None => groups.push(vec![row]),
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let ok: Vec<&Stats> = g.iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
            let mut errors: Vec<&str> = g
                .iter()
                .filter_map(|r| r.outcome.as_ref().err())
                .map(String::as_str)
                .collect();
            errors.dedup();
            let first = &g[0];
            let mut notes: Vec<String> = g
                .iter()
                .find(|r| r.outcome.is_ok())
                .map(|r| r.notes.clone())
                .unwrap_or_default();
            let outcome = if ok.is_empty() {
                Err(errors.join("; "))
            } else {
                if !errors.is_empty() {
                    notes.push(format!(
                        "{} of {} runs failed: {}",
                        g.len() - ok.len(),
                        g.len(),
                        errors.join("; ")
                    ));
                }
                Ok(median_stats(&ok))
            };
            let spread = outcome.as_ref().ok().filter(|_| ok.len() > 1).map(|m| {
                ok.iter()
                    .map(|s| ((s.records_per_s - m.records_per_s) / m.records_per_s).abs())
                    .fold(0.0, f64::max)
            });
            Row {
                arm: first.arm.clone(),
                phase: first.phase,
                config: first.config.clone(),
                source: first.source.clone(),
                outcome,
                notes,
                log_bytes: g.iter().find_map(|r| r.log_bytes),
                spread,
            }
        })
        .collect()
}

/// The median of some values (the mean of the middle two for an even count).
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Every metric's median, each on its own.
fn median_stats(ok: &[&Stats]) -> Stats {
    let m = |f: fn(&Stats) -> f64| median(ok.iter().map(|s| f(s)).collect()).unwrap_or(f64::NAN);
    let mo = |f: fn(&Stats) -> Option<f64>| median(ok.iter().filter_map(|s| f(s)).collect());
    Stats {
        records_per_s: m(|s| s.records_per_s),
        mb_per_s: m(|s| s.mb_per_s),
        p50_us: mo(|s| s.p50_us),
        p99_us: mo(|s| s.p99_us),
        cpu_s_per_m: m(|s| s.cpu_s_per_m),
        rss_mib: m(|s| s.rss_mib),
        wall_s: m(|s| s.wall_s),
    }
}

/// What one run measured, in table units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stats {
    pub(crate) records_per_s: f64,
    /// Value bytes, 10^6 per MB.
    pub(crate) mb_per_s: f64,
    pub(crate) p50_us: Option<f64>,
    pub(crate) p99_us: Option<f64>,
    /// User + system CPU seconds of the whole client process per million records.
    pub(crate) cpu_s_per_m: f64,
    /// Peak RSS of the client process, MiB.
    pub(crate) rss_mib: f64,
    /// Process start to exit.
    pub(crate) wall_s: f64,
}

/// The baseline run matching `row` (same phase, configuration and topic source), if it has stats.
fn baseline_of<'a>(rows: &'a [Row], row: &Row, baseline: &str) -> Option<&'a Stats> {
    rows.iter()
        .find(|b| {
            b.arm == baseline
                && b.phase == row.phase
                && b.config == row.config
                && b.source == row.source
        })
        .and_then(|b| b.outcome.as_ref().ok())
}

/// `value / base`, when both exist and the base is not zero.
pub(crate) fn ratio(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    match (value, base) {
        (Some(v), Some(b)) if b != 0.0 && v.is_finite() && b.is_finite() => Some(v / b),
        _ => None,
    }
}

/// A number with thousands separators, no decimals.
pub(crate) fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A cell: the value, then its ratio to the baseline in parentheses.
fn cell(value: Option<f64>, base: Option<f64>, fmt: fn(f64) -> String) -> String {
    match (value, ratio(value, base)) {
        (None, _) => "—".to_string(),
        (Some(v), Some(r)) => format!("{} ({r:.2}x)", fmt(v)),
        (Some(v), None) => fmt(v),
    }
}

fn one_decimal(v: f64) -> String {
    format!("{v:.1}")
}

fn two_decimals(v: f64) -> String {
    format!("{v:.2}")
}

/// The markdown table of `rows` (one phase), ratios against `baseline`. `source` adds the
/// column naming whose topic a consumer read.
pub(crate) fn table(
    all: &[Row],
    rows: &[&Row],
    baseline: &str,
    latency: bool,
    source: bool,
) -> String {
    let mut out = String::new();
    let mut head = vec!["arm", "config"];
    if source {
        head.push("topic from");
    }
    head.extend(["records/s", "MB/s"]);
    if latency {
        head.extend(["p50 µs", "p99 µs"]);
    }
    head.extend(["CPU s / M records", "peak RSS MiB", "wall s"]);
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        head.iter()
            .enumerate()
            .map(|(i, _)| if i < 2 + usize::from(source) {
                "---|"
            } else {
                "---:|"
            })
            .collect::<String>()
    );
    for row in rows {
        let mut cells = vec![row.arm.clone(), row.config.clone()];
        if source {
            cells.push(row.source.clone().unwrap_or_default());
        }
        match &row.outcome {
            Err(why) => {
                cells.push(format!(
                    "**failed**: {}",
                    why.replace('|', "\\|").replace('\n', " ")
                ));
                let blanks = head.len() - cells.len();
                cells.extend(std::iter::repeat_n(String::new(), blanks));
            }
            Ok(s) => {
                let b = baseline_of(all, row, baseline);
                let mut rate = cell(Some(s.records_per_s), b.map(|b| b.records_per_s), thousands);
                if let Some(spread) = row.spread {
                    // "612,345 (1.05x)" -> "612,345 ±4% (1.05x)"
                    let at = rate.find(" (").unwrap_or(rate.len());
                    rate.insert_str(at, &format!(" ±{:.0}%", spread * 100.0));
                }
                cells.push(rate);
                cells.push(cell(Some(s.mb_per_s), b.map(|b| b.mb_per_s), one_decimal));
                if latency {
                    cells.push(cell(s.p50_us, b.and_then(|b| b.p50_us), thousands));
                    cells.push(cell(s.p99_us, b.and_then(|b| b.p99_us), thousands));
                }
                cells.push(cell(
                    Some(s.cpu_s_per_m),
                    b.map(|b| b.cpu_s_per_m),
                    two_decimals,
                ));
                cells.push(cell(Some(s.rss_mib), b.map(|b| b.rss_mib), one_decimal));
                cells.push(cell(Some(s.wall_s), b.map(|b| b.wall_s), one_decimal));
            }
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// Geometric mean of the ratios of `arm`'s runs in `phase` to the baseline's, for one metric,
/// over every configuration (and source) where both have numbers.
pub(crate) fn geomean_ratio(
    all: &[Row],
    arm: &str,
    phase: Phase,
    baseline: &str,
    metric: fn(&Stats) -> Option<f64>,
) -> Option<(f64, usize)> {
    let ratios: Vec<f64> = all
        .iter()
        .filter(|r| r.arm == arm && r.phase == phase)
        .filter_map(|r| {
            let s = r.outcome.as_ref().ok()?;
            let b = baseline_of(all, r, baseline)?;
            ratio(metric(s), metric(b)).filter(|x| *x > 0.0)
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let mean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    Some((mean, ratios.len()))
}

/// One line per arm: the geometric mean of its ratios to the baseline, per phase and metric.
pub(crate) fn summary(all: &[Row], arms: &[&str], baseline: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| arm | produce records/s | produce p99 | produce CPU/M | produce RSS | consume records/s | consume CPU/M | consume RSS |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    type Metric = fn(&Stats) -> Option<f64>;
    let produce: [Metric; 4] = [
        |s| Some(s.records_per_s),
        |s| s.p99_us,
        |s| Some(s.cpu_s_per_m),
        |s| Some(s.rss_mib),
    ];
    let consume: [Metric; 3] = [
        |s| Some(s.records_per_s),
        |s| Some(s.cpu_s_per_m),
        |s| Some(s.rss_mib),
    ];
    for arm in arms {
        let mut cells = vec![arm.to_string()];
        for (phase, metrics) in [
            (Phase::Produce, &produce[..]),
            (Phase::Consume, &consume[..]),
        ] {
            for m in metrics {
                cells.push(match geomean_ratio(all, arm, phase, baseline, *m) {
                    Some((g, _)) => format!("{g:.2}x"),
                    None => "—".to_string(),
                });
            }
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rate: f64, p99: Option<f64>, cpu: f64) -> Stats {
        Stats {
            records_per_s: rate,
            mb_per_s: rate * 100.0 / 1e6,
            p50_us: p99.map(|p| p / 2.0),
            p99_us: p99,
            cpu_s_per_m: cpu,
            rss_mib: 20.0,
            wall_s: 2.0,
        }
    }

    fn row(
        arm: &str,
        phase: Phase,
        config: &str,
        source: Option<&str>,
        s: Result<Stats, String>,
    ) -> Row {
        Row {
            arm: arm.into(),
            phase,
            config: config.into(),
            source: source.map(Into::into),
            outcome: s,
            notes: Vec::new(),
            log_bytes: None,
            spread: None,
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.6), "1,234,568");
        assert_eq!(thousands(-12_345.0), "-12,345");
    }

    #[test]
    fn ratios_need_both_sides() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(ratio(Some(3.0), None), None);
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
    }

    #[test]
    fn table_ratios_are_against_the_same_config_and_source() {
        let rows = vec![
            row(
                "librdkafka",
                Phase::Produce,
                "a",
                None,
                Ok(stats(500_000.0, Some(10_000.0), 2.0)),
            ),
            row(
                "librdkafka",
                Phase::Produce,
                "b",
                None,
                Ok(stats(250_000.0, Some(20_000.0), 4.0)),
            ),
            row(
                "franz-go",
                Phase::Produce,
                "a",
                None,
                Ok(stats(1_000_000.0, Some(5_000.0), 1.0)),
            ),
            row(
                "franz-go",
                Phase::Produce,
                "b",
                None,
                Err("exit status 1 | stderr".into()),
            ),
            row(
                "java",
                Phase::Produce,
                "b",
                None,
                Ok(stats(125_000.0, Some(40_000.0), 8.0)),
            ),
        ];
        let refs: Vec<&Row> = rows.iter().collect();
        let t = table(&rows, &refs, "librdkafka", true, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "| arm | config | records/s | MB/s | p50 µs | p99 µs | CPU s / M records | peak RSS MiB | wall s |"
        );
        assert_eq!(lines[1], "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        assert_eq!(
            lines[2],
            "| librdkafka | a | 500,000 (1.00x) | 50.0 (1.00x) | 5,000 (1.00x) | 10,000 (1.00x) | 2.00 (1.00x) | 20.0 (1.00x) | 2.0 (1.00x) |"
        );
        assert_eq!(
            lines[4],
            "| franz-go | a | 1,000,000 (2.00x) | 100.0 (2.00x) | 2,500 (0.50x) | 5,000 (0.50x) | 1.00 (0.50x) | 20.0 (1.00x) | 2.0 (1.00x) |"
        );
        // A failed run keeps its row, with the reason (pipes escaped) and empty cells.
        assert_eq!(
            lines[5],
            "| franz-go | b | **failed**: exit status 1 \\| stderr |  |  |  |  |  |  |"
        );
        // Config b's baseline, not a's.
        assert!(lines[6].starts_with("| java | b | 125,000 (0.50x) | 12.5 (0.50x) | 20,000 (2.00x) | 40,000 (2.00x) | 8.00 (2.00x) |"), "{}", lines[6]);
    }

    #[test]
    fn no_baseline_no_ratio() {
        let rows = vec![
            row(
                "librdkafka",
                Phase::Consume,
                "a",
                Some("java"),
                Err("broker went away".into()),
            ),
            row(
                "franz-go",
                Phase::Consume,
                "a",
                Some("java"),
                Ok(stats(1_000_000.0, None, 1.0)),
            ),
            // Same config, other source: not a baseline for the row above.
            row(
                "librdkafka",
                Phase::Consume,
                "a",
                Some("librdkafka"),
                Ok(stats(1.0, None, 1.0)),
            ),
        ];
        let refs: Vec<&Row> = rows[1..2].iter().collect();
        let t = table(&rows, &refs, "librdkafka", false, true);
        assert_eq!(
            t.lines().nth(2).unwrap(),
            "| franz-go | a | java | 1,000,000 | 100.0 | 1.00 | 20.0 | 2.0 |"
        );
    }

    #[test]
    fn geometric_mean_of_ratios() {
        let rows = vec![
            row(
                "librdkafka",
                Phase::Produce,
                "a",
                None,
                Ok(stats(100.0, None, 1.0)),
            ),
            row(
                "librdkafka",
                Phase::Produce,
                "b",
                None,
                Ok(stats(100.0, None, 1.0)),
            ),
            row("x", Phase::Produce, "a", None, Ok(stats(400.0, None, 1.0))),
            row("x", Phase::Produce, "b", None, Ok(stats(100.0, None, 1.0))),
            row(
                "x",
                Phase::Consume,
                "a",
                Some("librdkafka"),
                Ok(stats(1.0, None, 1.0)),
            ),
        ];
        let (g, n) = geomean_ratio(&rows, "x", Phase::Produce, "librdkafka", |s| {
            Some(s.records_per_s)
        })
        .unwrap();
        assert!((g - 2.0).abs() < 1e-12);
        assert_eq!(n, 2);
        // No p99 anywhere, and no consume baseline.
        assert_eq!(
            geomean_ratio(&rows, "x", Phase::Produce, "librdkafka", |s| s.p99_us),
            None
        );
        assert_eq!(
            geomean_ratio(&rows, "x", Phase::Consume, "librdkafka", |s| Some(
                s.records_per_s
            )),
            None
        );
        let s = summary(&rows, &["librdkafka", "x"], "librdkafka");
        assert_eq!(
            s.lines().nth(3).unwrap(),
            "| x | 2.00x | — | 1.00x | 1.00x | — | — | — |"
        );
    }

    #[test]
    fn repetitions_fold_into_medians() {
        let reps = vec![
            row(
                "librdkafka",
                Phase::Produce,
                "a",
                None,
                Ok(stats(100.0, Some(10.0), 1.0)),
            ),
            row("java", Phase::Produce, "a", None, Err("boom".into())),
            row(
                "librdkafka",
                Phase::Produce,
                "a",
                None,
                Ok(stats(300.0, Some(30.0), 3.0)),
            ),
            row("java", Phase::Produce, "a", None, Err("boom".into())),
            row(
                "librdkafka",
                Phase::Produce,
                "a",
                None,
                Ok(stats(200.0, None, 2.0)),
            ),
            row(
                "franz-go",
                Phase::Produce,
                "a",
                None,
                Ok(stats(50.0, None, 1.0)),
            ),
            row("franz-go", Phase::Produce, "a", None, Err("timeout".into())),
        ];
        let rows = aggregate(reps);
        assert_eq!(rows.len(), 3);
        let s = rows[0].outcome.as_ref().unwrap();
        assert_eq!((s.records_per_s, s.cpu_s_per_m), (200.0, 2.0));
        // Medians of whatever runs have the metric: (10 + 30) / 2.
        assert_eq!(s.p99_us, Some(20.0));
        assert_eq!(rows[0].spread, Some(0.5));
        assert_eq!(rows[1].outcome, Err("boom".to_string()));
        assert_eq!(rows[2].spread, None);
        assert_eq!(rows[2].notes, ["1 of 2 runs failed: timeout"]);
        let refs: Vec<&Row> = rows.iter().collect();
        let t = table(&rows, &refs, "librdkafka", true, false);
        assert!(t.contains("| librdkafka | a | 200 ±50% (1.00x) |"), "{t}");
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
