"""Stage 1b: word times for subtitle transcripts, by forced alignment of each cue.

A job whose transcript is word-timed passes through untouched. For a subtitle job
(`Transcript.needs_alignment`), each cue's audio is decoded from the video (0.5 s either
side of the cue) and its words aligned (forced_alignment.py); the job goes on with
`transcript.words` = the aligned words in cue order. Cue words are numbered in cue order,
bad cues included (`Transcript.cue_word_offsets`), and every word keeps that number: an
aligned word in `WordTiming.word_index`, a failed one in its dead letter's `word_index`.
Each word that gets no time is one dead letter (words_affected 1): the reasons of the
aligner, a bad cue's reason (e.g. "invalid_cue_times"), "no_audio_stream" for every word
of a video without audio, and the audio decoder's reason ("corrupt_audio") for the words
of a cue whose audio cannot be read. A job left without any aligned word is not passed on
(its words are all accounted for as dead letters).
"""

from __future__ import annotations

import dataclasses
import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.preprocess.audio import SAMPLE_RATE, MediaInfo, decode_audio, probe_media
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.forced_alignment import (AlignmentThresholds, CueAligner, WordFailure,
                                                   cue_audio_span, cue_failures)
from pipelines.preprocess.read_transcripts import VideoJob
from pipelines.preprocess.transcripts import Cue, Transcript, WordTiming
from pipelines.storage import local_copy

STAGE = "align_subtitles"
_LOG = logging.getLogger(__name__)


class AlignSubtitlesFn(beam.DoFn):
    """VideoJob -> VideoJob with aligned words; each word without a time is a dead letter."""

    def __init__(self, thresholds: AlignmentThresholds = AlignmentThresholds()):
        self._thresholds = thresholds
        self._aligner: CueAligner | None = None
        self._videos = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.videos")
        self._passed = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.passed_through")
        self._cues = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.cues")
        self._aligned = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.words_aligned")
        self._emptied = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.videos_without_words")

    def setup(self):
        self._aligner = CueAligner(self._thresholds)
        self._aligner.load()

    def _cue_words(self, path: str, cue: Cue, first_word_index: int,
                   media: MediaInfo) -> tuple[list[WordTiming], list[WordFailure]]:
        """Aligned words and failures of one cue, its audio read from `path`."""
        if not media.has_audio:
            return [], cue_failures(cue, "no_audio_stream",
                                    "the video has no audio stream to align the cue to")
        start, duration = cue_audio_span(cue)
        length = duration if duration is not None else media.duration - start
        limit = self._thresholds.max_cue_seconds
        if length > limit:
            return [], cue_failures(cue, "cue_too_long", (
                f"cue {cue.index}: {length:.1f} s of audio to align, over the limit of "
                f"{limit:.0f} s (a subtitle cue lasts seconds)"))
        try:
            samples = decode_audio(path, SAMPLE_RATE, start=start, duration=duration)
        except RecordError as err:
            return [], cue_failures(cue, err.reason, f"cue {cue.index}: {err.detail}")
        return self._aligner.align(samples, start, cue, first_word_index)

    def _word_letter(self, source: str, job: VideoJob, failed: WordFailure,
                     first_word_index: int):
        return dead_letter(failure(source, STAGE, failed.reason, failed.detail,
                                   video_id=job.input.video_id, word=failed.word,
                                   word_index=first_word_index + failed.word_index,
                                   words_affected=1))

    def _bad_cue_letters(self, job: VideoJob, offsets: dict[int, int]) -> list:
        source = job.input.transcript or job.input.video
        return [self._word_letter(source, job, WordFailure(i, word, bad.reason, bad.detail),
                                  offsets[bad.index])
                for bad in job.transcript.bad_cues for i, word in enumerate(bad.words)]

    def _align_cues(self, job: VideoJob, offsets: dict[int, int]) -> tuple[list, list]:
        """(aligned words in cue order, dead letters) for the job's cues."""
        video, cues = job.input, job.transcript.cues
        words: list[WordTiming] = []
        letters = []
        done = 0
        try:
            with local_copy(video.video) as path:
                media = probe_media(path)
                for cue in cues:
                    aligned, failures = self._cue_words(path, cue, offsets[cue.index], media)
                    words.extend(aligned)
                    letters += [self._word_letter(video.video, job, f, offsets[cue.index])
                                for f in failures]
                    done += 1
        except (OSError, RecordError) as err:
            reason, detail = ((err.reason, err.detail) if isinstance(err, RecordError)
                              else ("unreadable_video", str(err)))
            for cue in cues[done:]:
                letters += [self._word_letter(video.video, job, f, offsets[cue.index])
                            for f in cue_failures(cue, reason, detail)]
        self._cues.inc(done)
        return words, letters

    def process(self, job: VideoJob):
        transcript = job.transcript
        if not transcript.needs_alignment:
            self._passed.inc()
            yield job
            return
        self._videos.inc()
        offsets = transcript.cue_word_offsets()
        yield from self._bad_cue_letters(job, offsets)
        words, letters = self._align_cues(job, offsets)
        yield from letters
        self._aligned.inc(len(words))
        _LOG.info("aligned %s: %d of %d cue words", job.input.video_id, len(words),
                  transcript.word_count)
        if not words:
            self._emptied.inc()
            return
        aligned: Transcript = dataclasses.replace(transcript, words=tuple(words))
        yield dataclasses.replace(job, transcript=aligned)


class AlignSubtitles(beam.PTransform):
    """PCollection[VideoJob] -> main: VideoJob (words timed), dead_letter: failures."""

    def __init__(self, thresholds: AlignmentThresholds = AlignmentThresholds()):
        super().__init__()
        self._thresholds = thresholds

    def expand(self, jobs):
        return jobs | "AlignCueWords" >> beam.ParDo(
            AlignSubtitlesFn(self._thresholds)).with_outputs(DEAD_LETTER, main="jobs")
