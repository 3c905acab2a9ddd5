"""Stage 4: serialise clips with the schema and write sharded TFRecords, GZIP or uncompressed.

Beam's own TFRecord sink compresses at zlib's default level, where deflating raw pixels
costs as much as decoding the video twice. This sink writes the same format (standard
GZIP around standard TFRecord framing, readable by `tf.data.TFRecordDataset(...,
compression_type="GZIP")`) at a configurable level. Levels 1-3 deflate with ISA-L's
igzip (its levels 1-3), several times faster than zlib for files a few per cent larger;
levels 4-9 with zlib (benchmarks/results/preprocess.json). Either stream is deterministic
on one machine: the same records give the same bytes (ISA-L picks its code for the CPU's
instruction set, so another kind of CPU may deflate the same records differently).
`compression="none"` writes plain TFRecord files instead (`*.tfrecord`, about 1.7x larger),
which the trainer reads without inflating (benchmarks/results/input_pipeline.json).
"""

from __future__ import annotations

import gzip
import os
import signal
import struct

import apache_beam as beam
import google_crc32c
from apache_beam.coders import coders
from apache_beam.io import filebasedsink
from apache_beam.io.filesystem import CompressionTypes
from isal import igzip, isal_zlib

from schemas.clip import encode_clip
from schemas.layout import CLIP_FILE_SUFFIXES, COMPRESSIONS

CLIP_FILE_SUFFIX = CLIP_FILE_SUFFIXES["gzip"]
_CRC_MASK_DELTA = 0xA282EAD8
# Tests set this to N to have the process kill itself (SIGKILL, as a crash would) once it
# has written N records into temporary clip files, leaving a half-written folder behind.
KILL_AFTER_RECORDS_ENV = "LIPFLOW_TEST_KILL_AFTER_RECORDS"
_records_written = 0


def _kill_hook() -> None:
    global _records_written
    _records_written += 1
    if _records_written == int(os.environ.get(KILL_AFTER_RECORDS_ENV) or 0):
        os.kill(os.getpid(), signal.SIGKILL)


def _masked_crc32c(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def tfrecord_frame(record: bytes) -> bytes:
    """One TFRecord: length, masked CRC-32C of the length, data, masked CRC-32C of the data."""
    length = struct.pack("<Q", len(record))
    return b"".join([length, struct.pack("<I", _masked_crc32c(length)), record,
                     struct.pack("<I", _masked_crc32c(record))])


# The GZIP levels that ISA-L compresses (its own levels 1-3); zlib takes the rest.
ISAL_LEVELS = range(1, isal_zlib.ISAL_BEST_COMPRESSION + 1)


class _GzipHandle:
    """A gzip stream over a sink's file handle; closing it closes both."""

    def __init__(self, raw, level: int):
        self._raw = raw
        gzip_file = igzip.GzipFile if level in ISAL_LEVELS else gzip.GzipFile
        # No name and no time in the header: a rerun writes identical bytes.
        self._gzip = gzip_file(filename="", fileobj=raw, mode="wb", compresslevel=level,
                               mtime=0)

    def write(self, data: bytes) -> None:
        self._gzip.write(data)

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()


class PlainTFRecordSink(filebasedsink.FileBasedSink):
    """Uncompressed TFRecord files."""

    def __init__(self, prefix: str, suffix: str, num_shards: int):
        super().__init__(prefix, coder=coders.BytesCoder(), file_name_suffix=suffix,
                         num_shards=num_shards, shard_name_template=None,
                         mime_type="application/octet-stream",
                         compression_type=CompressionTypes.UNCOMPRESSED)

    def write_encoded_record(self, file_handle, encoded_value):
        file_handle.write(tfrecord_frame(encoded_value))
        _kill_hook()


class GzipTFRecordSink(PlainTFRecordSink):
    """TFRecord files, GZIP-compressed at `level` (1 fastest .. 9 smallest)."""

    def __init__(self, prefix: str, suffix: str, num_shards: int, level: int):
        super().__init__(prefix, suffix, num_shards)
        self._level = level

    def open(self, temp_path):
        return _GzipHandle(super().open(temp_path), self._level)


class WriteClips(beam.PTransform):
    """PCollection[ClipRecord] -> `<prefix>-SSSSS-of-NNNNN.tfrecord.gz` files (compression
    "gzip"), or `<prefix>-SSSSS-of-NNNNN.tfrecord` (compression "none")."""

    def __init__(self, prefix: str, num_shards: int = 0, gzip_level: int = 3,
                 compression: str = "gzip"):
        super().__init__()
        if not 1 <= gzip_level <= 9:
            raise ValueError(f"gzip_level must be in 1..9, got {gzip_level!r}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
        suffix = CLIP_FILE_SUFFIXES[compression]
        self._sink = (GzipTFRecordSink(prefix, suffix, num_shards, gzip_level)
                      if compression == "gzip" else PlainTFRecordSink(prefix, suffix, num_shards))

    def expand(self, clips):
        return (clips
                | "EncodeSequenceExample" >> beam.Map(encode_clip)
                | "WriteTFRecords" >> beam.io.Write(self._sink))
