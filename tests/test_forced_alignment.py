"""Forced alignment of subtitle cues with the real decoder on real GRID audio, and the
align-subtitles Beam stage.

Each sample clip's GRID alignment is turned into an SRT with the word times removed: one
cue per sentence, from its first word's start to its last word's end. The reference word
times are read by hand from the `.align` files (1/25000 s ticks).
"""

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.preprocess.align_subtitles import AlignSubtitles
from pipelines.preprocess.audio import decode_audio
from pipelines.preprocess.dead_letters import DEAD_LETTER
from pipelines.preprocess.forced_alignment import CueAligner, cue_audio_span
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import Cue, Transcript, WordTiming, parse_transcript
from tests import media

TWO_FRAMES = 0.080 + 1e-6  # seconds at 25 fps
# The first four sample clips in name order, from their .align files: (word, start, end) s.
REFERENCE = {
    "bbaf3s": [("bin", 0.71, 0.90), ("blue", 0.90, 1.08), ("at", 1.08, 1.12),
               ("f", 1.12, 1.24), ("three", 1.24, 1.45), ("soon", 1.45, 1.87)],
    "bbiz1s": [("bin", 1.23, 1.46), ("blue", 1.46, 1.62), ("in", 1.62, 1.71),
               ("z", 1.71, 1.96), ("one", 1.96, 2.09), ("soon", 2.09, 2.51)],
    "bgbo1a": [("bin", 0.79, 1.02), ("green", 1.02, 1.36), ("by", 1.36, 1.58),
               ("o", 1.58, 1.76), ("one", 1.76, 1.98), ("again", 1.98, 2.37)],
    "bras9a": [("bin", 0.63, 0.91), ("red", 0.91, 1.11), ("at", 1.11, 1.53),
               ("s", 1.53, 1.73), ("nine", 1.73, 2.00), ("again", 2.00, 2.42)],
}
LRIQ9A = [("lay", 0.64, 0.95), ("red", 0.95, 1.14), ("in", 1.14, 1.26), ("q", 1.26, 1.43),
          ("nine", 1.43, 1.66), ("again", 1.66, 2.00)]


def _srt_time(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d},{rest % 1000:03d}"


def _srt(*cues: tuple[float, float, str]) -> bytes:
    return "".join(f"{n}\n{_srt_time(start)} --> {_srt_time(end)}\n{text}\n\n"
                   for n, (start, end, text) in enumerate(cues, start=1)).encode()


def _sentence_srt(words, text=None) -> bytes:
    """One cue from the first word's start to the last word's end; its text upper-case."""
    return _srt((words[0][1], words[-1][2], text or " ".join(w for w, _, _ in words).upper()))


def _cue(srt: bytes) -> Cue:
    (cue,) = parse_transcript(srt, "clip.srt").cues
    return cue


def _align(aligner: CueAligner, clip: str, cue: Cue):
    start, duration = cue_audio_span(cue)
    samples = decode_audio(media.sample_video(clip), start=start, duration=duration)
    return aligner.align(samples, start, cue)


@pytest.fixture(scope="module")
def aligner() -> CueAligner:
    loaded = CueAligner()
    loaded.load()
    return loaded


def test_right_text_lands_within_two_frames(aligner):
    within, boundaries, failed = 0, 0, []
    for clip, reference in REFERENCE.items():
        cue = _cue(_sentence_srt(reference))
        assert cue.words == tuple(w for w, _, _ in reference)
        aligned, failures = _align(aligner, clip, cue)
        failed += [(clip, f.word, f.reason) for f in failures]
        failed_at = {f.word_index for f in failures}
        expected = [r for i, r in enumerate(reference) if i not in failed_at]
        assert [w.word for w in aligned] == [w for w, _, _ in expected]
        for word, (_, start, end) in zip(aligned, expected):
            assert 0.0 <= word.confidence <= 1.0 and word.cue_index == 0
            boundaries += 2
            within += (abs(word.start - start) <= TWO_FRAMES) + (abs(word.end - end) <= TWO_FRAMES)
    # The text is right and every word is in the dictionary: no cue-level failure, and
    # at most one word of 24 below the word threshold.
    assert all(reason == "low_alignment_confidence" for _, _, reason in failed)
    assert len(failed) <= 1
    assert within / boundaries >= 0.90


def test_word_index_counts_from_the_cue_first_word(aligner):
    cue = _cue(_sentence_srt(LRIQ9A))
    start, duration = cue_audio_span(cue)
    samples = decode_audio(media.sample_video("lriq9a"), start=start, duration=duration)
    aligned, _ = aligner.align(samples, start, cue, first_word_index=10)
    assert [w.word_index for w in aligned] == [10, 11, 12, 13, 14, 15]


def test_another_sentence_on_this_audio_is_a_text_mismatch(aligner):
    # bbaf3s says "bin blue at f three soon"; lriq9a's sentence shares no word with it.
    cue = _cue(_sentence_srt(REFERENCE["bbaf3s"], text="LAY RED IN Q NINE AGAIN"))
    aligned, failures = _align(aligner, "bbaf3s", cue)
    assert aligned == []
    assert [(f.word_index, f.word, f.reason) for f in failures] == [
        (i, w, "cue_text_mismatch") for i, w in enumerate(["lay", "red", "in", "q", "nine",
                                                          "again"])]


def test_unknown_word_is_a_dead_letter_and_its_neighbours_still_align(aligner):
    cue = _cue(_sentence_srt(LRIQ9A, text="Lay red in zorblax Q nine again"))
    aligned, failures = _align(aligner, "lriq9a", cue)
    assert [(f.word_index, f.word, f.reason) for f in failures] == [
        (3, "zorblax", "not_in_dictionary")]
    assert [w.word for w in aligned] == ["lay", "red", "in", "q", "nine", "again"]
    by_word = {w.word: w for w in aligned}
    for word in ("in", "q"):  # the neighbours: in 1.14-1.26 s, q 1.26-1.43 s
        _, start, end = next(r for r in LRIQ9A if r[0] == word)
        assert abs(by_word[word].start - start) <= TWO_FRAMES
        assert abs(by_word[word].end - end) <= TWO_FRAMES


def test_cue_past_the_end_of_the_audio(aligner):
    cue = Cue(4, 10.0, 11.5, "Too late", ("too", "late"))  # the clip lasts 2.98 s
    aligned, failures = _align(aligner, "bbaf3s", cue)
    assert aligned == []
    assert [(f.word_index, f.reason) for f in failures] == [(0, "cue_outside_audio"),
                                                            (1, "cue_outside_audio")]
    assert "cue 4" in failures[0].detail


def test_more_words_than_the_audio_can_hold_fail_to_align(aligner):
    # 20 words in a 0.1 s cue: its 1.1 s of audio (0.5 s padding each side) is too short
    # for their phones even at one 10 ms frame per state, so no path exists.
    words = tuple("the quick brown fox jumps over the lazy dog again and again and again "
                  "until the end of time itself".split())
    aligned, failures = _align(aligner, "bbaf3s", Cue(0, 1.0, 1.1, " ".join(words), words))
    assert aligned == []
    assert [f.reason for f in failures] == ["alignment_failed"] * len(words)


def test_aligner_must_be_loaded():
    with pytest.raises(RuntimeError, match="load"):
        CueAligner().decode(decode_audio(media.sample_video(), duration=0.5), ("bin",))


# The Beam stage -------------------------------------------------------------------------------


def _counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    return sum(c.committed for c in found)


def _subtitle_job(clip: str, video: str, srt: bytes) -> VideoJob:
    return VideoJob(VideoInput(video, f"video/{clip}", f"{clip}.srt"),
                    parse_transcript(srt, f"{clip}.srt"))


def test_align_subtitles_stage(tmp_path):
    # lriq9a: cue 0 has 7 words (zorblax is not said), cue 1 ends before it starts, so
    # its 2 words are numbered 7 and 8 and dead-lettered.
    subtitles = _subtitle_job("lriq9a", media.sample_video("lriq9a"), _srt(
        (0.64, 2.00, "Lay red in zorblax Q nine again"), (2.5, 2.0, "Late words")))
    with open(media.sample_align("bbaf3s"), "rb") as handle:
        grid = VideoJob(VideoInput(media.sample_video("bbaf3s"), "video/bbaf3s",
                                   media.sample_align("bbaf3s")),
                        parse_transcript(handle.read(), "bbaf3s.align"))
    silent = media.h264(media.sample_video("bgbo1a"), str(tmp_path / "silent.mp4"))
    no_audio = _subtitle_job("bgbo1a", silent, _srt((0.79, 2.37, "Bin green by O one again")))

    pipeline = BeamTestPipeline()
    out = pipeline | beam.Create([subtitles, grid, no_audio]) | AlignSubtitles()
    assert_that(
        out.jobs | beam.Map(lambda j: (j.input.video_id, j.transcript.format,
                                       [(w.word, w.word_index, w.cue_index)
                                        for w in j.transcript.words])),
        equal_to([
            ("video/lriq9a", "srt", [("lay", 0, 0), ("red", 1, 0), ("in", 2, 0), ("q", 4, 0),
                                     ("nine", 5, 0), ("again", 6, 0)]),
            ("video/bbaf3s", "grid", [(w.word, -1, -1) for w in grid.transcript.words]),
        ]), label="main")
    assert_that(
        out[DEAD_LETTER] | beam.Map(lambda f: (f["video_id"], f["stage"], f["word"],
                                               f["word_index"], f["reason"],
                                               f["words_affected"])),
        equal_to([
            ("video/lriq9a", "align_subtitles", "zorblax", 3, "not_in_dictionary", 1),
            ("video/lriq9a", "align_subtitles", "late", 7, "invalid_cue_times", 1),
            ("video/lriq9a", "align_subtitles", "words", 8, "invalid_cue_times", 1),
        ] + [("video/bgbo1a", "align_subtitles", w, i, "no_audio_stream", 1)
             for i, w in enumerate(["bin", "green", "by", "o", "one", "again"])]),
        label="dead")
    result = pipeline.run()
    result.wait_until_finish()
    assert _counter(result, "align_subtitles.passed_through") == 1
    assert _counter(result, "align_subtitles.words_aligned") == 6
    assert _counter(result, "align_subtitles.videos_without_words") == 1
    assert _counter(result, "align_subtitles.failed.no_audio_stream") == 6
    assert _counter(result, "align_subtitles.failed.not_in_dictionary") == 1


def test_aligned_transcript_accounts_for_every_cue_word():
    # words seen (cue words) = words kept + words dead-lettered, as the manifest needs.
    cue = Cue(0, 0.5, 1.5, "a b c", ("a", "b", "c"))
    aligned = Transcript("srt", (WordTiming("a", 0.5, 0.7, word_index=0),
                                 WordTiming("c", 1.1, 1.4, word_index=2)), cues=(cue,))
    assert aligned.word_count == 3 and not aligned.needs_alignment
    assert [aligned.word_index(i) for i in range(2)] == [0, 2]


def test_a_cue_of_hours_is_refused_without_decoding_its_audio(monkeypatch):
    # 00:00 --> 09:59:59 would decode ten hours of audio into memory before aligning.
    job = _subtitle_job("lriq9a", media.sample_video("lriq9a"),
                        b"1\n00:00:00,640 --> 09:59:59,000\nLay red in Q nine again\n")
    from pipelines.preprocess import transcript_alignment

    def no_decode(*args, **kwargs):
        raise AssertionError("the audio of an over-long cue was decoded")

    monkeypatch.setattr(transcript_alignment, "decode_audio", no_decode)
    aligner = transcript_alignment.TranscriptAligner()
    aligner.load()
    result = aligner.align(job)
    assert result.job is None
    letters = list(result.failures)
    assert [(f["word"], f["reason"]) for f in letters] == [
        (w, "cue_too_long") for w in ("lay", "red", "in", "q", "nine", "again")]
    assert "35999.4 s of audio" in letters[0]["detail"]  # the cue and 0.5 s after it
