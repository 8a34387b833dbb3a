//! Every API scenario fails against something that is wrong in its way. The cases are
//! in tests/mutants/caught.toml: mutant adapters (the Python adapter with one classic
//! bug each, tests/mutants/mutant_adapter.py), a Linux with a network setting changed,
//! Linux judged by the `posix` profile. A real stack's known differences
//! (adapters/*/known-differences.toml, proven in tests/stacks.rs) count too. The same
//! scenarios pass against the correct Python adapter (tests/corpus.rs), so each
//! failure is the bug's and not the adapter's.

mod support;

use std::collections::BTreeSet;
use support::*;

#[derive(serde::Deserialize)]
struct Case {
    mutant: Option<String>,
    #[serde(default)]
    sysctl: Vec<String>,
    profile: Option<String>,
    scenarios: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn cases() -> Cases {
    let text = std::fs::read_to_string(root().join("tests/mutants/caught.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// Scenarios outside scenarios/wire (tests/wire/failures.toml) and scenarios/programs
/// (tests/programs.rs), by name.
fn api_scenarios() -> BTreeSet<String> {
    let loaded = sockspec::script::load_all(&[root().join("scenarios")]).unwrap();
    loaded
        .scenarios
        .iter()
        .filter(|s| s.roles.is_empty() && !s.name.starts_with("wire/"))
        .map(|s| s.name.clone())
        .collect()
}

fn known_differences(file: &str) -> BTreeSet<String> {
    #[derive(serde::Deserialize)]
    struct Difference {
        scenario: String,
    }
    #[derive(serde::Deserialize)]
    struct Known {
        difference: Vec<Difference>,
    }
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let known: Known = toml::from_str(&text).unwrap();
    known.difference.into_iter().map(|d| d.scenario).collect()
}

/// A scenario nothing can fail is a defect: each is named by a case or by a stack's
/// known differences, and every name there is a scenario.
#[test]
fn every_api_scenario_is_shown_failing_by_something() {
    let api = api_scenarios();
    let mut shown: BTreeSet<String> = cases().case.into_iter().flat_map(|c| c.scenarios).collect();
    for name in &shown {
        assert!(api.contains(name), "caught.toml names no scenario `{name}`");
    }
    for file in [
        "adapters/lwip/known-differences.toml",
        "adapters/smoltcp/known-differences.toml",
    ] {
        shown.extend(known_differences(file));
    }
    let unshown: Vec<&String> = api.difference(&shown).collect();
    assert!(
        unshown.is_empty(),
        "no case in tests/mutants/caught.toml shows these failing: {unshown:?}"
    );
}

/// Each mutant and each changed setting fails exactly the scenarios it lists. Cases
/// run four at a time: most of their time is spent waiting out a deadline.
#[test]
fn each_case_fails_its_scenarios() {
    if !sandbox_available() {
        return;
    }
    let all = cases().case;
    let runnable: Vec<&Case> = all.iter().filter(|c| c.profile.is_none()).collect();
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for chunk in runnable.chunks(runnable.len().div_ceil(4)) {
            let failures = &failures;
            scope.spawn(move || {
                for case in chunk {
                    if let Err(why) = check(case) {
                        failures.lock().unwrap().push(why);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs one case's scenarios against its mutant (or with its settings); every one must
/// fail, with the failing line and what happened named.
fn check(case: &Case) -> Result<(), String> {
    let files: Vec<String> = case.scenarios.iter().map(|s| scenario(s)).collect();
    let mut args: Vec<String> = files.clone();
    args.extend(["--timeout", "3s", "-j", "4"].map(String::from));
    let what = match &case.mutant {
        Some(name) => {
            args.extend(["--adapter".to_string(), mutant(name)]);
            format!("mutant {name}")
        }
        None => format!("sysctl {:?}", case.sysctl),
    };
    for s in &case.sysctl {
        args.extend(["--sysctl".to_string(), s.clone()]);
    }
    let all: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, report) = run_json(&all);
    if code != 1 {
        return Err(format!("{what}: exit {code}: {report}"));
    }
    for result in report["scenarios"].as_array().unwrap() {
        let name = result["name"].as_str().unwrap_or_default();
        if result["status"] != "failed" {
            return Err(format!("{what} was not caught by {name}: {result}"));
        }
        let failure = &result["failure"];
        if failure["line"].as_u64().unwrap_or(0) == 0
            || failure["actual"].as_str().unwrap_or_default().is_empty()
        {
            return Err(format!(
                "{what}: {name} fails without saying where: {result}"
            ));
        }
    }
    Ok(())
}

/// Under `--profile posix` the Linux reference shows exactly the documented Linux
/// deviations (the `profile = "posix"` case), and nothing else.
#[test]
fn posix_profile_shows_the_known_linux_deviations() {
    let listed: Vec<String> = cases()
        .case
        .into_iter()
        .filter(|c| c.profile.as_deref() == Some("posix"))
        .flat_map(|c| c.scenarios)
        .collect();
    let (code, report) = run_json(&["--profile", "posix"]);
    assert_eq!(code, 1);
    let mut failed: Vec<String> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    failed.sort();
    let mut listed = listed;
    listed.sort();
    assert_eq!(failed, listed);
    assert_eq!(report["summary"]["errors"], 0);
    let skipped = report["summary"]["skipped"].as_u64().unwrap();
    assert!(skipped >= 5, "linux-only scenarios are skipped under posix");
}

/// The expected end of stream is worded by its cause: after `shutdown(s, rd)` it is
/// this socket's own doing, not the peer's.
#[test]
fn an_expected_eof_after_shutdown_rd_names_that_cause() {
    let file = scenario("shutdown/shutdown-read-then-recv");
    let (code, report) = run_json(&[
        &file,
        "--adapter",
        &mutant("shutdown-read-ignored"),
        // The recv blocks until this timeout; it also bounds the Python adapter's
        // start, which took over 1 s once on a loaded CI machine.
        "--timeout",
        "5s",
    ]);
    assert_eq!(code, 1);
    let expected = report["scenarios"][0]["failure"]["expected"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        expected, "eof (0 bytes: this socket was shut down for reading)",
        "{report}"
    );
}
