"""A corpus of small hostile inputs, made from the sample recordings (nothing stored).

    python -m tests.hostile.make_corpus FOLDER

Each case is a sample video with a transcript beside it (same name), built to break
something a real file once broke: a title tag written like ffmpeg's own lines, a TextGrid
with an impossible count and one of 20,000 intervals, a 5,000-digit number in a subtitle
cue, words holding line separators, a cue ten hours long, an audio track damaged packet by
packet. `make_corpus` returns each case's name and what it is.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from tests import media

SAMPLE = "bbaf3s"


def _words():
    from pipelines.preprocess.transcripts import parse_transcript

    with open(media.sample_align(SAMPLE), "rb") as handle:
        return parse_transcript(handle.read(), f"{SAMPLE}.align").words


def _textgrid(size: str, intervals: list[tuple[float, float, str]]) -> str:
    rows = "".join(f'        intervals [{i + 1}]:\n            xmin = {a}\n'
                   f'            xmax = {b}\n            text = "{w}"\n'
                   for i, (a, b, w) in enumerate(intervals))
    end = intervals[-1][1] if intervals else 1.0
    return ('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\n'
            f'xmax = {end}\ntiers? <exists>\nsize = {size}\nitem []:\n    item [1]:\n'
            '        class = "IntervalTier"\n        name = "words"\n        xmin = 0\n'
            f'        xmax = {end}\n        intervals: size = {len(intervals)}\n' + rows)


def _video(folder: str, name: str) -> str:
    return shutil.copyfile(media.sample_video(SAMPLE), os.path.join(folder, f"{name}.mpg"))


def make_corpus(folder: str) -> dict[str, str]:
    """Writes the cases into `folder` (made if missing); name -> what the case is."""
    os.makedirs(folder, exist_ok=True)
    words = _words()
    cases = {}

    media.spoofed_metadata(media.sample_video(SAMPLE), os.path.join(folder, "spoofed.mp4"))
    shutil.copyfile(media.sample_align(SAMPLE), os.path.join(folder, "spoofed.align"))
    cases["spoofed"] = "a title tag written like ffmpeg's lines about a longer, later clip"

    _video(folder, "overflow")
    with open(os.path.join(folder, "overflow.TextGrid"), "w", encoding="utf-8") as handle:
        handle.write(_textgrid("1e400", [(w.start, w.end, w.word) for w in words]))
    cases["overflow"] = "a TextGrid whose tier count overflows a float (1e400)"

    _video(folder, "long_grid")
    tail = [(3.0 + k * 0.001, 3.001 + k * 0.001, "sp") for k in range(20000)]
    with open(os.path.join(folder, "long_grid.TextGrid"), "w", encoding="utf-8") as handle:
        handle.write(_textgrid("1", [(w.start, w.end, w.word) for w in words] + tail))
    cases["long_grid"] = ("a TextGrid of 20,006 intervals, 20,000 of them silence (quadratic "
                          "line counting took minutes)")

    _video(folder, "giant_number")
    with open(os.path.join(folder, "giant_number.srt"), "w", encoding="utf-8") as handle:
        handle.write(f"1\n00:00:00,700 --> 00:00:02,600\nbin blue {'9' * 5000} soon\n")
    cases["giant_number"] = "a subtitle cue holding a 5,000-digit number"

    _video(folder, "separators")
    with open(os.path.join(folder, "separators.json"), "w", encoding="utf-8") as handle:
        json.dump([{"word": f"{w.word}\u2028x" if k == 0 else f"{w.word}\x85",
                    "start": w.start, "end": w.end} for k, w in enumerate(words)], handle)
    cases["separators"] = "words holding U+2028 and U+0085, line ends to splitlines()"

    _video(folder, "endless_cue")
    with open(os.path.join(folder, "endless_cue.srt"), "w", encoding="utf-8") as handle:
        handle.write("1\n00:00:00,000 --> 09:59:59,000\nbin blue at f three soon\n")
    cases["endless_cue"] = "a subtitle cue ten hours long"

    damaged = os.path.join(folder, "damaged_audio.mp4")
    media.ffmpeg("-i", media.sample_video(SAMPLE), "-c:v", "libx264", "-preset", "ultrafast",
                 "-pix_fmt", "yuv420p", "-c:a", "aac", "-bsf:a", "noise=amount=5", damaged)
    shutil.copyfile(media.sample_align(SAMPLE), os.path.join(folder, "damaged_audio.align"))
    cases["damaged_audio"] = "an audio track whose packets are damaged (ffmpeg's noise filter)"
    return cases


if __name__ == "__main__":
    for name, what in make_corpus(sys.argv[1]).items():
        print(f"{name}: {what}")
