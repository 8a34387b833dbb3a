//! `sockspec check` and `run` on invalid input. The exact diagnostics of the files in
//! tests/check are data-driven cases in tests/cmd/check.md (run by tests/cmd.rs).

mod support;

use support::*;

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

/// Runs `sockspec ARGS` with a deadline: a hang is a failure, not a stuck test run.
fn run_with_watchdog(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    use std::time::{Duration, Instant};
    let mut child = sockspec()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let start = Instant::now();
    // A hang detector, not a speed target.
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("sockspec {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap())
}

/// Paths that once hung or exploded the loader: a FIFO named like a scenario, a
/// folder linked to itself twice (an exponential walk), /dev/zero, a file too large to
/// be a scenario, invalid UTF-8. Each is one clear error; a good file's own errors
/// are still reported beside them, and nothing hangs.
#[test]
fn hostile_paths_get_an_error_each_and_never_hang() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = std::ffi::CString::new(d.join("x.scn").to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let looped = d.join("loop");
    std::fs::create_dir(&looped).unwrap();
    std::os::unix::fs::symlink("..", looped.join("a")).unwrap();
    std::os::unix::fs::symlink("..", looped.join("b")).unwrap();
    std::fs::write(d.join("huge.scn"), vec![b'#'; 5 << 20]).unwrap();
    std::fs::write(
        d.join("utf.scn"),
        b"+++\ntitle = \"u\"\n+++\na = socket()\nbind(a, \"\xff\")\n",
    )
    .unwrap();
    std::fs::write(
        d.join("typo.scn"),
        "+++\ntitle = \"t\"\n+++\na = sockett()\n",
    )
    .unwrap();
    let (code, stderr) = run_with_watchdog(&["check".as_ref(), d.as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    for expected in [
        "x.scn is not a regular file",
        "huge.scn is 5242880 bytes, more than the 4194304",
        "invalid UTF-8 (byte 0xff)",
        "utf.scn:5:10",
        "unknown call `sockett`",
        "4 errors in 4 scenario files",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing in:\n{stderr}"
        );
    }
    let (code, stderr) = run_with_watchdog(&["check".as_ref(), "/dev/zero".as_ref()]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("/dev/zero is not a regular file"),
        "{stderr}"
    );
}

/// 40 000 errors in one file: every one reported, positions found without rescanning
/// the file (this took 29 s when each error counted lines from the start).
#[test]
fn a_file_full_of_errors_reports_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.scn");
    let mut text = String::from("+++\ntitle = \"many\"\n+++\n");
    for i in 0..40_000 {
        text.push_str(&format!("bogus({i})\n"));
    }
    std::fs::write(&file, text).unwrap();
    let (code, stderr) = run_with_watchdog(&["check".as_ref(), file.as_os_str()]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("many.scn:40003:1"),
        "the last error's position"
    );
    assert!(stderr.contains("40000 errors in 1 scenario file"));
}
