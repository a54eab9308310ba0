"""Snapshots: a training run's exact state at a step, in memory and as bytes in a session file.

A snapshot holds what the next steps depend on: the model's state (parameters and buffers),
the optimizer's state and hyperparameters, every random generator (torch's global one, the
batch order's, numpy's and Python's) and the plateau schedule's memory. With it, and the run's
spec and edits, a trainer continues bit for bit as the original did: that is how a *fork*
starts from any step.

In memory a snapshot is tensors cloned on the run's device (cheap: no copy to the host while
training). Only the session writer turns it into bytes: one blob, the tensors' raw bytes one
after another, and a JSON header that names each tensor's ``name``, ``dtype``, ``shape``,
``offset`` and ``nbytes``, plus the JSON ``state``. No pickle and no ``torch.load``: reading
checks the header strictly (known dtype names only, sizes that add up exactly, bounded
counts) before any byte becomes a tensor, so a hostile file gives a :class:`SnapshotError`
and nothing else.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

#: the snapshot header's own format (inside the session format)
HEADER_VERSION = 1
#: dtype names a snapshot may hold -> (torch dtype, little-endian numpy dtype of the bytes)
DTYPES: dict[str, tuple[torch.dtype, str]] = {
    "float64": (torch.float64, "<f8"), "float32": (torch.float32, "<f4"), "float16": (torch.float16, "<f2"),
    "bfloat16": (torch.bfloat16, "<i2"),  # numpy has no bfloat16: its bytes travel as int16
    "int64": (torch.int64, "<i8"), "int32": (torch.int32, "<i4"), "int16": (torch.int16, "<i2"),
    "int8": (torch.int8, "i1"), "uint8": (torch.uint8, "u1"), "bool": (torch.bool, "?"),
}
_NAMES = {dtype: name for name, (dtype, _) in DTYPES.items()}
#: bounds a header must keep: a file cannot make the reader allocate or loop without limit
MAX_HEADER_CHARS = 4 * 2**20
MAX_TENSORS = 10_000
MAX_DIMS = 8
MAX_NAME_CHARS = 300


class SnapshotError(ValueError):
    """A snapshot that cannot be used (damaged or hostile bytes, or another model's state)."""


@dataclass
class Snapshot:
    """The state before step ``step`` runs (so before that step's edits apply).

    ``tensors`` are named ``model.<state_dict key>``, ``optimizer.<param index>.<state key>`` and
    ``rng.<generator>``; ``state`` is JSON (first loss, optimizer hyperparameters, the timeline's
    plateau memory, the non-tensor parts of numpy's and Python's generator states)."""

    step: int
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.numel() for t in self.tensors.values())

    def encode(self) -> tuple[str, bytes]:
        """(JSON header, blob): the tensors' bytes are copied to the host here, not before."""
        entries, parts, offset = [], [], 0
        for name, t in self.tensors.items():
            t = t.detach().cpu().contiguous()
            dtype = _NAMES.get(t.dtype)
            if dtype is None:
                raise SnapshotError(f"snapshot tensor {name}: dtype {t.dtype} cannot be stored")
            raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()
            data = np.ascontiguousarray(raw, dtype=DTYPES[dtype][1]).tobytes()
            entries.append({"name": name, "dtype": dtype, "shape": list(t.shape), "offset": offset,
                            "nbytes": len(data)})
            parts.append(data)
            offset += len(data)
        header = {"version": HEADER_VERSION, "step": self.step, "state": self.state, "tensors": entries}
        return json.dumps(header), b"".join(parts)

    @classmethod
    def decode(cls, header_text: str, blob: bytes) -> Snapshot:
        """Check ``header_text`` strictly against ``blob`` and build CPU tensors from the bytes."""
        if not isinstance(header_text, str) or len(header_text) > MAX_HEADER_CHARS:
            raise SnapshotError("snapshot header is not text of at most 4 MiB")
        try:
            header = json.loads(header_text)
        except (ValueError, RecursionError) as err:  # ValueError: bad JSON, or an integer of 4,300+ digits
            why = "a number of over 4,300 digits" if "digits" in str(err) else str(err)[:120]
            raise SnapshotError(f"snapshot header is not JSON ({why})") from None
        if not isinstance(header, dict) or header.get("version") != HEADER_VERSION:
            raise SnapshotError(f"snapshot header is not a version-{HEADER_VERSION} header object")
        step, state, entries = header.get("step"), header.get("state"), header.get("tensors")
        if type(step) is not int or not 0 <= step < 2**63:
            raise SnapshotError(f"snapshot step must be a whole number >= 0, got {step!r}")
        if not isinstance(state, dict):
            raise SnapshotError("snapshot state must be an object")
        if not isinstance(entries, list) or len(entries) > MAX_TENSORS:
            raise SnapshotError(f"snapshot tensors must be a list of at most {MAX_TENSORS}")
        if not isinstance(blob, bytes):
            raise SnapshotError("snapshot data is not a blob")
        tensors: dict[str, torch.Tensor] = {}
        offset = 0
        for i, e in enumerate(entries):
            name, dtype, shape, nbytes = _check_entry(i, e, offset, tensors)
            if offset + nbytes > len(blob):
                raise SnapshotError(f"snapshot tensor {name}: {nbytes} bytes at {offset} run past the "
                                    f"data's {len(blob)} bytes")
            torch_dtype, np_dtype = DTYPES[dtype]
            arr = np.frombuffer(blob, dtype=np_dtype, count=math.prod(shape), offset=offset).reshape(shape)
            t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
            tensors[name] = t.view(torch.bfloat16) if torch_dtype == torch.bfloat16 else t
            offset += nbytes
        if offset != len(blob):
            raise SnapshotError(f"snapshot data has {len(blob) - offset} bytes no tensor names")
        return cls(step, tensors, state)


def _check_entry(i: int, e: Any, offset: int, seen: dict[str, torch.Tensor]) -> tuple[str, str, list[int], int]:
    """One tensor's header, checked: (name, dtype, shape, nbytes); SnapshotError if anything is off."""
    if not isinstance(e, dict):
        raise SnapshotError(f"snapshot tensor #{i}: not an object")
    name, dtype, shape, at, nbytes = (e.get(k) for k in ("name", "dtype", "shape", "offset", "nbytes"))
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS or name in seen:
        raise SnapshotError(f"snapshot tensor #{i}: name must be a new text of 1 to {MAX_NAME_CHARS} characters")
    if dtype not in DTYPES:
        raise SnapshotError(f"snapshot tensor {name}: unknown dtype {str(dtype)[:40]!r} "
                            f"(known: {', '.join(DTYPES)})")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or any(type(d) is not int or not 0 <= d < 2**40 for d in shape)):
        raise SnapshotError(f"snapshot tensor {name}: shape must be a list of at most {MAX_DIMS} whole "
                            "numbers >= 0")
    if type(at) is not int or at != offset:
        raise SnapshotError(f"snapshot tensor {name}: offset {at!r}, expected {offset} (tensors follow "
                            "each other)")
    expected = math.prod(shape) * np.dtype(DTYPES[dtype][1]).itemsize
    if type(nbytes) is not int or nbytes != expected:
        raise SnapshotError(f"snapshot tensor {name}: {nbytes!r} bytes do not match shape {shape} of "
                            f"{dtype} ({expected} bytes)")
    return name, dtype, shape, nbytes


class SnapshotStore:
    """The snapshots a run keeps in memory: newest last, the oldest dropped beyond ``budget`` bytes
    (the newest is always kept, whatever its size)."""

    def __init__(self, budget: int):
        self.budget = budget
        self._items: deque[Snapshot] = deque()
        self.nbytes = 0

    def add(self, snapshot: Snapshot) -> None:
        self._items.append(snapshot)
        self.nbytes += snapshot.nbytes
        while self.nbytes > self.budget and len(self._items) > 1:
            self.nbytes -= self._items.popleft().nbytes

    def steps(self) -> list[int]:
        return [s.step for s in self._items]

    def before(self, step: int) -> Snapshot | None:
        """The latest kept snapshot at or before ``step``."""
        return next((s for s in reversed(self._items) if s.step <= step), None)


# --- on disk: a budget of snapshots, recent ones dense, older ones thinned -----------------------


@dataclass(frozen=True)
class DiskPolicy:
    """How many snapshots a session file keeps: a budget relative to the model's state.

    ``slots(size) = max(copies, floor_bytes // size)`` snapshots of ``size`` bytes each: a small
    model keeps every snapshot of any run a laptop makes (an MLP's is ~0.1 MB: 640 slots, 320,000
    steps), a ResNet-18 with momentum (~90 MB) keeps ``copies`` (10: about 0.9 GB). Which ones
    :func:`thin` says; the session writer deletes the others in the transaction that adds the
    new one, so a file never holds fewer (or more) than the policy's set at any commit.
    """

    #: steps between two snapshots the trainer takes (``Trainer.snapshot_every``)
    every: int = 500
    #: snapshots kept whatever their size: the budget is this many copies of the model's state
    copies: int = 10
    #: bytes a session may spend on snapshots when that is more than ``copies`` of them
    floor_bytes: int = 64 * 2**20

    def slots(self, snapshot_bytes: int) -> int:
        return max(self.copies, 2, self.floor_bytes // max(1, snapshot_bytes))

    def to_json(self) -> dict[str, int]:
        return {"every": self.every, "copies": self.copies, "floor_bytes": self.floor_bytes}


def thin(steps: Iterable[int], slots: int, every: int) -> tuple[set[int], int]:
    """(the snapshot steps to keep, their spacing ``s``) of at most ``slots`` snapshots.

    The older ones form a grid: the steps that are multiples of ``s = every * 2**j``, with ``j``
    the smallest that leaves them at most ``slots - 1`` (each time the grid fills, every other
    one goes: older snapshots thin geometrically as the run grows). The slots left hold the newest
    steps, at the trainer's own spacing (recent ones dense: a fork near the end re-runs little).
    Since the trainer snapshots every multiple of ``every`` and the grid keeps every multiple of
    ``s`` up to the newest, **a fork anywhere re-runs at most ``s - 1`` steps**, with
    ``s <= max(every, 2 * T / (slots - 1))`` for a run of ``T`` steps. ``s`` only grows as steps
    are added, so what is dropped is never needed again. Step 0 is never on the grid: a fork
    before the first snapshot re-runs from the spec's own start, which needs no snapshot.
    """
    ordered = sorted(set(steps))
    if len(ordered) <= slots:
        return set(ordered), every
    # the spacing follows the newest step alone, so it only grows (every multiple of the new
    # spacing is a multiple of the old one, all of them still there); the steps present would
    # not do: once thinned, counting them could shrink the spacing and leave a hole in the grid
    spacing, newest_step = every, ordered[-1]
    while newest_step // spacing > slots - 1:
        spacing *= 2
    grid = {t for t in ordered if t > 0 and t % spacing == 0}
    newest = [t for t in reversed(ordered) if t not in grid][: slots - len(grid)]
    return grid | set(newest), spacing


def rerun_bound(snapshot_steps: Iterable[int], start: int, end: int) -> int:
    """The most steps a fork of a run recorded from ``start`` to ``end`` (exclusive) re-runs from
    its nearest snapshot (or from ``start``, with none before it): the longest gap, measured."""
    points = sorted({start, *(t for t in snapshot_steps if start <= t < end)})
    gaps = [b - a for a, b in itertools.pairwise([*points, end])]
    return max(0, max(gaps, default=0) - 1)
