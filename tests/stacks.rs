//! Real TCP implementations under test through their adapters: lwIP (Debian's liblwip,
//! adapters/lwip) on the sandbox's link, against Linux, with its known differences
//! accepted strictly: a new difference or a fixed one fails this test.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// The lwIP adapter built into `dir`, or `None` (said) where liblwip-dev is missing.
fn lwip_adapter(dir: &Path) -> Option<PathBuf> {
    let headers = Path::new("/usr/include/lwip/lwip/sockets.h").exists();
    if !required(headers, "Debian's liblwip-dev (lwIP's headers and library)") {
        return None;
    }
    let out = dir.join("sockspec_lwip_adapter");
    let built = Command::new("cc")
        .args([
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pthread",
            "-I/usr/include/lwip",
            "-o",
        ])
        .arg(&out)
        .arg(root().join("adapters/lwip/sockspec_lwip_adapter.c"))
        .arg("-llwip")
        .output()
        .expect("cc runs");
    assert!(
        built.status.success(),
        "the lwIP adapter does not build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    Some(out)
}

/// The corpus against Linux and lwIP (the wire scenarios, which reach the namespace
/// kernel and not a stack's link, are skipped for lwIP, which counts as no
/// difference): they differ exactly where adapters/lwip/known-differences.toml says.
#[test]
fn lwip_differs_from_linux_exactly_where_known() {
    if !sandbox_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(adapter) = lwip_adapter(dir.path()) else {
        return;
    };
    let lwip = format!("lwip={}", adapter.display());
    let known = format!(
        "lwip={}",
        root()
            .join("adapters/lwip/known-differences.toml")
            .display()
    );
    let out = sockspec()
        .arg("compare")
        .args(["--target", "linux=reference", "--target", &lwip])
        .args(["--known", &known, "--timeout", "3s", "-j", "4"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("lwip: adapter `")
            && text.contains("[lwIP 2.1.3 (Debian liblwip, sockspec lwIP adapter)]"),
        "{text}"
    );
    assert!(text.contains(" differ (17 known, 0 not)"), "{text}");
}
