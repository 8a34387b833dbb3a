//! One class from the outputs of `grade --shard K/N` (a class too big for one machine,
//! split across CI runners): each shard's `grades.json` read back, checked to be of
//! one suite and disjoint, and joined in name order, so every report is written as
//! if one run had graded them all.

use super::class::ClassReport;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{}: cannot read it: {source} (is it the output folder of `sockspec grade`?)", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a grade report: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{} graded suite `{}` with other scenarios than {} ({}): merge shards of one grading run", path.display(), suite, first.display(), first_suite)]
    OtherSuite {
        path: PathBuf,
        suite: String,
        first: PathBuf,
        first_suite: String,
    },
    #[error("submission `{name}` was graded in {} and in {}: shards must be disjoint (the same --shard total, each K once)", first.display(), second.display())]
    Twice {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{} gave flaky scenarios their points and {} did not: grade every shard with the same --flaky-credit", path.display(), first.display())]
    OtherCredit { path: PathBuf, first: PathBuf },
}

/// Reads `DIR/grades.json` of each shard's output folder and joins them.
pub fn merge(dirs: &[PathBuf]) -> Result<ClassReport, MergeError> {
    let mut shards: Vec<(PathBuf, ClassReport)> = Vec::new();
    for dir in dirs {
        let path = dir.join("grades.json");
        shards.push((path.clone(), read(&path)?));
    }
    let Some(((first_path, first), rest)) = shards.split_first() else {
        unreachable!("clap asks for at least one folder")
    };
    let names = |c: &ClassReport| {
        c.scenarios
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    let mut merged = first.clone();
    let mut from: Vec<(String, PathBuf)> = first
        .submissions
        .iter()
        .map(|g| (g.name.clone(), first_path.clone()))
        .collect();
    for (path, shard) in rest {
        if shard.suite != first.suite || names(shard) != names(first) {
            return Err(MergeError::OtherSuite {
                path: path.clone(),
                suite: shard.suite.clone(),
                first: first_path.clone(),
                first_suite: first.suite.clone(),
            });
        }
        if shard.flaky_credit != first.flaky_credit {
            return Err(MergeError::OtherCredit {
                path: path.clone(),
                first: first_path.clone(),
            });
        }
        for g in &shard.submissions {
            if let Some((_, earlier)) = from.iter().find(|(n, _)| *n == g.name) {
                return Err(MergeError::Twice {
                    name: g.name.clone(),
                    first: earlier.clone(),
                    second: path.clone(),
                });
            }
            from.push((g.name.clone(), path.clone()));
            merged.submissions.push(g.clone());
        }
        // The shards ran side by side: the class took as long as the slowest.
        merged.duration = merged.duration.max(shard.duration);
        merged.interrupted |= shard.interrupted;
    }
    merged.submissions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(merged)
}

fn read(path: &Path) -> Result<ClassReport, MergeError> {
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| MergeError::Parse {
        path: path.to_path_buf(),
        source,
    })
}
