"""Which frames of a video a work item decodes and fits landmarks on: its chunk, and
around each word (and sentence) the window plus context. The landmark stage and predict
both plan with these functions. Plain code, no Beam."""

from __future__ import annotations

import numpy as np

from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.decode import FrameRange
from pipelines.preprocess.sentences import transcript_sentences
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.video_tracks import frames_of_interest, merged_ranges


def words_near(job: VideoJob, config: PreprocessConfig, video_start: float,
                frames: FrameRange) -> list[tuple[float, float]]:
    """(start, end) of the words whose window and context can touch the frames decoded."""
    words = job.transcript.words
    if frames.whole:
        return [(w.start, w.end) for w in words]
    times = np.array([(w.start, w.end) for w in words], dtype=np.float64).reshape(-1, 2)
    centres = (times.mean(axis=1) - video_start) * config.fps
    reach = config.window_length // 2 + config.context_frames + 1
    near = (centres >= frames.first - reach) & (centres < frames.end + reach)
    return [tuple(pair) for pair in times[near]]


def wanted_ranges(job: VideoJob, config: PreprocessConfig, video_start: float,
                  frames: FrameRange,
                  context: int | None = None) -> list[tuple[int, int]] | None:
    """Frame ranges to fit; None (every frame) for LRW clips, whose times count from the centre.

    Every word near the decoded frames counts, not only the chunk's own: a chunk then fits
    exactly the frames a whole-video pass would fit there (a neighbour's window context
    included), so chunked and whole runs give the same tracks. `context`: frames wanted
    beyond each window (default: config.context_frames; 0 gives the frames crops can use).
    """
    if job.transcript.anchor != "start":
        return None
    context = config.context_frames if context is None else context
    ranges = frames_of_interest(words_near(job, config, video_start, frames), video_start,
                                config.fps, config.window_length, config.end_tolerance,
                                context)
    if config.unit == "sentence":
        ranges = merged_ranges(ranges + sentence_ranges(job, config, video_start, context))
    end = frames.end if frames.end is not None else 10**12
    return [(max(lo, frames.first), min(hi, end - 1)) for lo, hi in ranges
            if hi >= frames.first and lo < end]


def sentence_ranges(job: VideoJob, config: PreprocessConfig, video_start: float,
                    context: int | None = None) -> list[tuple[int, int]]:
    """Frames a sentence clip may use (its words, margin and `context` frames of landmark
    context, default config.context_frames), per sentence: a pause inside a sentence can
    lie beyond every word window."""
    words, ranges = job.transcript.words, []
    context = config.context_frames if context is None else context
    reach = config.sentence_margin + context + 1
    for sentence in transcript_sentences(job.transcript):
        if not sentence.positions:
            continue
        start = words[sentence.positions[0]].start - video_start
        end = words[sentence.positions[-1]].end - video_start
        if 0 <= start < end:
            ranges.append((max(int(start * config.fps) - reach, 0), int(end * config.fps) + reach))
    return ranges


def frame_range(job: VideoJob, video_start: float) -> FrameRange:
    """The frames this work item decodes: its chunk, or the whole video."""
    chunk = job.plan.chunk if job.plan is not None else None
    if chunk is None:
        return FrameRange(video_start=video_start)
    return FrameRange(chunk.first, chunk.end, video_start)
