"""Atomic output: a file or a whole output folder appears complete or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from .errors import ConfigError

__all__ = ["atomic_write_text", "atomic_dir", "atomic_merge", "prepare_parent", "check_writable",
           "read_json"]


def prepare_parent(path):
    """Create the parent folder of ``path`` (one-line ConfigError if impossible)."""
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create folder {parent}: {e.strerror}") from None
    return parent


def read_json(path):
    """Parse a JSON file; a missing, unreadable or malformed file is a one-line ConfigError."""
    import json
    path = os.fspath(path)
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None


def check_writable(path):
    """Fail early, with one line, if folder ``path`` could not be written.

    Creates nothing that stays: probes with a temporary file in the nearest
    existing ancestor folder.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"cannot write to {path}: it exists and is not a folder")
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ConfigError(f"cannot write to {path}: {probe} is not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".probe-", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ConfigError(f"cannot write to {path}: {e.strerror}") from None


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ConfigError(f"cannot write {path}: it is a folder")
    parent = prepare_parent(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=parent)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder that replaces ``path`` only if the block succeeds.

    An existing ``path`` is kept until the new folder is complete.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"cannot write to {path}: it exists and is not a folder")
    parent = prepare_parent(path)
    try:
        tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=parent)
    except OSError as e:
        raise ConfigError(f"cannot write to {path}: {e.strerror}") from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    try:
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix=".old-" + os.path.basename(path) + "-", dir=parent)
            os.replace(path, os.path.join(old, "x"))
        os.replace(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigError(f"cannot write to {path}: {e.strerror}") from None
    finally:
        if old:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_merge(path):
    """Yield a temporary folder whose files are moved into folder ``path`` only
    if the block succeeds; other files already in ``path`` are left alone."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"cannot write to {path}: it exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=path)
    except OSError as e:
        raise ConfigError(f"cannot write to {path}: {e.strerror}") from None
    try:
        yield tmp
        for name in sorted(os.listdir(tmp)):
            os.replace(os.path.join(tmp, name), os.path.join(path, name))
    except OSError as e:
        raise ConfigError(f"cannot write to {path}: {e.strerror}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
