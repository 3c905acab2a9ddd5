"""Real media for tests, made with the same ffmpeg the pipeline runs."""

from __future__ import annotations

import os
import shutil
import subprocess

from pipelines.preprocess.decode import ffmpeg_executable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(REPO, "data", "sample", "grid_s1")


def sample_video(clip: str = "bbaf3s") -> str:
    return os.path.join(SAMPLE, "video", f"{clip}.mpg")


def sample_align(clip: str = "bbaf3s") -> str:
    return os.path.join(SAMPLE, "align", f"{clip}.align")


def grid_folder(root, clips) -> str:
    """`root` laid out as GRID is (video/, align/), holding the named sample recordings."""
    for kind in ("video", "align"):
        os.makedirs(os.path.join(root, kind), exist_ok=True)
    for clip in clips:
        shutil.copyfile(sample_video(clip), os.path.join(root, "video", f"{clip}.mpg"))
        shutil.copyfile(sample_align(clip), os.path.join(root, "align", f"{clip}.align"))
    return str(root)


def ffmpeg(*args: str) -> None:
    """Runs ffmpeg quietly; raises with its message if it fails."""
    command = [ffmpeg_executable(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {result.stderr}")


def h264(source: str, target: str, *filters: str, seconds: float | None = None) -> str:
    args = ["-i", source]
    if seconds:
        args += ["-t", str(seconds)]
    if filters:
        args += ["-vf", ",".join(filters)]
    ffmpeg(*args, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", target)
    return target


def rotated(source: str, target: str) -> str:
    """As a phone stores it: pixels turned 90 degrees clockwise, with display-rotation
    metadata (90 degrees counter-clockwise) that turns them upright again."""
    sideways = h264(source, target + ".sideways.mp4", "transpose=clock")
    ffmpeg("-display_rotation", "90", "-i", sideways, "-c", "copy", target)
    os.remove(sideways)
    return target


def variable_rate(source: str, target: str) -> str:
    """First 25 source frames at 25 fps (0-0.96 s), the other 50 at 50 fps (1.00-1.98 s)."""
    expression = "if(lt(N,25),N/25,1+(N-25)/50)/TB"
    ffmpeg("-i", source, "-vf", f"setpts='{expression}'", "-fps_mode", "passthrough", "-an",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", target)
    return target


def huge(source: str, target: str) -> str:
    """4K upscale of the first second."""
    return h264(source, target, "scale=3840:3072", seconds=1.0)


def anamorphic(source: str, target: str, stored_width: int, sar: str) -> str:
    """As SD broadcast stores a picture: squeezed (or stretched) to `stored_width` pixels
    across, with the sample aspect ratio that restores its shape on display."""
    return h264(source, target, f"scale={stored_width}:ih", f"setsar={sar}")


def interlaced(target: str, seconds: float = 1.0) -> str:
    """Interlaced video as broadcast sends it: a moving test pattern sampled at 50 fields
    a second, each pair of fields woven into one 25 fps frame and coded (and flagged) as
    interlaced, so anything that moves between the fields is combed."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=360x288:rate=50",
           "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-an", "-c:v", "libx264",
           "-preset", "ultrafast", "-flags", "+ildct+ilme", "-pix_fmt", "yuv420p", target)
    return target


def audio_only(target: str) -> str:
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", target)
    return target


def no_face(target: str, seconds: float = 3.0) -> str:
    ffmpeg("-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=360x288:rate=25",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", target)
    return target


def truncated(source: str, target: str, fraction: float = 0.4) -> str:
    with open(source, "rb") as handle:
        data = handle.read()
    with open(target, "wb") as handle:
        handle.write(data[: int(len(data) * fraction)])
    return target


def copy(source: str, target: str) -> str:
    shutil.copyfile(source, target)
    return target


def side_by_side(left: str, right: str, target: str, audio: str = "left") -> str:
    """Two clips in a split screen (left | right) with the audio of one of them."""
    audio_input = "0:a:0" if audio == "left" else "1:a:0"
    ffmpeg("-i", left, "-i", right, "-filter_complex", "[0:v][1:v]hstack=inputs=2[v]",
           "-map", "[v]", "-map", audio_input, "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", target)
    return target


def concatenated(sources: list[str], target: str) -> str:
    """The clips one after the other (hard cuts between them), video and audio."""
    inputs = [a for source in sources for a in ("-i", source)]
    streams = "".join(f"[{i}:v:0][{i}:a:0]" for i in range(len(sources)))
    graph = f"{streams}concat=n={len(sources)}:v=1:a=1[v][a]"
    ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", target)
    return target


def video_delayed(source: str, target: str, seconds: float) -> str:
    """The clip shifted `seconds` later on the container clock, lips and sound still in sync:
    the audio stream starts at 0 with `seconds` of silence, the video stream at `seconds`."""
    delay = int(round(seconds * 1000))
    ffmpeg("-i", source, "-itsoffset", str(seconds), "-i", source, "-map", "1:v:0",
           "-filter_complex", f"[0:a:0]adelay={delay}:all=1[a]", "-map", "[a]",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           target)
    return target


def turning(source: str, target: str, first: int = 25, frames: int = 12, *filters: str) -> str:
    """The picture turned away over `frames` frames from frame `first` on, then held turned:
    a perspective warp that narrows the left side, as a head or a camera turning would."""
    ramp = f"min(max(in-{first}\\,0)/{frames}\\,1)"
    warp = (f"perspective=x0=W*0.45*{ramp}:y0=0:x1=W:y1=H*0.12*{ramp}:"
            f"x2=W*0.45*{ramp}:y2=H:x3=W:y3=H-H*0.12*{ramp}:eval=frame")
    return h264(source, target, warp, *filters)


def tight_crop(source: str, target: str, box, fraction: float = 0.8, side: int = 160) -> str:
    """As LRS2/LRS3/LRW ship faces: a square `fraction` of the face box `box` (x0, y0, x1, y1,
    pixels) wide around its centre, so the face fills and overflows the frame, at
    `side` x `side` pixels; the audio is kept."""
    x0, y0, x1, y1 = (float(v) for v in box)
    size = int(round(fraction * max(x1 - x0, y1 - y0)))
    left, top = int(round((x0 + x1 - size) / 2)), int(round((y0 + y1 - size) / 2))
    ffmpeg("-i", source, "-vf", f"crop={size}:{size}:{left}:{top},scale={side}:{side}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           target)
    return target


def occluded(source: str, target: str, box, first: int, frames: int) -> str:
    """The clip with the region `box` (x0, y0, x1, y1 pixels, a face) covered by grey for
    `frames` frames from `first` on: a hand or a microphone that hides it for a moment."""
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    ffmpeg("-i", source, "-vf", f"drawbox=x={x0}:y={y0}:w={x1 - x0}:h={y1 - y0}:color=gray:"
                               f"t=fill:enable='between(n,{first},{first + frames - 1})'",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           target)
    return target


def audio_delayed(source: str, target: str, seconds: float) -> str:
    """The clip with its sound `seconds` later than its picture (trimmed at the end), as
    broadcast audio out of sync with the picture."""
    delay = int(round(seconds * 1000))
    ffmpeg("-i", source, "-filter_complex", f"[0:a:0]adelay={delay}:all=1[a]", "-map", "0:v:0",
           "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", target)
    return target


def scaled(source: str, target: str, factor: float) -> str:
    """The clip with its picture scaled by `factor` (even sizes), its sound kept."""
    ffmpeg("-i", source, "-vf", f"scale=trunc(iw*{factor}/2)*2:trunc(ih*{factor}/2)*2",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           target)
    return target


def wide_shot(source: str, target: str, factor: float, size: tuple[int, int] = (1280, 720)) -> str:
    """The clip scaled by `factor` in the middle of a larger grey picture (`size`), as a
    wide shot shows a small face; the sound kept."""
    width, height = size
    ffmpeg("-i", source, "-vf", f"scale=trunc(iw*{factor}/2)*2:trunc(ih*{factor}/2)*2,"
                               f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:gray",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           target)
    return target


def spoofed_metadata(source: str, target: str) -> str:
    """The clip (its picture only, no sound) with a title tag written to look like the lines
    ffmpeg prints about a file: a longer duration, a later first frame, an audio stream."""
    title = ("x Duration: 00:00:05.00, start: 0 [Parsed_showinfo_1 @ 0x1] n:   0 pts:    100 "
             "pts_time:4.0\n[Parsed_showinfo_1 @ 0x1] n:   0 pts: 100 pts_time:4.0\n"
             "  Duration: 00:00:05.00\n  Stream #0:9: Audio: fake")
    ffmpeg("-i", source, "-metadata", f"title={title}", "-an", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", target)
    return target
