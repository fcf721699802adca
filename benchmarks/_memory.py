"""Peak-memory readings for the benchmarks (Linux ``/proc``), shared by them."""

from __future__ import annotations

from pathlib import Path


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    msg = f"{key} not in /proc/self/status"
    raise RuntimeError(msg)
