"""Rebuilds one dataset from the batches preprocessed so far: old clips plus new ones.

  DATASET/{train,val,test}/clips-<batch>-*.tfrecord.gz   each batch's files, hard-linked
                                                         unchanged, in their split
  DATASET/transform_fn/   the batches' shared vocabulary, in its order, and the pixel
                          statistics of all original train clips (tf.Transform again)
  DATASET/dataset_info.json  the card, summed over the batches

Where hard links fail (another device, a Cloud Storage FUSE mount), nothing is copied:
the card lists the batches' files instead (schemas/layout.py, `shard_paths`), so a dataset
version costs no clip storage and the readers take the files from the batches.

Clips are never re-cut or moved between splits: a video's split is the one its batch gave
it. Every batch after the first is labelled with the first one's vocabulary (or
production's, which is the same), so the label ids in the records agree.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.evaluate.read_clips import ReadClips
from pipelines.preprocess.dataset_info import build_dataset_info, write_dataset_info
from pipelines.preprocess.dead_letters import WriteDeadLetters
from pipelines.preprocess.splits import SPLITS
from pipelines.preprocess.vocabulary import (PIXEL_MEAN, PIXEL_SQ_MEAN, WORD, AnalyzeFeatures,
                                             read_fixed_vocabulary, write_vocabulary_asset)
from schemas.clip import AUGMENT_COPY, FRAMES
from schemas.layout import (CLIP_FILE_PATTERN, CLIPS_PREFIX, DATASET_INFO_FILE, SHARD_PATHS_KEY,
                            TRANSFORM_DIR, shard_mismatch)

DEAD_LETTERS_FILE = "dead_letters.jsonl"
_TEMP = "tmp_merge"
_LOG = logging.getLogger(__name__)


def batch_split_files(batches: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """split -> (batch, clip file) of every batch (batch id -> its folder), each batch's
    files checked against its card."""
    found = {split: [] for split in SPLITS}
    for batch, folder in sorted(batches.items()):
        with open(os.path.join(folder, DATASET_INFO_FILE), encoding="utf-8") as handle:
            card = json.load(handle)
        for split in SPLITS:
            sources = sorted(m.path for m in FileSystems.match(
                [os.path.join(folder, split, CLIP_FILE_PATTERN)])[0].metadata_list)
            mismatch = shard_mismatch(card, split, sources, folder)
            if mismatch:
                raise ValueError(f"batch {batch}: {mismatch}")
            found[split].extend((batch, source) for source in sources)
    return found


def _links_work(source: str, folder: str) -> bool:
    probe = os.path.join(folder, ".link-probe")
    try:
        os.link(source, probe)
    except OSError:  # another device, or a file system without hard links
        return False
    os.remove(probe)
    return True


def place_split_files(batches: dict[str, str], output: str
                      ) -> tuple[dict[str, list[str]], dict[str, list[str]] | None]:
    """Hard-links each batch's clip files into OUTPUT/<split>/ as clips-<batch>-<rest>, or,
    where links fail, leaves them where they are. (split -> the paths to read, split -> the
    paths relative to OUTPUT for the card's `shard_paths`, or None when linked)."""
    found = batch_split_files(batches)
    for split in SPLITS:
        os.makedirs(os.path.join(output, split), exist_ok=True)
    sources = [source for pairs in found.values() for _, source in pairs]
    if sources and not _links_work(sources[0], output):
        _LOG.info("hard links fail in %s: the dataset lists the batches' files", output)
        return ({split: [s for _, s in pairs] for split, pairs in found.items()},
                {split: [os.path.relpath(s, output) for _, s in pairs]
                 for split, pairs in found.items()})
    placed = {split: [] for split in SPLITS}
    for split, pairs in found.items():
        for batch, source in pairs:
            name = os.path.basename(source)[len(CLIPS_PREFIX) + 1:]
            target = os.path.join(output, split, f"{CLIPS_PREFIX}-{batch}-{name}")
            os.link(source, target)
            placed[split].append(target)
    return placed, None


def record_analysis_features(item) -> dict:
    """(clip id, decoded clip) -> the analysis features of `vocabulary.analysis_features`."""
    import numpy as np

    _, clip = item
    pixels = clip[FRAMES].astype(np.float64)
    return {WORD: clip["word"].encode("utf-8"), PIXEL_MEAN: float(pixels.mean()),
            PIXEL_SQ_MEAN: float(np.square(pixels).mean())}


def analyze_train_clips(train_files: list[str], vocabulary: list[str], output: str,
                        options: PipelineOptions) -> None:
    """Writes OUTPUT/transform_fn: `vocabulary` fixed, statistics of the original train clips.

    ValueError if any train file or record cannot be read (the dataset would be partial).
    """
    temp = os.path.join(output, _TEMP)
    vocabulary_file = write_vocabulary_asset(vocabulary, os.path.join(temp, "vocabulary"))
    dead_letters = os.path.join(output, DEAD_LETTERS_FILE)
    with beam.Pipeline(options=options) as pipeline:
        read = pipeline | "ListTrainFiles" >> beam.Create(train_files) | "ReadClips" >> ReadClips()
        (read["clips"]
         | "OriginalsOnly" >> beam.Filter(lambda item: int(item[1][AUGMENT_COPY]) == 0)
         | "AnalysisFeatures" >> beam.Map(record_analysis_features)
         | "AnalyzeTrainClips" >> AnalyzeFeatures(
             os.path.join(output, TRANSFORM_DIR), os.path.join(temp, "tft"), len(vocabulary), 1,
             vocabulary_file))
        read["failures"] | "WriteDeadLetters" >> WriteDeadLetters(dead_letters)
    shutil.rmtree(temp, ignore_errors=True)
    with open(dead_letters, encoding="utf-8") as handle:
        failures = [json.loads(line) for line in handle if line.strip()]
    if failures:
        raise ValueError(f"{len(failures)} train files or records of the batches could not be "
                         f"read (first: {failures[0]}); see {dead_letters}")


def _summed(manifests: list[dict]) -> dict:
    """The batches' manifests as one: counts summed, options and versions of the first."""
    splits = {}
    for split in SPLITS:
        totals = Counter()
        for m in manifests:
            totals.update(m["splits"].get(split, {}))
        splits[split] = dict(totals)
    words_per_split = {split: dict(sum((Counter(m["words_per_split"].get(split, {}))
                                        for m in manifests), Counter())) for split in SPLITS}
    failed = sum((Counter(m["failed_words"]) for m in manifests), Counter())
    return {"started_at": manifests[-1].get("started_at", ""), "splits": splits,
            "words_per_split": words_per_split, "failed_words": dict(failed),
            "options": manifests[0]["options"], "versions": manifests[-1]["versions"]}


def merge_batches(batches: dict[str, str], output: str, options: PipelineOptions) -> dict:
    """Builds the dataset OUTPUT from `batches` (batch id -> preprocess output); its card."""
    if FileSystems.exists(output):
        shutil.rmtree(output)  # a half-built dataset from a killed run
    placed, referenced = place_split_files(batches, output)
    first = sorted(batches)[0]
    vocabulary = read_fixed_vocabulary(batches[first])
    if not placed["train"]:
        raise ValueError(f"the batches {sorted(batches)} hold no train clips to train on")
    _LOG.info("rebuilding %s from %d batches: %s", output, len(batches),
              {s: len(f) for s, f in placed.items()})
    analyze_train_clips(placed["train"], vocabulary, output, options)
    manifests = []
    for batch in sorted(batches):
        with open(os.path.join(batches[batch], "manifest.json"), encoding="utf-8") as handle:
            manifests.append(json.load(handle))
    files = {split: f"{split}/{CLIP_FILE_PATTERN}" for split in SPLITS}
    shards = {split: [] if referenced else sorted(os.path.basename(path) for path in paths)
              for split, paths in placed.items()}
    info = build_dataset_info(_summed(manifests), os.path.join(output, TRANSFORM_DIR), files,
                              shards)
    if referenced:
        info[SHARD_PATHS_KEY] = referenced
    info["manifest"] = [os.path.join(batches[b], "manifest.json") for b in sorted(batches)]
    info["batches"] = sorted(batches)
    write_dataset_info(info, os.path.join(output, DATASET_INFO_FILE))
    return info
