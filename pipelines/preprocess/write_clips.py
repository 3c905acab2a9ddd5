"""Stage 4: serialise clips with the schema and write sharded GZIP TFRecords."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes

from schemas.clip import encode_clip

CLIP_FILE_SUFFIX = ".tfrecord.gz"


class WriteClips(beam.PTransform):
    """PCollection[ClipRecord] -> `<prefix>-SSSSS-of-NNNNN.tfrecord.gz` files."""

    def __init__(self, prefix: str, num_shards: int = 0):
        super().__init__()
        self._prefix = prefix
        self._num_shards = num_shards

    def expand(self, clips):
        return (clips
                | "EncodeSequenceExample" >> beam.Map(encode_clip)
                | "WriteTFRecords" >> beam.io.WriteToTFRecord(
                    self._prefix, file_name_suffix=CLIP_FILE_SUFFIX,
                    compression_type=CompressionTypes.GZIP, num_shards=self._num_shards))
