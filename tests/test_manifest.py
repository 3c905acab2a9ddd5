"""The manifest's accounting, from hand-made outcome events."""

import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from pipelines.preprocess import manifest
from pipelines.preprocess.dead_letters import failure, kind_of


def _word(stage, reason, word_index):
    return failure("v1.mp4", stage, reason, "d", video_id="v1", word="w", word_index=word_index,
                   words_affected=1)


def _events():
    video_no_face = failure("v2.mp4", "detect_landmarks", "no_face", "d", video_id="v2",
                            words_affected=3)
    orphan = failure("x.align", "discover", "missing_video", "d")
    letters = [video_no_face, orphan,
               _word("crop_mouths", "word_outside_video", 2),
               _word("align_subtitles", "alignment_failed", 3),
               _word("vocabulary", "out_of_vocabulary", 4),
               failure("v3.mp4", "read_transcript", "missing_transcript", "d", video_id="v3")]
    return ([{"kind": "video"}] * 3
            + [{"kind": "words", "count": 5}, {"kind": "words", "count": 3}]
            + [{"kind": "clip", "video_id": "v1"}] * 2
            + [manifest.failure_event(letter) for letter in letters])


def _combined(events):
    fn = manifest.SummarizeOutcomesFn()
    halves = [fn.create_accumulator(), fn.create_accumulator()]
    for i, event in enumerate(events):
        fn.add_input(halves[i % 2], event)
    return fn.extract_output(fn.merge_accumulators(halves))


@pytest.mark.parametrize("stage, reason, kind", [
    ("vocabulary", "out_of_vocabulary", "dropped"),
    ("quality", "too_blurred", "dropped"),
    ("quality", "a_threshold_added_later", "dropped"),
    ("crop_mouths", "ambiguous_speaker", "dropped"),
    ("crop_mouths", "no_sync_signal", "dropped"),
    ("align_subtitles", "low_alignment_confidence", "dropped"),
    ("crop_mouths", "no_face", "no_clip"),
    ("detect_landmarks", "no_face", "no_clip"),
    ("crop_mouths", "word_outside_video", "no_clip"),
    ("crop_mouths", "word_crosses_cut", "no_clip"),
    ("crop_mouths", "invalid_word_times", "no_clip"),
    ("align_subtitles", "not_in_dictionary", "no_clip"),
    ("detect_landmarks", "corrupt_video", "failure"),
    ("crop_mouths", "decode_mismatch", "failure"),
    ("read_transcript", "unparseable_transcript", "failure"),
    ("align_subtitles", "alignment_failed", "failure"),
    ("split", "bad_split", "failure"),
    ("a_new_stage", "out_of_vocabulary", "failure"),
    ("vocabulary", "a_new_reason", "failure"),
])
def test_every_dead_letter_carries_its_kind_and_unknown_reasons_are_failures(stage, reason, kind):
    assert kind_of(stage, reason) == kind
    assert failure("in", stage, reason, "d")["kind"] == kind


def test_counts_balance_and_separate_failures_drops_and_words_without_a_clip():
    document = manifest.build_manifest(_combined(_events()), {"input": "in"})
    assert document["videos"] == {"seen": 3, "processed": 1, "failed": 2}
    assert document["words"] == {"seen": 8, "written": 2, "failed": 1, "dropped": 1,
                                 "no_clip": 4}
    assert document["balanced"] is True
    assert document["clips_per_video"] == {"v1": 2}
    assert document["failures"] == {"align_subtitles/alignment_failed": 1,
                                    "crop_mouths/word_outside_video": 1,
                                    "detect_landmarks/no_face": 1,
                                    "discover/missing_video": 1,
                                    "read_transcript/missing_transcript": 1,
                                    "vocabulary/out_of_vocabulary": 1}
    assert document["failed_words"]["detect_landmarks/no_face"] == 3
    assert document["reason_kinds"] == {"align_subtitles/alignment_failed": "failure",
                                        "crop_mouths/word_outside_video": "no_clip",
                                        "detect_landmarks/no_face": "no_clip",
                                        "discover/missing_video": "failure",
                                        "read_transcript/missing_transcript": "failure",
                                        "vocabulary/out_of_vocabulary": "dropped"}
    assert document["input"] == "in"


def test_a_lost_word_unbalances_the_manifest():
    events = _events() + [{"kind": "words", "count": 1}]  # a word that never ended anywhere
    assert manifest.build_manifest(_combined(events), {})["balanced"] is False


def test_a_dead_letter_of_unknown_kind_is_refused():
    record = dict(failure("in", "quality", "too_blurred", "d"), kind="maybe")
    with pytest.raises(ValueError, match="unknown kind 'maybe'"):
        manifest.failure_event(record)


def test_write_manifest_transform(tmp_path):
    path = str(tmp_path / "manifest.json")
    with BeamTestPipeline() as pipeline:
        _ = (pipeline | beam.Create(_events()) | manifest.WriteManifest(path, {"run": 1}))
    document = json.load(open(path))
    assert document["run"] == 1 and document["words"]["written"] == 2
    assert document["words"]["no_clip"] == 4 and document["balanced"]
