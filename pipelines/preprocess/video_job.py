"""A video's unit of work on its way through preprocess (and predict): the input, its
parsed transcript and, once planned, the chunk and words it covers. Plain data, no Beam."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.preprocess.audio import MediaInfo
from pipelines.preprocess.chunks import Chunk
from pipelines.preprocess.inputs import VideoInput
from pipelines.preprocess.transcripts import Transcript


@dataclass(frozen=True)
class VideoPlan:
    """What planning found out about a video, and which part of it this work item covers.

    `media`: the probe (video start on the container clock, audio, duration). For a
    programme cut into chunks, `num_frames` and `shot_starts` come from the cut scan of
    the whole video and `chunk` is the part to decode; for a short video all three are
    None (one work item; shots are found while tracking). `word_indices`: the
    transcript words this item owns.
    """

    media: MediaInfo
    word_indices: tuple[int, ...]
    num_frames: int | None = None
    shot_starts: tuple[int, ...] | None = None
    chunk: Chunk | None = None


@dataclass(frozen=True)
class VideoJob:
    """A video with its parsed transcript, ready for landmark detection.

    `plan` is None until PlanChunks has run; without one the whole video and every
    word is one work item.
    """

    input: VideoInput
    transcript: Transcript
    plan: VideoPlan | None = None

    def word_number(self, position: int) -> int:
        """The number of `transcript.words[position]` in the transcript's word numbering.

        Words aligned from subtitle cues keep the number they had among all cue words
        (failed ones included); other words are numbered by position.
        """
        number = getattr(self.transcript.words[position], "word_index", -1)
        return position if number is None or number < 0 else int(number)

    @property
    def word_indices(self) -> tuple[int, ...]:
        if self.plan is None:
            return tuple(range(len(self.transcript.words)))
        return self.plan.word_indices
