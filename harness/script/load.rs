//! Finding scenario files and parsing all of them, keeping every error of every file.
//!
//! Paths come from users and from folders nobody checked, so reading them must neither
//! hang nor explode: only regular files are read (a FIFO named `x.scn` would block
//! forever, `/dev/zero` never ends), each folder is entered once however many links
//! lead to it (two links to a folder's own parent made the walk exponential), a file
//! larger than [`MAX_FILE`] is refused unread, and a file that cannot be used is one
//! error among the others, never the end of the whole load.

use super::ast::{Scenario, Span};
use super::diagnostic::{Diagnostic, SourceFile};
use super::parser::{parse, scenario_name};
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The extension of scenario files.
pub const EXTENSION: &str = "scn";

/// The largest scenario file read. `prop --write-scenario` writes at most 256 KiB of
/// data each way as hex, about 1 MiB; four times that leaves room for hand-written
/// files and still keeps a mistaken path from filling memory.
pub const MAX_FILE: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no scenario files (*.{EXTENSION}) found in {0}")]
    Empty(String),
    #[error("{0} is not a regular file (a FIFO, device or socket is never read)")]
    NotRegular(PathBuf),
    #[error("{path} is {size} bytes, more than the {MAX_FILE} a scenario file may have")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{0} is not a scenario file: it is not named *.{EXTENSION} and does not start with `+++` front matter")]
    NotScenario(PathBuf),
}

/// Everything loaded from a set of paths: the good scenarios, per bad file its source
/// and diagnostics, and the paths that could not be used at all.
#[derive(Debug, Default)]
pub struct Loaded {
    pub scenarios: Vec<Scenario>,
    pub failures: Vec<(SourceFile, Vec<Diagnostic>)>,
    pub unusable: Vec<LoadError>,
}

/// Every scenario file under `paths` with the root its name is relative to, sorted by
/// name, and the paths that could not be used. A directory is searched recursively,
/// each folder once; a file's name is relative to its nearest ancestor called
/// `scenarios`, or to its own directory.
pub fn discover(paths: &[PathBuf]) -> (Vec<(PathBuf, PathBuf)>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                problems.push(read_error(path)(e));
                continue;
            }
        };
        if meta.is_dir() {
            let before = files.len();
            walk(path, path, &mut seen, &mut files, &mut problems);
            if files.len() == before {
                problems.push(LoadError::Empty(path.display().to_string()));
            }
        } else {
            let root = path
                .ancestors()
                .skip(1)
                .find(|a| a.file_name().is_some_and(|n| n == "scenarios"))
                .or_else(|| path.parent())
                .unwrap_or(Path::new(""))
                .to_path_buf();
            files.push((root, path.clone()));
        }
    }
    files.sort_by_key(|(root, path)| scenario_name(root, path));
    files.dedup_by(|a, b| a.1 == b.1);
    (files, problems)
}

fn walk(
    root: &Path,
    dir: &Path,
    seen: &mut HashSet<(u64, u64)>,
    out: &mut Vec<(PathBuf, PathBuf)>,
    problems: &mut Vec<LoadError>,
) {
    // A folder reached again (a link to itself or an ancestor) adds nothing.
    match std::fs::metadata(dir) {
        Ok(m) if !seen.insert((m.dev(), m.ino())) => return,
        Ok(_) => {}
        Err(e) => {
            problems.push(read_error(dir)(e));
            return;
        }
    }
    let entries: Result<Vec<_>, _> = std::fs::read_dir(dir).and_then(|d| d.collect());
    let mut entries = match entries {
        Ok(e) => e,
        Err(e) => {
            problems.push(read_error(dir)(e));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, seen, out, problems);
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            out.push((root.to_path_buf(), path));
        }
    }
}

/// Parses every scenario under `paths`. Fails only when nothing at all was found;
/// every other problem is in [`Loaded`].
pub fn load_all(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let (files, mut unusable) = discover(paths);
    if files.is_empty() && !unusable.is_empty() {
        return Err(unusable.remove(0));
    }
    let mut loaded = Loaded {
        unusable,
        ..Loaded::default()
    };
    for (root, path) in files {
        let bytes = match read_scenario_file(&path) {
            Ok(b) => b,
            Err(e) => {
                loaded.unusable.push(e);
                continue;
            }
        };
        let (src, invalid_at) = match String::from_utf8(bytes) {
            Ok(text) => (SourceFile::new(path.clone(), text), None),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let byte = e.as_bytes()[at];
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                (SourceFile::new(path.clone(), text), Some((at, byte)))
            }
        };
        // A file named on the command line that is plainly something else (a README)
        // gets one error, not one per line.
        let named_scenario = path.extension().is_some_and(|e| e == EXTENSION);
        if !named_scenario && !src.text.trim_start().starts_with("+++") {
            loaded.unusable.push(LoadError::NotScenario(path.clone()));
            continue;
        }
        if let Some((at, byte)) = invalid_at {
            // The lossy text is the same bytes up to `at`: the position is exact.
            let d = Diagnostic::new(
                Span {
                    start: at,
                    end: at + 1,
                },
                format!("invalid UTF-8 (byte 0x{byte:02x})"),
            )
            .with_hint("scenario files are UTF-8 text; write binary data as hex\"...\"");
            loaded.failures.push((src, vec![d]));
            continue;
        }
        match parse(&src, &scenario_name(&root, &path)) {
            Ok(s) => loaded.scenarios.push(s),
            Err(diags) => loaded.failures.push((src, diags)),
        }
    }
    Ok(loaded)
}

/// Turns an I/O error at `path` into a [`LoadError`].
fn read_error(path: &Path) -> impl Fn(std::io::Error) -> LoadError + Copy + '_ {
    move |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// A scenario file's bytes: a regular file (links followed) of at most [`MAX_FILE`].
fn read_scenario_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    let read_err = read_error(path);
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(LoadError::NotRegular(path.to_path_buf()));
    }
    if meta.len() > MAX_FILE {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
        });
    }
    // Opened without blocking: the path may have become a FIFO since the check.
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_err)?;
    if !file.metadata().map_err(read_err)?.is_file() {
        return Err(LoadError::NotRegular(path.to_path_buf()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_linked_to_itself_is_walked_once() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("s");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("a.scn"), "x").unwrap();
        for link in ["l1", "l2"] {
            std::os::unix::fs::symlink("..", sub.join(link)).unwrap();
        }
        let (files, problems) = discover(&[dir.path().to_path_buf()]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(files.len(), 1, "{files:?}");
    }
}
