//! Containment, by attack: each test makes a move a hostile submission made against an
//! earlier sockspec (issue 9) and shows it fails now. The attacks live in
//! tests/programs/attacker.c; a scenario expects its line `REPORT contained`, so a
//! breach fails the scenario with the attacker's own account of what worked. Every
//! test also checks that nothing is left on the host: files, processes, temp folders.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// A hang detector, not a speed target.
const WATCHDOG: Duration = Duration::from_secs(60);

/// A scenario in which the attacker runs, reports, and must still serve the peer (so a
/// killed peer shows as a failure).
const CONTAINED: &str = "+++\ntitle = \"The attack fails\"\n+++\nsrv = start(attacker)\nstdout(srv) -> \"REPORT contained\"\nlistening(srv)\nc = peer.socket()\npeer.connect(c, srv.addr)\npeer.close(c)\nrunning(srv)\n";

/// A scenario that only needs the attacker to listen.
const LISTENS: &str =
    "+++\ntitle = \"The program listens\"\n+++\nsrv = start(attacker)\nlistening(srv)\n";

/// A temporary folder with `mode` (as root a program under test runs as nobody).
fn dir_with_mode(mode: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

/// A folder others may enter holding `attack.scn` with `text`.
fn scenario_dir(text: &str) -> (tempfile::TempDir, String) {
    let dir = dir_with_mode(0o755);
    let file = dir.path().join("attack.scn");
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    (dir, file.display().to_string())
}

fn attacker() -> PathBuf {
    sample_program("attacker.c", None)
}

/// `sockspec run FILE --program attacker=CMD ARGS --format json`, sandbox required;
/// then checks that the run left no process and no file in its TMPDIR.
fn attack(file: &str, command: &str, args: &[&str]) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let mark = unique_mark("attack");
    let out = sockspec()
        .args(["run", file, "--program"])
        .arg(format!("attacker={command}"))
        .args(["--sandbox", "require", "--timeout", "5s"])
        .args(args)
        .args(["--format", "json", "--no-progress"])
        .env("TMPDIR", tmp.path())
        .env("SOCKSPEC_TEST_MARK", &mark)
        .output()
        .unwrap();
    let report = json_report(&out);
    wait_until("the run's processes to end", || marked(&mark).is_empty());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    report
}

fn verdict(report: &serde_json::Value) -> (String, String) {
    let s = &report["scenarios"][0];
    (
        s["status"].as_str().unwrap_or("?").to_string(),
        format!("{} {}", s["failure"]["actual"], s["failure"]["detail"]),
    )
}

/// Whether `sockspec` can run as `nobody` here (setpriv, a binary others can reach,
/// user namespaces for an unprivileged user), to repeat an attack without root.
fn can_run_as_nobody() -> bool {
    let root_user = unsafe { libc::geteuid() } == 0;
    root_user
        && Command::new("setpriv").arg("--version").output().is_ok()
        && reachable_by_others(Path::new(bin_path()).parent().unwrap())
}

/// `sockspec run ... --format json` as `nobody`.
fn run_json_as_nobody(args: &[&str]) -> serde_json::Value {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin_path(),
        ])
        .arg("run")
        .args(args)
        .args(["--format", "json", "--no-progress"])
        .current_dir("/")
        .env("TMPDIR", "/tmp")
        .output()
        .unwrap();
    json_report(&out)
}

/// The JSON report on a run's stdout, or a panic that shows its stderr.
fn json_report(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_program_cannot_signal_ptrace_or_read_the_harness_processes() {
    if !sandbox_available() {
        return;
    }
    let (_dir, file) = scenario_dir(CONTAINED);
    let command = format!("{} ptrace {{port}}", attacker().display());
    let (status, why) = verdict(&attack(&file, &command, &[]));
    assert_eq!(status, "passed", "{why}");
    if can_run_as_nobody() {
        // Without root every process of the scenario is the same user: only the
        // program's own PID namespace and its lack of capabilities keep it out.
        let report = run_json_as_nobody(&[
            &file,
            "--program",
            &format!("attacker={command}"),
            "--sandbox",
            "require",
            "--timeout",
            "5s",
        ]);
        let (status, why) = verdict(&report);
        assert_eq!(status, "passed", "as nobody: {why}");
    } else {
        eprintln!("skipped the unprivileged half: cannot run sockspec as nobody here");
    }
}

/// Runs `sockspec ARGS` (as `nobody` with `as_nobody`) with a file open at
/// descriptors 7, 10 and 251 (not close-on-exec), as a careless caller would leave them.
fn run_with_open_descriptors(secret: &Path, args: &[&str], as_nobody: bool) -> serde_json::Value {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(secret)
        .unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin_path(),
        ])
        .current_dir("/")
        .env("TMPDIR", "/tmp");
        c
    } else {
        sockspec()
    };
    cmd.arg("run")
        .args(args)
        .args(["--format", "json", "--no-progress"]);
    // SAFETY: dup2 is async-signal-safe; the duplicates lose close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            for target in [7, 10, 251] {
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    json_report(&cmd.output().unwrap())
}

#[test]
fn descriptors_the_caller_left_open_reach_no_program_or_adapter() {
    let secret_dir = dir_with_mode(0o755);
    let secret = secret_dir.path().join("secret");
    std::fs::write(&secret, "").unwrap();
    // Writable by anyone: only the closed descriptors keep a program from it.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (_dir, file) = scenario_dir(CONTAINED);
    let command = format!("{} fds {{port}}", attacker().display());
    // With and without the sandbox: the descriptors are closed either way.
    let as_nobody = if can_run_as_nobody() {
        vec![false, true]
    } else {
        eprintln!("skipped the unprivileged half: cannot run sockspec as nobody here");
        vec![false]
    };
    for nobody in as_nobody {
        for sandbox in ["auto", "off"] {
            let report = run_with_open_descriptors(
                &secret,
                &[
                    &file,
                    "--program",
                    &format!("attacker={command}"),
                    "--sandbox",
                    sandbox,
                ],
                nobody,
            );
            let (status, why) = verdict(&report);
            assert_eq!(
                status, "passed",
                "--sandbox {sandbox}, as nobody {nobody}: {why}"
            );
        }
    }
    // An adapter that finds one of them refuses to start: the scenario would error.
    let adapter = format!(
        "sh -c 'for fd in 7 10 251; do [ -e /proc/$$/fd/$fd ] && exit 9; done; exec {} adapter'",
        bin_path()
    );
    let report = run_with_open_descriptors(
        &secret,
        &[
            &scenario("bind/bind-twice-expects-error"),
            "--adapter",
            &adapter,
        ],
        false,
    );
    let (status, why) = verdict(&report);
    assert_eq!(
        status, "passed",
        "the adapter saw an inherited descriptor: {why}"
    );
    assert_eq!(
        std::fs::read(&secret).unwrap(),
        b"",
        "nothing wrote the file"
    );
}

#[test]
fn host_files_and_unix_sockets_are_out_of_reach() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    if !sandbox_available() {
        return;
    }
    let host = dir_with_mode(0o777);
    // A host service's socket and file, open to everyone: only the sandbox stands
    // between them and the program.
    let sock = host.path().join("service.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let abstract_name = unique_mark("sockspec-abstract");
    let abstract_listener =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap()).unwrap();
    abstract_listener.set_nonblocking(true).unwrap();
    let shared = host.path().join("shared-file");
    std::fs::write(&shared, "original").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The program's folder, writable by anyone on the host: the overlay keeps it as is.
    let folder = dir_with_mode(0o777);
    let leftover = unique_mark("left-by-attacker");
    let (_dir, file) = scenario_dir(CONTAINED);
    let command = format!(
        "{} host {{port}} {} {abstract_name} {} {leftover}",
        attacker().display(),
        sock.display(),
        shared.display()
    );
    let report = attack(
        &file,
        &command,
        &["--program-dir", folder.path().to_str().unwrap()],
    );
    let (status, why) = verdict(&report);
    assert_eq!(status, "passed", "{why}");
    // An adapter tries the same from its side of the sandbox.
    let adapter_leftover = unique_mark("left-by-adapter");
    let adapter = format!(
        "sh -c 'touch /tmp/{adapter_leftover} {}/{adapter_leftover}; echo x >> {}; python3 -c \"import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])\" {} 2>/dev/null && exit 9; exec {} adapter'",
        folder.path().display(),
        shared.display(),
        sock.display(),
        bin_path()
    );
    let (_, report) = run_json(&[
        &scenario("bind/bind-twice-expects-error"),
        "--adapter",
        &adapter,
        "--sandbox",
        "require",
    ]);
    let (status, why) = verdict(&report);
    assert_eq!(
        status, "passed",
        "the adapter reached the host socket: {why}"
    );
    for (what, l) in [("path", &listener), ("abstract", &abstract_listener)] {
        assert!(
            l.accept()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "a {what} socket of the host was connected to"
        );
    }
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), "original");
    for name in [&leftover, &adapter_leftover] {
        for dir in [Path::new("/tmp"), folder.path()] {
            assert!(!dir.join(name).exists(), "{name} left in {}", dir.display());
        }
    }
}

#[test]
fn a_scenario_cannot_fill_the_disk() {
    if !sandbox_available() {
        return;
    }
    let folder = dir_with_mode(0o777);
    let (_dir, file) = scenario_dir(LISTENS);
    // 32 files of 8 MiB in its folder, then as many in $TMPDIR: 512 MiB against 16.
    let command = format!("{} disk {{port}} 32 8", attacker().display());
    let report = attack(
        &file,
        &command,
        &[
            "--program-dir",
            folder.path().to_str().unwrap(),
            "--disk-limit",
            "16M",
        ],
    );
    let (status, why) = verdict(&report);
    assert_eq!(status, "failed", "{why}");
    assert!(
        why.contains("disk limit (16 MiB"),
        "the verdict names the limit: {why}"
    );
    assert_eq!(
        std::fs::read_dir(folder.path()).unwrap().count(),
        0,
        "files left in the program's folder"
    );
}

#[test]
fn shared_memory_is_bounded() {
    if !sandbox_available() {
        return;
    }
    let (_dir, file) = scenario_dir(LISTENS);
    // 2 GiB of MAP_SHARED|MAP_ANONYMOUS, touched, against a 128 MiB limit.
    let command = format!("{} memory {{port}} 2048", attacker().display());
    let report = attack(&file, &command, &["--memory-limit", "128M"]);
    let (status, why) = verdict(&report);
    assert_eq!(status, "failed", "{why}");
    // As root the scenario has a memory cgroup and the kernel's kill is named; without
    // one the program's address space is bounded and its mmap fails.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            why.contains("memory limit (128 MiB") && why.contains("SIGKILL"),
            "{why}"
        );
    } else {
        assert!(why.contains("exit status 1"), "{why}");
    }
}

/// Processes whose environment carries `SOCKSPEC_TEST_MARK=mark`.
fn marked(mark: &str) -> Vec<i32> {
    processes_with_env("SOCKSPEC_TEST_MARK", mark)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WATCHDOG, "waited too long for {what}");
        // Polling /proc: there is no event for "a process with this environment".
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_harness_killed_mid_run_leaves_nothing_behind() {
    if !sandbox_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let class = tempfile::tempdir().unwrap();
    let student = class.path().join("student");
    std::fs::create_dir(&student).unwrap();
    std::fs::write(student.join("server"), "#!/bin/sh\nexec sleep 120\n").unwrap();
    std::fs::set_permissions(
        student.join("server"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mark = unique_mark("killed-harness");
    let mut child = sockspec()
        .arg("grade")
        .arg(class.path())
        .arg("--suite")
        .arg(root().join("scenarios/programs/echo-server"))
        .args(["--program", "server=./server {port}", "--timeout", "50s"])
        .args(["--no-progress", "--sandbox", "require", "-o"])
        .arg(tmp.path().join("out"))
        .env("TMPDIR", tmp.path())
        .env("SOCKSPEC_TEST_MARK", &mark)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let harness = child.id() as i32;
    // The program under test runs: kill the harness outright.
    wait_until("the program to start", || {
        marked(&mark).iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"))
        })
    });
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("every process of the run to end", || {
        marked(&mark).is_empty()
    });
    // The submission's copy outlived it (it lives outside any namespace)...
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sockspec-"))
        .collect();
    assert!(
        !left.is_empty(),
        "the grading copy is where the sweep must find it"
    );
    // ... until the next run starts and sweeps what is provably stale.
    let out = sockspec()
        .args([
            "run",
            &scenario("bind/bind-twice-expects-error"),
            "--no-progress",
        ])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("sockspec-"))
        .collect();
    assert!(left.is_empty(), "left behind after the sweep: {left:?}");
    // No memory cgroup of the killed harness either.
    if let Some(dir) = own_memory_cgroup() {
        let stale = format!("sockspec-{harness}-");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&stale))
            .collect();
        assert!(left.is_empty(), "cgroups left: {left:?}");
    }
}

/// This process's cgroup v1 memory folder, where there is one.
fn own_memory_cgroup() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))?;
    let dir = Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/'));
    dir.is_dir().then_some(dir)
}
