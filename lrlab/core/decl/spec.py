"""Run specs: the complete, JSON-serializable description of one experiment.

::

    {"dataset": {"name": "digits", "val_fraction": 0.2},
     "model": {"kind": "mlp", "hidden": [128], "activation": "relu"},
     "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0},
     "schedule": {"kind": "cosine", "T_max": 2000, "eta_min": 0.0},
     "batch_size": 64, "epochs": 10, "seed": 0, "device": "auto"}

Only declarations live here (no torch import), so validating a spec is instant for
the GUI's inline checks and the CLI. Missing fields take their defaults; the
normalised spec (defaults filled) round-trips through JSON unchanged. Datasets are
declared in ``lrlab.core.decl.datasets``; their registry and helpers are re-exported here.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lrlab.core.decl import usercode
from lrlab.core.decl.datasets import (
    DATASETS,
    IMAGE_SETS,  # noqa: F401 (re-exported, as the module says)
    SEQUENCE_SETS,
    dataset_task,
    image_sets,
    train_size,
)
from lrlab.core.decl.lrfree import register as register_lr_free
from lrlab.core.decl.params import (
    INVALID,
    REQUIRED,
    Bool,
    Check,
    Choice,
    Kinded,
    ListOf,
    Num,
    Optional,
    Param,
    Problems,
    Registry,
    SpecError,
    Text,
    check_depth,
    dump_fields,
    join,
    parse_fields,
    show,
)
from lrlab.core.decl.schedules import EDITS, LR, SCHEDULES, Timeline, duration_warnings, resolve_schedule

# --- models -----------------------------------------------------------------------------

MODELS = Registry("model", "kind")
MODELS.register("linear", (), "Logistic regression (classification) or linear regression.")
MODELS.register("mlp", (
    Param("hidden", ListOf(Num(ge=1, le=65536, integer=True), min_len=1), [128], "hidden layer widths"),
    Param("activation", Choice(("relu", "tanh", "gelu", "sigmoid")), "relu", "non-linearity"),
    Param("dropout", Num(ge=0, lt=1), 0.0, "dropout after each hidden layer"),
    Param("batch_norm", Bool(), False, "batch normalisation after each hidden layer"),
), "A multi-layer perceptron.")
MODELS.register("cnn", (
    Param("channels", ListOf(Num(ge=1, le=1024, integer=True), min_len=1, max_len=4), [16, 32],
          "output channels of each conv block (conv -> activation -> 2x2 max-pool)"),
    Param("kernel_size", Num(ge=1, le=7, integer=True), 3,
          "convolution kernel size"),
    Param("hidden", Num(ge=1, le=65536, integer=True), 64, "width of the fully connected layer"),
    Param("activation", Choice(("relu", "tanh", "gelu", "sigmoid")), "relu", "non-linearity"),
    Param("dropout", Num(ge=0, lt=1), 0.0, "dropout before the output layer"),
), "A small LeNet-style convolutional network for images (digits, MNIST family, CIFAR-10).")
# the models where the LR bites (built by lrlab.core.engine.nets)
MODELS.register("resnet", (
    Param("depth", Num(ge=18, le=34, integer=True), 18, "18 or 34: ResNet-18 or ResNet-34 (basic blocks)"),
    Param("width", Num(ge=1, le=256, integer=True), 64, "channels of the first stage (doubled at each of the "
                                                        "3 others); 64 is the paper's, smaller for CPU demos"),
), "A CIFAR-style ResNet (3x3 stem, no max-pool) for 32x32 images.")
MODELS.register("torchvision", (
    Param("name", Text(), "resnet18", "a torchvision.models classifier, e.g. resnet18, vgg11, mobilenet_v2"),
), "Any torchvision.models classifier by name, with random weights (nothing is downloaded; extra 'vision').")
MODELS.register("transformer", (
    Param("layers", Num(ge=1, le=48, integer=True), 2, "transformer blocks"),
    Param("d_model", Num(ge=8, le=4096, integer=True), 128, "width of the residual stream"),
    Param("heads", Num(ge=1, le=64, integer=True), 4, "attention heads (must divide d_model)"),
    Param("norm", Choice(("pre", "post")), "pre", "LayerNorm before each sub-layer (pre) or after its residual "
                                                  "sum (post, which needs warmup at a high LR)"),
    Param("dropout", Num(ge=0, lt=1), 0.0, "dropout on attention and MLP outputs"),
), "A decoder-only transformer (causal attention) for the sequence datasets.")
MODELS.register("python", usercode.MODEL_PARAMS, usercode.MODEL_DOC)

# --- optimizers -------------------------------------------------------------------------


def _check_optimizer(opt: Kinded, path: str, problems: Problems) -> None:
    if opt.kind == "sgd" and opt["nesterov"] and (opt["momentum"] <= 0 or opt["dampening"] != 0):
        problems.add(join(path, "nesterov"), "needs momentum > 0 and dampening = 0")


OPTIMIZERS = Registry("optimizer", "name", check_extra=_check_optimizer)
_LR = LR
_WD = Param("weight_decay", Num(ge=0, le=10), 0.0, "L2 penalty")
_BETAS = Param("betas", ListOf(Num(ge=0, lt=1), 2, 2), [0.9, 0.999],
               "decay rates of the first and second moment estimates")
OPTIMIZERS.register("sgd", (
    Param("lr", _LR, 0.1, "learning rate"),
    Param("momentum", Num(ge=0, lt=1), 0.0, "heavy-ball momentum"),
    Param("dampening", Num(ge=0, le=1), 0.0, "dampening for momentum"),
    Param("nesterov", Bool(), False, "Nesterov momentum"), _WD), "Stochastic gradient descent.")
for _name, _wd in (("adam", 0.0), ("adamw", 0.01)):
    OPTIMIZERS.register(_name, (
        Param("lr", _LR, 1e-3, "learning rate"), _BETAS,
        Param("eps", Num(gt=0, le=1), 1e-8, "added to the denominator"),
        Param("weight_decay", Num(ge=0, le=10), _wd,
              "decoupled weight decay" if _name == "adamw" else "L2 penalty"),
        Param("amsgrad", Bool(), False, "use the AMSGrad variant")),
        "Adam (Kingma & Ba, 2014): per-parameter steps from moment estimates." if _name == "adam"
        else "AdamW: Adam with decoupled weight decay.")
OPTIMIZERS.register("rmsprop", (
    Param("lr", _LR, 1e-2, "learning rate"),
    Param("alpha", Num(ge=0, lt=1), 0.99, "smoothing constant of the squared-gradient average"),
    Param("eps", Num(gt=0, le=1), 1e-8, "added to the denominator"),
    Param("momentum", Num(ge=0, lt=1), 0.0, "momentum"),
    Param("centered", Bool(), False, "normalise by the gradient's variance"), _WD),
    "RMSProp: divides by a moving average of squared gradients.")
OPTIMIZERS.register("adagrad", (
    Param("lr", _LR, 1e-2, "learning rate"),
    Param("lr_decay", Num(ge=0, le=1), 0.0, "learning rate decay"),
    Param("eps", Num(gt=0, le=1), 1e-10, "added to the denominator"),
    Param("initial_accumulator_value", Num(ge=0), 0.0, "start of the squared-gradient sum"), _WD),
    "AdaGrad (2011): divides by the root of accumulated squared gradients.")
register_lr_free(OPTIMIZERS)  # Prodigy, Schedule-Free AdamW and SGD (extra `autotune`)

#: the optimizer hyperparameters a mid-run "optimizer" edit (or a fork's change) may set: the
#: fields that edit declares in ``schedules.EDITS``, read from there so the list exists once
OPTIMIZER_FIELDS: tuple[str, ...] = tuple(p.name for p in EDITS.params_of("optimizer"))


def editable_hyperparameters(optimizer: Kinded) -> tuple[str, ...]:
    """Which of :data:`OPTIMIZER_FIELDS` this optimizer has, so which an edit of its run may
    change (SGD has no betas, Adam no momentum): the edit panel offers these and no others."""
    return tuple(k for k in OPTIMIZER_FIELDS if k in optimizer.params)

# --- the run spec -----------------------------------------------------------------------

#: the longest run: every schedule is finite up to here (tests/core/test_schedules.py), and whether a run
#: sets ``steps`` or ``epochs``, it may not plan more
MAX_STEPS = 100_000_000

#: torch intra-op threads a run may ask for (torch crashes on absurd counts such as 100,000)
THREADS = Optional(Num(ge=1, le=1024, integer=True))

DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Device(Check):
    def parse(self, value: Any, path: str, problems: Problems) -> Any:
        if not isinstance(value, str) or not DEVICE_RE.match(value):
            problems.add(path, f"must be one of auto, cpu, cuda, cuda:N, mps, got {show(value)}")
            return INVALID
        return value


def _f(check: Check, default: Any, help: str) -> Any:
    return field(metadata={"param": (check, default, help)})


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """A validated run spec. Build it with :meth:`from_json`; fields document themselves."""

    dataset: Kinded = _f(DATASETS, {"name": "digits"}, "what to learn")
    model: Kinded = _f(MODELS, {"kind": "mlp"}, "the network")
    optimizer: Kinded = _f(OPTIMIZERS, {"name": "sgd"}, "torch.optim optimizer and its base LR")
    schedule: Kinded = _f(SCHEDULES, {"kind": "constant"}, "how the LR changes over steps")
    batch_size: int = _f(Num(ge=1, le=1_000_000, integer=True), 64, "samples per step")
    epochs: int = _f(Num(ge=1, le=100_000, integer=True), 10, "passes over the training set")
    steps: int | None = _f(Optional(Num(ge=1, le=MAX_STEPS, integer=True)), None,
                           "total optimizer steps; null: epochs x steps per epoch")
    seed: int = _f(Num(ge=0, le=2**63 - 1, integer=True), 0,
                   "seeds initialisation, batch order and dropout")
    device: str = _f(Device(), "auto", "auto picks CUDA, then MPS, then the CPU")
    drop_last: bool = _f(Bool(), False, "skip the last partial batch of each epoch")
    eval_every: int | None = _f(Optional(Num(ge=1, integer=True)), None,
                                "steps between validations; null: about 50 per run")
    diverge_factor: float = _f(Num(gt=1), 50.0,
                               "stop as diverged when the loss exceeds this many times the first loss")
    threads: int | None = _f(THREADS, None, "torch intra-op threads; null: chosen from the model size")
    deterministic: bool = _f(Bool(), False, "torch.use_deterministic_algorithms (slower on GPUs)")
    amp: str = _f(Choice(("off", "bf16")), "off",
                  "mixed precision: bf16 runs the forward pass in bfloat16 (for CUDA GPUs); off: float32")
    channels_last: bool = _f(Bool(), False, "images and conv weights in channels-last memory (for CUDA GPUs)")
    update_ratio_every: int = _f(Num(ge=1, integer=True), 10,
                                 "steps between measurements of ||dw|| / ||w||")
    noise_scale_every: int = _f(Num(ge=1, integer=True), 20,
                                "steps between measurements of the gradient noise scale B_simple (one extra "
                                "backward pass on half the batch each)")
    effective_lr_every: int | None = _f(Optional(Num(ge=1, integer=True)), None,
                                        "steps between records of the per-parameter effective LR; null: every "
                                        "50 steps (under 5% of a small model's training time), at most 1,000 "
                                        "records a run")

    @classmethod
    def params(cls) -> tuple[Param, ...]:
        return tuple(Param(f.name, *f.metadata["param"]) for f in fields(cls))

    @classmethod
    def from_json(cls, data: Any, path: str = "") -> RunSpec:
        """Validate ``data``; raises SpecError listing every problem with its field path."""
        check_depth(data, path)
        problems = Problems()
        values = parse_fields(data, path, cls.params(), problems)
        problems.raise_if_any()
        model, dataset = values["model"], values["dataset"]
        if model.kind in ("cnn", "resnet", "torchvision") and dataset.kind not in image_sets():
            problems.add(join(path, "model.kind"), f"{model.kind} needs image data ({', '.join(image_sets())}), "
                                                   f"got dataset {dataset.kind!r}")
        if (model.kind == "transformer") != (dataset.kind in SEQUENCE_SETS):
            problems.add(join(path, "model.kind"), f"the sequence datasets ({', '.join(SEQUENCE_SETS)}) need "
                                                   f"model transformer, and it needs one of them; got model "
                                                   f"{model.kind!r} on dataset {dataset.kind!r}")
        if model.kind == "resnet" and model["depth"] not in (18, 34):
            problems.add(join(path, "model.depth"), f"must be 18 or 34, got {model['depth']}")
        if model.kind == "transformer" and model["d_model"] % model["heads"]:
            problems.add(join(path, "model.heads"), f"must divide d_model ({model['d_model']}), got {model['heads']}")
        problems.raise_if_any()
        spec = cls(**values)
        if spec.steps is None and planned_steps(spec) > MAX_STEPS:
            problems.add(join(path, "epochs"), f"{spec.epochs:,} epochs of {planned_steps_per_epoch(spec):,} steps "
                                               f"is more than the {MAX_STEPS:,} steps a run may have")
        problems.raise_if_any()
        return spec

    def to_json(self) -> dict[str, Any]:
        return dump_fields({f.name: getattr(self, f.name) for f in fields(self)}, self.params())

    @property
    def task(self) -> str:
        """'classification' or 'regression' (your files' or your code's data say which)."""
        return dataset_task(self.dataset)

    @property
    def lr(self) -> float:
        return self.optimizer["lr"]

    def resolved(self, total_steps: int, steps_per_epoch: int) -> RunSpec:
        """This spec with the schedule's relative durations ("run", "25%", "3ep") in whole steps
        for a run of ``total_steps`` steps: what a run starts with and its session stores."""
        schedule = resolve_schedule(self.schedule, total_steps, steps_per_epoch)
        return self if schedule is self.schedule else replace(self, schedule=schedule)

    def offline(self) -> RunSpec:
        """This spec with downloads switched off: how a spec read from a session runs (a replay, a
        re-run, the GUI's Open). Only the user's own ``lrlab run --download`` or the Download box
        may fetch files or create folders; a file from elsewhere must not make lrlab do either."""
        if not self.dataset.get("download"):
            return self
        return replace(self, dataset=self.dataset.replace(download=False))

    def with_changes(self, changes: Mapping[str, Any]) -> RunSpec:
        """A copy with dotted-path changes, e.g. ``{"optimizer.lr": 0.01}``; validated again.

        A spec keeps no record of what its author wrote, so switching a kind
        (``{"optimizer.name": "adam"}``) drops the old kind's fields that the new one lacks
        while they hold their defaults; a changed value stays and is reported. With the JSON
        as written, :func:`apply_changes` is exact."""
        data = self.to_json()
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            obj: Any = self
            node: Any = data
            for key in parents:
                obj = getattr(obj, key, None) if isinstance(obj, RunSpec) else (
                    obj.params.get(key) if isinstance(obj, Kinded) else None)
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(obj, Kinded) and isinstance(node, dict) and last == obj.tag:
                _drop_defaults_of_old_kind(node, obj, value)
        return RunSpec.from_json(apply_changes(data, changes))


def apply_changes(data: Any, changes: Mapping[str, Any]) -> Any:
    """Run spec JSON as the user wrote it, with dotted-path changes applied (``--set``), as a new
    object. Changes go in before validation fills defaults, so ``optimizer.name=adam`` on an
    Adagrad spec does not drag Adagrad's defaulted fields along; objects missing on the way
    are created (``optimizer.lr`` in a spec that never named an optimizer)."""
    if not isinstance(data, Mapping):
        return data  # validation says what is wrong with it
    out = copy.deepcopy(dict(data))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = out
        for i, key in enumerate(parents):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = ".".join(parents[:i + 1])
                raise SpecError([(dotted, f"no such field to set: {where} is {show(child)}, not an object")])
            node = child
        node[last] = value
    return out


def _drop_defaults_of_old_kind(node: dict[str, Any], old: Kinded, new_kind: Any) -> None:
    registry = old.registry
    if new_kind == old.kind or new_kind not in registry.kinds:
        return
    keep = {p.name for p in registry.params_of(new_kind)}
    for p in registry.params_of(old.kind):
        if p.name not in keep and p.default is not REQUIRED and node.get(p.name) == p.default:
            del node[p.name]


def planned_steps_per_epoch(spec: RunSpec) -> int:
    """Optimizer steps per pass over the training set, without loading anything."""
    n = train_size(spec.dataset)
    per_epoch = n // spec.batch_size if spec.drop_last else math.ceil(n / spec.batch_size)
    return max(per_epoch, 1)


def planned_steps(spec: RunSpec) -> int:
    """Total optimizer steps of a run: ``steps``, or epochs x steps per epoch."""
    return spec.steps or spec.epochs * planned_steps_per_epoch(spec)


def preview_timeline(spec: RunSpec) -> Timeline:
    """The planned LR of a spec as written (durations like "run" resolved against the run it
    describes), for previews before a run starts: ``preview_timeline(spec).sample(0, planned_steps(spec))``."""
    resolved = spec.resolved(planned_steps(spec), planned_steps_per_epoch(spec))
    return Timeline(resolved.schedule, resolved.lr)


def schedule_warnings(spec: RunSpec, total_steps: int | None = None,
                      steps_per_epoch: int | None = None) -> list[str]:
    """Where the schedule's durations do not fit the run (a cosine that restarts, a one-cycle
    that ends early, a decay that never comes), one sentence each, naming the field.
    The run's length is planned from the spec unless the trainer's actual numbers are given."""
    total = planned_steps(spec) if total_steps is None else total_steps
    per_epoch = planned_steps_per_epoch(spec) if steps_per_epoch is None else steps_per_epoch
    return duration_warnings(spec.schedule, total, per_epoch)


# --- files ------------------------------------------------------------------------------


def read_json(path: str | Path) -> Any:
    """Read a JSON file; problems become one SpecError line naming the file."""
    from lrlab.core.decl.files import read_text

    p = Path(path)
    try:
        return json.loads(read_text(p))  # a regular file of at most 1 MB: never /dev/zero or a FIFO
    except FileNotFoundError:
        raise SpecError([(str(p), "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError([(str(p), f"cannot read: {err}")]) from None
    except json.JSONDecodeError as err:
        raise SpecError([(str(p), f"not valid JSON: {err.msg} at line {err.lineno}, "
                                  f"column {err.colno}")]) from None
    except RecursionError:
        raise SpecError([(str(p), "not a spec: JSON nested too deep to read (specs nest at most 24 levels)")]) from None
    except ValueError as err:  # an integer of more than 4,300 digits; a special or oversized file
        raise SpecError([(str(p), f"not a spec: {err}")]) from None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}; lists stay values: how a spec's fields
    are named in tables (compare, the session library, TensorBoard's hyperparameters)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: data}


def unwrap_preset(data: Any) -> Any:
    """Presets wrap a run spec with a title and an explanation; return the spec part."""
    if isinstance(data, Mapping) and "spec" in data and ("title" in data or "explanation" in data):
        return data["spec"]
    return data


def load_spec(path: str | Path) -> RunSpec:
    """A run spec from a spec file or a preset file."""
    return RunSpec.from_json(unwrap_preset(read_json(path)))
