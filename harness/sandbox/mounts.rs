//! The scenario's mount namespace, set up by the holder right after it made the
//! namespace (single-threaded, holding every capability of the sandbox's user
//! namespace).
//!
//! What a process inside sees, and why:
//! - The host's tree, read-only (one recursive `mount_setattr`): programs and builds
//!   need the toolchain, libraries and `/etc`, but nothing there is theirs to change.
//!   As root the programs run as `nobody`, so they could not write root's files anyway;
//!   adapters keep the caller's identity and would, but for this.
//! - `/run` is a fresh tmpfs of `--disk-limit` bytes, the only storage a scenario can
//!   fill: every writable place below is a folder on it, so one limit bounds the
//!   scenario's writes in total, and it is gone with the namespace, even after a
//!   SIGKILLed harness. The host's `/run` (sockets of system services) is hidden.
//! - `/tmp` and `/var/tmp` are overlays: the host's files read through (paths under
//!   `/tmp`, such as a checkout or a program, keep working), writes go to the tmpfs.
//!   A Unix socket in a lower layer cannot be connected through an overlay (the socket
//!   is looked up by the overlay's inode, not the host's), so the host's sockets under
//!   `/tmp` answer ECONNREFUSED. `/dev/shm` is an empty folder of the tmpfs.
//! - The program folder (the submission's copy in `grade`, the working folder in
//!   `run`) is an overlay too: a program writes there, the next scenario sees the
//!   folder as it was. A build writes there the same way, bounded by the tmpfs, and
//!   `grade` copies what it made out through `/proc/HOLDER/root` before the sandbox
//!   closes.
//! - Everything is private (no propagation in either direction).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where the scenario's tmpfs is mounted, inside.
pub const STORAGE: &str = "/run";

fn c_path(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{} holds a NUL", p.display()))
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn mount(
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let src = CString::new(source).map_err(|e| e.to_string())?;
    let tgt = c_path(target)?;
    let fs = fstype.map(|f| CString::new(f).expect("no NUL"));
    let data = data
        .map(|d| CString::new(d).map_err(|e| e.to_string()))
        .transpose()?;
    // SAFETY: valid C strings or null pointers.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fs.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(os_err(&format!(
            "mounting {} on {}",
            fstype.unwrap_or(source),
            target.display()
        )))
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Makes the mount at `path` and every mount below it read-only.
fn make_read_only(path: &Path) -> Result<(), String> {
    let p = c_path(path)?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a valid path and attribute struct of the size we pass.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            p.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(os_err(&format!("making {} read-only", path.display())))
    }
}

fn make_dir(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| format!("creating {}: {e}", path.display()))
}

/// An overlay at `target` over `lower`, its writes in `STORAGE/sockspec/NAME`.
fn overlay(name: &str, lower: &Path, target: &Path, mode: u32) -> Result<(), String> {
    let base = Path::new(STORAGE).join("sockspec").join(name);
    let (upper, work) = (base.join("upper"), base.join("work"));
    make_dir(&upper, mode)?;
    make_dir(&work, 0o700)?;
    // No layer path holds a comma or colon (the option separators): the lower is a
    // fixed folder or /proc/self/fd/N, the others are ours.
    mount(
        "overlay",
        target,
        Some("overlay"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        )),
    )
}

/// Opens the program folder for [`set_up`]: before anything covers it (it may lie under
/// `/tmp`), and before the holder takes the namespace's identity (`nobody`, for a root
/// harness, who may not search the folders above it).
pub fn open_folder(folder: &Path) -> Result<OwnedFd, String> {
    std::fs::File::open(folder)
        .map(OwnedFd::from)
        .map_err(|e| format!("opening the program folder {}: {e}", folder.display()))
}

/// Makes the calling process's mount namespace the scenario's (see the module doc).
/// Call right after `unshare(CLONE_NEWNS)`, as the namespace's root.
pub fn set_up(disk: u64, folder: Option<(&Path, OwnedFd)>) -> Result<(), String> {
    mount(
        "none",
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    make_read_only(Path::new("/"))?;
    mount(
        "sockspec",
        Path::new(STORAGE),
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("size={disk},mode=0755")),
    )?;
    make_dir(&Path::new(STORAGE).join("sockspec"), 0o755)?;
    for dir in ["/tmp", "/var/tmp"] {
        let dir = Path::new(dir);
        if dir.is_dir() {
            let name = dir.file_name().expect("named").to_string_lossy();
            overlay(&name, dir, dir, 0o1777)?;
        }
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        let own = Path::new(STORAGE).join("sockspec/shm");
        make_dir(&own, 0o1777)?;
        mount(
            &own.to_string_lossy(),
            shm,
            None,
            libc::MS_BIND | libc::MS_NOSUID | libc::MS_NODEV,
            None,
        )?;
    }
    // The root itself cannot be an overlay's lower layer (the upper layer would lie
    // within it): a program run in `/` finds it read-only like the rest of the tree.
    if let Some((path, fd)) = folder.filter(|(path, _)| *path != Path::new("/")) {
        let lower = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        overlay("folder", &lower, path, 0o755)?;
    }
    Ok(())
}
