""".npz files read without unpickling anything.

``np.load`` with pickles allowed runs whatever a pickled object array tells it to (a
crafted file can call ``open`` or ``os.system``), so it is never used. Plain arrays are read
with ``allow_pickle=False``. Keras' imdb.npz and reuters.npz store their sequences as object
arrays of int lists, which numpy can only write as a pickle; those are *parsed*, not
unpickled: ``pickletools.genops`` splits the stream into opcodes without executing any, and
a small interpreter accepts exactly what numpy writes for a 1-D object array of int lists
(numpy's array/dtype reconstruction names, lists, tuples, ints, strings). Names are never
imported and nothing is called, so any other content (a class, a function, a REDUCE of
anything but numpy's reconstruction) is refused with a DatasetError that says how to
convert the file.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .base import DatasetError

CONVERT_HINT = (
    "this file holds pickled Python objects, which hpopt never unpickles (a pickle can run code). "
    "Only object arrays of integer lists (as in Keras' imdb.npz / reuters.npz) are read, by parsing. "
    "Store token-id sequences as a padded 2-D integer array, or save the lists again with "
    "np.savez(path, x_train=np.array([list(map(int, s)) for s in seqs], dtype=object), ...) "
    "from data you trust"
)

_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",  # protocol 2 writes bytes as _codecs.encode(text, "latin1")
}
_PUSH_VALUE = {
    "BININT", "BININT1", "BININT2", "LONG1", "LONG4", "INT", "LONG", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING", "SHORT_BINBYTES", "BINBYTES",
    "BINBYTES8", "BINFLOAT", "FLOAT",
}
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_MARK = object()


class PickledDataError(DatasetError):
    """An .npz holds pickled objects that are not plain int lists: refused, never unpickled."""

    exit_code = 2  # the CLI's status for a bad input


class _Unsafe(Exception):
    """The pickle holds something other than an object array of int lists."""


class _Global:
    def __init__(self, kind: str) -> None:
        self.kind = kind


class _ArrayStub:
    def __init__(self) -> None:
        self.shape: Optional[tuple] = None
        self.items: Optional[list] = None


class _DtypeStub:
    def __init__(self, code: str) -> None:
        self.code = code


def _pop_to_mark(stack: list) -> list:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1:]
            del stack[i:]
            return items
    raise _Unsafe("MARK missing")


def _global(module: Any, name: Any) -> _Global:
    kind = _NUMPY_GLOBALS.get((module, name))
    if kind is None:
        raise _Unsafe(f"it refers to {module}.{name}")
    return _Global(kind)


def _reduce(func: Any, args: Any) -> Any:
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise _Unsafe("it calls something")
    if func.kind == "reconstruct" and len(args) == 3 and isinstance(args[0], _Global) and args[0].kind == "ndarray":
        return _ArrayStub()
    if func.kind == "encode" and len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
        return args[0].encode("latin1")  # done here: _codecs is never imported or called
    if func.kind == "dtype" and args and isinstance(args[0], str):
        return _DtypeStub(args[0])
    raise _Unsafe(f"it calls numpy's {func.kind} in an unexpected way")


def _build(obj: Any, state: Any) -> None:
    if isinstance(obj, _DtypeStub):
        return  # byte order / flags of the object dtype: nothing to apply
    if not isinstance(obj, _ArrayStub) or not isinstance(state, tuple) or len(state) != 5:
        raise _Unsafe("it sets the state of something that is not a numpy array")
    _, shape, dtype, _, items = state
    if not isinstance(dtype, _DtypeStub) or not dtype.code.startswith("O"):
        raise _Unsafe("it is not an object array")
    if not isinstance(shape, tuple) or len(shape) != 1 or not isinstance(items, list) or len(items) != shape[0]:
        raise _Unsafe("it is not a 1-D object array")
    obj.shape, obj.items = shape, items


class _PickleMachine:
    """The few pickle opcodes numpy uses for an object array of int lists, run on stubs: a
    table from opcode to handler (anything else is refused), never Python's unpickler."""

    def __init__(self) -> None:
        self.stack: list = []
        self.memo: dict = {}
        self.handlers: dict[str, Any] = {
            "PROTO": self._skip, "FRAME": self._skip,
            "MARK": lambda arg: self.stack.append(_MARK),
            "EMPTY_LIST": lambda arg: self.stack.append([]),
            "EMPTY_TUPLE": lambda arg: self.stack.append(()),
            "LIST": lambda arg: self.stack.append(_pop_to_mark(self.stack)),
            "TUPLE": lambda arg: self.stack.append(tuple(_pop_to_mark(self.stack))),
            "TUPLE1": self._tuple_n, "TUPLE2": self._tuple_n, "TUPLE3": self._tuple_n,
            "APPEND": lambda arg: self._append([self.stack.pop()]),
            "APPENDS": lambda arg: self._append(_pop_to_mark(self.stack)),
            "BINPUT": self._put, "LONG_BINPUT": self._put, "PUT": self._put,
            "MEMOIZE": lambda arg: self._put(len(self.memo)),
            "BINGET": self._get, "LONG_BINGET": self._get, "GET": self._get,
            "GLOBAL": self._global_by_name, "STACK_GLOBAL": self._stack_global,
            "REDUCE": self._reduce, "BUILD": self._build,
        }

    def run(self, data: bytes) -> Any:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "STOP":
                break
            if op.name in _PUSH_VALUE:
                self.stack.append(arg)
            elif op.name in _CONSTANTS:
                self.stack.append(_CONSTANTS[op.name])
            elif op.name in self.handlers:
                self._name = op.name
                self.handlers[op.name](arg)
            else:
                raise _Unsafe(f"it uses the pickle opcode {op.name}")
        return self.stack.pop() if self.stack else None

    def _skip(self, arg: Any) -> None:
        return None

    def _tuple_n(self, arg: Any) -> None:
        n = int(self._name[-1])
        items = tuple(self.stack[-n:])
        del self.stack[-n:]
        self.stack.append(items)

    def _append(self, items: list) -> None:
        if not isinstance(self.stack[-1], list):
            raise _Unsafe("it appends to something that is not a list")
        self.stack[-1].extend(items)

    def _put(self, key: Any) -> None:
        self.memo[key] = self.stack[-1]

    def _get(self, key: Any) -> None:
        self.stack.append(self.memo[key])

    def _global_by_name(self, arg: Any) -> None:
        module, _, attr = str(arg).partition(" ")
        self.stack.append(_global(module, attr))

    def _stack_global(self, arg: Any) -> None:
        attr, module = self.stack.pop(), self.stack.pop()
        self.stack.append(_global(module, attr))

    def _reduce(self, arg: Any) -> None:
        args = self.stack.pop()
        self.stack.append(_reduce(self.stack.pop(), args))

    def _build(self, arg: Any) -> None:
        state = self.stack.pop()
        _build(self.stack[-1], state)


def parse_object_array(data: bytes) -> np.ndarray:
    """A 1-D object array of int lists from the pickle numpy writes for it; _Unsafe otherwise."""
    try:
        result = _PickleMachine().run(data)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise _Unsafe(f"it is not a well-formed pickle ({exc})") from None
    if not isinstance(result, _ArrayStub) or result.items is None:
        raise _Unsafe("it is not a numpy object array")
    for item in result.items:
        if not isinstance(item, list) or not all(type(v) is int for v in item):
            raise _Unsafe("its elements are not lists of integers")
    out = np.empty(len(result.items), dtype=object)
    out[:] = result.items
    return out


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str,
                 headers_only: bool = False) -> Optional[np.ndarray]:
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        if not dtype.hasobject:
            if headers_only:
                return None
            fh.seek(0)
            return np.lib.format.read_array(fh, allow_pickle=False)
        try:
            if len(shape) != 1:
                raise _Unsafe("it is not a 1-D object array")
            return parse_object_array(fh.read())
        except _Unsafe as exc:
            raise PickledDataError(f"{where}: refused, {exc}; {CONVERT_HINT}") from None


def load_npz(path: Path, keys: Optional[Sequence[str]] = None) -> dict[str, np.ndarray]:
    """The arrays of an .npz (``keys`` only when given; missing ones are left out).

    Never unpickles: see the module docstring. Raises DatasetError for an unreadable file.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = {m.filename.removesuffix(".npy"): m for m in archive.infolist()}
            wanted = [k for k in (keys if keys is not None else members) if k in members]
            return {k: _read_member(archive, members[k], f"{path} array {k!r}") for k in wanted}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"cannot read {path}: {exc}") from exc


def check_npz(path: Path) -> None:
    """Raise PickledDataError when ``path`` holds an object array that load_npz would refuse.

    Reads only the headers of plain arrays (cheap); object arrays are parsed (never
    unpickled). Other problems are left to load_npz, whose messages say more.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _read_member(archive, info, f"{path} array {info.filename.removesuffix('.npy')!r}", headers_only=True)
    except PickledDataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile):
        return


def npz_names(path: Path) -> list[str]:
    """The array names of an .npz, without reading any array."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [m.filename.removesuffix(".npy") for m in archive.infolist()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc


__all__ = ["PickledDataError", "check_npz", "load_npz", "npz_names", "parse_object_array", "CONVERT_HINT"]
