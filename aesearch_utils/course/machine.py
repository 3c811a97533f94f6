"""What a timing was measured on, written beside it.

The same 2-core budget is not the same speed everywhere: a convolution on a CPU
with AVX-512 runs kernels that an AVX2-only CPU lacks, and the course's
training time moved by a factor of two between two machines of the same
size. Every benchmark and the runner's record of notebook times therefore
store :func:`machine_description`, and the README says the CPU under each
table.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

VECTOR_EXTENSIONS = ("amx_tile", "avx512_vnni", "avx512f", "avx2", "avx")
"""The CPU flags that decide which compute kernels run, most capable first."""


def machine_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """Cores, architecture, CPU model, its widest vector extension, and Python."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:  # not Linux: the architecture alone
        pass
    return {
        "cpus": os.cpu_count(),
        "processor": platform.machine(),
        "cpu_model": model,
        "vector_extension": next((name for name in VECTOR_EXTENSIONS if name in flags), "none"),
        "python": platform.python_version(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """``Measured on 2 CPU cores (AMD EPYC, avx2).``, from a stored description (older records
    have only the architecture)."""
    details = [machine[key] for key in ("cpu_model", "vector_extension") if key in machine]
    details = details or [machine["processor"]]
    return f"Measured on {machine['cpus']} CPU cores ({', '.join(details)})."
