//! SIGINT and SIGTERM stop the run cleanly: the first sets the run's cancel flag (every
//! wait notices within 50 ms, adapters are killed, the report of what finished is still
//! written). A second one exits at once, with two exceptions that would otherwise lose
//! the report: one within [`REPEAT`] of the first (coreutils `timeout`
//! signals its child and then the child's process group, so one timeout arrives
//! twice), and any while the report is being written (that is bounded and quick).

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The exit status of a forced exit (128 + SIGINT, as shells report it).
pub const EXIT_STATUS: i32 = 130;

/// Signals this soon after the first are the same interrupt, delivered again.
pub const REPEAT: Duration = Duration::from_secs(1);

static FLAG: AtomicPtr<AtomicBool> = AtomicPtr::new(std::ptr::null_mut());
/// CLOCK_MONOTONIC milliseconds of the first signal (0: none yet).
static FIRST: AtomicU64 = AtomicU64::new(0);
static WRITING: AtomicBool = AtomicBool::new(false);

fn now_ms() -> u64 {
    // clock_gettime is async-signal-safe (rustix calls the vDSO or the system call).
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

extern "C" fn on_signal(_: libc::c_int) {
    let flag = FLAG.load(Ordering::SeqCst);
    // SAFETY: the flag is leaked below, so it lives for the whole process; only
    // atomics, clock_gettime and _exit (async-signal-safe) are used here.
    unsafe {
        if flag.is_null() {
            libc::_exit(EXIT_STATUS);
        }
        let now = now_ms();
        if !(*flag).swap(true, Ordering::SeqCst) {
            FIRST.store(now.max(1), Ordering::SeqCst);
            return;
        }
        let repeated = now.saturating_sub(FIRST.load(Ordering::SeqCst)) < REPEAT.as_millis() as u64;
        if WRITING.load(Ordering::SeqCst) || repeated {
            return;
        }
        libc::_exit(EXIT_STATUS);
    }
}

fn install(cancel: Arc<AtomicBool>) {
    // One reference is leaked on purpose: the handler may run until exit.
    FLAG.store(Arc::into_raw(cancel) as *mut AtomicBool, Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installing a handler that only touches atomics.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

/// How a long operation (a run, a grading, a property run) learns of SIGINT and
/// SIGTERM. The library never installs handlers by itself: the CLI asks for
/// [`Interrupts::Signals`]; tests and embedders pass [`Interrupts::Ignored`] and cancel
/// through the settings' flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupts {
    /// Process-wide handlers that set the cancel flag (see the module doc).
    Signals,
    /// No handlers: the no-op form.
    Ignored,
}

impl Interrupts {
    /// From now on a signal sets `cancel`.
    pub fn arm(self, cancel: Arc<AtomicBool>) {
        if self == Interrupts::Signals {
            install(cancel);
        }
    }

    /// The work is over and its report is being written: no signal cuts that short.
    pub fn report_begins(self) {
        if self == Interrupts::Signals {
            WRITING.store(true, Ordering::SeqCst);
        }
    }
}
