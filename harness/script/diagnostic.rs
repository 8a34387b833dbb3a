//! Parse errors with a location, rendered rustc-style:
//!
//! ```text
//! error: unknown call `lisen`
//!   --> scenarios/listen/basic.scn:7:1
//!    |
//!  7 | lisen(a, 1)
//!    | ^^^^^
//!    = hint: did you mean `listen`?
//! ```

use super::ast::Span;
use anstyle::{AnsiColor, Style};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A scenario file's text and where it came from.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of each line's start: positions in O(log n), not a scan from the
    /// start of the file for every error (40 000 errors took 29 s that way).
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let line_start = self.line_starts[line - 1];
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let rest = &self.text[start..];
        let line = rest.split('\n').next().unwrap_or("");
        line.strip_suffix('\r').unwrap_or(line)
    }

    pub fn slice(&self, span: Span) -> &str {
        let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
        let end = floor_char_boundary(&self.text, span.end.min(self.text.len())).max(start);
        &self.text[start..end]
    }

    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }
}

pub(crate) fn display_path(path: &Path) -> String {
    path.display().to_string()
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One error in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `path:line:col: message`, the one-line form for logs and JSON.
    pub fn short(&self, src: &SourceFile) -> String {
        let (line, col) = src.line_col(self.span.start);
        format!("{}:{line}:{col}: {}", src.display_path(), self.message)
    }

    /// The multi-line form with the source line and a caret under the span.
    pub fn render(&self, src: &SourceFile, color: bool) -> String {
        let style = |s: Style| if color { s } else { Style::new() };
        let (red, blue, bold) = (
            style(AnsiColor::Red.on_default().bold()),
            style(AnsiColor::Blue.on_default().bold()),
            style(Style::new().bold()),
        );
        // An empty style renders as nothing, and so does its reset.
        let reset = anstyle::Reset;
        let reset = if color {
            reset.render().to_string()
        } else {
            String::new()
        };
        let (line, col) = src.line_col(self.span.start);
        let text = src.line_text(line);
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        // The caret covers the span on its first line, at least one column.
        let line_chars = text.chars().count();
        let span_chars = src
            .slice(self.span)
            .split('\n')
            .next()
            .unwrap_or("")
            .chars()
            .count();
        let width = span_chars.clamp(1, (line_chars + 1).saturating_sub(col - 1).max(1));
        let mut out = String::new();
        let _ = writeln!(out, "{red}error{reset}{bold}: {}{reset}", self.message);
        let _ = writeln!(
            out,
            "{pad}{blue}-->{reset} {}:{line}:{col}",
            src.display_path()
        );
        let _ = writeln!(out, "{pad} {blue}|{reset}");
        let _ = writeln!(out, "{blue}{line}{reset} {blue}|{reset} {text}");
        let _ = writeln!(
            out,
            "{pad} {blue}|{reset} {}{red}{}{reset}",
            " ".repeat(col - 1),
            "^".repeat(width)
        );
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} {blue}={reset} hint: {hint}");
        }
        out
    }
}

/// The closest candidate by edit distance, for "did you mean" hints.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        // Ties go to the alphabetically first name, so hints never depend on the
        // iteration order of the caller's (hashed) names.
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let src = SourceFile::new("x.scn", "+++\n+++\nlisen(a, 1)\n");
        let d = Diagnostic::new(Span::new(8, 13), "unknown call `lisen`")
            .with_hint("did you mean `listen`?");
        assert_eq!(
            d.render(&src, false),
            "error: unknown call `lisen`\n --> x.scn:3:1\n  |\n3 | lisen(a, 1)\n  | ^^^^^\n  = hint: did you mean `listen`?\n"
        );
        assert_eq!(d.short(&src), "x.scn:3:1: unknown call `lisen`");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("lisen", ["listen", "bind"]), Some("listen"));
        assert_eq!(closest("frobnicate", ["listen", "bind"]), None);
    }
}
