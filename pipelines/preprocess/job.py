"""The preprocess job: wires the stages together, runs them, and reads back the manifest.

  inputs -> ReadTranscripts -> AlignSubtitles (word times for subtitle cues)
         -> PlanChunks (long programmes in chunks) -> DetectLandmarks
         -> CropMouths (shot list -> WriteShotLists) -> FilterQuality
            (sentence clips, --unit sentence: -> AssignSentenceSplits -> WriteSentences)
         -> AssignSplits -> AttachLabels (vocabulary from AnalyzeVocabulary on train)
         -> AugmentTrain -> WriteClips per split
  every stage's failures -> WriteDeadLetters; every outcome -> WriteManifest
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import math
import os
import platform
from importlib import metadata

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.preprocess import manifest
from pipelines.preprocess.align_subtitles import AlignSubtitles
from pipelines.preprocess.assign_splits import AssignSplits
from pipelines.preprocess.augment import AugmentConfig
from pipelines.preprocess.augment_clips import AugmentTrain
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.crop_mouths import CropMouths
from pipelines.preprocess.dataset_info import WriteDatasetCard
from pipelines.preprocess.dead_letters import DEAD_LETTER, WriteDeadLetters, failure
from pipelines.preprocess.decode import ffmpeg_executable, ffmpeg_version
from pipelines.preprocess.detect_landmarks import DetectLandmarks
from pipelines.preprocess.filter_quality import FilterQuality
from pipelines.preprocess.inputs import InputListing
from pipelines.preprocess.landmarks import make_backend
from pipelines.preprocess.plan_chunks import PlanChunks
from pipelines.preprocess.output_folder import prepare_output
from pipelines.preprocess.progress import progress_line, record_progress
from pipelines.preprocess.read_transcripts import ReadTranscripts
from pipelines.preprocess.shot_list import WriteShotLists
from pipelines.preprocess.splits import SPLITS
from pipelines.preprocess.vocabulary import (AnalyzeVocabulary, AttachLabels,
                                             read_fixed_vocabulary, write_vocabulary_asset)
from pipelines.preprocess.write_clips import WriteClips
from pipelines.progress import reported
from schemas.layout import CLIPS_PREFIX, SENTENCES_DIR, TRANSFORM_DIR, clip_file_pattern

DEAD_LETTERS_FILE = "dead_letters.jsonl"
MANIFEST_FILE = "manifest.json"
SHOTS_FILE = "shots.jsonl"
TFT_TEMP_DIR = "tmp_tft"
FIXED_VOCABULARY_DIR = "fixed_vocabulary"  # under TFT_TEMP_DIR; copied into transform_fn
_PACKAGES = ("lipflow", "apache-beam", "tensorflow", "numpy", "opencv-python-headless",
             "dlib-bin", "face-alignment", "ffmpeg-python", "imageio-ffmpeg")
_LOG = logging.getLogger(__name__)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the output."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    versions["ffmpeg"] = ffmpeg_version(ffmpeg_executable())
    return versions


def orphan_failures(listing: InputListing) -> list[dict]:
    return [failure(path, "discover", "missing_video",
                    "transcript has no video with the same name beside it or in a sibling folder")
            for path in listing.orphan_transcripts]


def build_pipeline(pipeline: beam.Pipeline, listing: InputListing, config: PreprocessConfig,
                   output: str, run_info: dict, vocabulary_file: str = "",
                   progress_folder: str = "") -> None:
    """Adds the whole job to `pipeline`, writing into the folder `output`.

    `vocabulary_file`: a fixed vocabulary (see `stage_fixed_vocabulary`) or "" to learn one.
    `progress_folder`: where the progress taps write (pipelines.progress), or "" for none.
    """
    videos = (pipeline
              | "ListVideos" >> beam.Create(listing.videos)
              | "SpreadVideos" >> beam.Reshuffle())
    parsed = videos | "ReadTranscripts" >> ReadTranscripts(config.max_transcript_bytes)
    aligned = parsed.jobs | "AlignSubtitles" >> AlignSubtitles()
    planned = aligned.jobs | "PlanChunks" >> PlanChunks(config)
    tracked = (planned["jobs"]
               | "SpreadChunks" >> beam.Reshuffle()
               | "DetectLandmarks" >> DetectLandmarks(config))
    tracked.tracks | "WriteShotLists" >> WriteShotLists(FileSystems.join(output, SHOTS_FILE),
                                                        config.fps)
    if progress_folder:
        record_progress(progress_folder, config.fps, parsed, aligned, planned, tracked)
    cropped = tracked.tracks | "CropMouths" >> CropMouths(config)
    checked = cropped.clips | "FilterQuality" >> FilterQuality(config.quality_thresholds)
    split = checked.clips | "AssignSplits" >> AssignSplits(config.split_ratios, config.split_by)
    transform_dir = FileSystems.join(output, TRANSFORM_DIR)
    written_transform = (
        split.clips
        | "TrainSplitOnly" >> beam.Filter(lambda clip: clip.split == "train")
        | "AnalyzeVocabulary" >> AnalyzeVocabulary(
            transform_dir, FileSystems.join(output, TFT_TEMP_DIR), config.vocab_size,
            config.min_word_count, vocabulary_file))
    labelled = split.clips | "AttachLabels" >> AttachLabels(transform_dir, written_transform,
                                                            bool(vocabulary_file))
    final = labelled.clips | "AugmentTrain" >> AugmentTrain(config.augment_copies,
                                                            AugmentConfig())
    parts = final | "PartitionBySplit" >> beam.Partition(
        lambda clip, _: SPLITS.index(clip.split), len(SPLITS))
    writes = [written_transform]
    for name, part in zip(SPLITS, parts):
        writes.append(part | f"Write{name.capitalize()}Clips" >> WriteClips(
            FileSystems.join(output, name, CLIPS_PREFIX), config.num_shards, config.gzip_level,
            config.compression))
    # Sentence outputs only when asked for: no empty sentences/ folder in a word dataset.
    sentences = (write_sentences(cropped.sentences, config, output, writes)
                 if config.unit == "sentence" else None)
    orphans = pipeline | "ListOrphanTranscripts" >> beam.Create(orphan_failures(listing))
    failures = ((orphans, parsed[DEAD_LETTER], aligned[DEAD_LETTER], planned[DEAD_LETTER],
                 tracked[DEAD_LETTER],
                 cropped[DEAD_LETTER], checked[DEAD_LETTER], split[DEAD_LETTER],
                 labelled[DEAD_LETTER])
                + ((sentences[DEAD_LETTER],) if sentences is not None else ())
                | "AllFailures" >> beam.Flatten())
    failures | "WriteDeadLetters" >> WriteDeadLetters(FileSystems.join(output, DEAD_LETTERS_FILE))
    events = (
        (videos | "VideoEvents" >> beam.Map(manifest.video_seen_event),
         parsed.jobs | "WordEvents" >> beam.Map(manifest.words_seen_event),
         final | "ClipEvents" >> beam.Map(manifest.clip_written_event),
         failures | "FailureEvents" >> beam.Map(manifest.failure_event))
        + ((sentences.clips | "SentenceEvents" >> beam.Map(manifest.clip_written_event),)
           if sentences is not None else ())
        | "AllEvents" >> beam.Flatten())
    files = {split: f"{split}/{clip_file_pattern(config.compression)}" for split in SPLITS}
    (events
     | "WriteManifest" >> manifest.WriteManifest(FileSystems.join(output, MANIFEST_FILE),
                                                 run_info)
     | "WriteDatasetCard" >> WriteDatasetCard(output, files,
                                              FileSystems.join(output, TFT_TEMP_DIR), writes))


def write_sentences(sentences, config: PreprocessConfig, output: str, writes: list):
    """Sentence clips get their video's split and go to sentences/<split>/ (no vocabulary:
    their label is the word sequence). Returns the split stage's outputs; adds the writes
    to `writes`."""
    split = sentences | "AssignSentenceSplits" >> AssignSplits(config.split_ratios,
                                                               config.split_by)
    parts = split.clips | "PartitionSentencesBySplit" >> beam.Partition(
        lambda clip, _: SPLITS.index(clip.split), len(SPLITS))
    for name, part in zip(SPLITS, parts):
        writes.append(part | f"Write{name.capitalize()}Sentences" >> WriteClips(
            FileSystems.join(output, SENTENCES_DIR, name, CLIPS_PREFIX), config.num_shards,
            config.gzip_level, config.compression))
    return split


def check_backend(config: PreprocessConfig) -> dict[str, str]:
    """Loads the landmark backend once at launch so a missing model fails before any work."""
    backend = make_backend(config.landmarks, upsample=config.upsample,
                           device=config.landmark_device)
    backend.load()
    return backend.versions()


def stage_fixed_vocabulary(config: PreprocessConfig, output: str) -> str:
    """The fixed vocabulary's words written where the transform graph picks them up, or ""
    when the job learns its vocabulary. ValueError when --vocabulary cannot be read."""
    if not config.vocabulary:
        return ""
    words = read_fixed_vocabulary(config.vocabulary)
    _LOG.info("labelling with the fixed vocabulary of %d words from %s", len(words),
              config.vocabulary)
    return write_vocabulary_asset(
        words, FileSystems.join(output, TFT_TEMP_DIR, FIXED_VOCABULARY_DIR))


def run(listing: InputListing, config: PreprocessConfig, input_path: str, output: str,
        options: PipelineOptions, overwrite: bool = False) -> dict:
    """Runs the job to completion and returns the manifest it wrote. OutputInUse when
    `output` holds another run's dataset and `overwrite` is False (output_folder.py)."""
    run_info = {
        "input": input_path, "output": output,
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "options": config.as_dict(), "landmark_model": check_backend(config),
        "versions": package_versions(), "orphan_transcripts": len(listing.orphan_transcripts),
    }
    prepare_output(output, input_path, config.as_dict(), overwrite)
    vocabulary_file = stage_fixed_vocabulary(config, output)
    _LOG.info("preprocessing %d videos from %s into %s", len(listing.videos), input_path, output)
    describe = functools.partial(progress_line, total=len(listing.videos))
    with reported(options, describe, _LOG) as progress_folder, \
            beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, listing, config, output, run_info, vocabulary_file,
                       progress_folder)
    with FileSystems.open(FileSystems.join(output, MANIFEST_FILE)) as handle:
        return json.load(handle)


CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def usable_cpus(cgroup_cpu_max: str = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: those it is pinned to (`taskset`, a container's
    cpuset), fewer where a cgroup quota allows less time ("QUOTA PERIOD" in cpu.max);
    not os.cpu_count(), which counts the machine's: workers beyond the usable CPUs only
    take turns on them."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    try:
        with open(cgroup_cpu_max, encoding="utf-8") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max" and int(period) > 0:
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to read: the affinity alone says
    return max(cpus, 1)


def default_direct_options(argv: list[str]) -> list[str]:
    """Beam flags for a local run: a worker process per usable CPU, unless the user chose."""
    if any(a.startswith(("--runner", "--direct_num_workers", "--direct_running_mode"))
           for a in argv):
        return argv
    return argv + ["--direct_num_workers", str(usable_cpus()),
                   "--direct_running_mode", "multi_processing"]
