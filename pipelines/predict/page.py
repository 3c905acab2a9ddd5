"""predictions.html: per video, each segment's crops as a thumbnail strip and its top words.

Self-contained like the evaluation report (whose page helpers it uses): inline CSS,
PNG data URIs, no script, every string from the data escaped.
"""

from __future__ import annotations

import base64
from typing import Sequence

import cv2
import numpy as np

from pipelines.evaluate.report import escaped, html_page, html_table

THUMB = 48          # pixels per thumbnail
STRIP_FRAMES = 10   # thumbnails per segment, spread evenly over its window
_CSS = ".strip{image-rendering:pixelated;border:1px solid #e5e7eb}.right{color:#059669}" \
       ".wrong{color:#dc2626}.p{color:#6b7280;font-size:13px}"
_SOURCES = {"word": "words of the transcript", "speech": "speech found in the audio",
            "face": "word-length windows over the talking face (no audio)"}


def strip_png(frames: np.ndarray, count: int = STRIP_FRAMES, size: int = THUMB) -> bytes:
    """PNG of `count` frames of uint8 [T, S, S], evenly spaced, side by side at `size` px."""
    frames = np.asarray(frames)
    picks = np.unique(np.linspace(0, frames.shape[0] - 1, min(count, frames.shape[0])).round()
                      .astype(int))
    row = np.hstack([cv2.resize(frames[i], (size, size), interpolation=cv2.INTER_AREA)
                     for i in picks])
    ok, encoded = cv2.imencode(".png", row)
    if not ok:
        raise ValueError(f"cannot encode a strip of shape {row.shape!r} as PNG")
    return encoded.tobytes()


def _strip(frames: np.ndarray, index: int) -> str:
    data = base64.b64encode(strip_png(frames)).decode("ascii")
    return (f'<img class="strip" alt="crops of segment {index}" '
            f'src="data:image/png;base64,{data}">')


def _top(line: dict) -> str:
    truth = line.get("true_word")
    words = []
    for guess in line["top"]:
        mark = "" if truth is None else (' class="right"' if guess["word"] == truth
                                         else ' class="wrong"')
        words.append(f'<b{mark}>{escaped(guess["word"])}</b> '
                     f'<span class="p">{100 * guess["probability"]:.0f}%</span>')
    return " ".join(words)


def _time(line: dict) -> str:
    return f'{line["start"]:.2f}-{line["end"]:.2f} s'


def video_section(video: dict, lines: Sequence[dict], crops: dict[int, np.ndarray]) -> str:
    """The markup of one video: `video` its summary, `lines` its predictions.jsonl lines,
    `crops` segment index -> uint8 [T, S, S]."""
    predicted = [line for line in lines if "top" in line]
    skipped = [line for line in lines if "error" in line]
    title = (f"<h2>{escaped(video['video'])}</h2><p class=\"note\">"
             f"{len(predicted)} segments read from the {escaped(_SOURCES[video['source']])}"
             + (f" ({escaped(video['transcript'])})" if video.get("transcript") else "")
             + f"; {len(skipped)} could not be cut.</p>")
    rows = [(line["segment"], _time(line), escaped(line.get("true_word") or "?"), _top(line),
             _strip(crops[line["segment"]], line["segment"])) for line in predicted]
    table = html_table(("#", "time", "true word", "top words", "crops"), rows, {0})
    if not skipped:
        return title + table
    reasons = [(line["segment"], _time(line) if line["start"] == line["start"] else "",
                escaped(line.get("true_word") or ""), escaped(line["error"]),
                escaped(line["detail"])) for line in skipped]
    return (title + table + "<h3>Not cut</h3>"
            + html_table(("#", "time", "word", "reason", "detail"), reasons, {0}))


def render_page(model: str, sections: Sequence[str], failed: Sequence[dict]) -> str:
    """The whole page: one section per video read, then the videos that could not be read."""
    body = (f"<h1>lipflow predict</h1><p class=\"note\">model {escaped(model)}</p>"
            + "".join(sections))
    if failed:
        body += "<h2>Videos not read</h2>" + html_table(
            ("video", "reason", "detail"),
            [(escaped(f["video"]), escaped(f["error"]), escaped(f["detail"])) for f in failed])
    return html_page("lipflow predictions", body, _CSS)
