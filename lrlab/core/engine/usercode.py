"""Running your own code: a model's ``build`` and a dataset's ``load`` from a Python file.

The only place lrlab imports a user's file, and only once :func:`lrlab.core.decl.usercode.check_code`
says the user named it in this session (see that module for what counts as naming it). What the
code returns is checked before training, each problem one SpecError naming the field:

- ``build(sample_shape, n_outputs)`` must return a ``torch.nn.Module`` whose output, for a batch
  of two samples, has shape ``(2, n_outputs)`` (checked in eval mode without gradients, so batch
  norm statistics and random generators are untouched and runs stay bit-identical);
- ``load(seed)`` must return four arrays or tensors ``(X_train, y_train, X_val, y_val)``: inputs
  with one row per sample and the same per-sample shape on both sides, labels one per sample
  (integers 0..C-1 for classification, numbers for regression), every value finite.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from lrlab.core.decl import datasets as declared
from lrlab.core.decl.datasets import Samples
from lrlab.core.decl.params import Kinded, SpecError
from lrlab.core.decl.usercode import CodeRef, check_code, parse_entry
from lrlab.core.engine.limits import MAX_PARAMETERS

#: modules imported so far: (file, sha256) -> module (a file is imported once per content)
_MODULES: dict[tuple[Path, str], ModuleType] = {}


def _ref(spec: Kinded, field: str) -> CodeRef:
    file, function = parse_entry(spec["entry"], field)
    return CodeRef(field, file, function, spec["sha256"])


def entry_point(spec: Kinded, field: str, arity: int, signature: str) -> Callable[..., Any]:
    """The function a ``python`` model or dataset names, imported after the consent check; SpecError
    if the file will not import, has no such function, or it cannot take ``arity`` arguments."""
    ref = _ref(spec, field)
    file, sha = check_code(ref)
    module = _MODULES.get((file, sha))
    if module is None:
        name = f"lrlab_user_{sha[:16]}"
        loader_spec = importlib.util.spec_from_file_location(name, file)
        if loader_spec is None or loader_spec.loader is None:
            raise SpecError([(f"{field}.entry", f"{file} is not a Python file lrlab can import")])
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module  # dataclasses and pickling inside the file look themselves up there
        try:
            loader_spec.loader.exec_module(module)
        except Exception as err:  # the user's code: any error is theirs, said in one line
            sys.modules.pop(name, None)
            raise SpecError([(f"{field}.entry", f"importing {file} failed: {type(err).__name__}: {err}")]) from None
        _MODULES[(file, sha)] = module
    fn = getattr(module, ref.function, None)
    if not callable(fn):
        raise SpecError([(f"{field}.entry", f"{file} has no function {ref.function!r} (expected {signature})")])
    try:
        inspect.signature(fn).bind(*range(arity))
    except TypeError:
        raise SpecError([(f"{field}.entry", f"{ref.function}{inspect.signature(fn)} in {file} cannot be called as "
                                            f"{signature}")]) from None
    except ValueError:
        pass  # a builtin without a signature: calling it will tell
    return fn


def build_user_model(spec: Kinded, sample_shape: tuple[int, ...], n_outputs: int) -> nn.Module:
    """``build(sample_shape, n_outputs)`` from the user's file, checked: a Module whose output for
    two samples is ``(2, n_outputs)``."""
    build = entry_point(spec, "model", 2, "build(sample_shape, n_outputs) -> torch.nn.Module")
    try:
        model = build(tuple(sample_shape), int(n_outputs))
    except Exception as err:
        raise SpecError([("model.entry", f"build{(tuple(sample_shape), n_outputs)} failed: "
                                         f"{type(err).__name__}: {err}")]) from None
    if not isinstance(model, nn.Module):
        raise SpecError([("model.entry", f"build must return a torch.nn.Module, got {type(model).__name__}")])
    if not any(p.requires_grad for p in model.parameters()):
        raise SpecError([("model.entry", "build returned a module without trainable parameters")])
    n_params = sum(p.numel() for p in model.parameters())
    if n_params > MAX_PARAMETERS:
        raise SpecError([("model.entry", f"build returned {n_params:,} parameters, more than the "
                                         f"{MAX_PARAMETERS:,} a run may have")])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros((2, *sample_shape)))
    except Exception as err:
        raise SpecError([("model.entry", f"the model fails on a batch of shape {[2, *sample_shape]}: "
                                         f"{type(err).__name__}: {err}")]) from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_outputs):
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise SpecError([("model.entry", f"the model's output for a batch of 2 must have shape [2, {n_outputs}] "
                                         f"({n_outputs} {'classes' if n_outputs > 1 else 'output'}), got {got}")])
    return model


def _array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception:
        arr = None
    if arr is None or arr.dtype == object or arr.dtype.kind not in "biuf":
        what = type(value).__name__ if arr is None else f"{type(value).__name__} of {arr.dtype}"
        raise SpecError([("dataset.entry", f"load(seed) returned {name} as {what}; expected a numeric array or "
                                           "tensor")])
    return arr


def load_user_data(spec: Kinded) -> Samples:
    """``load(seed)`` from the user's file, checked; the Samples hold ``((X_train, X_val), (y_train,
    y_val))`` as float32 inputs and int64 labels (classification) or float32 targets (regression)."""
    load = entry_point(spec, "dataset", 1, "load(seed) -> (X_train, y_train, X_val, y_val)")
    try:
        result = load(int(spec["seed"]))
    except Exception as err:
        raise SpecError([("dataset.entry", f"load({spec['seed']}) failed: {type(err).__name__}: {err}")]) from None
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
        raise SpecError([("dataset.entry", f"load(seed) must return 4 values (X_train, y_train, X_val, y_val), "
                                           f"got {got}")])
    x_tr, y_tr, x_va, y_va = (_array(v, n) for v, n in zip(result, ("X_train", "y_train", "X_val", "y_val"),
                                                             strict=True))
    for x, y, side in ((x_tr, y_tr, "train"), (x_va, y_va, "val")):
        if x.ndim < 2 or len(x) == 0:
            raise SpecError([("dataset.entry", f"X_{side} must have one row per sample (at least 2 dimensions, "
                                               f"at least one row), got shape {list(x.shape)}")])
        if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1):
            raise SpecError([("dataset.entry", f"y_{side} must hold one label per sample (shape [N]), "
                                               f"got shape {list(y.shape)}")])
        if len(y) != len(x):
            raise SpecError([("dataset.entry", f"X_{side} has {len(x)} samples but y_{side} has {len(y)}")])
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise SpecError([("dataset.entry", f"X_{side} or y_{side} holds NaN or infinite values")])
    if x_tr.shape[1:] != x_va.shape[1:]:
        raise SpecError([("dataset.entry", f"X_train's samples have shape {list(x_tr.shape[1:])} but X_val's "
                                           f"{list(x_va.shape[1:])}")])
    classes = spec["n_classes"]
    if spec["task"] == "classification":
        labels = np.concatenate([y_tr.ravel(), y_va.ravel()])
        if (labels != np.round(labels)).any() or labels.min() < 0:
            raise SpecError([("dataset.entry", "classification labels must be whole numbers 0..C-1 (task: "
                                               "'regression' for real-valued targets)")])
        if classes is not None and labels.max() >= classes:
            raise SpecError([("dataset.n_classes", f"is {classes}, but load(seed) returned label {int(labels.max())}")])
        ys = [torch.as_tensor(y.ravel(), dtype=torch.int64) for y in (y_tr, y_va)]
    else:
        ys = [torch.as_tensor(y.reshape(-1, 1), dtype=torch.float32) for y in (y_tr, y_va)]
    xs = [torch.as_tensor(x, dtype=torch.float32) for x in (x_tr, x_va)]
    return Samples(tuple(xs), tuple(ys))


declared.USER_DATA[:] = [load_user_data]
