"""The preprocess job's settings: one typed, frozen place, checked on construction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pipelines.preprocess.active_speaker import SpeakerConfig
from pipelines.preprocess.av_offset import OffsetRule
from pipelines.preprocess.landmarks import BACKENDS
from pipelines.preprocess.landmarks.face_tracks import TrackingRule
from pipelines.preprocess.quality import QualityThresholds
from pipelines.preprocess.splits import SPLIT_KEYS, SplitRatios
from schemas.layout import COMPRESSIONS

_QUALITY = QualityThresholds()
UNITS = ("word", "sentence")


@dataclass(frozen=True)
class PreprocessConfig:
    """Everything that shapes the clips the preprocess job writes.

    Times are in seconds, lengths in frames of the output rate `fps`, sizes in pixels.
    """

    fps: float = 25.0
    window_length: int = 29            # LRW: 29 frames = 1.16 s centred on the word
    crop_size: int = 96                # side of the square grey mouth crop
    max_side: int = 1280               # larger frames are scaled down before anything else
    landmarks: str = "mesh"            # landmark backend: mesh (offline default), dlib or fan
    landmark_device: str = "cpu"       # torch device for the fan backend
    detect_every: int = 5              # run the face detector on every n-th frame, track between
    detect_max_side: int = 640         # frames are scaled to this for detection only
    search_every: int = 25             # whole-frame search for new faces at least this often;
                                       # other detections look only around followed faces
    upsample: int = 0                  # dlib detector upsampling for small faces
    max_faces: int = 8                 # faces followed at once in a shot
    max_gap: int = 12                  # frames without a face that may be interpolated over
    chunk_seconds: float = 60.0        # longer videos are cut into chunks of whole shots
    max_transcript_mb: float = 16.0    # a larger transcript is a dead letter, unread
    smooth_window: int = 3             # centred moving average of landmarks, in frames
    max_av_offset: int = 10            # sound-to-picture offsets searched, frames either way
                                       # (0: none is estimated or applied)
    end_tolerance: float = 0.08        # a word may end this far past the video's end (clamped)
    num_shards: int = 0                # TFRecord shards; 0 lets the runner choose
    compression: str = "gzip"          # TFRecord files: gzip, or none (larger files that the
                                       # trainer reads several times faster)
    gzip_level: int = 3                # 1-3 ISA-L (3: its smallest files), 4-9 zlib (slower,
                                       # up to the smallest files)
    max_failure_fraction: float = 0.5  # above this share of failed words the run is an error
    unit: str = "word"                 # word: word clips; sentence: whole-sentence clips too
    sentence_margin: int = 2           # frames kept before and after a sentence clip's words
    # Dataset building.
    train_fraction: float = 0.8        # share of groups in train; val next; test the rest
    val_fraction: float = 0.1
    split_by: str = "folder"           # group key of the split: the input's layout (folder),
                                       # or video, speaker, show
    vocab_size: int = 500              # top-K words by count (LRW: 500)
    min_word_count: int = 1            # words with fewer train clips are out of vocabulary
    vocabulary: str = ""               # a fixed vocabulary to label with instead ("" learns one)
    augment_copies: int = 0            # extra augmented copies of each train clip
    min_face_size: float = _QUALITY.min_face_size
    max_yaw: float = _QUALITY.max_yaw
    max_jitter: float = _QUALITY.max_jitter
    max_interpolated_fraction: float = _QUALITY.max_interpolated_fraction
    min_sharpness: float = _QUALITY.min_sharpness

    def __post_init__(self):
        positive = ("fps", "window_length", "crop_size", "max_side", "detect_every",
                    "search_every", "detect_max_side", "smooth_window", "max_faces",
                    "chunk_seconds", "max_transcript_mb")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.landmarks not in BACKENDS:
            raise ValueError(f"landmarks must be one of {BACKENDS}, got {self.landmarks!r}")
        if self.crop_size < 16 or self.crop_size > self.max_side:
            raise ValueError(f"crop_size must be in [16, max_side], got {self.crop_size!r}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got "
                             f"{self.compression!r}")
        if not 1 <= self.gzip_level <= 9:
            raise ValueError(f"gzip_level must be in 1..9, got {self.gzip_level!r}")
        if self.max_gap < 0 or self.upsample < 0 or self.num_shards < 0:
            raise ValueError("max_gap, upsample and num_shards must be >= 0")
        if not 0 <= self.max_av_offset <= 25:
            raise ValueError(f"max_av_offset must be in 0..25 frames, got {self.max_av_offset!r}")
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {self.unit!r}")
        if self.sentence_margin < 0:
            raise ValueError(f"sentence_margin must be >= 0, got {self.sentence_margin!r}")
        if self.split_by not in SPLIT_KEYS:
            raise ValueError(f"split_by must be one of {SPLIT_KEYS}, got {self.split_by!r}")
        if self.vocab_size < 1 or self.min_word_count < 1 or self.augment_copies < 0:
            raise ValueError("vocab_size and min_word_count must be >= 1, augment_copies >= 0")
        _ = (self.split_ratios, self.quality_thresholds)  # constructing them validates them
        if not 0.0 <= self.max_failure_fraction <= 1.0:
            raise ValueError(
                f"max_failure_fraction must be in [0, 1], got {self.max_failure_fraction!r}")

    @property
    def split_ratios(self) -> SplitRatios:
        return SplitRatios(train=self.train_fraction, val=self.val_fraction)

    @property
    def quality_thresholds(self) -> QualityThresholds:
        return QualityThresholds(
            min_face_size=self.min_face_size, max_yaw=self.max_yaw, max_jitter=self.max_jitter,
            max_interpolated_fraction=self.max_interpolated_fraction,
            min_sharpness=self.min_sharpness)

    @property
    def max_transcript_bytes(self) -> int:
        return int(self.max_transcript_mb * 1024 * 1024)

    @property
    def offset_rule(self) -> OffsetRule | None:
        """How each face's sound-to-picture offset is estimated; None: it is not."""
        if self.max_av_offset == 0:
            return None
        return OffsetRule(max_lag=self.max_av_offset,
                          min_frames=max(OffsetRule().min_frames, 2 * self.max_av_offset + 10),
                          min_shift=min(OffsetRule().min_shift, self.max_av_offset))

    @property
    def tracking_rule(self) -> TrackingRule:
        return TrackingRule(detect_every=self.detect_every, detect_max_side=self.detect_max_side,
                            search_every=self.search_every, max_faces=self.max_faces)

    @property
    def chunk_frames(self) -> int:
        return max(int(round(self.chunk_seconds * self.fps)), self.window_length)

    @property
    def chunk_margin(self) -> int:
        """Frames decoded past a split chunk's core: half a window plus landmark context."""
        return self.window_length // 2 + self.context_frames + 1

    @property
    def context_frames(self) -> int:
        """Frames of landmarks wanted on each side of a window: for smoothing and gaps, and
        for the speaker's sync score, measured over a span longer than the window."""
        speaker_side = (SpeakerConfig().span - self.window_length + 1) // 2
        return max(self.smooth_window // 2 + self.max_gap, speaker_side) + self.max_av_offset

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def default() -> PreprocessConfig:
    """LRW conventions: 25 fps, 29-frame windows, 96x96 crops, dlib landmarks."""
    return PreprocessConfig()
