"""Cache entries of tool runs: synthesis results (:mod:`~spikeforge.synth.flow`) and bitstreams
(:mod:`~spikeforge.synth.bitstream`).

An entry is a folder ``ROOT/NAME`` (NAME carries the hash of everything the
run depends on). It is produced in a temporary folder next to it and renamed
into place complete, with an integrity file (SHA-256 of every file) written
last, under an exclusive lock per key: concurrent runs of one key compute it
once, the others wait and read it. An entry whose files do not match their
SHA-256 is recomputed with a warning. A run that fails with a
:class:`~spikeforge.models.errors.ToolError` leaves its folder as
``ROOT/NAME-failed`` for inspection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..models.errors import ToolError, warn
from ..models.io import TMP_PREFIX, clean_stale, hold_lock

__all__ = ["cached_run", "digests", "INTEGRITY"]

INTEGRITY = "integrity.json"


def digests(folder):
    """SHA-256 of every file in ``folder`` except the integrity file itself."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file() and p.name != INTEGRITY:
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def cached_run(root, name, produce, load, *, what, cache=True):
    """The value of entry ``root/name``: ``load(entry)`` of a verified entry, else
    ``produce(work, entry)``, which fills the temporary folder ``work`` (to become ``entry``)
    and returns the value.

    ``load`` raises OSError, ValueError or TypeError for an entry it cannot read (then it is
    recomputed with a warning naming ``what``, e.g. ``"synthesis result"``).
    """
    root = Path(root)
    final = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ToolError(f"cannot create the {what} cache {root}: {e.strerror} "
                        "(set SPIKEFORGE_CACHE to another folder)") from None
    clean_stale(root)
    with hold_lock(root / f"{name}.lock"):
        if cache and final.exists():
            try:
                want = json.loads((final / INTEGRITY).read_text())
                if not isinstance(want, dict) or want != digests(final):
                    raise ValueError("its files do not match their recorded SHA-256")
                return load(final)
            except (OSError, ValueError, TypeError) as e:
                warn(f"the cached {what} {final} is damaged ({e}); computing it again")
        work = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-{name}-", dir=root))
        try:
            value = produce(work, final)
            (work / INTEGRITY).write_text(json.dumps(digests(work), sort_keys=True))   # last
            if final.exists():
                stale = root / f"{TMP_PREFIX}{os.getpid()}-stale-{name}"
                os.replace(final, stale)
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(work, final)
        except ToolError:
            failed = root / f"{name}-failed"
            shutil.rmtree(failed, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.replace(work, failed)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return value
