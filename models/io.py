"""Output policy: spikeforge never destroys what the user did not ask it to replace.

- A file appears complete or not at all: it is written to a temporary name
  in the same folder and renamed over the target (:func:`atomic_write_text`).
- Outputs respect the umask; a file that is replaced keeps its mode.
- Special files (FIFOs, devices, sockets), symbolic links and folders are
  never replaced by an output file; the command line writes to standard
  output only for ``-o -``.
- A folder of outputs (:func:`output_folder`) is built in a temporary
  folder and committed file by file, each by rename, after every target
  has been checked; a failure rolls back the files already moved. With a
  *manifest*, the folder belongs to one kind of output (a report): a
  non-empty folder holding files the manifest does not list is refused
  unless ``force``, and even then only the listed files are replaced.
- Temporary names are ``.tmp-spikeforge-<pid>-…``; they are removed in a
  ``finally`` (also on SIGINT/SIGTERM) and, should a process have been
  killed outright, by the next run that writes into the same folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .errors import ConfigError
from .inputs import read_json

__all__ = ["atomic_write_text", "atomic_write_bytes", "check_output_file", "check_output_dir", "output_folder",
           "prepare_parent", "read_json", "clean_stale", "TMP_PREFIX", "cache_root", "hold_lock", "try_claim"]

TMP_PREFIX = ".tmp-spikeforge-"


def cache_root():
    """Folder of spikeforge's caches (``SPIKEFORGE_CACHE`` or ``~/.cache/spikeforge``)."""
    return Path(os.environ.get("SPIKEFORGE_CACHE") or Path.home() / ".cache" / "spikeforge")


@contextlib.contextmanager
def hold_lock(path):
    """An exclusive lock on ``path`` (a file of its own, e.g. ``ENTRY.lock``) while the block
    runs, waiting for another process that holds it; released when the block ends or the
    process dies. The folder is made if need be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def try_claim(path):
    """Claim ``path`` (a file of its own, e.g. ``ENTRY.claim``) for this process while the block
    runs: yields True, or at once False if another process holds it. A non-blocking exclusive
    lock, released when the block ends or the process dies; the folder is made if need be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _kind(st):
    m = st.st_mode
    if stat.S_ISLNK(m):
        return "a symbolic link"
    if stat.S_ISDIR(m):
        return "a folder"
    if stat.S_ISFIFO(m):
        return "a named pipe"
    if stat.S_ISCHR(m) or stat.S_ISBLK(m):
        return "a device"
    if stat.S_ISSOCK(m):
        return "a socket"
    return "not a regular file"


def _lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_stale(folder):
    """Remove temporary outputs left in ``folder`` by spikeforge processes that no longer run."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not name.startswith(TMP_PREFIX):
            continue
        try:
            pid = int(name[len(TMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        p = os.path.join(folder, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(p)


def _tmp_prefix():
    return f"{TMP_PREFIX}{os.getpid()}-"


def prepare_parent(path):
    """Create the parent folder of ``path`` (one-line ConfigError if impossible)."""
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create folder {parent}: {e.strerror}") from None
    return parent


def _probe(folder, target):
    """Fail with one line if nothing can be created in ``folder`` (for ``target``)."""
    probe = os.path.abspath(folder)
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ConfigError(f"cannot write to {target}: {probe} is not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix() + "probe-", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ConfigError(f"cannot write to {target}: {e.strerror}") from None


def check_output_file(path):
    """Check, before any work, that ``path`` may be written as an output file.

    Refuses an existing folder, symbolic link or special file, and a folder
    that cannot be written.
    """
    path = os.fspath(path)
    st = _lstat(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        hint = " (use '-o -' for standard output)" if not stat.S_ISDIR(st.st_mode) else ""
        raise ConfigError(f"refusing to write {path}: it is {_kind(st)}, not a regular file{hint}")
    _probe(os.path.dirname(os.path.abspath(path)), path)


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename.

    An existing regular file keeps its mode; a new one gets 0666 minus the umask.
    """
    _atomic_write(path, text, "w")


def atomic_write_bytes(path, data):
    """:func:`atomic_write_text` for binary ``data`` (bytes)."""
    _atomic_write(path, data, "wb")


def _atomic_write(path, data, mode_flag):
    path = os.fspath(path)
    check_output_file(path)
    parent = prepare_parent(path)
    clean_stale(parent)
    st = _lstat(path)
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(), dir=parent)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, mode_flag) as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
        st = _lstat(path)                # checked again: the target may have changed meanwhile
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"refusing to write {path}: it is {_kind(st)}, not a regular file")
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# ------------------------------------------------------------------ folders

def _manifest_files(folder, manifest):
    """Relative paths a folder's manifest lists (empty if there is none or it is unreadable)."""
    p = os.path.join(folder, manifest)
    if not os.path.isfile(p) or os.path.islink(p):
        return set()
    try:
        d = read_json(p)
    except ConfigError:
        return set()
    files = d.get("files") if isinstance(d, dict) else None
    return {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()


def _tree(folder):
    """Relative paths of everything under ``folder`` (files and links; folders as such when empty)."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = os.path.relpath(root, folder)
        dirs[:] = [d for d in dirs if not (rel == "." and d.startswith(TMP_PREFIX))]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            if rel == "." and name.startswith(TMP_PREFIX):
                continue
            out.append(os.path.normpath(os.path.join(rel, name)))
        if not files and not dirs and rel != ".":
            out.append(rel + "/")
    return sorted(out)


def check_output_dir(path, manifest=None, force=False):
    """Check, before any work, that folder ``path`` may receive outputs.

    With ``manifest`` (a file name), a non-empty folder whose files are not
    all listed in it is refused unless ``force``.
    """
    path = os.fspath(path)
    st = _lstat(path)
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise ConfigError(f"refusing to write into {path}: it is a symbolic link (give the folder it "
                              "points to)")
        if not stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"cannot write to {path}: it exists and is not a folder")
        if manifest is not None and not force:
            owned = _manifest_files(path, manifest) | {manifest}
            foreign = [f for f in _tree(path) if not f.endswith("/") and f not in owned]
            if foreign:
                shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
                raise ConfigError(f"{path} is not empty and holds files this command did not write "
                                  f"({shown}); choose another folder, or pass --force to replace only "
                                  "its own files there")
    _probe(path, path)


@contextlib.contextmanager
def _folder_lock(path):
    """An exclusive lock per output folder, kept in the cache (nothing is left in the folder)."""
    key = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:24]
    lock_dir = cache_root() / "locks"
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        f = open(lock_dir / f"out-{key}.lock", "a")
    except OSError:                      # no cache folder: go on unlocked
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _commit(tmp, dest, manifest, force):
    """Move every file under ``tmp`` into ``dest`` (see the module docstring)."""
    new = [f for f in _tree(tmp) if not f.endswith("/")]
    with _folder_lock(dest):
        if manifest is not None:
            check_output_dir(dest, manifest, force)
            old = _manifest_files(dest, manifest)
        for rel in new:                                   # check every target before moving any
            target = os.path.join(dest, rel)
            parts = rel.split(os.sep)
            for k in range(1, len(parts)):
                st = _lstat(os.path.join(dest, *parts[:k]))
                if st is not None and not stat.S_ISDIR(st.st_mode):
                    raise ConfigError(f"cannot write {target}: {os.path.join(dest, *parts[:k])} is "
                                      f"{_kind(st)}, not a folder")
            st = _lstat(target)
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"refusing to write {target}: it is {_kind(st)}, not a regular file")
        backups = tempfile.mkdtemp(prefix=_tmp_prefix() + "old-", dir=dest)
        moved, made = [], []
        try:
            for k, rel in enumerate(new):
                src, target = os.path.join(tmp, rel), os.path.join(dest, rel)
                parent = os.path.dirname(target)
                if not os.path.isdir(parent):
                    os.makedirs(parent)
                    made.append(parent)
                st = _lstat(target)
                backup = None
                if st is not None:
                    os.chmod(src, stat.S_IMODE(st.st_mode))
                    backup = os.path.join(backups, str(k))
                    os.replace(target, backup)
                moved.append((target, backup))
                os.replace(src, target)
            if manifest is not None:
                for rel in sorted(old - set(new)):           # the previous report's files only
                    p = os.path.join(dest, rel)
                    st = _lstat(p)
                    if st is not None and stat.S_ISREG(st.st_mode):
                        os.unlink(p)
                        if os.path.dirname(rel):              # drop the folder if now empty
                            with contextlib.suppress(OSError):
                                os.rmdir(os.path.dirname(p))
                body = json.dumps({"written_by": "spikeforge", "files": sorted(new)}, indent=1) + "\n"
                atomic_write_text(os.path.join(dest, manifest), body)
        except BaseException as e:
            for target, backup in reversed(moved):            # roll back
                with contextlib.suppress(OSError):
                    if backup is not None:
                        os.replace(backup, target)
                    else:
                        os.unlink(target)
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            if isinstance(e, OSError):
                raise ConfigError(f"cannot write to {dest}: {e.strerror or e}"
                                  + (f" ({e.filename})" if e.filename else "")) from None
            raise
        finally:
            shutil.rmtree(backups, ignore_errors=True)


@contextlib.contextmanager
def output_folder(path, *, manifest=None, force=False):
    """Yield a temporary folder; on success its files are committed into folder ``path``.

    Without ``manifest`` the files join what is already there (same names
    are replaced). With ``manifest`` see :func:`check_output_dir`; files the
    previous manifest listed and the new output lacks are removed, others
    are never touched. On failure or interruption nothing changes in ``path``
    (a folder created for the output is removed again).
    """
    path = os.path.abspath(os.fspath(path))
    check_output_dir(path, manifest, force)
    created = not os.path.lexists(path)
    try:
        os.makedirs(path, exist_ok=True)
        clean_stale(path)
        tmp = tempfile.mkdtemp(prefix=_tmp_prefix(), dir=path)
    except OSError as e:
        raise ConfigError(f"cannot write to {path}: {e.strerror}") from None
    try:
        yield tmp
        _commit(tmp, path, manifest, force)
        created = False
    except OSError as e:
        raise ConfigError(f"cannot write to {path}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(path)          # only if empty
