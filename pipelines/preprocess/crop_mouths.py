"""Stage 3: fixed word windows of grey mouth crops, aligned to the mean face.

For each video: fill short landmark gaps and smooth each face track, place each word's
window inside its shot and choose its face, then warp only the (frame, face) pairs some
window uses, from the pixels the landmark pass kept of them (the flow is `clipping.py`;
this stage builds the records, counts, and turns failures into dead letters). The video
is decoded again only for windows whose crops the kept pixels do not hold, counted in
`crop_mouths.decode_passes`. A window is emitted as soon as its last frame has gone by,
and crops no window still needs are dropped. A window without a usable face
on every frame, or with several faces and no clear speaker, is a dead letter, never a
crop of something or someone else.
"""

from __future__ import annotations

import dataclasses
import math

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipelines.preprocess import clipping
from pipelines.preprocess.active_speaker import SpeakerConfig
from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, dead_letter, failure
from pipelines.preprocess.detect_landmarks import VideoTracks
from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.mean_face import mean_face
from pipelines.preprocess.quality import measure_quality
from pipelines.preprocess.sentences import Sentence, sentence_text, transcript_sentences
from pipelines.preprocess.windows import span_window
from pipelines.preprocess.word_placement import (PlacedWord, place_window, prepare_faces,
                                                 video_word_times)
from pipelines.storage import local_copy
from schemas.clip import UNIT_SENTENCE, ClipRecord

STAGE = "crop_mouths"
SENTENCE_STAGE = "crop_sentences"
SENTENCES = "sentences"  # the tagged output of sentence clips (--unit sentence)


def clip_id(video_id: str, index: int, word: str) -> str:
    return f"{video_id}#{index:04d}_{word}"


def _optional(value: float | None) -> float:
    return math.nan if value is None else float(value)


def word_spans(tracks: VideoTracks, fps: float) -> list[clipping.SpeechSpan]:
    """The work item's words, timed from the first video frame (`index`: transcript position)."""
    transcript = tracks.job.transcript
    spans = []
    for index in tracks.job.word_indices:
        word = transcript.words[index]
        start, end = video_word_times(word.start, word.end, transcript.anchor, tracks.faces, fps)
        spans.append(clipping.SpeechSpan(index, word.word, start, end))
    return spans


def word_clip(tracks: VideoTracks, placed: PlacedWord, cut: clipping.CutCrops,
              fps: float) -> ClipRecord:
    """The ClipRecord of a placed word from its crops, with its landmarks and quality."""
    video = tracks.job.input
    timing = tracks.job.transcript.words[placed.index]
    frames = placed.window.frame_indices
    face = placed.face
    smoothed, fitted = face.points(frames), face.fitted(frames)
    quality = measure_quality(cut.frames, smoothed, face.points(frames, "fitted"), fitted)
    number = tracks.job.word_number(placed.index)
    return ClipRecord(
        clip_id=clip_id(video.video_id, number, placed.word),
        video_id=video.video_id, source_video=video.video, word=placed.word,
        word_index=number, start_time=placed.start + tracks.faces.video_start,
        end_time=placed.end + tracks.faces.video_start,
        fps=fps, first_frame=placed.window.first_frame,
        padded_before=placed.window.padded_before, padded_after=placed.window.padded_after,
        frames=cut.frames,
        boundary_mask=placed.window.boundary_mask.astype(np.uint8),
        landmarks=smoothed.astype(np.float32), landmark_detected=fitted,
        crop_transform=cut.transforms.astype(np.float32),
        speaker=video.speaker, show=video.show, split=video.split, group=video.group,
        face_size=quality.face_size, yaw=quality.yaw, landmark_jitter=quality.jitter,
        sharpness=quality.sharpness, video_start=tracks.faces.video_start,
        shot=placed.shot, face_track=face.track.track_id, candidate_faces=placed.candidate_faces,
        speaker_score=placed.speaker_score, speaker_margin=placed.speaker_margin,
        asd_score=_optional(getattr(timing, "asd_score", None)),
        alignment_confidence=_optional(getattr(timing, "confidence", None)),
        av_offset=placed.shift_frames / fps,
        av_offset_estimate=(placed.av_offset.frames / fps if placed.av_offset.frames_used
                            else math.nan),
        av_offset_peak=placed.av_offset.peak)


def sentence_id(video_id: str, index: int) -> str:
    return f"{video_id}#s{index:04d}"


def _nan_stat(values: list, reduce) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(reduce(finite)) if finite else math.nan


def sentence_clip(tracks: VideoTracks, sentence: Sentence, placed: PlacedWord,
                  cut: clipping.CutCrops, fps: float) -> ClipRecord:
    """The ClipRecord of a placed sentence: its words listed, timed on the container clock."""
    record = word_clip(tracks, placed, cut, fps)
    transcript, video = tracks.job.transcript, tracks.job.input
    timings = [transcript.words[p] for p in sentence.positions]
    times = [video_word_times(w.start, w.end, transcript.anchor, tracks.faces, fps)
             for w in timings]
    start = tracks.faces.video_start
    return dataclasses.replace(
        record, clip_id=sentence_id(video.video_id, sentence.index), word_index=sentence.index,
        unit=UNIT_SENTENCE, words=tuple(w.word for w in timings),
        word_starts=tuple(a + start for a, _ in times), word_ends=tuple(b + start for _, b in times),
        asd_score=_nan_stat([getattr(w, "asd_score", None) for w in timings], np.mean),
        alignment_confidence=_nan_stat([getattr(w, "confidence", None) for w in timings], min))


class CropWordClipsFn(beam.DoFn):
    """VideoTracks -> ClipRecord per word; words that cannot be cut are dead letters."""

    def __init__(self, config: PreprocessConfig, speaker: SpeakerConfig = SpeakerConfig()):
        self._config = config
        self._speaker = speaker
        self._clips = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.clips")
        self._chosen = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.speaker_chosen_among_faces")
        self._decodes = Metrics.counter(COUNTER_NAMESPACE, f"{STAGE}.decode_passes")
        self._reference = None

    def setup(self):
        self._reference = mean_face()

    def _word_failure(self, tracks: VideoTracks, index: int, reason: str, detail: str) -> dict:
        video = tracks.job.input
        if tracks.decode_warnings and reason == "word_outside_video":
            detail += f"; ffmpeg reported damage: {tracks.decode_warnings[-300:]}"
        return failure(video.video, STAGE, reason, detail, video_id=video.video_id,
                       word=tracks.job.transcript.words[index].word,
                       word_index=tracks.job.word_number(index), words_affected=1)

    def _placed_words(self, tracks: VideoTracks, energy: np.ndarray | None,
                      placed: list[PlacedWord]):
        """Fills `placed` with the cuttable words; yields dead letters for the others."""
        config = self._config
        for outcome in clipping.place_words(word_spans(tracks, config.fps), tracks.faces, energy,
                                            config, self._speaker):
            if isinstance(outcome, clipping.Unplaced):
                yield dead_letter(self._word_failure(tracks, outcome.index, outcome.reason,
                                                     outcome.detail))
            else:
                placed.append(outcome)
                self._chosen.inc(int(outcome.candidate_faces > 1))

    def _sentence_failure(self, tracks: VideoTracks, sentence: Sentence, reason: str,
                          detail: str) -> dict:
        video = tracks.job.input
        record = failure(video.video, SENTENCE_STAGE, reason, detail, video_id=video.video_id,
                         word=" ".join(sentence.spoken), word_index=sentence.index)
        return {**record, "unit": UNIT_SENTENCE}

    def _owned_sentences(self, tracks: VideoTracks):
        """Yields (sentence, None) for each sentence this work item cuts, else (sentence, why).

        A sentence belongs to the work item owning its first word; one whose words lie in
        several chunks (a shot longer than a chunk) is refused, not cut in parts. Sentences
        with no timed word are reported by the video's first work item.
        """
        owned = set(tracks.job.word_indices)
        plan = tracks.job.plan
        first_item = plan is None or plan.chunk is None or plan.chunk.core_first == 0
        for sentence in transcript_sentences(tracks.job.transcript):
            if not sentence.positions:
                if first_item:
                    yield sentence, ("words_untimed", f"none of its {len(sentence.spoken)} "
                                                      "words has times (see their dead letters)")
            elif sentence.positions[0] not in owned:
                continue
            elif not owned.issuperset(sentence.positions):
                yield sentence, ("sentence_spans_chunks", "its words lie in two chunks of a "
                                                          "long shot; raise --chunk_seconds")
            elif not sentence.complete:
                yield sentence, ("words_untimed", f"{len(sentence.positions)} of "
                                                  f"{len(sentence.spoken)} words have times "
                                                  "(see the others' dead letters)")
            else:
                yield sentence, None

    def _place_sentence(self, tracks: VideoTracks, sentence: Sentence, faces: list,
                        energy: np.ndarray | None) -> PlacedWord:
        config, transcript = self._config, tracks.job.transcript
        first, last = (transcript.words[p] for p in (sentence.positions[0], sentence.positions[-1]))
        start, _ = video_word_times(first.start, first.end, transcript.anchor, tracks.faces,
                                    config.fps)
        _, end = video_word_times(last.start, last.end, transcript.anchor, tracks.faces,
                                  config.fps)
        window = span_window(start, end, tracks.faces.num_frames, config.sentence_margin,
                                 config.fps, config.end_tolerance)
        # The sync score spans at least the whole sentence.
        rule = dataclasses.replace(self._speaker, span=max(self._speaker.span,
                                                           window.frame_indices.shape[0]))
        return place_window(sentence.positions[0], sentence_text(transcript, sentence), start,
                            end, window, tracks.faces, faces, energy, config.max_gap, rule,
                            min_face_size=config.min_face_size)

    def _placed_sentences(self, tracks: VideoTracks, energy: np.ndarray | None,
                          placed: list[tuple[Sentence, PlacedWord]]):
        """Fills `placed` with the cuttable sentences; yields dead letters for the others."""
        faces = None
        for sentence, refusal in self._owned_sentences(tracks):
            if refusal is None:
                faces = faces or prepare_faces(tracks.faces.faces, self._config.max_gap,
                                               self._config.smooth_window)
                try:
                    placed.append((sentence, self._place_sentence(tracks, sentence, faces,
                                                                  energy)))
                    continue
                except RecordError as err:
                    reason = ("sentence_crosses_cut" if err.reason == "word_crosses_cut"
                              else err.reason)
                    refusal = (reason, err.detail)
            yield dead_letter(self._sentence_failure(tracks, sentence, *refusal))

    def _clips_of(self, path: str, tracks: VideoTracks, placed: list[PlacedWord],
                  sentences: list[tuple[Sentence, PlacedWord]]):
        """Word clips, sentence clips (tagged) and failures, cut alike from the kept pixels."""
        config = self._config
        requests = clipping.crop_requests(placed + [p for _, p in sentences])
        tracked = clipping.TrackedVideo(tracks.faces, tracks.has_audio, tracks.decode_warnings,
                                        tracks.sources)
        for outcome in clipping.cut_video_crops(path, tracked, requests, self._reference,
                                                config):
            if isinstance(outcome, clipping.SecondDecode):
                self._decodes.inc()
                continue
            if outcome.request >= len(placed):
                sentence, where = sentences[outcome.request - len(placed)]
                if isinstance(outcome, clipping.Uncut):
                    yield dead_letter(self._sentence_failure(tracks, sentence, "decode_mismatch",
                                                             outcome.detail))
                else:
                    yield beam.pvalue.TaggedOutput(SENTENCES, sentence_clip(
                        tracks, sentence, where, outcome, config.fps))
                continue
            word = placed[outcome.request]
            if isinstance(outcome, clipping.Uncut):
                yield self._word_failure(tracks, word.index, "decode_mismatch", outcome.detail)
            else:
                yield word_clip(tracks, word, outcome, config.fps)

    def process(self, tracks: VideoTracks):
        video = tracks.job.input
        emitted: set[int] = set()
        placed: list[PlacedWord] = []
        sentences: list[tuple[Sentence, PlacedWord]] = []
        cut_sentences: set[int] = set()
        try:
            with local_copy(video.video) as path:
                config = self._config
                energy = clipping.speech_energy(path, tracks.faces, config.fps, tracks.has_audio)
                yield from self._placed_words(tracks, energy, placed)
                if config.unit == UNIT_SENTENCE:
                    yield from self._placed_sentences(tracks, energy, sentences)
                if not placed and not sentences:
                    return
                for outcome in self._clips_of(path, tracks, placed, sentences):
                    if isinstance(outcome, ClipRecord):
                        emitted.add(outcome.word_index)
                        self._clips.inc()
                        yield outcome
                    elif isinstance(outcome, beam.pvalue.TaggedOutput):
                        if outcome.tag == SENTENCES:
                            cut_sentences.add(outcome.value.word_index)
                        yield outcome
                    else:
                        yield dead_letter(outcome)
        except RecordError as err:
            for left in (p for p in placed if tracks.job.word_number(p.index) not in emitted):
                yield dead_letter(self._word_failure(tracks, left.index, err.reason, err.detail))
            for sentence, _ in sentences:
                if sentence.index not in cut_sentences:
                    yield dead_letter(self._sentence_failure(tracks, sentence, err.reason,
                                                             err.detail))


class CropMouths(beam.PTransform):
    """PCollection[VideoTracks] -> main: word ClipRecords, sentences: sentence ClipRecords
    (with --unit sentence; else empty), dead_letter: failures."""

    def __init__(self, config: PreprocessConfig):
        super().__init__()
        self._config = config

    def expand(self, tracks):
        return tracks | "CutWordClips" >> beam.ParDo(CropWordClipsFn(self._config)).with_outputs(
            DEAD_LETTER, SENTENCES, main="clips")
