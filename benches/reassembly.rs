//! `cargo bench --bench reassembly`: `prop reassembly` cases per second against the
//! kernel (its TCP on the sandbox's wire), lwIP, smoltcp and the toy receiver of the
//! tests, in one run; and, for each mutant of the toy receiver, how many cases it takes
//! to catch and how long shrinking takes.
//!
//! lwIP needs Debian's liblwip-dev; smoltcp is built from adapters/smoltcp in release
//! mode; the toy receiver is built as the `toystack` example, release mode.

mod support;

use sockspec::adapter::TargetSpec;
use sockspec::prop::segments::Bounds;
use sockspec::prop::{run_reassembly, PropConfig, PropOutcome};
use sockspec::run::Settings;
use sockspec::sandbox::{Limits, SandboxSpec};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::stack_targets;

const FAULTS: [&str; 6] = [
    "early-delivery",
    "drop-gap-filler",
    "overlap-appended",
    "ack-beyond",
    "wrap-loss",
    "stall-when-full",
];

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sockspec"));
    let spec = match SandboxSpec::probe(exe, Limits::default(), Vec::new()) {
        Ok((spec, _)) => spec,
        Err(e) => {
            println!("reassembly not measured: no sandbox, so no wire ({e})");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let settings = |target: TargetSpec| Settings {
        target,
        sandbox: Some(spec.clone()),
        timeout: Duration::from_secs(5),
        ..Settings::default()
    };
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--example", "toystack"])
        .current_dir(&root)
        .status()
        .is_ok_and(|s| s.success());
    let toystack = root.join("target/release/examples/toystack");
    let mut targets: Vec<(String, TargetSpec)> =
        vec![("kernel (TUN wire)".into(), TargetSpec::Reference)];
    for (name, command) in stack_targets(&root, dir.path()) {
        if !name.starts_with("kernel") {
            targets.push((name.into(), TargetSpec::Adapter { command }));
        }
    }
    if built {
        targets.push((
            "toy receiver (TAP link)".into(),
            TargetSpec::Adapter {
                command: toystack.display().to_string(),
            },
        ));
    }
    let cfg = PropConfig {
        cases: 512,
        seed: 3,
        max_shrink_iters: 0,
        ..PropConfig::default()
    };
    println!(
        "prop reassembly: {} cases of seed {} (streams up to 64 KiB, up to 64 segments)",
        cfg.cases, cfg.seed
    );
    for (name, target) in targets {
        let started = std::time::Instant::now();
        let mut cases = 0u32;
        let outcome = run_reassembly(&settings(target), &cfg, Bounds::default(), |_, _| {
            cases += 1
        });
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            PropOutcome::Passed { cases, elapsed } => println!(
                "  {name:<28} {cases} cases in {:.2} s: {:.0} cases/s",
                elapsed.as_secs_f64(),
                f64::from(cases) / elapsed.as_secs_f64()
            ),
            PropOutcome::Failed { reason, .. } => println!(
                "  {name:<28} failed at case {cases} after {secs:.2} s ({:.0} cases/s until then): {}",
                f64::from(cases) / secs,
                reason.lines().next().unwrap_or_default().chars().take(100).collect::<String>()
            ),
            other => println!("  {name:<28} {other:?}"),
        }
    }
    if !built {
        println!("mutants not measured: the toy receiver does not build");
        return;
    }
    println!("mutants of the toy receiver (seed 1, --stall 200ms, at most 300 shrink steps):");
    for fault in FAULTS {
        let cfg = PropConfig {
            cases: 64,
            seed: 1,
            max_shrink_iters: 300,
            max_shrink_time: Duration::from_secs(300),
            stall: Duration::from_millis(200),
            ..PropConfig::default()
        };
        let target = TargetSpec::Adapter {
            command: format!("{} {fault}", toystack.display()),
        };
        match run_reassembly(&settings(target), &cfg, Bounds::default(), |_, _| {}) {
            PropOutcome::Failed {
                minimal,
                reason,
                cases_before,
                shrink_steps,
                shrink_time,
                ..
            } => println!(
                "  {fault:<18} caught at case {}, {} by `{}`; shrunk in {shrink_steps} steps, {:.1} s, to {}",
                cases_before + 1,
                if cases_before == 0 { "the first" } else { "after passing ones" },
                reason.split(':').next().unwrap_or_default(),
                shrink_time.as_secs_f64(),
                minimal.describe()
            ),
            other => println!("  {fault:<18} NOT caught: {other:?}"),
        }
    }
}
