"""The shot list of every video, merged from its work items, as `shots.jsonl`.

One JSON object a line: `video_id`, `source_video`, `fps`, `video_start` (container
time of frame 0, s), `num_frames` and `cuts` (first frame of every shot but the first).
A programme cut into chunks reports the cuts of each chunk; they are merged here.
"""

from __future__ import annotations

import json

import apache_beam as beam


def shot_facts(tracks) -> tuple[str, dict]:
    """(video_id, what one work item saw): its frame range and the cuts inside it."""
    faces = tracks.faces
    end = faces.first + faces.decoded_frames
    # A chunk of whole shots starts on a cut: its first frame counts (frame 0 is no cut).
    cuts = [int(s) for s in faces.shot_starts if max(faces.first, 1) <= s < end]
    video = tracks.job.input
    return video.video_id, {"source_video": video.video, "video_start": faces.video_start,
                            "num_frames": faces.num_frames, "cuts": cuts}


def merged_shot_list(item: tuple[str, list[dict]], fps: float) -> str:
    video_id, parts = item
    cuts = sorted({cut for part in parts for cut in part["cuts"]})
    first = parts[0]
    return json.dumps({"video_id": video_id, "source_video": first["source_video"], "fps": fps,
                       "video_start": first["video_start"], "num_frames": first["num_frames"],
                       "cuts": cuts}, ensure_ascii=False, sort_keys=True)


class WriteShotLists(beam.PTransform):
    """PCollection[VideoTracks] -> `path` (shots.jsonl, one line per video)."""

    def __init__(self, path: str, fps: float):
        super().__init__()
        self._path = path
        self._fps = fps

    def expand(self, tracks):
        return (tracks
                | "ShotFacts" >> beam.Map(shot_facts)
                | "GroupByVideo" >> beam.GroupByKey()
                | "MergeShotLists" >> beam.Map(merged_shot_list, self._fps)
                | "WriteShotsJsonl" >> beam.io.WriteToText(self._path, num_shards=1,
                                                           shard_name_template=""))
