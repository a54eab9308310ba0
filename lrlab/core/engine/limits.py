"""What a run would cost the machine, worked out from its spec before anything is allocated.

A spec is validated field by field (``core/spec.py``), but fields that are each fine can still
ask for more than the machine has together: a million samples of 10,000 features, hidden
layers 65,536 wide, a hundred million steps kept in memory. A spec from a session someone
sent is validated like the user's own, so without this a replay could try to allocate 74 GiB
and take the machine down with it. :func:`check_resources` estimates the parameter count and
the memory from the declarations alone (dataset sizes and features, layer widths, batch size,
steps) and refuses, with a SpecError naming the field that costs most, a run that would not
fit. ``lrlab run``, replays and the GUI's Start all build their runner through a check here.

The estimate is deliberately generous (an upper bound, not a measurement): refusing a run that
would have just fitted costs a message; starting one that does not fit can freeze the desktop.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from lrlab.core.decl.datasets import DECLARED, IMAGES
from lrlab.core.decl.metrics import EVAL_COLUMNS, STEP_COLUMNS
from lrlab.core.decl.params import SpecError
from lrlab.core.decl.spec import RunSpec, planned_steps
from lrlab.core.engine import nets

#: the largest model lrlab trains: its demos use under a million parameters, and at 50 million
#: one step on a CPU already takes seconds
MAX_PARAMETERS = 50_000_000
#: share of the available memory a run may plan to use (the rest is the GUI, the OS, other work)
MEMORY_SHARE = 0.5
#: share of a GPU's free memory a run may plan to use (the rest: CUDA's context and its caching
#: allocator's rounding, which the estimate does not count)
DEVICE_SHARE = 0.8

_FLOAT = 4  # bytes of a float32 tensor element
#: bytes per model parameter: the weights, their gradient, two optimizer moments (Adam) and the
#: copies the update-ratio and effective-LR probes take
_PER_PARAMETER = 6 * _FLOAT
#: bytes per input value of a tabular dataset: scikit-learn's float64 arrays, the split's copies,
#: the scaled copies and the float32 tensors, alive together while the data loads
_PER_TABULAR_VALUE = 4 * 8
_PER_IMAGE_VALUE = 3  # uint8 files, the split's indexed copies, the test split
#: bytes per step kept in memory: every step column as float64, in the run's own keep (which
#: goes on when the session file cannot be written) and the window's plot buffers
_PER_STEP = 2 * 8 * (len(STEP_COLUMNS) + len(EVAL_COLUMNS))


@dataclass(frozen=True)
class Footprint:
    """A run's estimated cost. ``parts`` maps (what, field to blame) to bytes."""

    parameters: int
    parts: dict[tuple[str, str], int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def _outputs(spec: RunSpec) -> int:
    info = DECLARED[spec.dataset.kind]
    if info.task == "regression":
        return 1
    params = spec.dataset.params
    # declared, or set by a parameter of a generated set; else as many as any of those allows
    return int(info.classes or params.get("centers") or params.get("n_classes") or 100)


def _model(spec: RunSpec, features: int, outputs: int) -> tuple[int, int, str]:
    """(parameters, activation values per sample, the field that sets its size)."""
    m = spec.model
    if m.kind in nets.KINDS:  # resnet, torchvision, transformer: measured on the meta device
        info = DECLARED[spec.dataset.kind]
        image = info.image_shape
        sample = tuple(image) if info.family is IMAGES and image else (features,)  # as the data loads
        n_params, per_sample = nets.estimate(m, sample, image, outputs, image is None, MAX_PARAMETERS)
        blame = {"transformer": "model.layers", "torchvision": "model.name"}.get(m.kind, "model.kind")
        return n_params, per_sample, blame
    if m.kind == "cnn":
        c, h, w = DECLARED[spec.dataset.kind].image_shape or (1, 1, features)
        k, params, acts = m["kernel_size"], 0, features
        for out in m["channels"]:
            params += c * out * k * k + out
            acts += 2 * out * h * w  # the convolution's output and its activation, before pooling
            if min(h, w) >= 2:
                h, w = h // 2, w // 2
            c = out
        params += c * h * w * m["hidden"] + m["hidden"] + m["hidden"] * outputs + outputs
        return params, acts + 2 * m["hidden"] + outputs, "model.channels"
    widths = [features, *(m["hidden"] if m.kind == "mlp" else ()), outputs]
    params = sum(a * b + b for a, b in itertools.pairwise(widths))
    if m.kind == "mlp" and m["batch_norm"]:
        params += 2 * sum(m["hidden"])
    # each hidden layer: the linear output, batch norm, activation and dropout keep a copy each
    return params, features + 4 * sum(widths[1:-1]) + outputs, "model.hidden" if m.kind == "mlp" else "model"


def footprint(spec: RunSpec, members: int = 1) -> Footprint:
    """The parameter count and memory of a run of ``spec`` (a sweep: ``members`` models at once,
    sharing one dataset), from declarations only: nothing is loaded or built."""
    info = DECLARED[spec.dataset.kind]
    params = spec.dataset.params
    n, features = info.n_samples(params), info.n_features(params)
    n_params, per_sample, model_field = _model(spec, features, _outputs(spec))
    images = info.family is IMAGES
    data_field = (f"dataset.{info.size}" if isinstance(info.size, str) else
                  "dataset.subset" if "subset" in params else "dataset.name")
    batch = min(spec.batch_size, n)
    parts = {
        ("data", data_field): n * features * (_PER_IMAGE_VALUE if images else _PER_TABULAR_VALUE),
        ("model", model_field): members * n_params * _PER_PARAMETER,
        # forward values and their gradients for a batch (validation runs in batches of the same order)
        ("activations", "batch_size"): members * 3 * batch * per_sample * _FLOAT,
        ("steps kept", "steps"): members * planned_steps(spec) * _PER_STEP,
    }
    return Footprint(n_params, parts)


def available_memory() -> int | None:
    """Bytes of memory available to a new run now (Linux MemAvailable, else free pages), or None
    where the system does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this system (macOS, Windows)
        return None


def device_memory(device: torch.device) -> int | None:
    """Bytes free on a CUDA device now (``torch.cuda.mem_get_info``); None elsewhere: the CPU
    and Apple's MPS (whose unified memory is the host's) are covered by the host's check."""
    if device.type != "cuda":
        return None
    try:
        return int(torch.cuda.mem_get_info(device)[0])
    except (RuntimeError, AssertionError):  # a driver that will not say: the run reports its own OOM
        return None


def check_resources(spec: RunSpec, members: int = 1, available: int | None = None,
                    device: torch.device | None = None) -> Footprint:
    """Refuse a run that would not fit: more than :data:`MAX_PARAMETERS` parameters per model, an
    estimated memory above :data:`MEMORY_SHARE` of ``available`` (default: what the system has
    available now), or, on a CUDA ``device``, data, models and activations above
    :data:`DEVICE_SHARE` of what is free on it (the steps kept stay on the host). The SpecError
    names the field that costs most and what it costs."""
    cost = footprint(spec, members)
    if cost.parameters > MAX_PARAMETERS:
        field = next(f for (what, f) in cost.parts if what == "model")
        raise SpecError([(field, f"the model would have {cost.parameters:,} parameters, more than the "
                                 f"{MAX_PARAMETERS:,} lrlab trains; use smaller layers or fewer inputs")])
    available = available_memory() if available is None else available
    if available is not None and cost.total > MEMORY_SHARE * available:
        _refuse(cost.parts, "memory", available, "available")
    free = device_memory(device) if device is not None else None
    on_device = {key: n for key, n in cost.parts.items() if key[0] != "steps kept"}
    if free is not None and sum(on_device.values()) > DEVICE_SHARE * free:
        _refuse(on_device, f"memory on {device}", free, f"free on {device}")
    return cost


def _refuse(parts: dict[tuple[str, str], int], memory: str, have: int, state: str) -> None:
    """The SpecError of a run that needs more ``memory`` than ``have``: blame the dearest part."""
    (what, field), biggest = max(parts.items(), key=lambda item: item[1])
    raise SpecError([(field, f"the run would need about {_size(sum(parts.values()))} of {memory} ({what} "
                             f"{_size(biggest)}) but {_size(have)} are {state}; make {field} smaller")])


def _size(n: float) -> str:
    """Bytes in words: 512 B, 3.4 MiB, 74.5 GiB."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    i = min(int(math.log(max(n, 1), 1024)), len(units) - 1)
    return f"{n / 1024 ** i:.3g} {units[i]}" if i else f"{int(n)} B"
