"""Durations as a person reads them, for progress lines (plain Python, imported by the
command line and the jobs alike)."""


def duration(seconds: float) -> str:
    """`seconds` as a person reads it: 40 s, 12 min, 2.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
