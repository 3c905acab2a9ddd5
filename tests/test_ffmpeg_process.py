"""ffmpeg on files built to hurt: floods of error text, a process that hangs.

A stand-in ffmpeg (a real process, given as $LIPFLOW_FFMPEG) behaves as the damaged
file would make ffmpeg behave, so the pipes, threads and deadlines are exercised for real.
"""

import os
import stat
import sys
import threading

import numpy as np
import pytest

from pipelines.preprocess import ffmpeg_process
from pipelines.preprocess.audio import decode_audio
from pipelines.preprocess.decode import DecodeReport, decode_frames
from pipelines.preprocess.errors import RecordError
from tests import media


def _fake_ffmpeg(tmp_path, body: str) -> str:
    script = tmp_path / "ffmpeg"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_flood_of_error_text_neither_hangs_the_reader_nor_fills_memory(tmp_path,
                                                                         monkeypatch):
    # 300 KiB of errors before any audio: an undrained stderr pipe (64 KiB) would stop
    # ffmpeg, and the reader waiting for audio with it, for ever.
    monkeypatch.setenv("LIPFLOW_FFMPEG", _fake_ffmpeg(tmp_path, (
        "sys.stderr.write('[aac] damaged frame\\n' * 16000); sys.stderr.flush()\n"
        "sys.stdout.buffer.write(b'\\x01\\x00' * 16000); sys.stdout.flush()")))
    found = {}
    reader = threading.Thread(target=lambda: found.update(
        samples=decode_audio(media.sample_video())), daemon=True)
    reader.start()
    reader.join(60)
    assert not reader.is_alive(), "the audio decode hung"
    assert np.array_equal(found["samples"], np.ones(16000, np.int16))


def test_only_the_tail_of_the_error_text_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPFLOW_FFMPEG", _fake_ffmpeg(tmp_path, (
        "sys.stderr.write('x' * 500000 + 'the last words'); sys.exit(1)")))
    with pytest.raises(RecordError) as caught:
        list(decode_frames(media.sample_video(), DecodeReport()))
    assert caught.value.reason == "corrupt_video"
    assert caught.value.detail.endswith("the last words")
    assert len(caught.value.detail) < ffmpeg_process.STDERR_TAIL_BYTES + 200


def test_a_hung_ffmpeg_is_stopped_and_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPFLOW_FFMPEG", _fake_ffmpeg(tmp_path, "time.sleep(600)"))
    monkeypatch.setattr(ffmpeg_process, "STALL_SECONDS", 1.0)
    for decode in (lambda: decode_audio(media.sample_video()),
                   lambda: list(decode_frames(media.sample_video(), DecodeReport()))):
        with pytest.raises(RecordError) as caught:
            decode()
        assert caught.value.reason == "ffmpeg_timeout"
        assert "sent nothing for 1 s" in caught.value.detail


def test_the_deadline_grows_with_the_media():
    assert ffmpeg_process.deadline_seconds(None) is None
    assert ffmpeg_process.deadline_seconds(0.0) == ffmpeg_process.BASE_SECONDS
    assert ffmpeg_process.deadline_seconds(3600.0) == pytest.approx(
        ffmpeg_process.BASE_SECONDS + 2 * 3600.0)
