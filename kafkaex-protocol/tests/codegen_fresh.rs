//! The checked-in generated code matches what `cargo xtask codegen` produces from the specs.

use std::path::Path;
use std::process::Command;

#[test]
fn generated_code_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace");
    let specs = root.join("../shared/kafka-protocol/messages");
    if !specs.is_dir() {
        println!(
            "skipping: Kafka's message specs are not at {}",
            specs.display()
        );
        return;
    }
    let output = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["run", "-q", "-p", "xtask", "--", "codegen", "--check"])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "`cargo xtask codegen --check` failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
