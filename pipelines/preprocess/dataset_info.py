"""The dataset card: `dataset_info.json` beside the data, and its human summary.

Written by the job's last stage (`WriteDatasetCard`), once the manifest, the transform
graph (vocabulary in label order, the train split's pixel statistics) and every clip file
are written, so it describes exactly what is on disk; being a stage of the pipeline, it is
written by runs that nobody waits for too (a Flex Template launch). Its "preprocessing"
block is the contract a model trained on the data depends on (schemas/contract.py).
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines.atomic_write import write_json_atomically
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.splits import SPLITS
from pipelines.preprocess.vocabulary import VOCABULARY_NAME, pixel_statistics
from schemas.clip import SCHEMA_VERSION
from schemas.contract import CONTRACT_KEY, make_contract
from schemas.layout import CLIP_FILE_PATTERN, DATASET_INFO_FILE, SHARDS_KEY, TRANSFORM_DIR



def written_shards(output: str) -> dict[str, list[str]]:
    """Split -> the names of the clip files in OUTPUT/<split>/, sorted."""
    found = {}
    for split in SPLITS:
        matched = FileSystems.match([FileSystems.join(output, split, CLIP_FILE_PATTERN)])
        found[split] = sorted(m.path.rstrip("/").rsplit("/", 1)[-1]
                              for m in matched[0].metadata_list)
    return found


def build_dataset_info(manifest: dict, transform_dir: str, files: dict[str, str],
                       shards: dict[str, list[str]]) -> dict:
    """The card's content. `files`: split -> glob of its TFRecords, relative to the output;
    `shards`: split -> the names of its clip files (`written_shards`), which readers check."""
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(transform_dir)
    vocabulary = [w.decode("utf-8") if isinstance(w, bytes) else w
                  for w in output.vocabulary_by_name(VOCABULARY_NAME)]
    mean, std = pixel_statistics(output)
    failed = manifest["failed_words"]
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": manifest.get("started_at", ""),
        "splits": {s: manifest["splits"].get(s, {"clips": 0, "original_clips": 0,
                                                 "augmented_clips": 0, "groups": 0})
                   for s in SPLITS},
        "words_per_split": {s: manifest["words_per_split"].get(s, {}) for s in SPLITS},
        "vocabulary": vocabulary,
        "vocabulary_size": len(vocabulary),
        "out_of_vocabulary_clips": failed.get("vocabulary/out_of_vocabulary", 0),
        "dropped_by_quality": {k.split("/", 1)[1]: v for k, v in failed.items()
                               if k.startswith("quality/")},
        "pixel_mean": mean,
        "pixel_std": std,
        "transform_fn": TRANSFORM_DIR,
        "files": files,
        SHARDS_KEY: shards,
        "options": manifest["options"],
        CONTRACT_KEY: make_contract(manifest["options"], mean_face(), mean, std,
                                    SCHEMA_VERSION).as_dict(),
        "versions": manifest.get("versions", {}),
        "manifest": "manifest.json",
    }


def write_dataset_info(info: dict, path: str) -> None:
    write_json_atomically(path, info)


def _write_card(manifest_path: str, output: str, files: dict[str, str], scratch: str,
                *written) -> str:
    """The card from the manifest at `manifest_path` and what lies in `output`; its path.
    `written`: the writes it must follow (side inputs, read only to wait for them)."""
    del written
    with FileSystems.open(manifest_path) as handle:
        manifest = json.loads(handle.read().decode("utf-8"))
    info = build_dataset_info(manifest, FileSystems.join(output, TRANSFORM_DIR), files,
                              written_shards(output))
    path = FileSystems.join(output, DATASET_INFO_FILE)
    write_dataset_info(info, path)
    if FileSystems.exists(scratch):
        FileSystems.delete([scratch])  # tf.Transform's scratch folder, of no use now
    return path


class WriteDatasetCard(beam.PTransform):
    """PCollection[manifest path] -> PCollection[card path], written after every PCollection
    in `after` (the clip writes, the transform graph) is complete."""

    def __init__(self, output: str, files: dict[str, str], scratch: str, after: list):
        super().__init__()
        self._output, self._files, self._scratch, self._after = output, files, scratch, after

    def expand(self, manifest_path):
        waits = [beam.pvalue.AsList(p) for p in self._after]
        return manifest_path | "WriteCard" >> beam.Map(_write_card, self._output, self._files,
                                                       self._scratch, *waits)


def summary_text(info: dict) -> str:
    """A few lines a person reads at the end of a run."""
    lines = [f"dataset: {info['vocabulary_size']} words in the vocabulary, pixel mean "
             f"{info['pixel_mean']:.1f} std {info['pixel_std']:.1f} (train split)"]
    for split in SPLITS:
        counts = info["splits"][split]
        lines.append(f"  {split:5s} {counts['clips']:7d} clips ({counts['original_clips']} "
                     f"original, {counts['augmented_clips']} augmented) from "
                     f"{counts['groups']} groups, {len(info['words_per_split'][split])} words")
    if info["out_of_vocabulary_clips"]:
        lines.append(f"  {info['out_of_vocabulary_clips']} clips out of vocabulary "
                     "(dead letters: vocabulary/out_of_vocabulary)")
    for reason, count in sorted(info["dropped_by_quality"].items()):
        lines.append(f"  {count} clips dropped by quality: {reason}")
    return "\n".join(lines)
