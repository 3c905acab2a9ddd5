"""Stage 1: read and parse each video's transcript."""

from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.transcripts import (MAX_TRANSCRIPT_BYTES, TRANSCRIPT_SUFFIXES,
                                              parse_transcript)
from pipelines.preprocess.video_job import VideoJob

STAGE = "read_transcript"


def _read_bytes(path: str, limit: int) -> bytes:
    """The file's bytes, at most `limit` + 1 of them (enough to tell it is too large)."""
    with FileSystems.open(path) as handle:
        return handle.read(limit + 1)


class ParseTranscriptFn(beam.DoFn):
    """VideoInput -> VideoJob; a missing, unreadable, too large or unparseable transcript is
    a dead letter, whatever went wrong inside its parser."""

    def __init__(self, max_bytes: int = MAX_TRANSCRIPT_BYTES):
        self._max_bytes = max_bytes
        self._parsed = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.ok")

    def process(self, video: VideoInput):
        if video.transcript is None:
            yield dead_letter(failure(
                video.video, STAGE, "missing_transcript",
                f"no transcript named like the video with a suffix in {TRANSCRIPT_SUFFIXES} "
                "beside it or in a sibling folder", video_id=video.video_id))
            return
        try:
            data = _read_bytes(video.transcript, self._max_bytes)
            transcript = parse_transcript(data, os.path.basename(video.transcript),
                                          self._max_bytes)
        except RecordError as err:
            yield dead_letter(failure(video.transcript, STAGE, err.reason, err.detail,
                                      video_id=video.video_id))
            return
        except OSError as err:
            yield dead_letter(failure(video.transcript, STAGE, "unreadable_transcript",
                                      str(err), video_id=video.video_id))
            return
        self._parsed.inc()
        yield VideoJob(input=video, transcript=transcript)


class ReadTranscripts(beam.PTransform):
    """PCollection[VideoInput] -> main: VideoJob, dead_letter: failures."""

    def __init__(self, max_bytes: int = MAX_TRANSCRIPT_BYTES):
        super().__init__()
        self._max_bytes = max_bytes

    def expand(self, videos):
        return videos | "ParseTranscript" >> beam.ParDo(
            ParseTranscriptFn(self._max_bytes)).with_outputs(DEAD_LETTER, main="jobs")
