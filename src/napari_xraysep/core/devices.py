"""Where a run computes: the devices this machine offers, the user's choice resolved, and how each
device's allocator says it ran out of memory."""

from __future__ import annotations

import torch

from .errors import InputError


def available_devices() -> list[str]:
    """Devices this machine can train on, best first (for a device picker)."""
    devices = []
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices + ["cpu"]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA, then MPS, then CPU; an explicit device that is absent is an error."""
    if name == "auto":
        return torch.device(available_devices()[0])
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise InputError(f"Unknown device {name!r}; choose auto, cpu, cuda or mps.") from error
    present = available_devices()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"Device {name!r} was asked for, but no CUDA GPU is available; use auto or cpu.")
    if device.type == "cuda" and device.index is not None and f"cuda:{device.index}" not in present:
        raise InputError(f"Device {name!r} does not exist; this machine has {', '.join(present)}.")
    if device.type == "mps" and "mps" not in present:
        raise InputError("Device 'mps' was asked for, but Apple's MPS backend is not available; use auto or cpu.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"Unsupported device {name!r}; choose auto, cpu, cuda or mps.")
    return device


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure: CUDA, MPS and CPU allocators each say it differently."""
    if isinstance(error, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
