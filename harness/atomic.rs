//! Files written whole or not at all: beside the target, then renamed over it, so a
//! reader (a CI job, Wireshark, a grading script) never sees half a report.

use std::path::Path;

/// Writes beside the target and renames, so a reader never sees half a report.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    write_bytes_atomically(path, text.as_bytes())
}

/// [`write_atomically`] for bytes (a pcap file).
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.sockspec-tmp",
        path.file_name()
            .map_or("report".into(), |n| n.to_string_lossy())
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
