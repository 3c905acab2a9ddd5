"""Videos in, predictions out: the clips of each video (clips.py) through an export (model.py).

`Predictor` loads the model, the landmark backend and (when a subtitle transcript
needs it) the forced aligner once, then reads one video at a time. Each segment
becomes one predictions.jsonl line with its top-k words; a span that cannot be cut
is a line with its reason, so every word of a transcript is accounted for.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from pipelines.preprocess.config import PreprocessConfig, default
from pipelines.preprocess.landmarks import make_backend
from pipelines.predict import annotate, clips
from pipelines.predict.model import LoadedModel, load_model

_LOG = logging.getLogger(__name__)


@dataclass
class VideoPrediction:
    """One video's clips, the model's probabilities float32 [segments, classes], its lines."""

    clips: clips.VideoClips
    probabilities: np.ndarray
    lines: list[dict]

    def summary(self) -> dict:
        return {"video": self.clips.video, "transcript": self.clips.transcript,
                "source": self.clips.source, "frames": self.clips.num_frames}


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def segment_line(video: str, segment: clips.Segment, row: np.ndarray, vocabulary: list[str],
                 top_k: int) -> dict:
    """The predictions.jsonl line of a cut segment."""
    order = np.argsort(-row, kind="stable")[:top_k]
    top = [{"word": vocabulary[i], "probability": round(float(row[i]), 6)} for i in order]
    placed = segment.placed
    truth = segment.true_word
    return {"video": video, "segment": segment.index, "kind": segment.kind,
            "start": round(segment.start, 3), "end": round(segment.end, 3), "true_word": truth,
            "in_vocabulary": None if truth is None else truth in vocabulary,
            "correct": None if truth is None else top[0]["word"] == truth,
            "first_frame": placed.window.first_frame,
            "frames": int(placed.window.frame_indices.shape[0]),
            "face_track": placed.face.track.track_id, "candidate_faces": placed.candidate_faces,
            "speaker_score": _number(placed.speaker_score),
            "av_offset": round(placed.shift_frames / segment.fps, 3), "top": top}


def skipped_line(video: str, skipped: clips.Skipped) -> dict:
    """The predictions.jsonl line of a span that could not be cut."""
    return {"video": video, "segment": skipped.index, "kind": skipped.kind,
            "start": _number(round(skipped.start, 3)), "end": _number(round(skipped.end, 3)),
            "true_word": skipped.true_word, "error": skipped.reason, "detail": skipped.detail}


class Predictor:
    """Reads lips on videos with one export."""

    def __init__(self, export_dir: str, top_k: int = 5, base: PreprocessConfig = default()):
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k!r}")
        self.model: LoadedModel = load_model(export_dir)
        self.config = clips.config_for(self.model.contract, base)
        self.top_k = min(top_k, len(self.model.vocabulary))
        self._backend = make_backend(self.config.landmarks, upsample=self.config.upsample,
                                     device=self.config.landmark_device)
        self._backend.load()
        self._aligner = None

    def _aligner_for(self):
        """The forced aligner, set up the first time a transcript needs it."""
        if self._aligner is None:
            from pipelines.preprocess.transcript_alignment import TranscriptAligner

            self._aligner = TranscriptAligner()
            self._aligner.load()
        return self._aligner

    def _words(self, video: str) -> clips.VideoWords | None:
        transcript = clips.find_transcript(video)
        if transcript is None:
            return None
        return clips.read_transcript(video, transcript, self._aligner_for)

    def predict(self, video: str) -> VideoPrediction:
        """Cuts and reads one local video; RecordError if it cannot be read."""
        cut = clips.cut_video(video, self._words(video), self.config, self._backend,
                              self.model.contract.reference())
        frames = (np.stack([s.frames for s in cut.segments]) if cut.segments
                  else np.zeros((0, self.config.window_length, self.config.crop_size,
                                 self.config.crop_size), np.uint8))
        masks = (np.stack([s.boundary_mask for s in cut.segments]) if cut.segments
                 else np.zeros((0, self.config.window_length), np.uint8))
        probabilities = self.model.probabilities(frames, masks)
        lines = [segment_line(video, s, row, self.model.vocabulary, self.top_k)
                 for s, row in zip(cut.segments, probabilities)]
        lines += [skipped_line(video, s) for s in cut.skipped]
        lines.sort(key=lambda line: line["segment"])
        return VideoPrediction(cut, probabilities, lines)

    def annotate(self, prediction: VideoPrediction, folder: str, name: str | None = None) -> str:
        """Writes the annotated mp4 of a prediction into `folder` as NAME.annotated.mp4
        (default NAME: the video's file name without its suffix); returns its path."""
        cut = prediction.clips
        words = [self.model.vocabulary[int(np.argmax(row))] for row in prediction.probabilities]
        name = name or os.path.splitext(os.path.basename(cut.video))[0]
        return annotate.annotate_video(
            cut.video, os.path.join(folder, f"{name}.annotated.mp4"),
            annotate.labels_by_frame(cut.segments, words), self.config.fps, cut.width,
            cut.height)
