//! Shared helpers of the end-to-end tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `sockspec` binary built for these tests.
pub fn sockspec() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sockspec"));
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("SOCKSPEC_ADAPTER")
        .env_remove("SOCKSPEC_PROFILE")
        // The captures of the many scenarios the tests fail on purpose stay in target/.
        .env("SOCKSPEC_FAILURE_PCAP", env!("CARGO_TARGET_TMPDIR"));
    cmd
}

pub fn bin_path() -> &'static str {
    env!("CARGO_BIN_EXE_sockspec")
}

/// Runs `sockspec run ARGS --format json` and returns the exit code and the report.
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = sockspec()
        .arg("run")
        .args(args)
        .args(["--format", "json", "--no-progress"])
        .output()
        .expect("sockspec runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}):\nstdout: {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The scenarios of a JSON report whose status is not `passed` or `skipped`, as
/// `name: step: expected .. got ..` lines.
pub fn not_passed(report: &serde_json::Value) -> Vec<String> {
    report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter(|s| s["status"] != "passed" && s["status"] != "skipped")
        .map(|s| format!("{} [{}]: {}", s["name"], s["status"], s["failure"]))
        .collect()
}

pub fn python_adapter() -> String {
    format!(
        "python3 {}",
        root().join("adapters/python/sockspec_adapter.py").display()
    )
}

pub fn mutant(name: &str) -> String {
    format!(
        "python3 {} {name}",
        root().join("tests/mutants/mutant_adapter.py").display()
    )
}

pub fn scenario(name: &str) -> String {
    root()
        .join("scenarios")
        .join(format!("{name}.scn"))
        .display()
        .to_string()
}

/// Whether a test can run here: `available`, or else it says why it is skipped. Under
/// CI, where everything the tests need is installed, a missing piece is a failure.
pub fn required(available: bool, what: &str) -> bool {
    if !available {
        assert!(std::env::var_os("CI").is_none(), "CI must provide: {what}");
        eprintln!("skipped: this machine lacks {what}");
    }
    available
}

/// Whether this machine can make sockspec's sandbox (namespaces).
pub fn sandbox_available() -> bool {
    let ok = sockspec()
        .args([
            "run",
            &scenario("bind/bind-nonlocal-address-fails"),
            "--sandbox",
            "require",
            "--no-progress",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    required(ok, "user, network and PID namespaces for the sandbox")
}

/// Compiles a sample C program from tests/programs (with `-DBUG_<bug>` for a buggy
/// variant) and returns the binary's path. Built once per test run into cargo's
/// scratch folder; a compile into a temporary name and a rename keep parallel tests
/// from seeing half-written binaries.
pub fn sample_program(source: &str, bug: Option<&str>) -> PathBuf {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    // As root, the sandbox runs programs as nobody, who must be able to reach them:
    // a checkout below a folder closed to others (e.g. /root) compiles them elsewhere.
    let dir = if reachable_by_others(&scratch) {
        scratch.join("sample-programs")
    } else {
        std::env::temp_dir().join(format!("sockspec-test-samples-{}", std::process::id()))
    };
    std::fs::create_dir_all(&dir).expect("scratch folder");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .expect("open the scratch folder to others");
    let stem = source.trim_end_matches(".c");
    let name = match bug {
        Some(b) => format!("{stem}-{}", b.to_lowercase()),
        None => stem.to_string(),
    };
    let out = dir.join(&name);
    // Unique per call: tests of one binary are threads of one process, and two that
    // compile the same program at once must not rename each other's file.
    static COMPILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = COMPILES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tmp = dir.join(format!("{name}.{}.{call}.tmp", std::process::id()));
    let mut gcc = Command::new("gcc");
    gcc.args(["-O2", "-Wall", "-Werror", "-pthread", "-o"])
        .arg(&tmp)
        .arg(root().join("tests/programs").join(source));
    if let Some(b) = bug {
        gcc.arg(format!("-DBUG_{b}"));
    }
    let status = gcc.status().expect("gcc runs");
    assert!(status.success(), "gcc failed on {source} {bug:?}");
    std::fs::rename(&tmp, &out).expect("rename the binary");
    out
}

/// Whether every folder from `/` down to `dir` lets others search it.
pub fn reachable_by_others(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors()
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// Live (not zombie) processes whose environment holds `NAME=VALUE`: how a test finds
/// what an adapter started and everything it forked, wherever it runs (files it wrote
/// in a sandbox stay in the sandbox's mount namespace, out of the host's sight).
pub fn processes_with_env(name: &str, value: &str) -> Vec<i32> {
    let wanted = format!("{name}={value}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == wanted.as_bytes()))
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                !stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        })
        .collect()
}

/// A value no other test process carries: for [`processes_with_env`].
pub fn unique_mark(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{what}-{}-{nanos}", std::process::id())
}

/// The C adapter (adapters/c/sockspec_adapter.c) built into `dir` with every warning an
/// error, as a C stack author would build the template.
pub fn c_adapter(dir: &std::path::Path) -> PathBuf {
    let out = dir.join("sockspec_adapter");
    let built = Command::new("cc")
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-pthread",
            "-o",
        ])
        .arg(&out)
        .arg(root().join("adapters/c/sockspec_adapter.c"))
        .output()
        .expect("cc runs");
    assert!(
        built.status.success(),
        "the C adapter does not build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

/// The DOM headless Chromium makes of an HTML file (scripts run, network off), after
/// checking the page ran its script (`data-ready="yes"` on the body); `None`, said,
/// where Chromium is missing.
pub fn chromium_dom(page: &std::path::Path) -> Option<String> {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !required(chromium.is_some(), "Chromium (apt-get install chromium)") {
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium.unwrap())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the script did not run:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dom)
}
