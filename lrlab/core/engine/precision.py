"""Mixed precision and memory layout, as spec options: ``"amp": "bf16"`` runs the forward pass
under ``torch.autocast`` in bfloat16 (weights, gradients and optimizer state stay float32, and
bf16 has float32's range, so no loss scaling is needed), ``"channels_last": true`` stores the
model's 4-D weights and each batch of images NHWC, the layout cuDNN's tensor-core convolutions
want. Both are meant for CUDA GPUs; on a CPU they run (torch has CPU autocast) but rarely help.
A run records both in its environment, so a replay repeats them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from lrlab.core.decl.params import SpecError


def check_options(spec: Any, image_data: bool) -> None:
    """channels_last is a layout of images: refuse it (one line) for any other data."""
    if spec.channels_last and not image_data:
        raise SpecError([("channels_last", "needs image data (4-D batches); this dataset's samples are not images")])


def autocast(spec: Any, device: torch.device) -> Callable[[], Any]:
    """A factory of the context the forward pass runs in: autocast to bf16, or nothing."""
    if spec.amp != "bf16":
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def apply_layout(model: nn.Module, spec: Any) -> nn.Module:
    """The model with its 4-D weights channels-last, when the spec asks for it."""
    return model.to(memory_format=torch.channels_last) if spec.channels_last else model


def layout(x: torch.Tensor, spec: Any) -> torch.Tensor:
    """A batch of images channels-last, when the spec asks for it (other batches as they are)."""
    return x.contiguous(memory_format=torch.channels_last) if spec.channels_last and x.dim() == 4 else x


def environment(spec: Any) -> dict[str, Any]:
    """What a session records about precision and layout (only when either is on)."""
    return {"amp": spec.amp, "channels_last": spec.channels_last} if uses(spec) else {}


def uses(spec: Any) -> bool:
    """True when the spec asks for bf16 or channels-last (the plain float32 NCHW path otherwise)."""
    return spec.amp != "off" or spec.channels_last
