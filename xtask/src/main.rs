//! `cargo xtask`: codegen, local Kafka brokers, CI helpers, benchmarks.

use anyhow::{bail, Result};

mod bench;
mod bench_instructions;
mod ci;
mod codegen;
mod demo;
mod fuzz;
mod interop;
mod kafka;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        print_usage();
        bail!("no command given");
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "codegen" => codegen::run(rest),
        "bench-instructions" => bench_instructions::run(rest),
        "demo" => demo::run(rest),
        "test" => ci::run_test(rest),
        "ci" => ci::run_ci(rest),
        "interop" => interop::run(rest),
        "kafka" => kafka::run(rest),
        "fuzz" => fuzz::run(rest),
        "bench" => bench::run(rest),
        "help" | "--help" | "-h" => {
            print_usage();
            Ok(())
        }
        other => {
            print_usage();
            bail!("unknown command {other:?}")
        }
    }
}

fn print_usage() {
    eprintln!(
        "usage: cargo xtask <command>\n\
         \n\
         commands:\n\
         \x20 demo                                   start the kraft broker, then produce, consume in a group and commit\n\
         \x20 codegen [--check] [--specs DIR|JAR]..  generate kafkaex-protocol/src/generated from Kafka's JSON specs\n\
         \x20 test [--no-brokers]                   start the test brokers, run the whole test suite, stop them\n\
         \x20 ci                                     fmt, clippy, codegen --check, fuzz/bench builds, then test\n\
         \x20 interop build|verify FILE|produce|fetch|write|capture   the Java client as a peer (interop/java)\n\
         \x20 kafka up|down|status|env [PROFILE|all]   local brokers: kraft, cluster, zk, secure, legacy (`kafka help`)\n\
         \x20 fuzz [--seconds N] [TARGET..] | --build | seed | list   run the protocol fuzz targets (nightly)\n\
         \x20 bench e2e [--records N] [--arms a,b] [--skip-build] ...   end-to-end client benchmark against the kraft broker\n\
         \x20 bench-instructions [--features crc-fast] [CODEC..]   record batch instruction counts under callgrind\n"
    );
}

/// The workspace root (the parent of the xtask crate).
pub(crate) fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
