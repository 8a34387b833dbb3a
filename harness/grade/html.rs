//! One self-contained HTML page for the whole class: the grade table, then every
//! submission's failures with the message its student gets. Inline CSS and a few lines
//! of inline script (a filter box); no external asset, so the file can be mailed or
//! opened offline.

use super::class::{student_message, ClassReport};
use super::gradescope::fmt_points;
use crate::report::escape_html as esc;
use crate::run::Status;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:center}
td.name{text-align:left}td.pass{background:#dfd}td.fail{background:#fdd}td.error{background:#ffd}td.flaky{background:#fec}
td.build{background:#fdd;text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;border-radius:4px}
summary{cursor:pointer}section{border-top:1px solid #ddd;margin-top:1.5em}#filter{padding:.3em;width:20em}
.muted{color:#666}";

const SCRIPT: &str = "(function(){
var rows=[].slice.call(document.querySelectorAll('tr.submission'));
var secs=[].slice.call(document.querySelectorAll('section.detail'));
var shown=document.getElementById('shown');
function apply(){var q=document.getElementById('filter').value.toLowerCase();var n=0;
rows.forEach(function(r){var on=r.dataset.name.toLowerCase().indexOf(q)>=0;r.hidden=!on;if(on)n++;});
secs.forEach(function(s){s.hidden=s.dataset.name.toLowerCase().indexOf(q)<0;});
shown.textContent=n+' of '+rows.length+' submissions shown';}
document.getElementById('filter').addEventListener('input',apply);apply();
document.body.dataset.ready='yes';})();";

/// An id for an anchor: letters, digits and `-` only.
fn anchor(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("s-{s}")
}

pub fn html(class: &ClassReport) -> String {
    let max = fmt_points(class.max_score());
    let n = class.submissions.len();
    let mean = if n == 0 {
        0.0
    } else {
        class.submissions.iter().map(|g| g.score).sum::<f64>() / n as f64
    };
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>sockspec grades: {}</title>\n<style>{STYLE}</style></head>\n<body>\n",
        esc(&class.suite)
    ));
    h.push_str(&format!(
        "<h1>{}: {n} submission{}</h1>\n<p class=\"muted\">Mean score {:.1} of {max}; graded in {:.1} s{}. <span id=\"shown\"></span></p>\n",
        esc(&class.suite),
        if n == 1 { "" } else { "s" },
        mean,
        class.duration.as_secs_f64(),
        if class.interrupted { " (interrupted: not every submission was graded)" } else { "" }
    ));
    h.push_str("<p><input id=\"filter\" placeholder=\"filter submissions by name\" aria-label=\"filter submissions\"></p>\n");
    // Each submission in a line first: the score and the causes of its failures.
    h.push_str("<ul id=\"reasons\">\n");
    for g in &class.submissions {
        h.push_str(&format!(
            "<li><a href=\"#{}\">{}</a> {}</li>\n",
            anchor(&g.name),
            esc(&g.name),
            esc(&super::reason(g))
        ));
    }
    h.push_str("</ul>\n");
    h.push_str("<table id=\"grades\"><thead><tr><th>submission</th><th>score</th>");
    for (i, s) in class.scenarios.iter().enumerate() {
        // The scenario's own name, numbered as in the list below.
        let short = s.name.rsplit('/').next().unwrap_or(&s.name);
        h.push_str(&format!(
            "<th title=\"{}\">{} {}</th>",
            esc(&s.title),
            i + 1,
            esc(short)
        ));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for g in &class.submissions {
        h.push_str(&format!(
            "<tr class=\"submission\" data-name=\"{}\"><td class=\"name\"><a href=\"#{}\">{}</a></td><td>{}/{max}</td>",
            esc(&g.name),
            anchor(&g.name),
            esc(&g.name),
            fmt_points(g.score)
        ));
        if g.build_failed() {
            h.push_str(&format!(
                "<td class=\"build\" colspan=\"{}\">build failed</td>",
                class.scenarios.len().max(1)
            ));
        } else {
            for s in &class.scenarios {
                let flaky = g.is_flaky(&s.name);
                let (class_name, mark) = match g.result(&s.name).map(|r| r.status) {
                    Some(Status::Passed) => ("pass", "✓"),
                    Some(Status::Failed) if flaky => ("flaky", "~"),
                    Some(Status::Failed) => ("fail", "✗"),
                    Some(Status::Error) => ("error", "!"),
                    _ => ("", "-"),
                };
                let title = if flaky {
                    format!(
                        "{} (failed, then passed in a rerun: depends on timing)",
                        s.title
                    )
                } else {
                    s.title.clone()
                };
                h.push_str(&format!(
                    "<td class=\"{class_name}\" title=\"{}\">{mark}</td>",
                    esc(&title)
                ));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n<h2>Scenarios</h2>\n<ol>\n");
    for s in &class.scenarios {
        h.push_str(&format!(
            "<li>{} <span class=\"muted\">({}, {} pt)</span></li>\n",
            esc(&s.title),
            esc(&s.name),
            fmt_points(s.weight)
        ));
    }
    h.push_str("</ol>\n<h2>Submissions</h2>\n");
    for g in &class.submissions {
        h.push_str(&format!(
            "<section class=\"detail\" id=\"{}\" data-name=\"{}\"><h3>{}: {}/{max}</h3>\n",
            anchor(&g.name),
            esc(&g.name),
            esc(&g.name),
            fmt_points(g.score)
        ));
        if let Some(b) = &g.build {
            if !b.ok {
                h.push_str(&format!(
                    "<p>The build <code>{}</code> failed ({}); nothing else ran.</p><pre>{}</pre>\n",
                    esc(&b.command),
                    esc(&b.status),
                    esc(&b.log)
                ));
            }
        }
        let mut failures = 0;
        for s in &class.scenarios {
            let r = g.result(&s.name);
            if g.build_failed() || r.is_some_and(|r| r.status == Status::Passed) {
                continue;
            }
            failures += 1;
            h.push_str(&format!(
                "<details class=\"failure\"><summary>✗ {} <span class=\"muted\">({} pt)</span></summary><pre>{}</pre></details>\n",
                esc(&s.title),
                fmt_points(s.weight),
                esc(&student_message(s, r))
            ));
        }
        if failures == 0 && !g.build_failed() {
            h.push_str("<p>Every scenario passed.</p>\n");
        }
        h.push_str("</section>\n");
    }
    h.push_str(&format!("<script>{SCRIPT}</script>\n</body></html>\n"));
    h
}
