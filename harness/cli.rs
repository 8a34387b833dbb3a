//! The `sockspec` command line: parsing arguments and wiring the library together.
//! Nothing here decides a verdict.
//!
//! Exit status: 0 when every scenario passed (or was skipped), 1 when any failed or
//! errored, 2 for usage errors and invalid scenarios.

use crate::adapter::{self, TargetSpec};
use crate::interrupt::Interrupts;
use crate::process::ChildStdio;
use crate::prop::summary::{self, Verdict};
use crate::prop::PropConfig;
use crate::report::{self, Format, Human, Live};
use crate::run::{self, Event, Selection, Settings, Shard};
use crate::sandbox::{Limits, SandboxSpec, Want};
use crate::script::{self, Scenario};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// SIGINT or SIGTERM stopped the run (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = crate::interrupt::EXIT_STATUS;

#[derive(Parser, Debug)]
#[command(
    name = "sockspec",
    version,
    about = "A conformance harness for TCP: runs declarative socket scenarios against any implementation"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenarios against the Linux reference or an adapter
    Run(RunArgs),
    /// Grade a class: build and run every submission folder against a suite of program
    /// scenarios; write a table, Gradescope results.json, CSV, JUnit and an HTML report
    Grade(GradeArgs),
    /// Join the output folders of `grade --shard K/N` runs into one table, CSV, HTML
    /// report, grades.json and set of Gradescope and JUnit files
    Merge(MergeArgs),
    /// Run the same scenarios against several targets and show where they differ: one
    /// table of scenario by target, each difference in one line
    Compare(CompareArgs),
    /// List RFC 9293's MUST requirements with the scenarios that check each, the ones
    /// no scenario can observe, and the gaps
    Coverage(CoverageArgs),
    /// Check scenario files and report every error, without running anything
    Check {
        /// Scenario files or directories [default: scenarios]
        paths: Vec<PathBuf>,
        /// When to colour: auto (on a terminal, unless NO_COLOR is set), always, never
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
    },
    /// List the scenarios that a run with the same arguments would select
    List {
        /// Scenario files or directories [default: scenarios]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        programs: ProgramArgs,
    },
    /// Property tests against the target: random cases, shrunk to a minimal failure
    #[command(subcommand)]
    Prop(PropCommand),
    /// Serve the reference adapter (Linux kernel sockets) on stdin/stdout
    Adapter,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' output folders (each holds the grades.json that `grade -o` wrote)
    #[arg(required = true, value_name = "DIR")]
    pub shards: Vec<PathBuf>,
    /// Where the merged reports go
    #[arg(
        long = "output",
        short = 'o',
        value_name = "DIR",
        default_value = "grades"
    )]
    pub out: PathBuf,
    /// When to colour: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Scenario files or directories [default: scenarios]
    pub paths: Vec<PathBuf>,
    /// A target as NAME=CMD: CMD is an adapter command, or `reference` for sockspec's
    /// own Linux reference. At least two; they run one after another, each with --jobs
    #[arg(long = "target", value_name = "NAME=CMD", required = true, value_parser = parse_target)]
    pub targets: Vec<(String, String)>,
    /// Known differences of a target as NAME=FILE: a TOML file of [[difference]] tables
    /// with `scenario` and `reason`. Those differences are accepted; any other fails the
    /// run, and so does a known one that no longer happens (update the file)
    #[arg(long = "known", value_name = "NAME=FILE", value_parser = parse_target)]
    pub known: Vec<(String, String)>,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    /// Report format: human (the table and the differences), json, or html (one
    /// self-contained page)
    #[arg(long, value_enum, default_value_t = CompareFormat::Human)]
    pub format: CompareFormat,
    /// Write the report to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show every scenario in the table, not only those that differ
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub contain: ContainArgs,
}

#[derive(Args, Debug)]
pub struct CoverageArgs {
    /// Scenario files or directories [default: scenarios]
    pub paths: Vec<PathBuf>,
    /// A `sockspec compare --format json` report: show each scenario's verdict per target
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = CoverageFormat::Human)]
    pub format: CoverageFormat,
    /// Write the report to FILE instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoverageFormat {
    Human,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareFormat {
    Human,
    Json,
    Html,
}

/// `linux=reference`, `stack='./adapter --flag'`.
fn parse_target(s: &str) -> Result<(String, String), String> {
    let (name, command) = s.split_once('=').ok_or_else(|| {
        format!("`{s}` is not NAME=CMD: write e.g. linux=reference or mine='./my-adapter'")
    })?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(format!(
            "invalid target name `{name}`: use letters, digits, _, - and ."
        ));
    }
    if command.trim().is_empty() {
        return Err(format!("the command for target `{name}` is empty"));
    }
    Ok((name.to_string(), command.trim().to_string()))
}

#[derive(Subcommand, Debug)]
pub enum PropCommand {
    /// Stream integrity: the receiver reads exactly the bytes sent, in order, then EOF,
    /// whatever the write sizes, read sizes, half-closes and directions
    Stream(PropStreamArgs),
    /// Reassembly on the wire: the harness sends a stream as random segments
    /// (reordered, duplicated, overlapping, lost and retransmitted, across the 2^32
    /// wrap) and checks what the target reads and acknowledges
    Reassembly(PropReassemblyArgs),
    /// The other direction on the wire: the target sends a stream while the harness
    /// withholds, repeats and reorders its ACKs and changes its window (zero too); the
    /// retransmissions must repeat the original bytes, stay within the window, and
    /// the stream must arrive whole
    Retransmission(PropRetransmissionArgs),
}

#[derive(Args, Debug)]
pub struct PropRetransmissionArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Cases to try
    #[arg(long, default_value_t = 64)]
    pub cases: u32,
    /// Seed of the case generator; the same seed replays the same cases [default: random, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest stream, e.g. 4k, 64k
    #[arg(long, value_name = "BYTES", default_value = "64k", value_parser = parse_bytes)]
    pub max_len: u64,
    /// Most shrink steps after a failure
    #[arg(long, default_value_t = 256)]
    pub shrink_iters: u32,
    /// Most time spent shrinking a failure
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub shrink_time: Duration,
    /// Print every case as it runs
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Args, Debug)]
pub struct PropReassemblyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Cases to try
    #[arg(long, default_value_t = 256)]
    pub cases: u32,
    /// Seed of the case generator; the same seed replays the same cases [default: random, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest stream, e.g. 4k, 64k
    #[arg(long, value_name = "BYTES", default_value = "64k", value_parser = parse_bytes)]
    pub max_len: u64,
    /// Most segments in a case's first pass
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_segments: usize,
    /// How long the harness's retransmissions may go without the target acknowledging
    /// anything new before a case fails for want of progress
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub stall: Duration,
    /// Largest segment (the target's MSS cuts larger ones)
    #[arg(long, value_name = "BYTES", default_value = "1460", value_parser = parse_bytes)]
    pub max_segment: u64,
    /// In about a third of the cases, ask the target's listener for this receive buffer
    /// (SO_RCVBUF, e.g. 2k), so that its window's edge falls inside the stream
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub rcvbuf: Option<u64>,
    /// Most shrink steps after a failure
    #[arg(long, default_value_t = 512)]
    pub shrink_iters: u32,
    /// Most time spent shrinking a failure
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub shrink_time: Duration,
    /// Write the minimal failing case to DIR as a wire scenario that replays it, with its pcap
    #[arg(long, value_name = "DIR")]
    pub write_scenario: Option<PathBuf>,
    /// Print every case as it runs
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Args, Debug)]
pub struct PropStreamArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Cases to try
    #[arg(long, default_value_t = 64)]
    pub cases: u32,
    /// Seed of the case generator; the same seed replays the same cases [default: random, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Largest payload in either direction, e.g. 64k, 4M
    #[arg(long, value_name = "BYTES", default_value = "4M", value_parser = parse_bytes)]
    pub max_len: u64,
    /// Most shrink steps after a failure
    #[arg(long, default_value_t = 512)]
    pub shrink_iters: u32,
    /// Most time spent shrinking a failure
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub shrink_time: Duration,
    /// Write the minimal failing case to DIR as a scenario file that replays it
    #[arg(long, value_name = "DIR")]
    pub write_scenario: Option<PathBuf>,
    /// Print every case as it runs
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SelectArgs {
    /// Run only scenarios whose name contains TEXT (repeatable: any matches; with --tag,
    /// a scenario must match both)
    #[arg(long, short = 'f', value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Run only scenarios with this tag (repeatable: any matches; with --filter, a
    /// scenario must match both)
    #[arg(long, short = 't', value_name = "TAG")]
    pub tag: Vec<String>,
    /// Run the K-th of N slices of the selection, for CI matrices
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

/// How scenarios run: against which profile, how many at once, with which blocking
/// window. Shared by `run` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct PaceArgs {
    /// Which expectations apply: linux, posix, or a profile your scenarios name
    #[arg(long, default_value = "linux", env = "SOCKSPEC_PROFILE")]
    pub profile: String,
    /// Scenarios run in parallel [default: the number of cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// How long a call must stay pending to count as blocked (e.g. 200ms, 1s)
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub block_window: Duration,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario files or directories [default: scenarios]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// Write the report to FILE (the terminal still shows the human report)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write each wire scenario's pcap (what crossed its wire, both ways) into DIR, as
    /// TOPIC__NAME.pcap; reports name the file (open it in Wireshark)
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<PathBuf>,
    /// Where a failed scenario's pcap goes when --pcap is not given [default: a
    /// sockspec-pcap-PID folder in the temporary folder]
    #[arg(long, value_name = "DIR", env = "SOCKSPEC_FAILURE_PCAP")]
    pub failure_pcap: Option<PathBuf>,
    /// Widen every timing window of the wire lines (`after A..B` becomes A/F..B*F) on a
    /// slow or loaded machine
    #[arg(long, value_name = "F", default_value = "1", env = "SOCKSPEC_TIME_SCALE", value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// When to colour: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Show the executed steps of failed scenarios
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Never show a progress bar
    #[arg(long)]
    pub no_progress: bool,
    /// Run each scenario N times; one whose runs disagree fails with "passed K of N
    /// runs" (its outcome depends on timing: a race)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_jobs)]
    pub repeat: usize,
    #[command(flatten)]
    pub programs: ProgramArgs,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Points for a scenario whose outcome depends on timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlakyCredit {
    None,
    Full,
}

#[derive(Args, Debug)]
pub struct GradeArgs {
    /// A folder with one subfolder per submission
    pub submissions: PathBuf,
    /// The suite: a folder (or file) of program scenarios, e.g. scenarios/programs/echo-server
    #[arg(long, value_name = "DIR")]
    pub suite: PathBuf,
    /// Run first in a copy of each submission, e.g. make, or 'gcc -o server *.c'
    #[arg(long, value_name = "CMD")]
    pub build: Option<String>,
    /// How long a build may take (e.g. 120s)
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub build_timeout: Duration,
    /// Where the reports go: report.html, scores.csv, grades.json, results/NAME/results.json, junit/NAME.xml
    #[arg(
        long = "output",
        short = 'o',
        alias = "out",
        value_name = "DIR",
        default_value = "grades"
    )]
    pub out: PathBuf,
    /// Scenarios of one submission run in parallel [default: the number of cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Grade only the K-th of N disjoint slices of the submissions (e.g. 2/4), for a CI
    /// matrix; `sockspec merge` joins the slices' output folders
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Submissions graded at the same time (most of a submission's time is waiting)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = parse_jobs)]
    pub at_once: usize,
    /// How long a call must stay pending to count as blocked (e.g. 200ms, 1s)
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub block_window: Duration,
    /// When to colour: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Never show a progress bar
    #[arg(long)]
    pub no_progress: bool,
    /// Bind a program role to a command run by /bin/sh in the submission's folder, e.g.
    /// server='./server {port}'; {port} and {host} are filled in. Repeat for more roles
    #[arg(long = "program", value_name = "ROLE=CMD", value_parser = parse_program)]
    pub programs: Vec<(String, String)>,
    /// Run a failed scenario this many more times; one that then passes depends on
    /// timing (a race) and is reported as "passed K of N runs"
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub reruns: u32,
    /// Points for a scenario that passed in some runs only: none (it counts as failed)
    /// or full
    #[arg(long, value_enum, default_value_t = FlakyCredit::None)]
    pub flaky_credit: FlakyCredit,
    #[command(flatten)]
    pub io: ProgramIoArgs,
    #[command(flatten)]
    pub contain: ContainArgs,
}

/// Programs under test, for scenarios that `start(role)` one.
#[derive(Args, Debug, Clone)]
pub struct ProgramArgs {
    /// Bind a program role to a command run by /bin/sh, e.g. server='./echo_server {port}';
    /// {port} and {host} are filled in. Repeat for more roles
    #[arg(long = "program", value_name = "ROLE=CMD", value_parser = parse_program)]
    pub programs: Vec<(String, String)>,
    /// Working directory of programs under test [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub program_dir: Option<PathBuf>,
    #[command(flatten)]
    pub io: ProgramIoArgs,
}

/// How programs under test are connected: shared by `run` and `grade`.
#[derive(Args, Debug, Clone, Default)]
pub struct ProgramIoArgs {
    /// Programs' stdin and stdout: a terminal (as when run by hand: C's stdio
    /// line-buffers its output) or pipes (stdio buffers fully until exit or fflush)
    #[arg(long, value_enum, value_name = "KIND", default_value_t = StdioArg::Terminal)]
    pub stdio: StdioArg,
    /// A port written into a program, e.g. client=9877 (its server listens there), or
    /// server=own (found wherever it listens, even with {port} in the command: a class
    /// that mixes both). A server without {port} in its command is found anyway
    #[arg(long = "program-port", value_name = "ROLE=PORT|own", value_parser = parse_program_port)]
    pub program_ports: Vec<(String, run::ProgramPort)>,
}

impl ProgramIoArgs {
    /// Into the run's settings.
    fn apply(&self, settings: &mut Settings) {
        settings.program_stdio = self.stdio.into();
        settings.program_ports = self.program_ports.iter().cloned().collect();
    }
}

/// `--stdio`: how programs under test get their stdin and stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StdioArg {
    #[default]
    Terminal,
    Pipe,
}

impl From<StdioArg> for ChildStdio {
    fn from(s: StdioArg) -> ChildStdio {
        match s {
            StdioArg::Terminal => ChildStdio::Terminal,
            StdioArg::Pipe => ChildStdio::Pipes,
        }
    }
}

/// `client=9877`, `server=own`.
pub fn parse_program_port(s: &str) -> Result<(String, run::ProgramPort), String> {
    let (role, port) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not ROLE=PORT: write e.g. client=9877 or server=own"))?;
    let port = match port.trim() {
        "own" => run::ProgramPort::Own,
        p => run::ProgramPort::Fixed(
            p.parse()
                .ok()
                .filter(|&p: &u16| p != 0)
                .ok_or_else(|| format!("`{p}` is not a port (1 to 65535) or `own`"))?,
        ),
    };
    Ok((role.trim().to_string(), port))
}

/// `server=./echo_server {port}`.
pub fn parse_program(s: &str) -> Result<(String, String), String> {
    let (role, command) = s.split_once('=').ok_or_else(|| {
        format!("`{s}` is not ROLE=CMD: write e.g. server='./echo_server {{port}}'")
    })?;
    let role = role.trim();
    if role.is_empty() || !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "invalid role name `{role}`: use letters, digits and _"
        ));
    }
    if command.trim().is_empty() {
        return Err(format!("the command for role `{role}` is empty"));
    }
    Ok((role.to_string(), command.to_string()))
}

/// Where calls run and how they are contained: shared by `run` and `prop`.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Run against an adapter: a command (run by /bin/sh -c) that speaks the adapter protocol
    #[arg(long, value_name = "CMD", env = "SOCKSPEC_ADAPTER")]
    pub adapter: Option<String>,
    #[command(flatten)]
    pub contain: ContainArgs,
}

/// Deadlines, the sandbox and its limits: shared by `run`, `prop` and `grade`.
#[derive(Args, Debug, Clone)]
pub struct ContainArgs {
    /// The longest wait for any one answer (e.g. 10s)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Per-scenario namespaces and limits: auto (use them when the machine allows, else
    /// say so and run without), require (fail when unavailable), off
    #[arg(long, value_enum, default_value_t = SandboxChoice::Auto, env = "SOCKSPEC_SANDBOX")]
    pub sandbox: SandboxChoice,
    /// CPU time an adapter or program may use (sandbox only)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub cpu_limit: Duration,
    /// Memory a scenario may use, e.g. 512M, 2G: all its processes together where a memory
    /// cgroup can be made (as root), else each process (sandbox only)
    #[arg(long, value_name = "BYTES", default_value = "1G", value_parser = parse_bytes)]
    pub memory_limit: u64,
    /// Open files an adapter or program may hold (sandbox only)
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub files_limit: u64,
    /// Processes and threads a scenario may run (sandbox only)
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub procs_limit: u64,
    /// Bytes an adapter or program may print on stdout and stderr together (sandbox only)
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_bytes)]
    pub output_limit: u64,
    /// Bytes a scenario may write in files, all of its processes together (sandbox only)
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_bytes)]
    pub disk_limit: u64,
    /// A network setting of every scenario's namespace, e.g. net.ipv4.tcp_sack=0: tests a
    /// Linux configured that way (repeatable; net.* only, sandbox only)
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_sysctl)]
    pub sysctl: Vec<(String, String)>,
}

/// `net.ipv4.tcp_sack=0`: a key under net. (namespaced), and a value.
fn parse_sysctl(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE, e.g. net.ipv4.tcp_sack=0"))?;
    let (key, value) = (key.trim(), value.trim());
    let plain = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    if !key.starts_with("net.") || !plain || key.contains("..") {
        return Err(format!(
            "`{key}`: only network settings (net.*) belong to a scenario's namespace"
        ));
    }
    if value.is_empty() || value.contains('\n') {
        return Err(format!("`{key}` needs a value"));
    }
    Ok((key.to_string(), value.to_string()))
}

/// `--format`; the library's [`Format`] knows nothing of clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Junit,
    Tap,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Junit => Format::Junit,
            FormatArg::Tap => Format::Tap,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxChoice {
    Auto,
    Require,
    Off,
}

/// A number of jobs: at least one.
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("invalid number of jobs `{s}`")),
    }
}

/// `512`, `64k`, `256M`, `1G` (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let err = || format!("invalid size `{s}`: write e.g. 65536, 64k, 256M or 1G");
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1u64 << 10),
        Some((i, 'M')) => (&s[..i], 1 << 20),
        Some((i, 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(err)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set (https://no-color.org).
    fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// A factor of 1 or more: timing windows only ever widen.
fn parse_time_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (1.0..=1000.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "invalid time scale `{s}`: a factor from 1 to 1000, e.g. 3"
        )),
    }
}

/// `200ms`, `1.5s`, `10s`, `2m`: the same durations a scenario's lines take.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::literal::duration(s)
}

/// A blocking window must end before the timeout, or a `-> blocks` check (which waits
/// out the window) could never finish within it; a zero timeout lets nothing answer.
fn check_windows(block_window: Duration, timeout: Duration) -> Result<(), i32> {
    if timeout.is_zero() {
        eprintln!("error: --timeout must be more than 0");
        return Err(EXIT_USAGE);
    }
    if block_window >= timeout {
        eprintln!(
            "error: --block-window ({}) must be shorter than --timeout ({}): a call is judged blocked after the window, and every wait ends at the timeout",
            humanize(block_window),
            humanize(timeout)
        );
        return Err(EXIT_USAGE);
    }
    Ok(())
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

pub fn main() -> i32 {
    // The sandbox's holder and trampoline must run before anything could start a
    // thread, so they are taken here, before argument parsing. Internal, not in --help.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match args.split_first() {
        Some((a, rest)) if a == "sandbox-init" => return crate::sandbox::init_main(rest),
        Some((a, rest)) if a == "sandbox-exec" => return crate::sandbox::exec_main(rest),
        _ => {}
    }
    // Descriptors our caller left open must reach no adapter, program or build.
    crate::sandbox::cloexec_inherited();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Run(_) | Command::Grade(_) | Command::Prop(_) | Command::Compare(_)
    ) {
        // What a SIGKILLed run before us left (see sandbox::sweep).
        crate::sandbox::sweep::sweep(&std::env::temp_dir());
    }
    match cli.command {
        Command::Adapter => {
            let stdin = std::io::stdin().lock();
            match adapter::stdio::serve(stdin, std::io::stdout()) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("sockspec adapter: failed to read stdin: {e}");
                    EXIT_FAILED
                }
            }
        }
        Command::Check { paths, color } => check(
            &default_paths(paths),
            color.enabled(std::io::stderr().is_terminal()),
        ),
        Command::List {
            paths,
            select,
            programs,
        } => match load(&default_paths(paths), false) {
            Ok(scenarios) => {
                let (kept, left_out) =
                    without_unbound_programs(selection(&select).apply(scenarios), &programs);
                for s in kept {
                    println!("{}\t{}\t[{}]", s.name, s.meta.title, s.meta.tags.join(", "));
                }
                note_left_out(&left_out);
                EXIT_OK
            }
            Err(code) => code,
        },
        Command::Run(args) => run_command(args),
        Command::Compare(args) => compare_command(args),
        Command::Coverage(args) => coverage_command(args),
        Command::Grade(args) => grade_command(args),
        Command::Merge(args) => merge_command(args),
        Command::Prop(PropCommand::Stream(args)) => prop_stream(args),
        Command::Prop(PropCommand::Reassembly(args)) => prop_reassembly(args),
        Command::Prop(PropCommand::Retransmission(args)) => prop_retransmission(args),
    }
}

/// `sockspec coverage`: exits 1 when a scenario names a requirement the catalogue
/// does not have (a typo would otherwise pass for coverage).
fn coverage_command(args: CoverageArgs) -> i32 {
    use crate::report::coverage;
    let scenarios = match load(&default_paths(args.paths), false) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let verdicts = match &args.results {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| coverage::verdicts_from_compare(&text))
        {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("error: --results {}: {e}", path.display());
                return EXIT_USAGE;
            }
        },
    };
    let cov = coverage::coverage(&scenarios);
    let text = match args.format {
        CoverageFormat::Human => coverage::human(&cov, verdicts.as_ref()),
        CoverageFormat::Json => coverage::json(&cov, verdicts.as_ref()),
    };
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            if let Err(e) = crate::report::write_atomically(path, &text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return EXIT_FAILED;
            }
        }
    }
    if cov.unknown.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths
    }
}

fn selection(s: &SelectArgs) -> Selection {
    Selection {
        filters: s.filter.clone(),
        tags: s.tag.clone(),
        shard: s.shard,
    }
}

/// Without any --program, program suites are not what the user is running: they are
/// left out (second value), with one note rather than a skip line each.
fn without_unbound_programs(
    scenarios: Vec<Scenario>,
    programs: &ProgramArgs,
) -> (Vec<Scenario>, Vec<Scenario>) {
    scenarios
        .into_iter()
        .partition(|s| s.roles.is_empty() || !programs.programs.is_empty())
}

fn note_left_out(programs_only: &[Scenario]) {
    if !programs_only.is_empty() {
        eprintln!(
            "note: {} program scenario{} not run (no --program given)",
            programs_only.len(),
            if programs_only.len() == 1 { "" } else { "s" }
        );
    }
}

/// Loads and parses scenarios; on any error prints every diagnostic and returns the
/// exit status.
fn load(paths: &[PathBuf], color: bool) -> Result<Vec<Scenario>, i32> {
    let loaded = match script::load_all(paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            if paths == [PathBuf::from("scenarios")] && !Path::new("scenarios").exists() {
                eprintln!("hint: run from a folder with scenarios/, or pass scenario paths");
            }
            return Err(EXIT_USAGE);
        }
    };
    if loaded.failures.is_empty() && loaded.unusable.is_empty() {
        return Ok(loaded.scenarios);
    }
    let mut errors = 0;
    for e in &loaded.unusable {
        eprintln!("error: {e}");
        errors += 1;
    }
    for (src, diags) in &loaded.failures {
        for d in diags {
            eprintln!("{}", d.render(src, color));
            errors += 1;
        }
    }
    let files = loaded.failures.len() + loaded.unusable.len();
    eprintln!(
        "error: {errors} error{} in {files} scenario file{}; nothing was run",
        if errors == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    );
    Err(EXIT_USAGE)
}

fn check(paths: &[PathBuf], color: bool) -> i32 {
    match load(paths, color) {
        Ok(scenarios) => {
            println!(
                "checked {} scenario{}: no errors",
                scenarios.len(),
                if scenarios.len() == 1 { "" } else { "s" }
            );
            EXIT_OK
        }
        Err(code) => code,
    }
}

fn run_command(args: RunArgs) -> i32 {
    let stdout_tty = std::io::stdout().is_terminal();
    let human_out = args.format == FormatArg::Human || args.output.is_some();
    let color = args.color.enabled(stdout_tty && human_out);
    let scenarios = match load(
        &default_paths(args.paths.clone()),
        args.color.enabled(std::io::stderr().is_terminal()),
    ) {
        Ok(s) => selection(&args.select).apply(s),
        Err(code) => return code,
    };
    let (scenarios, programs_only) = without_unbound_programs(scenarios, &args.programs);
    if !programs_only.is_empty() && scenarios.is_empty() {
        let mut roles: Vec<&String> = programs_only.iter().flat_map(|s| &s.roles).collect();
        roles.sort();
        roles.dedup();
        eprintln!(
            "error: these scenarios start programs: pass {}",
            roles
                .iter()
                .map(|r| format!("--program {r}='COMMAND {{port}}'"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        return EXIT_USAGE;
    }
    note_left_out(&programs_only);
    if scenarios.is_empty() {
        eprintln!("error: no scenario matches the filters");
        return EXIT_USAGE;
    }
    if let Err(code) = check_windows(args.pace.block_window, args.target.contain.timeout) {
        return code;
    }
    let needs_wire = scenarios.iter().any(Scenario::uses_wire);
    let sandbox = match sandbox_spec(&args.target.contain, needs_wire) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut settings = Settings {
        target: target_spec(&args.target),
        profile: args.pace.profile.clone(),
        block_window: args.pace.block_window,
        timeout: args.target.contain.timeout,
        sandbox,
        programs: args.programs.programs.iter().cloned().collect(),
        program_dir: args
            .programs
            .program_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".")),
        pcap_dir: args.pcap.clone(),
        failed_pcap_dir: args.failure_pcap.clone(),
        time_scale: args.time_scale,
        ..Settings::default()
    };
    args.programs.io.apply(&mut settings);
    if let Some(dir) = &settings.pcap_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!(
                "error: failed to create the pcap folder {}: {e}",
                dir.display()
            );
            return EXIT_USAGE;
        }
    }
    if let Err(code) = check_adapter(&settings) {
        return code;
    }
    let jobs = args.pace.jobs.unwrap_or_else(default_jobs);
    let format = Format::from(args.format);
    let human_on_stdout = format == Format::Human || args.output.is_some();
    let human = Human {
        color,
        verbose: args.verbose,
    };
    let scenarios = run::repeated(&scenarios, args.repeat);
    let live = Live::new(
        scenarios.len(),
        !args.no_progress && std::io::stderr().is_terminal() && scenarios.len() > 1,
    );
    if human_on_stdout {
        live.println(&human.run_header(scenarios.len(), &settings, jobs));
    }
    Interrupts::Signals.arm(settings.cancel.clone());
    let report = run::run_all(&scenarios, &settings, jobs, |event| match event {
        Event::Started { scenario, .. } => live.started(&scenario.name),
        Event::Finished { result, .. } => {
            live.advance();
            if human_on_stdout {
                live.println(&human.result_line(result));
            }
        }
    });
    let report = run::fold_repeats(report);
    Interrupts::Signals.report_begins();
    live.finish();
    if human_on_stdout {
        print!("{}", human.summary(&report));
    }
    let document = report::render(format, &report, args.verbose);
    // The human report is already on the terminal; another format goes to stdout.
    if args.output.is_some() || format != Format::Human {
        if let Err(code) = emit(&document, args.output.as_deref()) {
            return code;
        }
    }
    if report.interrupted {
        EXIT_INTERRUPTED
    } else if report.all_passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// A finished report into FILE (whole or not at all), or onto stdout.
fn emit(document: &str, output: Option<&Path>) -> Result<(), i32> {
    match output {
        Some(path) => report::write_atomically(path, document).map_err(|e| {
            eprintln!(
                "error: failed to write the report to {}: {e}",
                path.display()
            );
            EXIT_USAGE
        }),
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(document.as_bytes()).and_then(|_| out.flush());
            Ok(())
        }
    }
}

fn compare_command(args: CompareArgs) -> i32 {
    use crate::report::compare;
    let mut names: Vec<&str> = args.targets.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    names.dedup();
    if args.targets.len() < 2 || names.len() != args.targets.len() {
        eprintln!("error: compare needs at least two --target NAME=CMD, each with its own name");
        return EXIT_USAGE;
    }
    let loaded = match load(
        &default_paths(args.paths.clone()),
        std::io::stderr().is_terminal(),
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let known = match known_differences(&args, &loaded) {
        Ok(k) => k,
        Err(why) => {
            eprintln!("error: {why}");
            return EXIT_USAGE;
        }
    };
    let scenarios = selection(&args.select).apply(loaded);
    // Program suites judge programs, not TCP implementations: they are not compared.
    let (scenarios, programs) = without_unbound_programs(
        scenarios,
        &ProgramArgs {
            programs: vec![],
            program_dir: None,
            io: ProgramIoArgs::default(),
        },
    );
    note_left_out(&programs);
    if scenarios.is_empty() {
        eprintln!("error: no scenario matches the filters");
        return EXIT_USAGE;
    }
    if let Err(code) = check_windows(args.pace.block_window, args.contain.timeout) {
        return code;
    }
    let needs_wire = scenarios.iter().any(Scenario::uses_wire);
    let sandbox = match sandbox_spec(&args.contain, needs_wire) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let base = Settings {
        profile: args.pace.profile.clone(),
        block_window: args.pace.block_window,
        timeout: args.contain.timeout,
        sandbox,
        ..Settings::default()
    };
    let jobs = args.pace.jobs.unwrap_or_else(default_jobs);
    let mut runs = Vec::new();
    Interrupts::Signals.arm(base.cancel.clone());
    for (name, command) in &args.targets {
        let settings = Settings {
            target: if command == "reference" {
                TargetSpec::Reference
            } else {
                TargetSpec::Adapter {
                    command: command.clone(),
                }
            },
            ..base.clone()
        };
        if let Err(code) = check_adapter(&settings) {
            return code;
        }
        let live = Live::new(
            scenarios.len(),
            std::io::stderr().is_terminal() && scenarios.len() > 1,
        );
        // On stderr: stdout is the report's, which may be JSON.
        eprintln!(
            "running {} scenarios against {name} ({})",
            scenarios.len(),
            settings.describe_target()
        );
        let report = run::run_all(&scenarios, &settings, jobs, |event| {
            if let Event::Finished { .. } = event {
                live.advance();
            }
        });
        live.finish();
        let interrupted = report.interrupted;
        runs.push(compare::TargetRun {
            name: name.clone(),
            report,
            known: known.get(name).cloned().unwrap_or_default(),
        });
        if interrupted {
            Interrupts::Signals.report_begins();
            return EXIT_INTERRUPTED;
        }
    }
    Interrupts::Signals.report_begins();
    let document = match args.format {
        CompareFormat::Human => compare::human(&runs, args.all),
        CompareFormat::Json => compare::json(&runs),
        CompareFormat::Html => compare::html(&runs),
    };
    if let Err(code) = emit(&document, args.output.as_deref()) {
        return code;
    }
    if compare::verdict(&runs).clean() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// The `--known NAME=FILE` files, read and checked: each names a target of the run,
/// parses, and lists only scenarios that exist (a typo would accept nothing, silently).
fn known_differences(
    args: &CompareArgs,
    loaded: &[Scenario],
) -> Result<std::collections::HashMap<String, Vec<crate::report::compare::Known>>, String> {
    let mut out = std::collections::HashMap::new();
    for (name, file) in &args.known {
        if !args.targets.iter().any(|(t, _)| t == name) {
            return Err(format!(
                "--known {name}={file}: no --target is named {name}"
            ));
        }
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--known {name}={file}: cannot read it: {e}"))?;
        let parsed: crate::report::compare::KnownFile =
            toml::from_str(&text).map_err(|e| format!("{file}: {}", e.message().trim()))?;
        for k in &parsed.difference {
            if !loaded.iter().any(|s| s.name == k.scenario) {
                return Err(format!(
                    "{file}: no scenario is named `{}` (scenario names are TOPIC/NAME, as `sockspec list` prints them)",
                    k.scenario
                ));
            }
        }
        out.insert(name.clone(), parsed.difference);
    }
    Ok(out)
}

fn grade_command(args: GradeArgs) -> i32 {
    use crate::grade;
    let color_err = args.color.enabled(std::io::stderr().is_terminal());
    let scenarios = match load(std::slice::from_ref(&args.suite), color_err) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut roles: Vec<&String> = scenarios.iter().flat_map(|s| &s.roles).collect();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        eprintln!(
            "error: {} starts no program: grading needs program scenarios (`srv = start(server)`)",
            args.suite.display()
        );
        return EXIT_USAGE;
    }
    let bound: std::collections::BTreeMap<String, String> = args.programs.iter().cloned().collect();
    let missing: Vec<String> = roles
        .iter()
        .filter(|r| !bound.contains_key(r.as_str()))
        .map(|r| format!("--program {r}='COMMAND {{port}}'"))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "error: the suite needs a command for each program role: pass {}",
            missing.join(" ")
        );
        return EXIT_USAGE;
    }
    if !args.submissions.is_dir() {
        eprintln!(
            "error: {} is not a folder of submissions",
            args.submissions.display()
        );
        return EXIT_USAGE;
    }
    if let Err(code) = check_windows(args.block_window, args.contain.timeout) {
        return code;
    }
    let sandbox = match sandbox_spec(&args.contain, false) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut settings = Settings {
        block_window: args.block_window,
        timeout: args.contain.timeout,
        sandbox,
        programs: bound,
        // A failed wire scenario's capture goes with the reports: OUT/pcap/STUDENT/.
        failed_pcap_dir: Some(args.out.join("pcap")),
        ..Settings::default()
    };
    args.io.apply(&mut settings);
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let suite = args.suite.file_name().map_or_else(
        || args.suite.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let opts = grade::GradeOptions {
        suite,
        build: args.build.clone(),
        build_timeout: args.build_timeout,
        jobs,
        at_once: args.at_once,
        shard: args.shard,
        reruns: args.reruns,
        flaky_credit: args.flaky_credit == FlakyCredit::Full,
    };
    let count = grade::submissions_in(&args.submissions).map_or(0, |s| s.len());
    if count == 0 {
        eprintln!(
            "error: {} holds no submission folders",
            args.submissions.display()
        );
        return EXIT_USAGE;
    }
    let count = match args.shard {
        Some(s) => (0..count).filter(|&i| s.takes(i)).count(),
        None => count,
    };
    let live = Live::new(count, !args.no_progress && std::io::stderr().is_terminal());
    Interrupts::Signals.arm(settings.cancel.clone());
    let graded = grade::grade_class(
        &args.submissions,
        &scenarios,
        &settings,
        &opts,
        |g, _, _| {
            live.advance();
            live.started(&g.name);
        },
    );
    Interrupts::Signals.report_begins();
    live.finish();
    let class = match graded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: failed to grade {}: {e}", args.submissions.display());
            return EXIT_USAGE;
        }
    };
    let color = args.color.enabled(std::io::stdout().is_terminal());
    let done = format!(
        "graded {} submission{} in {:.1} s",
        class.submissions.len(),
        if class.submissions.len() == 1 {
            ""
        } else {
            "s"
        },
        class.duration.as_secs_f64(),
    );
    publish(&class, &args.out, color, &done)
}

/// The class's table on stdout and every report under `out`, then `done` and where
/// the reports went; exit 3 if the grading was interrupted.
fn publish(class: &crate::grade::ClassReport, out: &Path, color: bool, done: &str) -> i32 {
    use crate::grade;
    print!("{}", grade::table(class, color));
    if let Err(e) = grade::write_reports(out, class) {
        eprintln!(
            "error: failed to write the reports to {}: {e}",
            out.display()
        );
        return EXIT_USAGE;
    }
    println!(
        "\n{done}; reports in {}: report.html, scores.csv, grades.json, results/*/results.json (Gradescope), junit/*.xml",
        out.display()
    );
    if class.interrupted {
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    }
}

/// `sockspec merge`: the shards' reports joined and written as one class's; their
/// failure captures (`DIR/pcap/STUDENT/`) are copied along.
fn merge_command(args: MergeArgs) -> i32 {
    use crate::grade;
    let class = match grade::merge(&args.shards) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    for dir in &args.shards {
        if let Err(e) = copy_pcaps(&dir.join("pcap"), &args.out.join("pcap")) {
            eprintln!(
                "error: failed to copy the captures of {}: {e}",
                dir.display()
            );
            return EXIT_USAGE;
        }
    }
    let color = args.color.enabled(std::io::stdout().is_terminal());
    let done = format!(
        "merged {} shard{} of {} submission{}",
        args.shards.len(),
        if args.shards.len() == 1 { "" } else { "s" },
        class.submissions.len(),
        if class.submissions.len() == 1 {
            ""
        } else {
            "s"
        },
    );
    publish(&class, &args.out, color, &done)
}

/// Copies `from/STUDENT/*.pcap` into `to/STUDENT/`; a shard without captures has no
/// `from`.
fn copy_pcaps(from: &Path, to: &Path) -> std::io::Result<()> {
    let Ok(students) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for student in students {
        let student = student?;
        if !student.file_type()?.is_dir() {
            continue;
        }
        let dest = to.join(student.file_name());
        std::fs::create_dir_all(&dest)?;
        for file in std::fs::read_dir(student.path())? {
            let file = file?;
            if file.file_type()?.is_file() {
                std::fs::copy(file.path(), dest.join(file.file_name()))?;
            }
        }
    }
    Ok(())
}

/// The sandbox a run uses, after one probe (see [`crate::sandbox::choose`]).
fn sandbox_spec(args: &ContainArgs, needs_wire: bool) -> Result<Option<SandboxSpec>, i32> {
    if args.sandbox == SandboxChoice::Off && !args.sysctl.is_empty() {
        eprintln!("error: --sysctl sets the scenarios' namespaces, and --sandbox off makes none");
        return Err(EXIT_USAGE);
    }
    let want = match args.sandbox {
        SandboxChoice::Off => return Ok(None),
        SandboxChoice::Auto => Want::Auto,
        SandboxChoice::Require => Want::Require,
    };
    let limits = Limits {
        cpu: args.cpu_limit,
        memory: args.memory_limit,
        open_files: args.files_limit,
        processes: args.procs_limit,
        output: args.output_limit,
        disk: args.disk_limit,
    };
    match crate::sandbox::choose(want, limits, args.sysctl.clone()) {
        Ok(chosen) => {
            for notice in &chosen.notices {
                eprintln!("{notice}");
            }
            match chosen.wire_check(want, needs_wire) {
                Ok(note) => {
                    if let Some(note) = note {
                        eprintln!("{note}");
                    }
                    Ok(chosen.spec)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Err(EXIT_USAGE)
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// An adapter that cannot start or answer `hello` stops the run before it begins,
/// with one error (not one per scenario).
fn check_adapter(settings: &Settings) -> Result<(), i32> {
    if matches!(&settings.target, TargetSpec::Adapter { command } if command.trim().is_empty()) {
        eprintln!("error: --adapter is empty: give the command that starts your adapter");
        return Err(EXIT_USAGE);
    }
    run::preflight(settings).map_err(|why| {
        eprintln!(
            "error: {} cannot be used: {why}",
            settings.target.describe()
        );
        EXIT_USAGE
    })
}

/// The reference, or the adapter that `--adapter` names.
fn target_spec(args: &TargetArgs) -> TargetSpec {
    match &args.adapter {
        Some(command) => TargetSpec::Adapter {
            command: command.clone(),
        },
        None => TargetSpec::Reference,
    }
}

/// `sockspec prop stream`.
fn prop_stream(args: PropStreamArgs) -> i32 {
    let settings = match prop_settings(&args.target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or_else(random_seed);
    let cfg = PropConfig {
        cases: args.cases,
        seed,
        max_len: args.max_len.min(usize::MAX as u64) as usize,
        max_shrink_iters: args.shrink_iters,
        max_shrink_time: args.shrink_time,
        scenario_dir: args.write_scenario.clone(),
        ..PropConfig::default()
    };
    println!("{}", summary::header(&settings.describe_target(), &cfg));
    Interrupts::Signals.arm(settings.cancel.clone());
    let verbose = args.verbose;
    let outcome = crate::prop::run_stream(&settings, &cfg, |case, result| {
        if verbose {
            println!("{}", summary::case_line(case, result));
        }
    });
    Interrupts::Signals.report_begins();
    let replay = summary::replay("stream", &cfg, args.target.adapter.as_deref());
    let (out, err, verdict) = summary::outcome(&outcome, &cfg, &replay);
    prop_exit(&out, &err, verdict)
}

/// `sockspec prop reassembly`.
fn prop_reassembly(args: PropReassemblyArgs) -> i32 {
    let settings = match prop_settings(&args.target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or_else(random_seed);
    let cfg = PropConfig {
        cases: args.cases,
        seed,
        max_len: args.max_len.min(u64::from(u32::MAX)) as usize,
        max_shrink_iters: args.shrink_iters,
        max_shrink_time: args.shrink_time,
        scenario_dir: args.write_scenario.clone(),
        stall: args.stall,
    };
    let bounds = crate::prop::segments::Bounds {
        max_len: cfg.max_len as u32,
        max_segments: args.max_segments.max(1),
        max_segment: args.max_segment.clamp(1, 65535) as u32,
        rcvbuf: args
            .rcvbuf
            .map(|n| n.clamp(1, u64::from(i32::MAX as u32)) as u32),
    };
    println!(
        "{}",
        summary::reassembly_header(&settings.describe_target(), &cfg, &bounds)
    );
    Interrupts::Signals.arm(settings.cancel.clone());
    let verbose = args.verbose;
    let outcome = crate::prop::run_reassembly(&settings, &cfg, bounds, |case, result| {
        if verbose {
            println!("{}", summary::reassembly_line(case, result));
        }
    });
    Interrupts::Signals.report_begins();
    let replay = summary::replay("reassembly", &cfg, args.target.adapter.as_deref())
        + &summary::bounds_flags(&bounds);
    let (out, err, verdict) = summary::outcome(&outcome, &cfg, &replay);
    prop_exit(&out, &err, verdict)
}

/// `sockspec prop retransmission`.
fn prop_retransmission(args: PropRetransmissionArgs) -> i32 {
    let settings = match prop_settings(&args.target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let cfg = PropConfig {
        cases: args.cases,
        seed: args.seed.unwrap_or_else(random_seed),
        max_len: args.max_len.min(u64::from(u32::MAX)) as usize,
        max_shrink_iters: args.shrink_iters,
        max_shrink_time: args.shrink_time,
        // The target's own retransmission timer sets the pace: its RTO may be seconds.
        stall: settings.timeout,
        ..PropConfig::default()
    };
    println!(
        "retransmission against {}: {} cases up to {} bytes, seed {}",
        settings.describe_target(),
        cfg.cases,
        cfg.max_len,
        cfg.seed
    );
    Interrupts::Signals.arm(settings.cancel.clone());
    let verbose = args.verbose;
    let outcome = crate::prop::run_retransmission(&settings, &cfg, |case, result| {
        if verbose {
            println!("{}", summary::reassembly_line(case, result));
        }
    });
    Interrupts::Signals.report_begins();
    let replay = summary::replay("retransmission", &cfg, args.target.adapter.as_deref());
    let (out, err, verdict) = summary::outcome(&outcome, &cfg, &replay);
    prop_exit(&out, &err, verdict)
}

/// The settings of a property run: the target, its timeout, the sandbox; or the exit
/// status when they cannot be had.
fn prop_settings(target: &TargetArgs) -> Result<Settings, i32> {
    let sandbox = sandbox_spec(&target.contain, false)?;
    let settings = Settings {
        target: target_spec(target),
        timeout: target.contain.timeout,
        sandbox,
        ..Settings::default()
    };
    check_adapter(&settings)?;
    Ok(settings)
}

/// Prints a property run's outcome and gives its exit status.
fn prop_exit(out: &str, err: &str, verdict: Verdict) -> i32 {
    print!("{out}");
    eprint!("{err}");
    match verdict {
        Verdict::Passed => EXIT_OK,
        Verdict::Failed => EXIT_FAILED,
        Verdict::Interrupted => EXIT_INTERRUPTED,
        Verdict::Error => EXIT_USAGE,
    }
}

/// A seed from the clock and the process, for runs that name none (it is printed).
fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::protocol::pattern::splitmix64(t.as_nanos() as u64 ^ u64::from(std::process::id()))
}

/// As many jobs as cores.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999s").is_err());
        assert!(parse_duration("1e300s").is_err());
        assert_eq!(parse_duration("24m"), Ok(Duration::from_secs(1440)));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("64k"), Ok(65536));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("512"), Ok(512));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
