"""Where a dataset folder keeps its parts: the one place the writer and the readers name them.

  DATA/{train,val,test}/clips-SSSSS-of-NNNNN.tfrecord.gz   word clips (schemas.clip), GZIP
  DATA/{train,val,test}/clips-SSSSS-of-NNNNN.tfrecord      the same, uncompressed
                                                           (`--compression none`)
  DATA/transform_fn/                                       tf.Transform graph and statistics
  DATA/sentences/{train,val,test}/clips-*.tfrecord[.gz]    sentence clips (--unit sentence)

Readers tell the two apart by the suffix (`tfrecord_compression`), so datasets written
before the uncompressed option existed read as before.
"""

CLIPS_PREFIX = "clips"
CLIP_FILE_PATTERN = f"{CLIPS_PREFIX}-*.tfrecord*"    # either compression
TRANSFORM_DIR = "transform_fn"
SENTENCES_DIR = "sentences"

COMPRESSIONS = ("gzip", "none")
CLIP_FILE_SUFFIXES = {"gzip": ".tfrecord.gz", "none": ".tfrecord"}


def clip_file_pattern(compression: str) -> str:
    """The glob of one split's clip files written with `compression` (gzip or none)."""
    if compression not in CLIP_FILE_SUFFIXES:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    return f"{CLIPS_PREFIX}-*{CLIP_FILE_SUFFIXES[compression]}"


def tfrecord_compression(path: str) -> str:
    """tf.data's compression_type for a clip file: "GZIP" for *.gz, "" (none) otherwise."""
    return "GZIP" if path.endswith(".gz") else ""
