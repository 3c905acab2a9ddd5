"""The evaluation job: scores exported models on one split of a lipflow dataset.

  split files -> ReadClips -> SortClips (augmented copies skipped, out-of-vocabulary
  words counted) -> RunInference (SavedModelHandler, keyed by clip id, batched)
  -> [DecodeInContext, with --context: a class bigram of the train split's transcripts]
  -> Scored rows -> CollectOutcomes -> metrics.json, confusion.csv, per_word.csv,
  report.html, manifest.json; predictions.jsonl and dead_letters.jsonl beside them.

Labels are matched by word string through the models' own vocabulary, never by the
dataset's label ids, so any dataset lipflow wrote can be scored by any model.
"""

from __future__ import annotations

import functools
import json
import logging

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.evaluate import homophemes, outcomes
from pipelines.evaluate.config import EvaluateConfig
from pipelines.evaluate.inference import SavedModelHandler, union_vocabulary
from pipelines.evaluate.metrics import MetricsConfig
from pipelines.evaluate.outputs import METRICS_FILE, RunContext, write_outputs
from pipelines.evaluate.progress import progress_line, record_progress, split_clips
from pipelines.evaluate.read_clips import ReadClips, split_files
from pipelines.evaluate.score import (AUGMENTED, OUT_OF_VOCABULARY, SortClipsFn,
                                      inference_failures, prediction_line, scored_row)
from pipelines.evaluate.sentence_context import (DecodeInContext, TrainTranscripts, describe,
                                                 language_model)
from pipelines.evaluate.views import TTA_MODES
from pipelines.preprocess.dead_letters import DEAD_LETTER, WriteDeadLetters
from pipelines.progress import reported
from schemas.contract import check_contract, dataset_contract
from schemas.export import read_contract, read_vocabulary
from schemas.layout import DATASET_INFO_FILE

PREDICTIONS_FILE = "predictions.jsonl"
DEAD_LETTERS_FILE = "dead_letters.jsonl"
_LOG = logging.getLogger(__name__)


def read_baseline(path: str) -> dict:
    """A baseline metrics.json, or ValueError saying why it cannot be one."""
    try:
        with FileSystems.open(path) as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read baseline {path!r}: {err}") from err
    if not isinstance(document, dict) or "top1" not in document:
        raise ValueError(f"baseline {path!r} is not a lipflow metrics.json (no top1)")
    return document


def check_models_fit_data(models: tuple[str, ...], data: str) -> None:
    """ValueError unless every model's preprocessing contract matches the dataset's."""
    path = FileSystems.join(data, DATASET_INFO_FILE)
    if not FileSystems.exists(path):
        raise ValueError(f"--data {data!r} has no {DATASET_INFO_FILE}: give the folder that "
                         "lipflow preprocess wrote")
    with FileSystems.open(path) as handle:
        clips = dataset_contract(json.loads(handle.read().decode("utf-8")), data)
    for model in models:
        check_contract(read_contract(model), clips, repr(model), f"the dataset {data!r}")


def run_context(config: EvaluateConfig, data: str, output: str) -> RunContext:
    """Everything fixed before the pipeline starts; bad models or baselines fail here."""
    check_models_fit_data(config.models, data)
    vocabularies = tuple(tuple(read_vocabulary(m)) for m in config.models)
    vocabulary = tuple(union_vocabulary(vocabularies))
    mapping = homophemes.mapping_named(config.viseme_mapping)
    baseline = read_baseline(config.baseline) if config.baseline else None
    return RunContext(
        output=output, models=config.models, model_vocabularies=vocabularies, data=data,
        split=config.split,
        views=TTA_MODES[config.tta], vocabulary=vocabulary,
        viseme_classes=homophemes.homopheme_classes(vocabulary, mapping),
        homopheme_groups=tuple(tuple(g) for g in homophemes.homopheme_groups(vocabulary,
                                                                             mapping)),
        mapping={"name": mapping.name, "citation": mapping.citation},
        metrics=MetricsConfig(config.bootstrap_samples, config.confidence_level, config.seed),
        options={"data": data, "output": output, **config.as_dict()},
        baseline=baseline, baseline_path=config.baseline)


def build_pipeline(pipeline: beam.Pipeline, files: list[str], config: EvaluateConfig,
                   context: RunContext, progress_folder: str = "") -> None:
    """Adds the whole evaluation to `pipeline`; progress taps write into `progress_folder`
    (pipelines.progress) unless it is ""."""
    vocabulary = list(context.vocabulary)
    index = {word: i for i, word in enumerate(vocabulary)}
    read = pipeline | "ListFiles" >> beam.Create(files) | "ReadClips" >> ReadClips()
    sorted_clips = read["clips"] | "SortClips" >> beam.ParDo(
        SortClipsFn(vocabulary, config.slices)).with_outputs(
            DEAD_LETTER, OUT_OF_VOCABULARY, AUGMENTED, main="scored")
    handler = KeyedModelHandler(SavedModelHandler(
        config.models, context.model_vocabularies, context.views,
        config.batch_size))
    predicted, failed = (sorted_clips.scored
                         | "RunInference" >> RunInference(handler).with_exception_handling())
    language = None
    if config.context != "none":
        found = (pipeline | "ListTrainFiles" >> beam.Create(split_files(context.data, "train"))
                 | "TrainTranscripts" >> TrainTranscripts())
        model = found | "LanguageModel" >> beam.Map(
            language_model, vocabulary, config.context_weight, config.context_classes)
        language = model | "DescribeContext" >> beam.Map(
            describe, found=beam.pvalue.AsSingleton(found))
        predicted = predicted | "DecodeInContext" >> DecodeInContext(
            beam.pvalue.AsSingleton(model))
    rows = predicted | "ScoredRows" >> beam.Map(scored_row, index)
    (rows | "PredictionLines" >> beam.Map(prediction_line, vocabulary)
     | "WritePredictions" >> beam.io.WriteToText(
         FileSystems.join(context.output, PREDICTIONS_FILE), num_shards=1,
         shard_name_template=""))
    failed_clips = (failed.failed_inferences
                    | "InferenceFailures" >> beam.FlatMap(inference_failures))
    failures = ((read["failures"], sorted_clips[DEAD_LETTER], failed_clips)
                | "AllFailures" >> beam.Flatten())
    failures | "WriteDeadLetters" >> WriteDeadLetters(
        FileSystems.join(context.output, DEAD_LETTERS_FILE))
    events = ((read["records"] | "RecordEvents" >> beam.Map(outcomes.record_event),
               rows | "ScoredEvents" >> beam.Map(outcomes.scored_event),
               sorted_clips[OUT_OF_VOCABULARY] | "OovEvents" >> beam.Map(outcomes.oov_event),
               sorted_clips[AUGMENTED] | "AugmentedEvents" >> beam.Map(
                   outcomes.augmented_event),
               failures | "FailureEvents" >> beam.Map(outcomes.failure_event))
              | "AllEvents" >> beam.Flatten())
    if progress_folder:
        record_progress(progress_folder, events)
    (events
     | "CollectOutcomes" >> beam.CombineGlobally(outcomes.CollectOutcomesFn())
     | "WriteOutputs" >> beam.Map(
         write_outputs, context,
         language=beam.pvalue.AsSingleton(language) if language is not None else None))


def run(config: EvaluateConfig, data: str, output: str, options: PipelineOptions) -> dict:
    """Runs the evaluation and returns the metrics.json it wrote."""
    files = split_files(data, config.split)
    if config.context != "none":
        split_files(data, "train")  # the context model is counted on the train transcripts
    context = run_context(config, data, output)
    if not FileSystems.exists(output):
        FileSystems.mkdirs(output)
    _LOG.info("evaluating %d model(s) on %d files of %s/%s (%d views each)",
              len(config.models), len(files), data, config.split, len(context.views))
    describe = functools.partial(progress_line, expected=split_clips(data, config.split))
    with reported(options, describe, _LOG) as progress_folder, \
            beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, files, config, context, progress_folder)
    with FileSystems.open(FileSystems.join(output, METRICS_FILE)) as handle:
        return json.loads(handle.read().decode("utf-8"))
