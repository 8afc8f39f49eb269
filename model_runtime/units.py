"""Bytes, speeds and times left in the short forms Ponder shows (window and CLI alike)."""

from __future__ import annotations

KIB, MIB, GIB = 1024, 1024**2, 1024**3


def size_text(n: float) -> str:
    """4.68 GiB, 812 MiB, 3.2 KiB."""
    if n >= GIB:
        return f"{n / GIB:.2f} GiB" if n < 100 * GIB else f"{n / GIB:.0f} GiB"
    if n >= MIB:
        return f"{n / MIB:.0f} MiB" if n >= 100 * MIB else f"{n / MIB:.1f} MiB"
    if n >= KIB:
        return f"{n / KIB:.1f} KiB"
    return f"{int(n)} B"


def gib_text(n: float, decimals: int = 1) -> str:
    """Memory in GiB with a fixed number of decimals, as plans and hardware are described."""
    return f"{n / GIB:.{decimals}f} GiB"


def speed_text(bytes_per_second: float) -> str:
    """12.3 MiB/s; empty when nothing moves."""
    return f"{size_text(bytes_per_second)}/s" if bytes_per_second > 0 else ""


def eta_text(seconds: float | None) -> str:
    """About how long is left: '40 s left', '12 min left', '2 h 5 min left'; empty if unknown."""
    if seconds is None:
        return ""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s left"
    if s < 3600:
        return f"{round(s / 60)} min left"
    return f"{s // 3600} h {s % 3600 // 60} min left"


def count_text(n: int) -> str:
    """1.2M, 34.5k, 812."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)
