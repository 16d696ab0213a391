"""The one input layer: every file spikeforge reads comes through here.

Each reader checks, before it allocates anything large:

- the path is a regular file (a folder, FIFO, device or socket is refused,
  so nothing blocks on a pipe or reads a device without end);
- its size is within :func:`limit` ``"file_mb"``;
- JSON: valid UTF-8, no duplicate keys, no NaN/Infinity, integers of at
  most :data:`MAX_INT_DIGITS` digits, nesting at most :data:`MAX_JSON_DEPTH`;
- ``.npz``: a zip of ``.npy`` members, each with a dtype the caller allows
  (never objects/pickles), a declared shape within ``"array_elements"`` and a
  declared size that matches its header, read with its CRC checked;
- CSV (:func:`read_csv`): UTF-8 text, comma-separated, every row of the same
  length, every cell a finite number (an optional first row of column names),
  at most ``"array_elements"`` cells.

Every problem is a one-line :class:`~spikeforge.models.errors.ConfigError`
that names the file (and the key or limit). Limits are read from the
environment so that a user can raise them; the error says which variable.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import zipfile
import zlib

import numpy as np

from .errors import ConfigError

__all__ = ["LIMITS", "limit", "read_bytes", "read_json", "parse_json", "read_npz", "read_csv",
           "MAX_JSON_DEPTH", "MAX_INT_DIGITS"]

#: name → (environment variable, default, unit, what it bounds)
LIMITS = {
    "file_mb": ("SPIKEFORGE_MAX_FILE_MB", 256, "MiB", "size of an input file"),
    "array_elements": ("SPIKEFORGE_MAX_ARRAY_ELEMENTS", 50_000_000, "elements",
                       "elements of one array in an input file"),
    "run_elements": ("SPIKEFORGE_MAX_RUN_ELEMENTS", 20_000_000, "elements",
                     "samples × time steps × neurons held at once by a golden run"),
}
#: deepest JSON nesting accepted (a design file needs 4).
MAX_JSON_DEPTH = 32
#: longest integer literal accepted in JSON (a 62-bit value has 19 digits).
MAX_INT_DIGITS = 40


def limit(name):
    """The value of limit ``name`` (environment override or default)."""
    env, default, unit, _what = LIMITS[name]
    raw = os.environ.get(env)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{env} must be a positive integer ({unit}), not {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{env} must be a positive integer ({unit}), not {raw!r}")
    return value


def limit_error(name, what, amount):
    """A ConfigError saying ``what`` needs ``amount`` beyond limit ``name`` and how to raise it."""
    env, _default, unit, bounds = LIMITS[name]
    return ConfigError(f"{what} needs {amount:,} {unit}, beyond the limit of {limit(name):,} {unit} "
                       f"on the {bounds} (set {env} to raise it)")


def read_bytes(path):
    """The bytes of regular file ``path``, within the file-size limit."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"cannot read {path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"cannot read {path}: it is a folder")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"cannot read {path}: not a regular file (a pipe, device or socket)")
    cap = limit("file_mb") << 20
    if st.st_size > cap:
        raise limit_error("file_mb", f"{path} ({st.st_size >> 20} MiB)", math.ceil(st.st_size / (1 << 20)))
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open must not block
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ConfigError(f"cannot read {path}: not a regular file (a pipe, device or socket)")
        try:
            data = f.read(cap + 1)
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    if len(data) > cap:
        raise limit_error("file_mb", f"{path}", math.ceil(len(data) / (1 << 20)))
    return data


# ------------------------------------------------------------------ JSON

def _pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ConfigError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _int(text):
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ConfigError(f"an integer of {digits} digits (at most {MAX_INT_DIGITS} are accepted)")
    return int(text)


def _float(text):
    v = float(text)
    if not math.isfinite(v):
        raise ConfigError(f"number {text[:20]} is out of range")
    return v


def _constant(name):
    raise ConfigError(f"{name} is not a JSON value")


def _depth(obj):
    """Nesting depth of a parsed JSON value (iterative: no recursion limit)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            deepest = max(deepest, d)
            if d > MAX_JSON_DEPTH:
                return d
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


def parse_json(text, source="JSON"):
    """Parse JSON text strictly (see the module docstring); errors name ``source``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{source}: not valid JSON (not UTF-8 text at byte {e.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float,
                           parse_constant=_constant)
    except ConfigError as e:
        raise ConfigError(f"{source}: not valid JSON ({e})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source}: not valid JSON ({e})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid JSON (nested deeper than {MAX_JSON_DEPTH} levels)") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ConfigError(f"{source}: not valid JSON (nested deeper than {MAX_JSON_DEPTH} levels)")
    return value


def read_json(path):
    """Read and parse a JSON file strictly; any problem is a one-line ConfigError."""
    path = os.fspath(path)
    return parse_json(read_bytes(path), path)


# ------------------------------------------------------------------ .npz

_KIND_NAMES = {"b": "boolean", "i": "integer", "u": "unsigned integer", "f": "floating-point",
               "c": "complex", "M": "datetime", "m": "timedelta", "O": "Python object (pickled)",
               "S": "byte string", "U": "text", "V": "raw/structured"}


def _member_header(f, name, source):
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as e:            # NumPy's header parser raises many kinds on garbage
        raise ConfigError(f"{source}: entry {name!r} is not a NumPy array ({str(e).splitlines()[0]})") from None
    return shape, fortran, dtype


def read_npz(path, kinds="iuf", text_keys=()):
    """Read the arrays of an ``.npz`` file as {key: ndarray}, checked before loading.

    ``kinds``: NumPy dtype kinds accepted for numeric keys (default integer,
    unsigned and floating point); ``text_keys``: keys that may hold text
    (dtype kind ``U``) instead.
    """
    path = os.fspath(path)
    data = read_bytes(path)
    if data.startswith(b"\x93NUMPY"):
        raise ConfigError(f"{path}: a single .npy array, not an .npz archive (save with numpy.savez)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
        raise ConfigError(f"{path}: not a readable .npz file ({e})") from None
    cap_elements = limit("array_elements")
    cap_bytes = limit("file_mb") << 20
    out, total = {}, 0
    with zf:
        infos = zf.infolist()
        if not infos:
            raise ConfigError(f"{path}: the .npz archive is empty")
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or info.is_dir():
                raise ConfigError(f"{path}: entry {name!r} is not a .npy array")
            key = name[:-4]
            if key in out:
                raise ConfigError(f"{path}: duplicate entry {key!r}")
            total += info.file_size
            if info.file_size > cap_bytes or total > cap_bytes:
                raise limit_error("file_mb", f"{path}: entry {key!r} unpacked", math.ceil(total / (1 << 20)))
            try:
                f = zf.open(info)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, zlib.error) as e:
                raise ConfigError(f"{path}: entry {key!r} cannot be read ({e})") from None
            with f:
                shape, fortran, dtype = _member_header(f, key, path)
                allowed = "U" if key in text_keys else kinds
                if dtype.hasobject or dtype.kind not in allowed:
                    raise ConfigError(f"{path}: {key} holds {_KIND_NAMES.get(dtype.kind, str(dtype))} values "
                                      f"(dtype {dtype}); expected "
                                      + ("text" if key in text_keys else "real numbers"))
                if dtype.fields is not None or dtype.subdtype is not None:
                    raise ConfigError(f"{path}: {key} has a structured dtype {dtype}")
                n = math.prod(shape)
                if n > cap_elements:
                    raise limit_error("array_elements", f"{path}: {key} of shape {tuple(shape)}", n)
                if n * dtype.itemsize > info.file_size:
                    raise ConfigError(f"{path}: entry {key!r} is truncated (its header declares shape "
                                      f"{tuple(shape)} of {dtype})")
                try:
                    buf = f.read(n * dtype.itemsize + 1)
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
                    raise ConfigError(f"{path}: entry {key!r} is corrupt ({e})") from None
                if len(buf) != n * dtype.itemsize:
                    raise ConfigError(f"{path}: entry {key!r} is truncated or has trailing bytes")
                try:
                    f.read()                  # reaches the end of the member: its CRC is checked
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                    raise ConfigError(f"{path}: entry {key!r} is corrupt ({e})") from None
            arr = np.frombuffer(buf, dtype=dtype, count=n)
            arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
            out[key] = arr.copy()
    return out


# ------------------------------------------------------------------ CSV

def _cell(text):
    """A CSV cell as a float, or None if it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def read_csv(path):
    """Read a CSV table of numbers as ``(header, values)``.

    Parameters
    ----------
    path : str or os.PathLike
        A comma-separated UTF-8 text file. The first row may hold column
        names (it is taken as a header when one of its cells is not a
        number); every other row must have as many cells as the first and
        hold finite numbers only. Blank lines are skipped.

    Returns
    -------
    header : list of str or None
        The column names, if the file has a header row.
    values : numpy.ndarray
        float64 array of shape (rows, columns).

    Raises
    ------
    ConfigError
        One line naming the file, the row and the column of the first problem.
    """
    import csv

    path = os.fspath(path)
    raw = read_bytes(path)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        raise ConfigError(f"{path}: not a CSV text file (it holds NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a CSV text file (not UTF-8 text at byte {e.start})") from None
    cap = limit("array_elements")
    header, rows, width, cells = None, [], None, 0
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        for record in reader:
            line = reader.line_num
            if not record or all(not c.strip() for c in record):
                continue
            values = [_cell(c.strip()) for c in record]
            if width is None:
                width = len(record)
                if any(v is None for v in values):
                    header = [c.strip() for c in record]
                    continue
            if len(record) != width:
                raise ConfigError(f"{path}: row {line} has {len(record)} columns, the first row has {width}")
            for col, (v, c) in enumerate(zip(values, record), 1):
                if v is None:
                    raise ConfigError(f"{path}: row {line}, column {col}: {c.strip()[:20]!r} is not a number")
                if not math.isfinite(v):
                    raise ConfigError(f"{path}: row {line}, column {col}: {c.strip()[:20]} is not a finite number")
            cells += width
            if cells > cap:
                raise limit_error("array_elements", f"{path}: the table", cells)
            rows.append(values)
    except csv.Error as e:
        raise ConfigError(f"{path}: not a readable CSV file ({e})") from None
    if not rows:
        raise ConfigError(f"{path}: the CSV file holds no rows of numbers")
    return header, np.array(rows, dtype=np.float64)
