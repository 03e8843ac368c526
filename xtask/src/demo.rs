//! `cargo xtask demo` (the README's first command): starts the local KRaft broker and runs the
//! `kafkaex-client` demo example against it (create a topic, produce keyed records with
//! headers and timestamps, consume them in a consumer group, commit, read the committed
//! offsets back). The broker is left running for whatever the user tries next.
//!
//! The `kafkaex-net` example of the same name (the flow on raw requests) stays, run by
//! `kafkaex-net/tests/demo_kraft.rs`.

use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// The variable `cargo xtask kafka up kraft` prints the bootstrap address in.
const BOOTSTRAP_VAR: &str = "KAFKAEX_BOOTSTRAP_KRAFT";

pub(crate) fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("`cargo xtask demo` takes no arguments, got {arg:?}");
    }
    let root = workspace_root();
    let me = std::env::current_exe().context("locating the xtask binary")?;

    eprintln!("==> demo: starting the kraft broker (cargo xtask kafka up kraft)");
    // Progress goes to the terminal as it happens; stdout carries the KEY=VALUE lines.
    let out = Command::new(&me)
        .args(["kafka", "up", "kraft"])
        .current_dir(&root)
        .stderr(Stdio::inherit())
        .output()
        .context("running `xtask kafka up kraft`")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        print!("{stdout}");
        bail!("the kraft broker failed to start (see its log above)");
    }
    let Some(bootstrap) = bootstrap_from(&stdout) else {
        print!("{stdout}");
        bail!("`xtask kafka up kraft` printed no {BOOTSTRAP_VAR}= line");
    };
    eprintln!("==> demo: broker at {bootstrap}; cargo run -q -p kafkaex-client --example demo");

    let status = Command::new("cargo")
        .args(["run", "-q", "-p", "kafkaex-client", "--example", "demo"])
        .current_dir(&root)
        .env("KAFKAEX_BOOTSTRAP", &bootstrap)
        .status()
        .context("running cargo")?;
    eprintln!(
        "==> demo: the kraft broker is still running at {bootstrap}; stop it with `cargo xtask kafka down kraft`"
    );
    if !status.success() {
        bail!("the demo failed ({status})");
    }
    Ok(())
}

/// The value of the `KAFKAEX_BOOTSTRAP_KRAFT=` line in `kafka up`'s output (`export ` and
/// quotes allowed).
fn bootstrap_from(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let line = line.trim().trim_start_matches("export ").trim();
        let value = line.strip_prefix(BOOTSTRAP_VAR)?.strip_prefix('=')?;
        let value = value.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bootstrap_line_among_others() {
        let out = "noise\nKAFKAEX_BOOTSTRAP_KRAFTX=no\nexport KAFKAEX_BOOTSTRAP_KRAFT=\"127.0.0.1:19092\"\n";
        assert_eq!(bootstrap_from(out).as_deref(), Some("127.0.0.1:19092"));
        assert_eq!(bootstrap_from("KAFKAEX_BOOTSTRAP_KRAFT=\n"), None);
        assert_eq!(
            bootstrap_from("KAFKAEX_BOOTSTRAP_ZK=127.0.0.1:39092\n"),
            None
        );
    }
}
