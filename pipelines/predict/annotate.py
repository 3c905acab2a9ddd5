"""--annotate: the input video with each predicted word drawn under the speaking face.

ffmpeg decodes the video at the rate and scale the landmarks were found at (so the
points fall on the frame), the word is drawn below the chin (landmark 8) on the frames
of its span, and ffmpeg encodes the frames again (H.264) with the input's audio.
OpenCV's Hershey font draws ASCII only: other letters show as '?'.
"""

from __future__ import annotations

import logging
import os
import subprocess
from typing import Sequence

import cv2
import numpy as np

from pipelines.preprocess.decode import ffmpeg_executable

_LOG = logging.getLogger(__name__)
CHIN = 8
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def labels_by_frame(segments: Sequence, words: Sequence[str]) -> dict[int, tuple[str, tuple]]:
    """Video frame -> (text, (x, y) under the chin), over each segment's own frames."""
    labels = {}
    for segment, word in zip(segments, words):
        window = segment.placed.window
        for frame in range(window.word_first_frame, window.word_last_frame + 1):
            points = segment.placed.face.points_or_nan(np.array([frame]), "smoothed")[0]
            if np.isfinite(points[CHIN]).all():
                labels[frame] = (word, (float(points[CHIN][0]), float(points[CHIN][1])))
    return labels


def _draw(frame: np.ndarray, text: str, chin: tuple) -> None:
    scale = max(frame.shape[0] / 480.0, 0.5)
    thickness = max(int(round(2 * scale)), 1)
    (width, height), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    x = int(np.clip(chin[0] - width / 2, 0, max(frame.shape[1] - width, 0)))
    y = int(np.clip(chin[1] + 1.5 * height, height, frame.shape[0] - 4))
    cv2.putText(frame, text, (x, y), _FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(frame, text, (x, y), _FONT, scale, (255, 255, 0), thickness, cv2.LINE_AA)


def _decoder(path: str, fps: float, width: int, height: int) -> subprocess.Popen:
    scale = f"fps={fps},scale={width}:{height}"
    return subprocess.Popen([ffmpeg_executable(), "-nostdin", "-hide_banner", "-loglevel",
                             "error", "-i", "file:" + os.path.abspath(path), "-map", "0:v:0",
                             "-vf", scale, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)


def _encoder(path: str, target: str, fps: float, width: int, height: int) -> subprocess.Popen:
    return subprocess.Popen([ffmpeg_executable(), "-nostdin", "-hide_banner", "-loglevel",
                             "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                             "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "pipe:",
                             "-i", "file:" + os.path.abspath(path), "-map", "0:v",
                             "-map", "1:a:0?", "-c:v", "libx264", "-preset", "veryfast",
                             "-pix_fmt", "yuv420p", "-c:a", "aac",
                             "file:" + os.path.abspath(target)],
                            stdin=subprocess.PIPE)


def annotate_video(path: str, target: str, labels: dict[int, tuple[str, tuple]], fps: float,
                   width: int, height: int) -> str:
    """Writes `target` (mp4): `path` at `fps` and width x height with `labels` drawn."""
    decoder = _decoder(path, fps, width, height)
    encoder = _encoder(path, target, fps, width, height)
    size = width * height * 3
    index = 0
    try:
        while len(data := decoder.stdout.read(size)) == size:
            frame = np.frombuffer(data, np.uint8).reshape(height, width, 3).copy()
            if index in labels:
                _draw(frame, *labels[index])
            encoder.stdin.write(frame.tobytes())
            index += 1
    finally:
        decoder.stdout.close()
        encoder.stdin.close()
        decoded, encoded = decoder.wait(), encoder.wait()
    if decoded != 0 or encoded != 0 or index == 0:
        raise RuntimeError(f"ffmpeg could not annotate {path!r} (decode exit {decoded}, "
                           f"encode exit {encoded}, {index} frames)")
    _LOG.info("annotated %s: %d frames, %d with a word", target, index, len(labels))
    return target
