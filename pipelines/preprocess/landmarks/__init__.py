"""Landmark backends behind one interface, chosen by name."""

from __future__ import annotations

from pipelines.preprocess.landmarks.base import LandmarkBackend, LandmarkModelUnavailable

BACKENDS = ("dlib", "mesh", "fan")


def make_backend(name: str, upsample: int = 0, device: str = "cpu") -> LandmarkBackend:
    """An unloaded backend by name: 'mesh' (the offline default), 'dlib' (offline too) or
    'fan' (downloads its weights)."""
    if name == "dlib":
        from pipelines.preprocess.landmarks.dlib_backend import DlibBackend
        return DlibBackend(upsample=upsample)
    if name == "mesh":
        from pipelines.preprocess.landmarks.mesh_backend import MeshBackend
        return MeshBackend()
    if name == "fan":
        from pipelines.preprocess.landmarks.fan_backend import FanBackend
        return FanBackend(device=device)
    raise ValueError(f"unknown landmark backend {name!r}; choose one of {BACKENDS}")


__all__ = ["BACKENDS", "LandmarkBackend", "LandmarkModelUnavailable", "make_backend"]
