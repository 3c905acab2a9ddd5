"""Progress of the preprocess job: videos done of all, source frames per second, time left.

Taps beside the stages (they change no stage) count, per video, the words and source
frames each work item planned, the words each item finished in landmark detection (the
slow stage, tracked or failed) and videos lost before it. A video is done when it is
lost or all the words it planned are finished. The Reshuffle before landmark
detection means every item is planned before any is tracked.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from pipelines.human_time import duration
from pipelines.preprocess.dead_letters import DEAD_LETTER
from pipelines.preprocess.video_job import VideoJob
from pipelines.progress import Counts, Event, RecordProgress


def item_frames(job: VideoJob, fps: float) -> int:
    """Source frames of a planned work item: its chunk, or the whole video."""
    plan = job.plan
    if plan.chunk is not None:
        return plan.chunk.frames
    return int(round(plan.media.duration * fps))


def lost_video_events(record: dict) -> list[Event]:
    """A dead letter of a stage that loses the whole video."""
    return [("lost", record["video_id"], 1)]


def aligned_events(job: VideoJob) -> list[Event]:
    # Planning skips a video whose every word failed alignment: it ends here.
    return [] if job.transcript.words else [("lost", job.input.video_id, 1)]


def planned_events(job: VideoJob, fps: float) -> list[Event]:
    video = job.input.video_id
    return [("planned_words", video, len(job.word_indices)),
            ("planned_frames", video, item_frames(job, fps))]


def tracked_events(tracks, fps: float) -> list[Event]:
    video = tracks.job.input.video_id
    return [("finished_words", video, len(tracks.job.word_indices)),
            ("finished_frames", video, item_frames(tracks.job, fps))]


def tracking_failure_events(record: dict) -> list[Event]:
    return [("finished_words", record["video_id"], record["words_affected"])]


def record_progress(folder: str, fps: float, parsed, aligned, planned, tracked) -> None:
    """Adds the taps on the outputs of ReadTranscripts, AlignSubtitles, PlanChunks and
    DetectLandmarks."""
    taps = (("LostAtReading", parsed[DEAD_LETTER], lost_video_events),
            ("AlignedVideos", aligned.jobs, aligned_events),
            ("LostAtPlanning", planned[DEAD_LETTER], lost_video_events),
            ("PlannedItems", planned["jobs"], partial(planned_events, fps=fps)),
            ("TrackedItems", tracked.tracks, partial(tracked_events, fps=fps)),
            ("FailedItems", tracked[DEAD_LETTER], tracking_failure_events))
    for label, items, events in taps:
        items | f"Progress{label}" >> RecordProgress(folder, events)


def _per_video(counts: Counts) -> dict[str, dict[str, float]]:
    videos: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (name, video), amount in counts.items():
        videos[video][name] += amount
    return videos


def _is_done(video: dict[str, float]) -> bool:
    planned = video["planned_words"]
    return video["lost"] > 0 or (planned > 0 and video["finished_words"] >= planned)


def progress_line(counts: Counts, seconds: float, total: int) -> str:
    """`3/20 videos done, 140 source frames/s, about 2 min left` from the taps' counts."""
    videos = _per_video(counts)
    done = min(sum(_is_done(v) for v in videos.values()), total)
    frames = sum(v["finished_frames"] for v in videos.values())
    rate = frames / max(seconds, 1e-9)
    line = f"preprocess: {done}/{total} videos done"
    if frames:
        line += f", {rate:.0f} source frames/s"
    left = _seconds_left(videos, total, done, rate, seconds)
    if done < total and left is not None:
        line += f", about {duration(left)} left"
    return line


def _seconds_left(videos, total: int, done: int, rate: float, seconds: float) -> float | None:
    known = sum(1 for v in videos.values() if v["planned_words"] > 0 or v["lost"] > 0)
    if known < total:  # not all planned yet: extrapolate from the videos done
        return seconds / done * (total - done) if done else None
    if rate <= 0:
        return None
    remaining = sum(max(v["planned_frames"] - v["finished_frames"], 0)
                    for v in videos.values() if not _is_done(v))
    return remaining / rate
