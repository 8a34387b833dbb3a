//! Finding scenario files and parsing all of them, keeping every error of every file.

use super::ast::Scenario;
use super::diagnostic::{Diagnostic, SourceFile};
use super::parser::{parse, scenario_name};
use std::path::{Path, PathBuf};

/// The extension of scenario files.
pub const EXTENSION: &str = "scn";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no scenario files (*.{EXTENSION}) found in {0}")]
    Empty(String),
}

/// Everything loaded from a set of paths: the good scenarios, and per bad file its
/// source and diagnostics.
#[derive(Debug, Default)]
pub struct Loaded {
    pub scenarios: Vec<Scenario>,
    pub failures: Vec<(SourceFile, Vec<Diagnostic>)>,
}

/// Every scenario file under `paths` with the root its name is relative to, sorted by
/// name. A directory is searched recursively; a file's name is relative to its nearest
/// ancestor called `scenarios`, or to its own directory.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<(PathBuf, PathBuf)>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let before = files.len();
            walk(path, path, &mut files)?;
            if files.len() == before {
                return Err(LoadError::Empty(path.display().to_string()));
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
    Ok(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<(), LoadError> {
    let read_err = |source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            out.push((root.to_path_buf(), path));
        }
    }
    Ok(())
}

/// Parses every scenario under `paths`.
pub fn load_all(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    for (root, path) in discover(paths)? {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        let src = SourceFile::new(path.clone(), text);
        match parse(&src, &scenario_name(&root, &path)) {
            Ok(s) => loaded.scenarios.push(s),
            Err(diags) => loaded.failures.push((src, diags)),
        }
    }
    Ok(loaded)
}
