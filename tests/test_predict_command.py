"""The predict command's bookkeeping: annotated files never overwrite each other, and a
video whose annotation fails keeps its predictions."""

import argparse
import types

from lipflow.commands import predict as command
from pipelines.preprocess.errors import RecordError


def test_videos_of_the_same_name_get_annotated_files_of_their_own():
    names = command.annotation_names(["a/talk.mp4", "b/talk.mp4", "c/news.mkv"])
    assert names["c/news.mkv"] == "news"
    assert names["a/talk.mp4"] != names["b/talk.mp4"]
    assert all(names[v].startswith("talk.") for v in ("a/talk.mp4", "b/talk.mp4"))
    assert command.annotation_names(["a/talk.mp4", "b/talk.mp4"])["a/talk.mp4"] == names[
        "a/talk.mp4"]  # the same path, the same name, whatever else is read


class _Predictor:
    """Reads every video; writing the annotated video fails for one of them."""

    def __init__(self, broken: str):
        self.broken = broken
        self.annotated = []

    def predict(self, video):
        return types.SimpleNamespace(clips=types.SimpleNamespace(video=video, num_frames=75))

    def annotate(self, prediction, folder, name):
        if prediction.clips.video == self.broken:
            raise RecordError("corrupt_video", "ffmpeg could not write the annotated video")
        self.annotated.append(name)


def test_a_failed_annotation_keeps_the_predictions_and_is_said(capsys):
    predictor = _Predictor(broken="b/talk.mp4")
    args = argparse.Namespace(videos=["a/talk.mp4", "b/talk.mp4"], annotate=True,
                              output="out")
    progress = types.SimpleNamespace(step=lambda *a: None)
    done, failed, unannotated = command._read_videos(predictor, args, progress)
    assert [p.clips.video for p in done] == ["a/talk.mp4", "b/talk.mp4"]
    assert failed == [] and unannotated == 1 and len(predictor.annotated) == 1
    assert "b/talk.mp4: the annotated video could not be written" in capsys.readouterr().err
