"""Choosing the torch device: ``auto`` prefers CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

from lrlab.core.decl.params import SpecError


def cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """Devices this machine has, best first, as a spec's ``device`` field names them."""
    out = [f"cuda:{i}" for i in range(cuda_count())]
    if mps_available():
        out.append("mps")
    return [*out, "cpu"]


def resolve_device(name: str) -> torch.device:
    """The torch.device for a spec's ``device``; a missing device is a field error."""
    have = available_devices()
    if name == "auto":
        return torch.device(have[0])
    wanted = "cuda:0" if name == "cuda" else name
    if wanted not in have:
        raise SpecError([("device", f"{name!r} is not available on this machine "
                                    f"(available: {', '.join(['auto', *have])})")])
    return torch.device(wanted)


def describe_device(device: torch.device) -> str:
    """A human name: the GPU model on CUDA, else the device type."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    import platform

    return platform.processor() or platform.machine() or "cpu"


def cpu_kernels() -> str:
    """The instruction set torch's CPU kernels were chosen for (``AVX2``, ``AVX512``, ``DEFAULT``…).

    The same versions, seed and thread count still round differently on a processor whose
    vector width differs, so a replay on another machine names this when its numbers differ."""
    return torch.backends.cpu.get_cpu_capability()

