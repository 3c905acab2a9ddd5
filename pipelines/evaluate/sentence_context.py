"""Sentence context in the evaluation job: the train split's transcripts -> a class bigram
(pipelines.evaluate.context) -> each video's scored clips decoded together.

  train files -> ReadTranscripts -> (video, (word_index, word)) -> GroupByKey -> pairs per
  video -> one LanguageModel (a side input)
  predictions -> keyed by video -> GroupByKey -> DecodeInContext -> predictions whose
  probabilities are the marginals given the neighbours

Only the words of the training transcripts are counted, never those of the split being
scored. Train records that cannot be read are counted in the model's description (they
are not records of the scored split, so they are no dead letters of this run).
"""

from __future__ import annotations

import logging
from collections import Counter

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import PredictionResult

from pipelines.evaluate import context as language
from pipelines.evaluate.context import ALONE_SLICE
from pipelines.evaluate.read_clips import ReadRecordsFn
from pipelines.preprocess.dead_letters import DEAD_LETTER
from schemas.clip import AUGMENT_COPY, VIDEO_ID, WORD, WORD_INDEX, decode_context

_LOG = logging.getLogger(__name__)


def transcript_entry(item):
    """(file, serialised train record) -> [(video, (word_index, word))], [] for an augmented
    copy, or a ("unreadable", 1) marker for a record that is no clip."""
    _, serialized = item
    try:
        clip = decode_context(serialized)
    except ValueError:
        return [("unreadable", 1)]
    if clip[AUGMENT_COPY]:
        return []
    return [("word", (clip[VIDEO_ID], (int(clip[WORD_INDEX]), clip[WORD])))]


class TrainTranscripts(beam.PTransform):
    """PCollection[train file] -> one dict {"transcripts": [pair Counter per video, by video
    id], "unreadable_files": n, "unreadable_records": n}."""

    def expand(self, files):
        records = (files | "SpreadTrainFiles" >> beam.Reshuffle()
                   | "ReadTrainRecords" >> beam.ParDo(ReadRecordsFn()).with_outputs(
                       DEAD_LETTER, main="records"))
        entries = records.records | "TranscriptEntries" >> beam.FlatMap(transcript_entry)
        words = (entries | "Words" >> beam.Filter(lambda e: e[0] == "word")
                 | "ByVideo" >> beam.Map(lambda e: e[1]) | "GroupVideos" >> beam.GroupByKey()
                 | "VideoPairs" >> beam.MapTuple(
                     lambda video, found: (video, language.transcript_pairs(found)))
                 | "AllVideos" >> beam.combiners.ToList())
        unreadable = (entries | "Unreadable" >> beam.Filter(lambda e: e[0] == "unreadable")
                      | "CountUnreadable" >> beam.combiners.Count.Globally())
        broken = records[DEAD_LETTER] | "CountBrokenFiles" >> beam.combiners.Count.Globally()
        return (words | "Transcripts" >> beam.Map(
            lambda videos, bad, files_bad: {
                "transcripts": [pairs for _, pairs in sorted(videos, key=lambda v: v[0])],
                "unreadable_records": bad, "unreadable_files": files_bad},
            bad=beam.pvalue.AsSingleton(unreadable),
            files_bad=beam.pvalue.AsSingleton(broken)))


def language_model(found: dict, vocabulary, weight: float, classes: int
                   ) -> language.BigramContext:
    """The class bigram over the scored vocabulary from the train transcripts."""
    if not found["transcripts"]:
        _LOG.warning("context: the train split gave no readable transcripts, so the context "
                     "model is uniform and the predictions are the visual model's alone")
    model = language.bigram_context(found["transcripts"], vocabulary, weight, classes)
    _LOG.info("context: class bigram with %d classes from %d word pairs of %d training "
              "videos", model.classes, model.pairs, len(found["transcripts"]))
    if found["unreadable_records"] or found["unreadable_files"]:
        _LOG.warning("context: %d train records and %d train files could not be read; the "
                     "context model is counted without them", found["unreadable_records"],
                     found["unreadable_files"])
    return model


def describe(model: language.BigramContext, found: dict) -> dict:
    return {**model.describe(), "training_videos": len(found["transcripts"]),
            "unreadable_train_records": found["unreadable_records"],
            "unreadable_train_files": found["unreadable_files"]}


class DecodeInContextFn(beam.DoFn):
    """(video, [(clip id, PredictionResult)]) -> (clip id, PredictionResult) whose inference
    is the clip's marginal given its neighbours; the example's slices gain `model_alone`."""

    def process(self, item, model: language.BigramContext):
        _, predictions = item
        predictions = list(predictions)
        posteriors = [(int(result.example[WORD_INDEX]), np.asarray(result.inference))
                      for _, result in predictions]
        for (clip_id, result), marginal in zip(predictions,
                                               language.decode_video(posteriors, model)):
            label = model.vocabulary.index(result.example[WORD])
            alone = int(np.argmax(result.inference)) == label
            example = {**result.example,
                       "slices": {**result.example["slices"],
                                  ALONE_SLICE: "right" if alone else "wrong"}}
            yield clip_id, PredictionResult(example, marginal, result.model_id)


class DecodeInContext(beam.PTransform):
    """Predictions -> the same predictions decoded with their videos' other words."""

    def __init__(self, model):
        super().__init__()
        self._model = model

    def expand(self, predicted):
        return (predicted
                | "KeyByVideo" >> beam.Map(lambda item: (item[1].example[VIDEO_ID], item))
                | "GroupByVideo" >> beam.GroupByKey()
                | "Decode" >> beam.ParDo(DecodeInContextFn(), self._model))
