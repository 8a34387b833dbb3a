//! Grading a class: every submission folder built and run against one suite of
//! program scenarios, scored by the scenarios' weights, and reported for the
//! instructor (terminal table, CSV, JUnit, one HTML page) and for each student
//! (Gradescope `results.json`, with what failed and what to check).
//!
//! Why this shape:
//! - Each submission is copied to a temporary folder and built and run there: the
//!   submissions directory is never written to, and a build's leftovers cannot leak
//!   into the next run.
//! - The build runs under the same sandbox and limits as the programs (a build script
//!   is student code too), with its own deadline; a failed build is a verdict with
//!   the compiler's last lines, and the run goes on with the next submission.
//! - Several submissions run at once (`--at-once`, 4 by default), each suite with
//!   `--jobs` scenarios at once: most of a submission's time is deliberate waiting,
//!   and every scenario has its own namespace, so parallel scenarios never share ports.

mod class;
mod files;
mod gradescope;
mod html;
mod merge;
mod reason;
mod table;

pub use class::{
    grade_class, student_message, submissions as submissions_in, BuildResult, ClassReport,
    GradeOptions, Graded, ScenarioInfo,
};
pub use files::write_reports;
pub use gradescope::gradescope;
pub use html::html;
pub use merge::{merge, MergeError};
pub use reason::reason;
pub use table::{csv, table};
