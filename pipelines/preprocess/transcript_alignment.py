"""Word times for a transcript that has only cues (subtitles, a sentence-only `Text:`
line): each cue's audio is decoded from the video (0.5 s either side) and its words
aligned (forced_alignment.py). The preprocess stage (align_subtitles.py) and predict
both call `TranscriptAligner.align`. Plain code, no Beam.

Cue words are numbered in cue order, bad cues included (`Transcript.cue_word_offsets`),
and every word keeps that number: an aligned word in `WordTiming.word_index`, a failed
one in its record's `word_index`. Each word that gets no time is one failure record
(words_affected 1): the aligner's reasons, a bad cue's reason ("invalid_cue_times"),
"no_audio_stream" for every word of a video without audio, "cue_too_long" for a cue over
the limit, and the audio decoder's reason ("corrupt_audio") for a cue whose audio cannot
be read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pipelines.preprocess.audio import SAMPLE_RATE, MediaInfo, decode_audio, probe_media
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.forced_alignment import (AlignmentThresholds, CueAligner, WordFailure,
                                                   cue_audio_span, cue_failures)
from pipelines.preprocess.transcripts import Cue, Transcript, WordTiming
from pipelines.preprocess.video_job import VideoJob
from pipelines.storage import local_copy
from schemas.dead_letter import failure

STAGE = "align_subtitles"


@dataclass(frozen=True)
class TranscriptAlignment:
    """`job` with the aligned words (None when no word got a time), a failure record per
    word that got none, and how many cues were read."""

    job: VideoJob | None
    failures: tuple[dict, ...]
    cues_read: int

    @property
    def words_aligned(self) -> int:
        return 0 if self.job is None else len(self.job.transcript.words)


class TranscriptAligner:
    """Aligns the cues of a job's transcript; `load()` once before `align`."""

    def __init__(self, thresholds: AlignmentThresholds = AlignmentThresholds()):
        self._thresholds = thresholds
        self._aligner: CueAligner | None = None

    def load(self) -> None:
        self._aligner = CueAligner(self._thresholds)
        self._aligner.load()

    def align(self, job: VideoJob) -> TranscriptAlignment:
        """The job with its cue words timed, and a record for each word left untimed."""
        transcript = job.transcript
        offsets = transcript.cue_word_offsets()
        words, letters, cues_read = self._align_cues(job, offsets)
        records = self._bad_cue_records(job, offsets) + letters
        if not words:
            return TranscriptAlignment(None, tuple(records), cues_read)
        aligned: Transcript = dataclasses.replace(transcript, words=tuple(words))
        return TranscriptAlignment(dataclasses.replace(job, transcript=aligned), tuple(records),
                                   cues_read)

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

    @staticmethod
    def _word_record(source: str, job: VideoJob, failed: WordFailure,
                     first_word_index: int) -> dict:
        return failure(source, STAGE, failed.reason, failed.detail,
                       video_id=job.input.video_id, word=failed.word,
                       word_index=first_word_index + failed.word_index, words_affected=1)

    def _bad_cue_records(self, job: VideoJob, offsets: dict[int, int]) -> list[dict]:
        source = job.input.transcript or job.input.video
        return [self._word_record(source, job, WordFailure(i, word, bad.reason, bad.detail),
                                  offsets[bad.index])
                for bad in job.transcript.bad_cues for i, word in enumerate(bad.words)]

    def _align_cues(self, job: VideoJob, offsets: dict[int, int]
                    ) -> tuple[list[WordTiming], list[dict], int]:
        """(aligned words in cue order, failure records, cues read) for the job's cues."""
        video, cues = job.input, job.transcript.cues
        words: list[WordTiming] = []
        records: list[dict] = []
        done = 0
        try:
            with local_copy(video.video) as path:
                media = probe_media(path)
                for cue in cues:
                    aligned, failures = self._cue_words(path, cue, offsets[cue.index], media)
                    words.extend(aligned)
                    records += [self._word_record(video.video, job, f, offsets[cue.index])
                                for f in failures]
                    done += 1
        except (OSError, RecordError) as err:
            reason, detail = ((err.reason, err.detail) if isinstance(err, RecordError)
                              else ("unreadable_video", str(err)))
            for cue in cues[done:]:
                records += [self._word_record(video.video, job, f, offsets[cue.index])
                            for f in cue_failures(cue, reason, detail)]
        return words, records, done
