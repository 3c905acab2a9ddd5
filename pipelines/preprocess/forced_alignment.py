"""Word times for subtitle cues: forced alignment of each cue's text to its audio.

Subtitles give a sentence's times, not its words'. `CueAligner` aligns one cue's words to
the cue's audio with pocketsphinx (its en-US acoustic model and pronouncing dictionary,
shipped in the wheel, so nothing is downloaded), and says which words it cannot vouch for.

Audio. The caller cuts 16 kHz mono int16 audio from `cue.start - 0.5 s` to
`cue.end + 0.5 s` (clamped at 0, `cue_audio_span`), so that a cue timed a little early or
late still holds its speech; every word time returned is on the container clock
(`audio_start + frame / 100`, pocketsphinx frames are 10 ms).

Dictionary. Every word must be in the decoder's dictionary (pocketsphinx has no
letter-to-sound rules). A word that is not stands in the text as `UNKNOWN_WORD`, pronounced
as one "any speech" phone (`+SPN+`), so its neighbours still align; it fails as
"not_in_dictionary".

Scores. A word's score is its acoustic log-likelihood per 10 ms frame; a cue's is the
frame-weighted mean over its dictionary words; a word's confidence in [0, 1] is a logistic
function of its score.

Outcomes, per cue (every word of the cue fails with the cue-level reason):
- "cue_outside_audio": no audio at or after the cue's start (past the end of the file).
- "alignment_failed": the decoder found no path through the text at all, neither with
  its default beams nor with a wide beam (`AlignmentThresholds.wide_beam`).
- "cue_text_mismatch": the best path covers only the first k words of the text (the
  speech stops following the text), or the cue score is below `min_cue_score`.
Per word: "not_in_dictionary"; "low_alignment_confidence" when its score is below
`min_word_score`. "no_audio_stream" and audio decode errors are the caller's
(transcript_alignment.py), which fails every word of the video's cues with that reason.

How the thresholds and the confidence were chosen on GRID, with the figures:
docs/results/calibration.md (Forced alignment).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pipelines.preprocess.transcripts import Cue, WordTiming

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100
CUE_PADDING_SECONDS = 0.5
UNKNOWN_WORD = "++unknown++"
SPEECH_PHONE = "+SPN+"
SCORE_FLOOR = math.log(5e-324)  # the smallest positive double, as a natural log

CUE_REASONS = ("cue_outside_audio", "alignment_failed", "cue_text_mismatch", "cue_too_long")
WORD_REASONS = ("not_in_dictionary", "low_alignment_confidence")

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignmentThresholds:
    """What the aligner accepts. Scores are nats per 10 ms frame (see the docstring)."""

    min_word_score: float = -6.72
    min_cue_score: float = -3.06
    confidence_midpoint: float = -3.17
    confidence_scale: float = 0.84
    wide_beam: float = 1e-100
    # A longer cue is not aligned (its words are dead letters "cue_too_long"): subtitle
    # cues last seconds, and a cue of hours would decode all of its audio into memory.
    max_cue_seconds: float = 120.0

    def __post_init__(self):
        if self.confidence_scale <= 0:
            raise ValueError(f"confidence_scale must be > 0, got {self.confidence_scale!r}")
        if not 0 < self.wide_beam < 1:
            raise ValueError(f"wide_beam must be in (0, 1), got {self.wide_beam!r}")
        if not self.max_cue_seconds > 0:
            raise ValueError(f"max_cue_seconds must be > 0, got {self.max_cue_seconds!r}")

    def confidence(self, score: float) -> float:
        """Confidence in [0, 1] of a word score (logistic; 0 for -inf)."""
        if score == -math.inf:
            return 0.0
        z = (score - self.confidence_midpoint) / self.confidence_scale
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


class WordFailure(NamedTuple):
    """A cue word that gets no time: its position in the cue, the word, why, and detail."""

    word_index: int
    word: str
    reason: str
    detail: str


@dataclass(frozen=True)
class DecodedWord:
    """One cue word as the decoder placed it: frames [start_frame, end_frame) of the cut
    audio, score in nats per frame (-inf on underflow), and whether the dictionary knew it."""

    position: int
    word: str
    start_frame: int
    end_frame: int
    log_likelihood: float
    in_dictionary: bool

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def score(self) -> float:
        if self.log_likelihood == -math.inf:
            return -math.inf
        return self.log_likelihood / max(self.frames, 1)


@dataclass(frozen=True)
class CueDecoding:
    """The decoder's alignment of a cue text: the words it placed, in text order.

    `path_found` is False when no path went through the text at all; `complete` when
    every word was placed; `wide_beam` when the wide-beam retry gave this result.
    """

    words: tuple[DecodedWord, ...]
    n_words: int
    path_found: bool
    wide_beam: bool = False

    @property
    def complete(self) -> bool:
        return self.path_found and len(self.words) == self.n_words

    @property
    def cue_score(self) -> float | None:
        """Frame-weighted mean score of the placed dictionary words (None without any)."""
        known = [w for w in self.words if w.in_dictionary]
        frames = sum(w.frames for w in known)
        if not frames:
            return None
        return sum(max(w.log_likelihood, SCORE_FLOOR) for w in known) / frames


def cue_audio_span(cue: Cue,
                   padding: float = CUE_PADDING_SECONDS) -> tuple[float, float | None]:
    """(start, duration) in seconds of the audio to cut for `cue`, start clamped at 0;
    duration None (to the end of the audio) for a cue that lasts to the clip's end."""
    start = max(cue.start - padding, 0.0)
    if math.isinf(cue.end):
        return start, None
    return start, cue.end + padding - start


def cue_failures(cue: Cue, reason: str, detail: str) -> list[WordFailure]:
    """The same failure for every word of `cue`."""
    return [WordFailure(i, word, reason, detail) for i, word in enumerate(cue.words)]


def _base_word(decoded: str) -> str:
    """A decoder word without its alternative-pronunciation mark: "a(2)" -> "a"."""
    return decoded.split("(", 1)[0] if decoded.endswith(")") else decoded


def _log_likelihood(ascore: float) -> float:
    return math.log(ascore) if ascore > 0 else -math.inf


class CueAligner:
    """Aligns cue words to audio; `load()` builds the decoders (call it in DoFn.setup())."""

    def __init__(self, thresholds: AlignmentThresholds = AlignmentThresholds()):
        self.thresholds = thresholds
        self._decoder = None
        self._wide_decoder = None

    def load(self) -> None:
        """Loads the acoustic model and dictionary twice: default and wide beams (~0.4 s,
        ~30 MB each)."""
        from pocketsphinx import Decoder

        beam = self.thresholds.wide_beam
        self._decoder = Decoder(lm=None, loglevel="FATAL")
        self._wide_decoder = Decoder(lm=None, loglevel="FATAL", beam=beam, wbeam=beam,
                                     pbeam=beam)
        for decoder in (self._decoder, self._wide_decoder):
            decoder.add_word(UNKNOWN_WORD, SPEECH_PHONE, True)

    def _require_loaded(self):
        if self._decoder is None:
            raise RuntimeError("CueAligner.load() must be called before aligning")

    def in_dictionary(self, word: str) -> bool:
        self._require_loaded()
        return word != UNKNOWN_WORD and self._decoder.lookup_word(word) is not None

    def _run(self, decoder, audio: bytes, text: list[str]) -> list | None:
        """The decoder's word segments for `text` on `audio`, or None without any path."""
        try:
            decoder.reinit_feat()  # else noise and mean estimates carry over from the last cue
            decoder.set_align_text(" ".join(text))
            decoder.start_utt()
            decoder.process_raw(audio, full_utt=True)
            decoder.end_utt()
        except RuntimeError as err:  # pocketsphinx's way of saying "no alignment"
            _LOG.debug("alignment failed: %s", err)
            return None
        if decoder.hyp() is None:
            return None
        return [(_base_word(s.word), s.start_frame, s.end_frame, s.ascore)
                for s in decoder.seg()]

    @staticmethod
    def _placed(segments: list, text: list[str], known: list[bool],
                words: list[str]) -> list[DecodedWord]:
        """The segments that are text words, in order, stopping where the path left the text."""
        placed = []
        for word, start, end, ascore in segments:
            if len(placed) < len(text) and word == text[len(placed)]:
                position = len(placed)
                placed.append(DecodedWord(position, words[position], start, end + 1,
                                          _log_likelihood(ascore), known[position]))
        return placed

    def decode(self, samples: np.ndarray, words: tuple[str, ...] | list[str]) -> CueDecoding:
        """Aligns `words` to int16 [S] 16 kHz mono `samples`, retrying with a wide beam
        when the default beams leave the text incomplete."""
        self._require_loaded()
        known = [self.in_dictionary(w) for w in words]
        text = [w if k else UNKNOWN_WORD for w, k in zip(words, known)]
        audio = np.ascontiguousarray(samples, dtype="<i2").tobytes()
        result = CueDecoding((), len(words), path_found=False)
        for wide, decoder in ((False, self._decoder), (True, self._wide_decoder)):
            segments = self._run(decoder, audio, text)
            if segments is None:
                continue
            result = CueDecoding(tuple(self._placed(segments, text, known, list(words))),
                                 len(words), path_found=True, wide_beam=wide)
            if result.complete:
                break
        return result

    def align(self, samples: np.ndarray, audio_start: float, cue: Cue,
              first_word_index: int = 0) -> tuple[list[WordTiming], list[WordFailure]]:
        """Word times of `cue` from int16 [S] 16 kHz mono `samples` starting at container
        time `audio_start` (s). Returns the aligned words (container clock, with
        confidence, cue_index and word_index = `first_word_index` + position in the cue)
        and a failure for every other word of the cue."""
        audio_end = audio_start + len(samples) / SAMPLE_RATE
        if len(samples) == 0 or audio_end <= cue.start:
            return [], cue_failures(cue, "cue_outside_audio", (
                f"cue {cue.index} starts at {cue.start:.3f} s but the audio ends at or "
                f"before {audio_end:.3f} s"))
        decoding = self.decode(samples, cue.words)
        cue_failure = self._cue_failure(cue, decoding)
        if cue_failure is not None:
            return [], cue_failures(cue, *cue_failure)
        return self._word_outcomes(cue, decoding, audio_start, first_word_index)

    def _cue_failure(self, cue: Cue, decoding: CueDecoding) -> tuple[str, str] | None:
        end = "the clip's end" if math.isinf(cue.end) else f"{cue.end:.3f} s"
        where = f"cue {cue.index} ({cue.start:.3f} s to {end})"
        if not decoding.path_found:
            return "alignment_failed", (
                f"{where}: the decoder found no alignment of its {decoding.n_words} "
                "word(s) to the audio, even with a wide beam")
        if not decoding.complete:
            reached = len(decoding.words)
            last = f" after {decoding.words[-1].word!r}" if decoding.words else ""
            return "cue_text_mismatch", (
                f"{where}: the best alignment follows only {reached} of its "
                f"{decoding.n_words} word(s); the speech stops following the text{last}")
        score = decoding.cue_score
        if score is not None and score < self.thresholds.min_cue_score:
            return "cue_text_mismatch", (
                f"{where}: cue score {score:.2f} nats/frame is below "
                f"{self.thresholds.min_cue_score:.2f}: the text is not what is said")
        return None

    def _word_outcomes(self, cue: Cue, decoding: CueDecoding, audio_start: float,
                       first_word_index: int) -> tuple[list[WordTiming], list[WordFailure]]:
        aligned, failures = [], []
        for word in decoding.words:
            start = audio_start + word.start_frame / FRAMES_PER_SECOND
            end = audio_start + word.end_frame / FRAMES_PER_SECOND
            where = f"cue {cue.index} word {word.position} ({start:.2f}-{end:.2f} s)"
            if not word.in_dictionary:
                failures.append(WordFailure(word.position, word.word, "not_in_dictionary", (
                    f"{where}: {word.word!r} is not in the pronouncing dictionary; it was "
                    "aligned as 'any speech' so that its neighbours keep their times")))
            elif word.score < self.thresholds.min_word_score:
                failures.append(WordFailure(word.position, word.word,
                                            "low_alignment_confidence", (
                    f"{where}: score {word.score:.2f} nats/frame is below "
                    f"{self.thresholds.min_word_score:.2f} (confidence "
                    f"{self.thresholds.confidence(word.score):.3f})")))
            else:
                aligned.append(WordTiming(word.word, start, end,
                                          confidence=self.thresholds.confidence(word.score),
                                          cue_index=cue.index,
                                          word_index=first_word_index + word.position))
        return aligned, failures
