//! `sockspec check` over files in tests/check: each `NAME.scn` has the exact stderr it
//! must produce in `NAME.stderr` (and exit status 2), or checks clean when there is no
//! such file. Set `SOCKSPEC_BLESS=1` to rewrite the expected files after a deliberate
//! change, then review the diff.

mod support;

use support::*;

#[test]
fn check_reports_every_error_with_location_caret_and_hint() {
    let dir = root().join("tests/check");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let bless = std::env::var_os("SOCKSPEC_BLESS").is_some();
    let mut mismatches = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root()).unwrap();
        let out = sockspec().arg("check").arg(rel).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let expected_path = file.with_extension("stderr");
        if bless && out.status.code() == Some(0) {
            let _ = std::fs::remove_file(&expected_path);
            continue;
        }
        if !expected_path.exists() && !bless {
            assert_eq!(
                out.status.code(),
                Some(0),
                "{} should check clean:\n{stderr}",
                rel.display()
            );
            continue;
        }
        assert_eq!(
            out.status.code(),
            Some(2),
            "{} must fail with status 2",
            rel.display()
        );
        assert!(!stderr.contains('\x1b'), "NO_COLOR output has escapes");
        if bless {
            std::fs::write(&expected_path, &stderr).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        if expected != stderr {
            mismatches.push(format!("--- {}\n{stderr}", expected_path.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "stderr differs (SOCKSPEC_BLESS=1 rewrites):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn run_refuses_to_start_when_any_scenario_is_invalid() {
    let out = sockspec()
        .args(["run", "tests/check/many-errors.scn", "scenarios/bind"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("PASS"), "nothing runs: {stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("nothing was run"), "{stderr}");
}

#[test]
fn check_counts_clean_files() {
    let out = sockspec().args(["check", "scenarios"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("checked ") && stdout.contains("no errors"),
        "{stdout}"
    );
}
