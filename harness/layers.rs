//! The layer table of `lib.rs`, enforced: every `crate::` import in a module's
//! non-test code goes to a lower layer, and no two files of one module import each
//! other (`super::` both ways). Read from the sources, so a new import that breaks the
//! layering fails `cargo test` with the file and the import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and its layer; a module may import only lower numbers.
const LAYERS: [(&str, u8); 18] = [
    ("literal", 0),
    ("signals", 1),
    ("atomic", 1),
    ("interrupt", 1),
    ("process", 1),
    ("protocol", 1),
    ("wire", 1),
    ("script", 2),
    ("remote", 2),
    ("sandbox", 3),
    ("adapter", 4),
    ("program", 4),
    ("run", 5),
    ("prop", 6),
    ("report", 6),
    ("grade", 7),
    ("cli", 8),
    ("layers", 9),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("harness/ is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its `#[cfg(test)]` tail and without comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("source is readable");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers that follow `prefix` in `code` (`crate::run::x` gives `run`).
fn names_after<'a>(code: &'a str, prefix: &str) -> BTreeSet<&'a str> {
    code.match_indices(prefix)
        .filter(|(at, _)| {
            // Not the tail of a longer path such as `sockspec::crate_`.
            !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
        })
        .filter_map(|(at, _)| {
            let rest = &code[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
        .collect()
}

fn harness_files() -> (PathBuf, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    (root, files)
}

#[test]
fn every_import_goes_to_a_lower_layer() {
    let layers: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
    let (root, files) = harness_files();
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).expect("below harness/");
        let first = rel.iter().next().expect("a component").to_string_lossy();
        let module = first.trim_end_matches(".rs");
        if matches!(module, "lib" | "main") {
            continue;
        }
        let Some(&mine) = layers.get(module) else {
            wrong.push(format!(
                "{}: module `{module}` is not in LAYERS",
                rel.display()
            ));
            continue;
        };
        for used in names_after(&code(file), "crate::") {
            if used == module {
                continue;
            }
            match layers.get(used) {
                Some(&theirs) if theirs < mine => {}
                Some(&theirs) => wrong.push(format!(
                    "{}: `{module}` (layer {mine}) imports `crate::{used}` (layer {theirs})",
                    rel.display()
                )),
                None => wrong.push(format!(
                    "{}: `crate::{used}` is not in LAYERS",
                    rel.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_files_of_a_module_import_each_other() {
    let (_, files) = harness_files();
    let mut edges: BTreeSet<(PathBuf, PathBuf)> = BTreeSet::new();
    for file in &files {
        let dir = file.parent().expect("a folder");
        if dir.file_name().is_some_and(|n| n == "harness") {
            continue;
        }
        for sibling in names_after(&code(file), "super::") {
            edges.insert((file.clone(), dir.join(format!("{sibling}.rs"))));
        }
    }
    let both_ways: Vec<String> = edges
        .iter()
        .filter(|(a, b)| a < b && edges.contains(&(b.clone(), a.clone())))
        .map(|(a, b)| format!("{} <-> {}", a.display(), b.display()))
        .collect();
    assert!(
        both_ways.is_empty(),
        "import cycles:\n{}",
        both_ways.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let code =
        "use crate::run::Settings;\nlet x = sockspec::crate::y; use crate::protocol::{self};";
    let seen: Vec<&str> = names_after(code, "crate::").into_iter().collect();
    assert_eq!(seen, ["protocol", "run"]);
}
