//! `sockspec compare`: the same scenarios against several targets, one table and the
//! differences named per target, in the terminal and as JSON.

mod support;

use support::*;

fn compare(args: &[&str]) -> (i32, String, String) {
    let out = sockspec().arg("compare").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MUTANT: &str = "mutant=python3 tests/mutants/mutant_adapter.py recv-drops-last-byte";

/// Linux and the mutant on two scenarios: one it fails, one it passes.
const MUTANT_AND_LINUX: [&str; 8] = [
    "--target",
    "linux=reference",
    "--target",
    MUTANT,
    "-f",
    "stream/recv-returns-what-is-there",
    "-f",
    "bind/bind-twice",
];

/// A target that drops the last byte of each read differs from Linux where a scenario
/// reads: the table marks it and the difference says expected against got.
#[test]
fn a_mutant_differs_from_the_reference_where_it_is_wrong() {
    let (code, out, err) = compare(&MUTANT_AND_LINUX);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("linux: the Linux reference"), "{out}");
    assert!(err.contains("running 2 scenarios against mutant"), "{err}");
    assert!(
        out.contains(
            "\nscenario                           linux   mutant\nstream/recv-returns-what-is-there  pass    FAIL\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("differences:\n  stream/recv-returns-what-is-there: mutant: line 13: `recv(s, 100) -> \"hello\"`: expected \"hello\" (5 bytes), got \"hell\" (4 bytes)\n"),
        "{out}"
    );
    assert!(out.ends_with(
        "2 scenarios on 2 targets: 1 differ (0 known, 1 not), 0 fail on every target\n"
    ));

    // The same as one HTML page, read by Chromium: by default only the differing row
    // shows, with the difference in words.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("compare.html");
    let mut args = MUTANT_AND_LINUX.to_vec();
    args.extend(["--format", "html", "-o"]);
    let page_arg = page.display().to_string();
    args.push(&page_arg);
    let (code, _, _) = compare(&args);
    assert_eq!(code, 1);
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["http://", "https://", "<link", "src=\""] {
        assert!(!html.contains(external), "the page refers to {external}");
    }
    if let Some(dom) = chromium_dom(&page) {
        assert!(dom.contains("1 of 2 scenarios shown"), "{dom}");
        assert!(
            dom.contains("<tr class=\"scenario\" data-differs=\"no\" hidden=\"\">"),
            "{dom}"
        );
        assert!(dom.contains("got \"hell\" (4 bytes)"), "{dom}");
    }
}

/// Two implementations of the same kernel sockets agree: nothing differs, exit 0; the
/// JSON names each target's result per scenario.
#[test]
fn the_c_adapter_agrees_with_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = c_adapter(dir.path());
    let c = format!("c={}", adapter.display());
    let (code, out, err) = compare(&[
        "--target",
        "linux=reference",
        "--target",
        &c,
        "--tag",
        "stream",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["differences"], 0);
    assert_eq!(
        doc["targets"][1]["implementation"],
        "linux (sockspec C adapter)"
    );
    let scenarios = doc["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 5);
    for s in scenarios {
        assert_eq!(s["results"]["linux"]["status"], "passed", "{s}");
        assert_eq!(s["results"]["c"]["status"], "passed", "{s}");
    }
}

#[test]
fn compare_needs_two_named_targets() {
    let (code, _, err) = compare(&["--target", "linux=reference"]);
    assert_eq!(code, 2);
    assert!(err.contains("at least two --target"), "{err}");
    let (code, _, err) = compare(&["--target", "a=reference", "--target", "a=reference"]);
    assert_eq!(code, 2);
    assert!(err.contains("each with its own name"), "{err}");
    let (code, _, err) = compare(&["--target", "linux"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not NAME=CMD"), "{err}");
}

/// A target's known differences are accepted with their reason; one that no longer
/// happens fails the run until the file is updated; a file naming no real scenario is
/// refused before anything runs.
#[test]
fn known_differences_are_accepted_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        format!("mutant={}", path.display())
    };
    let accepted = write(
        "known.toml",
        "[[difference]]\nscenario = \"stream/recv-returns-what-is-there\"\nreason = \"drops the last byte of every read (a mutant)\"\n",
    );
    let selection = MUTANT_AND_LINUX;
    let mut args = selection.to_vec();
    args.extend(["--known", &accepted]);
    let (code, out, err) = compare(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("    known: drops the last byte of every read (a mutant)\n"),
        "{out}"
    );
    assert!(
        out.ends_with("1 differ (1 known, 0 not), 0 fail on every target\n"),
        "{out}"
    );

    // bind-twice never differed: a stale entry fails the run.
    let stale = write(
        "stale.toml",
        "[[difference]]\nscenario = \"stream/recv-returns-what-is-there\"\nreason = \"a mutant\"\n[[difference]]\nscenario = \"bind/bind-twice-expects-error\"\nreason = \"fixed long ago\"\n",
    );
    let mut args = selection.to_vec();
    args.extend(["--known", &stale, "--format", "json"]);
    let (code, out, err) = compare(&args);
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stale"][0]["scenario"], "bind/bind-twice-expects-error");
    assert_eq!(doc["unexpected"].as_array().unwrap().len(), 0);

    let typo = write(
        "typo.toml",
        "[[difference]]\nscenario = \"stream/recv-returns-what-is-thre\"\nreason = \"x\"\n",
    );
    let mut args = selection.to_vec();
    args.extend(["--known", &typo]);
    let (code, _, err) = compare(&args);
    assert_eq!(code, 2);
    assert!(
        err.contains("no scenario is named `stream/recv-returns-what-is-thre`"),
        "{err}"
    );
}
