//! Gradescope's autograder format (`results.json`): one document per submission with
//! a test per scenario (score, max_score, status, output, visibility), and the build
//! as a test of its own when there is one. Field names follow Gradescope's
//! "Autograder Specifications" page.

use super::class::{student_message, ClassReport, Graded};
use serde_json::{json, Value};

/// The `results.json` of one submission.
pub fn gradescope(class: &ClassReport, g: &Graded) -> String {
    let mut tests: Vec<Value> = Vec::new();
    if let Some(b) = &g.build {
        tests.push(json!({
            "name": "Build",
            "score": 0.0,
            "max_score": 0.0,
            "status": if b.ok { "passed" } else { "failed" },
            "output": if b.ok {
                format!("`{}` succeeded.", b.command)
            } else {
                format!("`{}` failed ({}). Nothing else could run.\n\n{}", b.command, b.status, b.log)
            },
            "visibility": "visible",
        }));
    }
    for info in &class.scenarios {
        let r = g.result(&info.name);
        let passed = r.is_some_and(|r| r.status == crate::run::Status::Passed);
        tests.push(json!({
            "name": info.title,
            "score": if passed { info.weight } else { 0.0 },
            "max_score": info.weight,
            "status": if passed { "passed" } else { "failed" },
            "output": student_message(info, r),
            "visibility": "visible",
        }));
    }
    let doc = json!({
        "score": g.score,
        "max_score": g.max_score,
        "execution_time": g.duration.as_secs_f64().round() as u64,
        "output": format!("{} suite: {} of {} points.", class.suite, fmt_points(g.score), fmt_points(g.max_score)),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    });
    serde_json::to_string_pretty(&doc).expect("JSON values serialize") + "\n"
}

/// `3`, `2.5`: points without a trailing `.0`.
pub fn fmt_points(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p}")
    }
}
