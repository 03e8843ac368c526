//! `kafkaex`: command-line tools of kafkaex-rs (offset storage migration, to come).

fn main() {
    eprintln!("kafkaex: not built yet");
    std::process::exit(2);
}
