//! `sockspec prop stream`: correct implementations pass, and each stream mutant (a bug
//! that no plain scenario reaches) is found within the default number of cases, shrunk
//! to a small case, replayed by its seed, and written as a scenario that reproduces it.

mod support;

use rstest::rstest;
use support::*;

fn prop(args: &[&str]) -> (i32, String) {
    let out = sockspec()
        .args(["prop", "stream"])
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_reference_and_the_python_adapter_keep_streams_intact() {
    let (code, text) = prop(&["--seed", "11", "--cases", "24"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("24 passed, 0 failed") && text.contains("seed 11"),
        "{text}"
    );
    let (code, text) = prop(&[
        "--seed",
        "12",
        "--cases",
        "24",
        "--adapter",
        &python_adapter(),
        "--verbose",
    ]);
    assert_eq!(code, 0, "{text}");
    // Pattern seeds travel as bare JSON numbers (docs/adapter-protocol.md): some of
    // these cases must have used one that a double cannot hold, and passed.
    let above_2_53 = text
        .split("pattern seed ")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .filter(|seed| *seed > 1 << 53)
        .count();
    assert!(above_2_53 > 0, "no pattern seed above 2^53 in:\n{text}");
}

/// The byte counts and piece sizes in the minimal case's description (not its seed).
fn sizes(text: &str) -> Vec<usize> {
    let line = text
        .lines()
        .skip_while(|l| !l.starts_with("minimal case"))
        .nth(1)
        .unwrap_or("")
        .to_string();
    let line = match (line.find("(pattern seed"), line.find(')')) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &line[..a], &line[b + 1..]),
        _ => line,
    };
    line.split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// `deterministic`: the bug fires on the same bytes whatever the timing, so the same
/// seed must shrink to the same minimal case. The others depend on how much data is
/// queued when a read happens: their replay must fail again, possibly shrinking to a
/// different (equally small) case.
#[rstest]
#[case::drop_byte_on_short_read("drop-byte-on-short-read", false)]
#[case::reorder_after_64k("reorder-after-64k", true)]
#[case::duplicate_partial_tail("duplicate-partial-tail", true)]
#[case::lose_after_half_close("lose-after-half-close", false)]
#[case::truncate_at_64k("truncate-at-64k", true)]
fn stream_mutant_is_caught_shrunk_replayed_and_written(
    #[case] name: &str,
    #[case] deterministic: bool,
) {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().display().to_string();
    let adapter = mutant(name);
    let args = [
        "--seed",
        "7",
        "--adapter",
        &adapter,
        "--write-scenario",
        &dir_arg,
    ];
    let (code, text) = prop(&args);
    assert_eq!(code, 1, "{name} was not caught:\n{text}");
    assert!(
        text.contains("minimal case") && text.contains("what went wrong"),
        "{text}"
    );
    assert!(
        text.contains("replay: sockspec prop stream --seed 7"),
        "{text}"
    );
    // Small: nothing much larger than the 64 KiB the bugs hide behind.
    let largest = sizes(&text).into_iter().max().unwrap_or(0);
    assert!(
        largest <= 100 << 10,
        "{name} shrank only to {largest} bytes:\n{text}"
    );

    // The same seed replays: it fails again, on the same minimal case where the bug
    // does not depend on timing.
    let (code, again) = prop(&args);
    assert_eq!(code, 1, "replay did not fail:\n{again}");
    if deterministic {
        let minimal = |t: &str| {
            t.lines()
                .skip_while(|l| !l.starts_with("minimal case"))
                .nth(1)
                .map(str::to_string)
        };
        assert_eq!(minimal(&text), minimal(&again), "replay differs");
    }

    // The written scenario is a regression test: it passes against Linux.
    let file = dir.path().join("stream-seed-7.scn").display().to_string();
    assert!(text.contains("scenario written"), "{text}");
    // Where the bug does not hang on timing, the scenario reproduces it.
    if deterministic {
        let (code, report) = run_json(&[&file, "--adapter", &adapter, "--timeout", "3s"]);
        assert_eq!(
            code, 1,
            "the scenario must fail against {name}: {:?}",
            report["summary"]
        );
    }
    let (code, report) = run_json(&[&file]);
    assert_eq!(
        (code, not_passed(&report)),
        (0, vec![]),
        "the scenario passes against Linux"
    );
}

/// Without the `bulk` capability the bytes cross the protocol as hex, and the property
/// still holds (and still checks every byte).
#[test]
fn adapters_without_bulk_fall_back_to_send_and_recv() {
    let adapter = format!(
        "python3 {} no-bulk",
        root().join("tests/bad_adapters/bad_adapter.py").display()
    );
    let (code, text) = prop(&[
        "--seed",
        "13",
        "--cases",
        "16",
        "--max-len",
        "256k",
        "--adapter",
        &adapter,
    ]);
    assert_eq!(code, 0, "{text}");
}
