"""Sentences of a transcript, for whole-sentence clips (`--unit sentence`).

A sentence is what a transcript says in one go: a subtitle cue (its words aligned by the
align-subtitles stage), or, for a word-timed transcript (GRID, LRS2/LRS3 and the other
formats), the whole transcript, as an LRS clip is one utterance. A sentence clip spans
its first word's start to its last word's end, plus a margin (`windows.span_window`),
and is labelled with the word sequence. A sentence whose words are not all timed (a cue word that could not be
aligned, a bad cue) cannot be labelled truthfully and is reported instead. Pure Python
and numpy; no Beam, no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.preprocess.transcripts.common import Transcript


@dataclass(frozen=True)
class Sentence:
    """One sentence of a transcript.

    `index`: the sentence's number in its transcript (the cue's index for subtitles, 0 for
    a word-timed transcript). `positions`: the positions in `Transcript.words` of its
    timed words, in order. `spoken`: the words it holds, timed or not (a subtitle cue's
    normalised words). It can be cut only when every spoken word is timed (`complete`).
    """

    index: int
    positions: tuple[int, ...]
    spoken: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return len(self.positions) == len(self.spoken) > 0


def transcript_sentences(transcript: Transcript) -> list[Sentence]:
    """The sentences of a transcript, in order; see `Sentence`."""
    words = transcript.words
    if not transcript.cues and not transcript.bad_cues:
        if not words:
            return []
        return [Sentence(0, tuple(range(len(words))), tuple(w.word for w in words))]
    by_cue: dict[int, list[int]] = {}
    for position, word in enumerate(words):
        by_cue.setdefault(word.cue_index, []).append(position)
    cues = [(cue.index, cue.words) for cue in transcript.cues]
    cues += [(bad.index, bad.words) for bad in transcript.bad_cues]
    return [Sentence(index, tuple(by_cue.get(index, ())), tuple(spoken))
            for index, spoken in sorted(cues)]


def sentence_text(transcript: Transcript, sentence: Sentence) -> str:
    """The sentence's timed words joined by single spaces (its label)."""
    return " ".join(transcript.words[p].word for p in sentence.positions)
