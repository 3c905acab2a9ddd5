"""The manifest's accounting, from hand-made outcome events."""

import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from pipelines.preprocess import manifest
from pipelines.preprocess.dead_letters import failure


def _events():
    video_failure = failure("v2.mp4", "detect_landmarks", "no_face", "d", video_id="v2",
                            words_affected=3)
    word_failure = failure("v1.mp4", "crop_mouths", "word_outside_video", "d", video_id="v1",
                           word="late", word_index=2, words_affected=1)
    orphan = failure("x.align", "discover", "missing_video", "d")
    return ([{"kind": "video"}] * 3
            + [{"kind": "words", "count": 3}, {"kind": "words", "count": 3}]
            + [{"kind": "clip", "video_id": "v1"}] * 2
            + [manifest.failure_event(f) for f in (video_failure, word_failure, orphan)]
            + [manifest.failure_event(failure("v3.mp4", "read_transcript", "missing_transcript",
                                              "d", video_id="v3"))])


def _combined(events):
    fn = manifest.SummarizeOutcomesFn()
    halves = [fn.create_accumulator(), fn.create_accumulator()]
    for i, event in enumerate(events):
        fn.add_input(halves[i % 2], event)
    return fn.extract_output(fn.merge_accumulators(halves))


def test_counts_balance_and_name_each_reason():
    document = manifest.build_manifest(_combined(_events()), {"input": "in"})
    assert document["videos"] == {"seen": 3, "processed": 1, "failed": 2}
    assert document["words"] == {"seen": 6, "written": 2, "failed": 4}
    assert document["balanced"] is True
    assert document["clips_per_video"] == {"v1": 2}
    assert document["failures"] == {"crop_mouths/word_outside_video": 1,
                                    "detect_landmarks/no_face": 1,
                                    "discover/missing_video": 1,
                                    "read_transcript/missing_transcript": 1}
    assert document["failed_words"]["detect_landmarks/no_face"] == 3
    assert document["input"] == "in"


def test_a_lost_word_unbalances_the_manifest():
    events = _events() + [{"kind": "words", "count": 1}]  # a word that never ended anywhere
    assert manifest.build_manifest(_combined(events), {})["balanced"] is False


def test_write_manifest_transform(tmp_path):
    path = str(tmp_path / "manifest.json")
    with BeamTestPipeline() as pipeline:
        _ = (pipeline | beam.Create(_events()) | manifest.WriteManifest(path, {"run": 1}))
    document = json.load(open(path))
    assert document["run"] == 1 and document["words"]["written"] == 2
