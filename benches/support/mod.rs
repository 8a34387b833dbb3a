//! What the benches share: the number of rounds, how figures are summarised, and the
//! stacks that can be built. Not every bench uses every piece.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `SOCKSPEC_BENCH_ROUNDS`, 5 by default.
pub fn rounds() -> usize {
    std::env::var("SOCKSPEC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn built(what: &str, status: std::io::Result<std::process::Output>) -> bool {
    match status {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            println!(
                "{what} not measured: it does not build: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            false
        }
        Err(e) => {
            println!("{what} not measured: {e}");
            false
        }
    }
}

/// The stacks that can be built here, as (name, adapter command): the C adapter on
/// the kernel, lwIP (Debian's liblwip-dev) and smoltcp (release build).
pub fn stack_targets(root: &Path, dir: &Path) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let c = dir.join("sockspec_c_adapter");
    let status = Command::new("cc")
        .args(["-O2", "-pthread", "-o"])
        .arg(&c)
        .arg(root.join("adapters/c/sockspec_adapter.c"))
        .output();
    if built("the C adapter", status) {
        out.push(("kernel (C adapter, loopback)", c.display().to_string()));
    }
    if Path::new("/usr/include/lwip/lwip/sockets.h").exists() {
        let lwip = dir.join("sockspec_lwip_adapter");
        let status = Command::new("cc")
            .args(["-O2", "-pthread", "-I/usr/include/lwip", "-o"])
            .arg(&lwip)
            .arg(root.join("adapters/lwip/sockspec_lwip_adapter.c"))
            .arg("-llwip")
            .output();
        if built("lwIP", status) {
            out.push(("lwIP (TAP link)", lwip.display().to_string()));
        }
    } else {
        println!("lwIP not measured: liblwip-dev is not installed");
    }
    let target_dir = root.join("target/smoltcp-adapter");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(root.join("adapters/smoltcp/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .output();
    if built("smoltcp", status) {
        let exe = target_dir.join("release/sockspec-smoltcp-adapter");
        out.push(("smoltcp (TAP link)", exe.display().to_string()));
    }
    out
}
