//! The settings of a run: which target, which profile, how long to wait, and how
//! scenarios are contained. Every part of a run reads them; nothing here runs anything.

use super::fixed_ports::ProgramPort;
use crate::adapter::TargetSpec;
use crate::process::ChildStdio;
use crate::sandbox::{stack_link, SandboxSpec};
use crate::script::Host;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// The addresses `target:0`, `target6:0`, `peer:0` and `peer6:0` stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hosts {
    pub target: Ipv4Addr,
    pub target6: Ipv6Addr,
    pub peer: Ipv4Addr,
    pub peer6: Ipv6Addr,
}

impl Hosts {
    /// The kernel's loopback: target and peer are the same host.
    pub const LOOPBACK: Hosts = Hosts {
        target: Ipv4Addr::LOCALHOST,
        target6: Ipv6Addr::LOCALHOST,
        peer: Ipv4Addr::LOCALHOST,
        peer6: Ipv6Addr::LOCALHOST,
    };

    /// A user-space stack on the sandbox's link (see `sandbox::stack_link`): the target
    /// is the stack, the peer the namespace kernel at the other end.
    pub const STACK_LINK: Hosts = Hosts {
        target: stack_link::TARGET_V4,
        target6: stack_link::TARGET_V6,
        peer: stack_link::PEER_V4,
        peer6: stack_link::PEER_V6,
    };

    pub fn ip(&self, host: Host) -> IpAddr {
        match host {
            Host::Target => self.target.into(),
            Host::Target6 => self.target6.into(),
            Host::Peer => self.peer.into(),
            Host::Peer6 => self.peer6.into(),
            Host::Any => Ipv4Addr::UNSPECIFIED.into(),
            Host::Any6 => Ipv6Addr::UNSPECIFIED.into(),
            Host::TargetMapped => self.target.to_ipv6_mapped().into(),
            Host::PeerMapped => self.peer.to_ipv6_mapped().into(),
        }
    }
}

/// How a run executes scenarios.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: TargetSpec,
    /// Which profile's expectations apply (`linux`, `posix`, ...).
    pub profile: String,
    /// How long a background call must stay pending for `-> blocks` to hold; also how
    /// long `fill_backlog` waits before it calls a connection stalled.
    pub block_window: Duration,
    /// The longest any single wait for an answer may take.
    pub timeout: Duration,
    /// How long teardown waits for an adapter to exit before it signals.
    pub grace: Duration,
    /// Per-scenario namespaces and limits; `None` runs everything in this process's
    /// network namespace without limits.
    pub sandbox: Option<SandboxSpec>,
    /// Set to stop the run: every wait notices within [`CANCEL_POLL`], scenarios end
    /// early and teardown kills without grace.
    pub cancel: Arc<AtomicBool>,
    /// Commands for program roles (`server` -> `./server {port}`); `{port}` and
    /// `{host}` are filled in when a scenario starts the program.
    pub programs: BTreeMap<String, String>,
    /// The working directory of programs under test (a submission's folder).
    pub program_dir: PathBuf,
    /// How programs under test get their stdin and stdout (`--stdio`): a terminal by
    /// default, as when a student runs one by hand.
    pub program_stdio: ChildStdio,
    /// Ports written into programs (`--program-port ROLE=PORT|own`): a server started
    /// without an address is given that port (or found where it listens), and a
    /// client's server (the peer socket it is started with) is bound there.
    pub program_ports: BTreeMap<String, ProgramPort>,
    /// Where each wire scenario's pcap file goes (`--pcap DIR`); none when `None`.
    pub pcap_dir: Option<PathBuf>,
    /// Where a failed wire scenario's pcap goes when `pcap_dir` is not set; `None`: a
    /// folder of the run's own in the temporary folder.
    pub failed_pcap_dir: Option<PathBuf>,
    /// Whether a scenario without a wire records its namespace's loopback traffic
    /// (see `remote::capture`); on by default, off only to measure what it costs.
    pub loopback_capture: bool,
    /// How much wider timing windows are made (`--time-scale`): a wire line's
    /// `after A..B` becomes `A/scale..B*scale`, so a loaded machine never flips a verdict.
    pub time_scale: f64,
    /// What `target:0` and `peer:0` mean: loopback unless a stack has a link of its own.
    pub hosts: Hosts,
}

/// How often a wait looks at [`Settings::cancel`].
pub const CANCEL_POLL: Duration = Duration::from_millis(50);

impl Settings {
    /// The target in words, for reports.
    pub fn describe_target(&self) -> String {
        if !self.programs.is_empty() {
            let bound: Vec<String> = self
                .programs
                .iter()
                .map(|(role, command)| format!("{role}=`{command}`"))
                .collect();
            let boxed = if self.sandbox.is_some() {
                " (sandboxed)"
            } else {
                ""
            };
            return format!("{}{boxed}", bound.join(", "));
        }
        match (&self.target, &self.sandbox) {
            (TargetSpec::Reference, Some(_)) => "the Linux reference (sandboxed)".into(),
            (t, Some(_)) => format!("{} (sandboxed)", t.describe()),
            (t, None) => t.describe(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            target: TargetSpec::Reference,
            profile: "linux".into(),
            block_window: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
            grace: Duration::from_secs(1),
            sandbox: None,
            cancel: Arc::new(AtomicBool::new(false)),
            programs: BTreeMap::new(),
            program_dir: PathBuf::from("."),
            program_stdio: ChildStdio::Terminal,
            program_ports: BTreeMap::new(),
            pcap_dir: None,
            failed_pcap_dir: None,
            loopback_capture: true,
            time_scale: 1.0,
            hosts: Hosts::LOOPBACK,
        }
    }
}
