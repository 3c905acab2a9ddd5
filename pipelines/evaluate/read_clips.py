"""Stage 1: a split's TFRecord files -> decoded clips, keyed by clip id.

Files are read one per task, so a corrupt file stops only itself: the records before
the damage are kept and the file goes to the dead letters with how far it got. A
record that is not a clip of this schema is a dead letter of its own.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipelines.preprocess.dead_letters import DEAD_LETTER, dead_letter, failure
from schemas.clip import BOUNDARY_MASK, CLIP_ID, FRAMES, VIDEO_ID, WORD, WORD_INDEX, decode_clip
from schemas.layout import CLIP_FILE_PATTERN, DATASET_INFO_FILE, split_clip_files

NAMESPACE = "lipflow.evaluate"


def split_files(data: str, split: str) -> list[str]:
    """The TFRecord files of `split` under a dataset folder, sorted; ValueError if none."""
    card_path = FileSystems.join(data, DATASET_INFO_FILE)
    card = None
    if FileSystems.exists(card_path):
        with FileSystems.open(card_path) as handle:
            card = json.loads(handle.read().decode("utf-8"))
    return split_clip_files(
        card, split, data, FileSystems.join(data, split, CLIP_FILE_PATTERN),
        lambda pattern: [m.path for m in FileSystems.match([pattern])[0].metadata_list],
        FileSystems.exists)


class ReadRecordsFn(beam.DoFn):
    """A TFRecord file -> (file, serialised record) pairs; a damaged file -> a dead letter."""

    def __init__(self):
        self._records = Metrics.counter(NAMESPACE, "records.read")
        self._corrupt = Metrics.counter(NAMESPACE, "files.corrupt")

    def process(self, path: str):
        import tensorflow as tf

        compression = "GZIP" if path.endswith(".gz") else ""
        count = 0
        try:
            for record in tf.data.TFRecordDataset(path, compression_type=compression):
                count += 1
                self._records.inc()
                yield path, record.numpy()
        except (tf.errors.OpError, OSError) as err:
            self._corrupt.inc()
            message = getattr(err, "message", str(err)).strip().splitlines()[0]
            yield dead_letter(failure(path, "read", "corrupt_file",
                                      f"stopped after {count} records: {message}"))


class DecodeClipsFn(beam.DoFn):
    """Serialised record -> (clip id, clip dict); a record that is no clip -> dead letter."""

    def process(self, item):
        path, serialized = item
        try:
            clip = decode_clip(serialized)
        except ValueError as err:
            yield dead_letter(failure(path, "decode", "bad_record", str(err), words_affected=1))
            return
        yield clip[CLIP_ID], clip


class ReadClips(beam.PTransform):
    """PCollection[file path] -> {"records": every record read, "clips": (clip id, clip)
    for those that decode, "failures": dead letters}."""

    def expand(self, files):
        records = (files
                   | "SpreadFiles" >> beam.Reshuffle()
                   | "ReadRecords" >> beam.ParDo(ReadRecordsFn()).with_outputs(
                       DEAD_LETTER, main="records"))
        clips = (records.records
                 | "SpreadRecords" >> beam.Reshuffle()
                 | "DecodeClips" >> beam.ParDo(DecodeClipsFn()).with_outputs(
                     DEAD_LETTER, main="clips"))
        failures = ((records[DEAD_LETTER], clips[DEAD_LETTER])
                    | "ReadFailures" >> beam.Flatten())
        return {"records": records.records, "clips": clips.clips, "failures": failures}


def clip_failure(clip: dict, stage: str, reason: str, detail: str) -> dict:
    """A dead letter for one decoded clip."""
    return failure(clip[CLIP_ID], stage, reason, detail, video_id=clip[VIDEO_ID],
                   word=clip[WORD], word_index=int(clip[WORD_INDEX]), words_affected=1)


def model_example(clip: dict, slices: dict) -> dict:
    """The slim dict that travels through inference: pixels, mask, word, slice values."""
    return {CLIP_ID: clip[CLIP_ID], VIDEO_ID: clip[VIDEO_ID], WORD: clip[WORD],
            WORD_INDEX: int(clip[WORD_INDEX]), FRAMES: clip[FRAMES],
            BOUNDARY_MASK: clip[BOUNDARY_MASK], "slices": slices}
