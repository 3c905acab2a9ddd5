"""The retraining state file, WORKDIR/state.json: what has been processed, and where an
unfinished cycle stands.

  fingerprints  video path -> size, modification time and SHA-256 (a file is hashed again
                only when its size or time changes)
  videos        SHA-256 -> the batch that processed it (a video is processed once, whatever
                its name)
  batches       batch id -> its videos (as listed) and whether its preprocessing finished
  cycle         the open cycle: its version id, its batch and the last step it finished
  preprocess_args  the preprocess flags of the first cycle; later cycles must match them,
                so a video's split, which they decide, never changes

Every change is written to a temporary file and renamed over the old one, so a run killed
at any moment leaves either the old state or the new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.atomic_write import write_json_atomically
from pipelines.preprocess.inputs import InputListing, VideoInput

STATE_FILE = "state.json"
STEPS = ("opened", "preprocessed", "dataset_built", "trained", "evaluated", "decided")
_CHUNK = 1 << 20


def empty_state() -> dict:
    return {"fingerprints": {}, "videos": {}, "batches": {}, "cycle": None,
            "preprocess_args": None}


def load_state(workdir: str) -> dict:
    path = os.path.join(workdir, STATE_FILE)
    if not os.path.exists(path):
        return empty_state()
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_state(workdir: str, state: dict) -> None:
    """Writes the state atomically (a temporary file renamed over the old one)."""
    write_json_atomically(os.path.join(workdir, STATE_FILE), state)


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes (local or any Beam file system, e.g. gs://)."""
    digest = hashlib.sha256()
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(path: str, known: dict) -> dict:
    """{size, mtime, sha256} of `path`, reusing `known[path]` when size and time match."""
    metadata = FileSystems.match([path])[0].metadata_list[0]
    size, mtime = int(metadata.size_in_bytes), float(metadata.last_updated_in_seconds)
    previous = known.get(path)
    if previous and previous["size"] == size and previous["mtime"] == mtime:
        return previous
    return {"size": size, "mtime": mtime, "sha256": file_sha256(path)}


def new_videos(listing: InputListing, state: dict) -> list[tuple[str, VideoInput]]:
    """(SHA-256, video) of the listed videos no batch has processed, in listing order.

    Updates the state's fingerprints in place. A file listed twice under two names is
    taken once.
    """
    found, seen = [], set()
    for video in listing.videos:
        state["fingerprints"][video.video] = fingerprint(video.video, state["fingerprints"])
        digest = state["fingerprints"][video.video]["sha256"]
        if digest not in state["videos"] and digest not in seen:
            seen.add(digest)
            found.append((digest, video))
    return found


def open_batch(state: dict, videos: list[tuple[str, VideoInput]], orphans: tuple[str, ...]
               ) -> str:
    """Records a new batch of `videos` (not yet preprocessed) in the state; its id.

    `orphans`: transcripts without a video; each is reported by the first batch only.
    """
    batch = f"batch-{len(state['batches']) + 1:04d}"
    reported = {o for b in state["batches"].values() for o in b["orphans"]}
    orphans = tuple(o for o in orphans if o not in reported)
    state["batches"][batch] = {"videos": [dataclasses.asdict(v) for _, v in videos],
                               "sha256": [d for d, _ in videos], "orphans": list(orphans),
                               "preprocessed": False}
    for digest, video in videos:
        state["videos"][digest] = {"batch": batch, "video": video.video,
                                   "video_id": video.video_id}
    return batch


def batch_listing(state: dict, batch: str) -> InputListing:
    """The InputListing a batch was opened with (so a resumed run processes the same)."""
    record = state["batches"][batch]
    return InputListing(videos=tuple(VideoInput(**v) for v in record["videos"]),
                        orphan_transcripts=tuple(record["orphans"]))


def data_hash(state: dict, batches: list[str]) -> str:
    """One SHA-256 over the sorted video hashes of `batches`: the data a model saw."""
    digests = sorted(d for b in batches for d in state["batches"][b]["sha256"])
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()
