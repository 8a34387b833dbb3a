//! `sockspec coverage`: RFC 9293's MUST requirements against the corpus, read from the
//! scenarios' refs, with verdicts per target taken from a real `compare` report.

mod support;

use support::*;

fn coverage(args: &[&str]) -> (i32, String, String) {
    let out = sockspec().arg("coverage").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every requirement is checked by a scenario or said to be unobservable with a reason:
/// the corpus leaves no gap (issue 12's aim), names no label the RFC does not have, and
/// the requirements it checks are those the README counts.
#[test]
fn the_corpus_covers_the_requirements_it_names() {
    let (code, text, err) = coverage(&["--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let requirements = doc["requirements"].as_array().unwrap();
    assert_eq!(requirements.len(), 69);
    assert_eq!(doc["unknown"].as_array().unwrap().len(), 0);
    let loaded = sockspec::script::load_all(&[root().join("scenarios")]).unwrap();
    for r in requirements {
        match r["status"].as_str().unwrap() {
            "checked" => {
                for name in r["scenarios"].as_array().unwrap() {
                    let name = name.as_str().unwrap();
                    let s = loaded.scenarios.iter().find(|s| s.name == name).unwrap();
                    assert!(
                        s.meta
                            .refs
                            .iter()
                            .any(|x| x.contains(r["label"].as_str().unwrap())),
                        "{name} does not name {}",
                        r["label"]
                    );
                }
            }
            "unobservable" => assert!(
                !r["unobservable"].as_str().unwrap_or_default().is_empty(),
                "{}",
                r["label"]
            ),
            "gap" => panic!(
                "{} has no scenario and no reason why none can observe it",
                r["label"]
            ),
            other => panic!("unknown status {other}"),
        }
    }
    let checked = doc["checked"].as_u64().unwrap();
    assert_eq!(doc["gaps"].as_u64(), Some(0), "{text}");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "{checked} of RFC 9293's 69 MUST requirements are checked"
        )),
        "README.md must give the coverage: {checked} checked"
    );
}

/// With `--results`, each checking scenario shows how every target of a real compare
/// fared on it.
#[test]
fn verdicts_come_from_a_compare_report() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("compare.json");
    let scenario = scenario("sockopt/keepalive-round-trips");
    let out = sockspec()
        .args(["compare", &scenario, "--target", "linux=reference"])
        .args([
            "--target",
            &format!("mutant={}", mutant("keepalive-ignored")),
        ])
        .args(["--format", "json", "-o"])
        .arg(&results)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the mutant differs");
    let (code, text, err) = coverage(&["--results", results.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let must24 = doc["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "MUST-24")
        .unwrap();
    let cells = &must24["verdicts"]["sockopt/keepalive-round-trips"];
    assert_eq!(cells["linux"], "passed", "{must24}");
    assert_eq!(cells["mutant"], "failed", "{must24}");

    let (_, text, _) = coverage(&["--results", results.to_str().unwrap()]);
    assert!(
        text.contains("checked by sockopt/keepalive-round-trips  [linux passed, mutant failed]"),
        "{text}"
    );
}

/// A label the RFC does not have (a typo) is an error, not coverage; a results file
/// that is not a compare report is refused with its name.
#[test]
fn an_unknown_label_or_a_wrong_results_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.scn");
    std::fs::write(
        &file,
        "+++\ntitle = \"t\"\nrefs = [\"RFC 9293 3.1 MUST-70\"]\n+++\na = socket()\n",
    )
    .unwrap();
    let (code, text, _) = coverage(&[file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        text.contains(
            "error: typo names MUST-70, which RFC 9293's requirement summary does not have"
        ),
        "{text}"
    );
    let (code, _, err) = coverage(&["--results", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("typo.scn: not a JSON report"), "{err}");
}
