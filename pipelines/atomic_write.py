"""Files a reader must never see half written: manifests, dataset cards, the retrain state
and registry, evaluation summaries.

Each is written beside its final name and renamed over it once complete, so a run killed
at any moment leaves the old file or the new one. On a local disk the bytes are also
synced before the rename, so a power cut cannot leave the new name on empty blocks. On an
object store (gs://) an object appears only once its upload completes; the rename is a copy.
"""

from __future__ import annotations

import json
import os
import uuid


def write_atomically(path: str, data: bytes, mime_type: str = "application/octet-stream"
                     ) -> str:
    """Writes `data` to `path` (local or any Beam file system) all at once; returns `path`."""
    temp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    if "://" in path:
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.create(temp, mime_type=mime_type) as handle:
            handle.write(data)
        FileSystems.rename([temp], [path])
        return path
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        with open(temp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    return path


def write_json_atomically(path: str, document, indent: int = 2) -> str:
    """`document` as sorted, indented UTF-8 JSON, written by `write_atomically`."""
    text = json.dumps(document, indent=indent, ensure_ascii=False, sort_keys=True)
    return write_atomically(path, text.encode("utf-8"), "application/json")
