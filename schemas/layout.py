"""Where a dataset folder keeps its parts: the one place the writer and the readers name them.

  DATA/{train,val,test}/clips-SSSSS-of-NNNNN.tfrecord.gz   word clips (schemas.clip), GZIP
  DATA/{train,val,test}/clips-SSSSS-of-NNNNN.tfrecord      the same, uncompressed
                                                           (`--compression none`)
  DATA/transform_fn/                                       tf.Transform graph and statistics
  DATA/sentences/{train,val,test}/clips-*.tfrecord[.gz]    sentence clips (--unit sentence)
  DATA/dataset_info.json                                   the dataset card (DATASET_INFO_FILE)

Readers tell the two apart by the suffix (`tfrecord_compression`), so datasets written
before the uncompressed option existed read as before. The dataset card
(`dataset_info.json`) lists each split's clip files (`SHARDS_KEY`); a reader that finds
others beside them (an earlier run's, written with another shard count or compression)
or misses one refuses the folder (`shard_mismatch`) rather than mix two datasets.

A dataset retrain builds on a file system without hard links holds no clip files of its
own: its card lists, per split, the paths of the batches' files it is made of, relative
to the dataset folder (`SHARD_PATHS_KEY`), and readers take those (`referenced_files`).
"""

import posixpath

DATASET_INFO_FILE = "dataset_info.json"
CLIPS_PREFIX = "clips"
SHARDS_KEY = "shards"                               # the card's split -> clip file names
SHARD_PATHS_KEY = "shard_paths"                     # split -> other folders' files it uses
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


def shard_mismatch(card: dict, split: str, found: list[str], data: str) -> str | None:
    """Why the clip files `found` (paths or names) for `split` are not the ones the card
    lists, or None when they are (or the card, written before cards listed them, lists
    none). Only file names are compared."""
    listed = card.get(SHARDS_KEY, {}).get(split)
    if listed is None:
        return None
    names = sorted(name.rstrip("/").rsplit("/", 1)[-1] for name in found)
    extra = sorted(set(names) - set(listed))
    missing = sorted(set(listed) - set(names))
    if not extra and not missing:
        return None
    parts = []
    if extra:
        parts.append(f"{len(extra)} file(s) it does not list, such as {extra[0]} (left by "
                     "another run?)")
    if missing:
        parts.append(f"{len(missing)} file(s) it lists are missing, such as {missing[0]}")
    return (f"the {split} clips of {data!r} do not match its dataset_info.json: "
            f"{'; '.join(parts)}. Run lipflow preprocess into an empty folder, or again with "
            "--overwrite")


def referenced_files(card: dict, split: str, data: str) -> list[str] | None:
    """The clip files of `split` that a dataset made of other folders' files lists (see the
    module doc), as paths; None for a dataset that holds its own files."""
    relative = card.get(SHARD_PATHS_KEY, {}).get(split)
    if relative is None:
        return None
    if "://" in data:
        return [f"{data.rstrip('/')}/{path}" for path in relative]
    return [posixpath.normpath(posixpath.join(data, path)) for path in relative]


def checked_references(paths: list[str], split: str, data: str, exists) -> list[str]:
    """`paths` (from `referenced_files`) sorted; ValueError when there are none or one is
    missing (`exists`: the caller's file system test)."""
    if not paths:
        raise ValueError(f"no {split} clips: the dataset {data!r} lists none")
    missing = [path for path in paths if not exists(path)]
    if missing:
        raise ValueError(f"the dataset {data!r} is made of batch files, and {len(missing)} "
                         f"of its {split} files are missing, such as {missing[0]} (was a "
                         "batch folder deleted?)")
    return sorted(paths)


def split_clip_files(card: dict | None, split: str, data: str, pattern: str, glob,
                     exists) -> list[str]:
    """The clip files a reader takes for `split` of the dataset `data`, sorted: those its
    card (None: none found) references, else those `pattern` matches, checked against the
    card's shard list. `glob` and `exists` are the caller's file system (tf.io.gfile or
    Beam's FileSystems). ValueError when there are none or they do not match the card."""
    referenced = referenced_files(card, split, data) if card else None
    if referenced is not None:
        return checked_references(referenced, split, data, exists)
    files = sorted(glob(pattern))
    if not files:
        raise ValueError(f"no clips for split {split!r}: nothing matches {pattern!r}; give "
                         "the folder `lipflow preprocess` wrote (it holds train/, val/, test/)")
    mismatch = shard_mismatch(card, split, files, data) if card else None
    if mismatch:
        raise ValueError(mismatch)
    return files
