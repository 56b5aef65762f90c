//! Private placement on a normal Linux host (docs/init-config.md §3).
//!
//! Inside a real TEE the filesystem is already private. On a host running the simulated platform, the
//! unlocked image and the secrets must not land on the host's disk. `init` therefore moves itself into a
//! new mount namespace (and a user namespace when it is not root), mounts a fresh tmpfs on `/dev/shm`
//! as scratch space, and overlays every directory that receives unlocked data with a tmpfs-backed upper
//! layer. The host never sees the files; they disappear when the application's namespace does.
//!
//! Namespaces are per-thread until `exec`, and `unshare(CLONE_NEWNS)` fails in a threaded process, so
//! [`PrivateNamespace::enter`] must run before any thread (e.g. a tokio runtime) is started.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{getgid, getuid, Uid};

use crate::Error;

/// Scratch tmpfs for overlay upper/work directories, private to the namespace.
const SCRATCH: &str = "/dev/shm";

/// A private mount namespace entered by this process.
#[derive(Debug)]
pub struct PrivateNamespace {
    overlaid: BTreeSet<PathBuf>,
    next_id: usize,
}

impl PrivateNamespace {
    /// Enters a new mount namespace (plus a user namespace when not root) and mounts the scratch tmpfs.
    pub fn enter() -> Result<Self, Error> {
        let ns_err = |step: &'static str| {
            move |e: nix::Error| Error::Namespace {
                step,
                source: e.into(),
            }
        };
        if Uid::effective().is_root() {
            unshare(CloneFlags::CLONE_NEWNS).map_err(ns_err("unshare(CLONE_NEWNS)"))?;
        } else {
            let (uid, gid) = (getuid(), getgid());
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
                .map_err(ns_err("unshare(CLONE_NEWUSER|CLONE_NEWNS)"))?;
            let write = |file: &str, text: String| {
                std::fs::write(file, text).map_err(|source| Error::Namespace {
                    step: "write id map",
                    source,
                })
            };
            write("/proc/self/setgroups", "deny".into())?;
            write("/proc/self/uid_map", format!("0 {uid} 1"))?;
            write("/proc/self/gid_map", format!("0 {gid} 1"))?;
        }
        // Nothing mounted from here on may propagate back to the host.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(ns_err("make / private"))?;
        mount(
            Some("tmpfs"),
            SCRATCH,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0700"),
        )
        .map_err(ns_err("mount scratch tmpfs on /dev/shm"))?;
        Ok(Self {
            overlaid: BTreeSet::new(),
            next_id: 0,
        })
    }

    /// Makes `target` (a file or directory path that will be created) writable in memory only: overlays
    /// the nearest existing ancestor directory with a tmpfs upper layer. The root directory is never
    /// overlaid (it would hide the host's other mounts); a target directly under `/` is refused.
    pub fn prepare(&mut self, target: &Path) -> Result<(), Error> {
        let mut dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        while !dir.is_dir() {
            match dir.parent() {
                Some(p) => dir = p.to_path_buf(),
                None => break,
            }
        }
        if dir.as_os_str().is_empty() || dir == Path::new("/") {
            return Err(Error::Placement {
                path: target.to_owned(),
                message: "its nearest existing parent is `/`; choose a location inside an existing directory such as /etc, /srv or /opt".into(),
            });
        }
        if self.overlaid.iter().any(|o| dir.starts_with(o)) {
            return Ok(());
        }
        let id = self.next_id;
        self.next_id += 1;
        let upper = PathBuf::from(format!("{SCRATCH}/ovl{id}/upper"));
        let work = PathBuf::from(format!("{SCRATCH}/ovl{id}/work"));
        for d in [&upper, &work] {
            std::fs::create_dir_all(d).map_err(|source| Error::Namespace {
                step: "create overlay dirs",
                source,
            })?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            escape_overlay(&dir),
            upper.display(),
            work.display()
        );
        mount(
            Some("overlay"),
            &dir,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
        .map_err(|e| Error::Placement {
            path: target.to_owned(),
            message: format!("overlay mount on {} failed: {e}", dir.display()),
        })?;
        self.overlaid.insert(dir);
        Ok(())
    }

    /// The directories that are now backed by memory.
    pub fn overlaid(&self) -> impl Iterator<Item = &Path> {
        self.overlaid.iter().map(PathBuf::as_path)
    }
}

/// overlayfs splits its options on `,` and treats `:` as a lower-dir separator.
fn escape_overlay(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(':', "\\:")
}
