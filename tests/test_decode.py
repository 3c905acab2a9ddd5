"""Real ffmpeg on real and deliberately awkward files."""

import os
import sys

import cv2
import numpy as np
import pytest

from pipelines.preprocess.decode import DecodeReport, decode_frames, ffmpeg_executable
from pipelines.preprocess.errors import RecordError
from tests import media


def _decode(path, **kwargs):
    report = DecodeReport()
    return np.stack(list(decode_frames(path, report, **kwargs))), report


def test_grid_clip_decodes_to_75_grey_frames():
    frames, report = _decode(media.sample_video())
    assert frames.shape == (75, 288, 360)
    assert frames.dtype == np.uint8
    assert report.frames == 75 and (report.height, report.width) == (288, 360)
    assert 40 < frames.mean() < 220  # a real picture, not a blank


def test_ffmpeg_is_found_without_a_system_install():
    assert os.access(ffmpeg_executable(), os.X_OK)


def test_rotation_metadata_is_applied(tmp_path):
    original, _ = _decode(media.sample_video())
    frames, _ = _decode(media.rotated(media.sample_video(), str(tmp_path / "rot.mp4")))
    assert frames.shape == original.shape  # stored sideways, decoded upright
    assert np.abs(frames.astype(int) - original).mean() < 8  # only coding noise differs


def test_variable_frame_rate_is_resampled_on_timestamps(tmp_path):
    original, _ = _decode(media.sample_video())
    frames, _ = _decode(media.variable_rate(media.sample_video(), str(tmp_path / "vfr.mkv")))
    assert abs(len(frames) - 50) <= 1  # 1 s at 25 fps + 1 s at 50 fps -> 2 s
    # Output frame 37 shows t = 1.48 s, which is source frame 25 + 0.48 * 50 = 49.
    errors = [np.abs(frames[37].astype(int) - original[i]).mean() for i in range(75)]
    assert abs(int(np.argmin(errors)) - 49) <= 1


def test_very_large_video_is_scaled_down(tmp_path):
    frames, _ = _decode(media.huge(media.sample_video(), str(tmp_path / "huge.mp4")))
    assert frames.shape == (25, 1024, 1280)


@pytest.mark.parametrize("stored_width, sar, shape", [(270, "4/3", (288, 360)),
                                                     (480, "3/4", (384, 480))])
def test_non_square_pixels_decode_to_the_picture_a_viewer_sees(tmp_path, stored_width, sar,
                                                               shape):
    original, _ = _decode(media.sample_video())
    path = media.anamorphic(media.sample_video(), str(tmp_path / "sd.mp4"), stored_width, sar)
    frames, report = _decode(path)
    assert frames.shape == (75, *shape) and (report.height, report.width) == shape
    # The same picture at the display's scale: only resampling and coding noise differ.
    shown = original if shape == original.shape[1:] else np.stack(
        [cv2.resize(f, (shape[1], shape[0]), interpolation=cv2.INTER_AREA) for f in original])
    assert np.abs(frames.astype(int) - shown).mean() < 4


def _comb_ratio(frames):
    """Neighbouring rows' difference over that of rows two apart: below 1 for a progressive
    picture (neighbours are closer), near or above 1 where two moments are woven together."""
    frames = frames.astype(float)
    return (np.abs(frames[:, 1:] - frames[:, :-1]).mean()
            / np.abs(frames[:, 2:] - frames[:, :-2]).mean())


def test_interlaced_frames_are_deinterlaced(tmp_path):
    frames, _ = _decode(media.interlaced(str(tmp_path / "50i.mp4")))
    assert len(frames) == 25
    assert _comb_ratio(frames) < 0.8  # woven, the fields read about 1.06


@pytest.mark.parametrize("name", ["with space.mpg", "quote's \"q\".mpg", "ünïcödé 字.mpg",
                                  "-leading-dash.mpg", "colon:name.mpg"])
def test_awkward_file_names(tmp_path, name):
    frames, _ = _decode(media.copy(media.sample_video(), str(tmp_path / name)))
    assert len(frames) == 75


def test_truncated_video_keeps_what_decodes_and_reports_damage(tmp_path):
    frames, report = _decode(media.truncated(media.sample_video(), str(tmp_path / "t.mpg")))
    assert 0 < len(frames) < 75
    assert report.stderr  # ffmpeg's complaint is kept for the dead letters


def _written(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("make, reason", [
    (lambda d: str(d / "missing.mp4"), "missing_video"),
    (lambda d: _written(d / "empty.mp4", b""), "empty_file"),
    (lambda d: _written(d / "text.mp4", b"not a video at all"), "not_a_video"),
    (lambda d: media.audio_only(str(d / "audio.mp4")), "no_video_stream"),
])
def test_undecodable_inputs_raise_record_errors(tmp_path, make, reason):
    with pytest.raises(RecordError) as caught:
        _decode(make(tmp_path))
    assert caught.value.reason == reason
    assert caught.value.detail


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
def test_frames_come_through_a_pipe_holding_several_grid_frames(monkeypatch):
    import fcntl
    import subprocess

    sizes = []
    popen = subprocess.Popen

    class Recording(popen):  # records the frame pipe's size as the decode opens it
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sizes.append(self)

    monkeypatch.setattr(subprocess, "Popen", Recording)
    frames = decode_frames(media.sample_video("bbaf3s"), DecodeReport())
    first = next(frames)
    pipe = fcntl.fcntl(sizes[0].stdout.fileno(), getattr(fcntl, "F_GETPIPE_SZ", 1032))
    assert pipe >= 8 * first.size  # 64 KiB by default: less than one 360x288 frame
    assert len(list(frames)) == 74


def test_a_title_tag_cannot_spoof_the_probe(tmp_path):
    """A title written like ffmpeg's own lines made this 3-second clip without sound probe
    as starting at 4 s, lasting 5 s, with audio: every word would have been cut 4 s off."""
    from pipelines.preprocess.audio import probe_media

    spoofed = media.spoofed_metadata(media.sample_video(), str(tmp_path / "spoofed.mp4"))
    found = probe_media(spoofed)
    assert found.video_start == 0.0 and not found.has_audio
    assert found.duration == pytest.approx(3.0, abs=0.05)
    delayed = media.video_delayed(media.sample_video(), str(tmp_path / "late.mp4"), 1.3)
    assert probe_media(delayed).video_start == pytest.approx(1.32)  # on the 25 fps grid
