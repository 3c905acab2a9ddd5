"""The word clip record: the one definition of what a lipflow TFRecord holds.

A clip is a `tf.train.SequenceExample`: per-clip facts in the context, per-frame data
in the feature lists (one entry per frame of the window). A word clip (`unit` "word")
has the fixed window around one word; a sentence clip (`unit` "sentence", schema 1.4.0
on) spans a whole sentence, has as many frames as the sentence needs, and carries its
word sequence in `words`, `word_starts` and `word_ends` (a word clip holds its one word
there). Records of 1.3.0, which have no `unit` and no word lists, still parse. Schema 1.5.0
adds the sound-to-picture offset (`av_offset`, `av_offset_estimate`, `av_offset_peak`)
and measures `landmark_jitter` as fitting noise (see pipelines/preprocess/quality.py);
older records read the offset as not estimated. The Beam writer
(`encode_clip`) and the trainer's reader (`parse_clip`) both come from here, and the
TFMD schema (`schema.pbtxt` beside this file) is generated from the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEMA_VERSION = "1.5.0"
SEQUENCE_STRUCT = "##SEQUENCE##"  # TFMD's name for the feature lists of a SequenceExample

# Context keys.
SCHEMA_VERSION_KEY = "schema_version"
CLIP_ID = "clip_id"
VIDEO_ID = "video_id"
SOURCE_VIDEO = "source_video"
WORD = "word"
WORD_INDEX = "word_index"
START_TIME = "start_time"
END_TIME = "end_time"
FPS = "fps"
NUM_FRAMES = "num_frames"
CROP_HEIGHT = "crop_height"
CROP_WIDTH = "crop_width"
FIRST_FRAME = "first_frame"
PADDED_BEFORE = "padded_before"
PADDED_AFTER = "padded_after"
INTERPOLATED_FRAMES = "interpolated_frames"
SPEAKER = "speaker"
SHOW = "show"
SPLIT = "split"
GROUP = "group"
LABEL = "label"
AUGMENT_COPY = "augment_copy"
FACE_SIZE = "face_size"
YAW = "yaw"
LANDMARK_JITTER = "landmark_jitter"
SHARPNESS = "sharpness"
VIDEO_START = "video_start"
SHOT = "shot"
FACE_TRACK = "face_track"
CANDIDATE_FACES = "candidate_faces"
SPEAKER_SCORE = "speaker_score"
SPEAKER_MARGIN = "speaker_margin"
ASD_SCORE = "asd_score"
ALIGNMENT_CONFIDENCE = "alignment_confidence"
UNIT = "unit"
AV_OFFSET = "av_offset"
AV_OFFSET_ESTIMATE = "av_offset_estimate"
AV_OFFSET_PEAK = "av_offset_peak"
WORDS = "words"
WORD_STARTS = "word_starts"
WORD_ENDS = "word_ends"
UNIT_WORD, UNIT_SENTENCE = "word", "sentence"

# Sequence (per-frame) keys.
FRAMES = "frames"
BOUNDARY_MASK = "boundary_mask"
LANDMARKS = "landmarks"
LANDMARK_DETECTED = "landmark_detected"
CROP_TRANSFORM = "crop_transform"

NUM_LANDMARKS = 68


@dataclass(frozen=True)
class Feature:
    """One feature: key, dtype ('bytes', 'int64' or 'float32'), values per entry, meaning.

    `size` 0: any number of values (a list). `default`: the value when a record of an
    older schema lacks the feature (None: the feature is required).
    """

    key: str
    dtype: str
    size: int
    doc: str
    default: object = None


CONTEXT_FEATURES = (
    Feature(SCHEMA_VERSION_KEY, "bytes", 1, "version of this schema"),
    Feature(CLIP_ID, "bytes", 1, "unique id: <video_id>#<word_index>_<word>"),
    Feature(VIDEO_ID, "bytes", 1, "source video's path relative to the input, no suffix"),
    Feature(SOURCE_VIDEO, "bytes", 1, "source video path as given"),
    Feature(WORD, "bytes", 1, "the word, NFC lower-case"),
    Feature(WORD_INDEX, "int64", 1, "position of the word in its transcript (0-based)"),
    Feature(START_TIME, "float32", 1, "word start, seconds from the video's start"),
    Feature(END_TIME, "float32", 1, "word end, seconds from the video's start"),
    Feature(FPS, "float32", 1, "frame rate of the clip"),
    Feature(NUM_FRAMES, "int64", 1, "frames in the clip (the window length T)"),
    Feature(CROP_HEIGHT, "int64", 1, "mouth crop height in pixels"),
    Feature(CROP_WIDTH, "int64", 1, "mouth crop width in pixels"),
    Feature(FIRST_FRAME, "int64", 1, "video frame of window position 0 (negative if padded)"),
    Feature(PADDED_BEFORE, "int64", 1, "window positions before the video's first frame"),
    Feature(PADDED_AFTER, "int64", 1, "window positions after the video's last frame"),
    Feature(INTERPOLATED_FRAMES, "int64", 1, "window frames whose landmarks were interpolated"),
    Feature(SPEAKER, "bytes", 1, "speaker id when the input names one, else empty"),
    Feature(SHOW, "bytes", 1, "show (programme) when the input names one, else empty"),
    Feature(SPLIT, "bytes", 1, "train, val or test"),
    Feature(GROUP, "bytes", 1, "key the split was drawn by: video:<id>, folder:<path>, "
                               "programme:<id>, youtube:<id>, group:<name>, speaker:<id> or "
                               "show:<id>"),
    Feature(LABEL, "int64", 1, "index of the word in the vocabulary (transform_fn)"),
    Feature(AUGMENT_COPY, "int64", 1, "0 for an original clip, k for its k-th augmented copy"),
    Feature(FACE_SIZE, "float32", 1, "median outer-eye-corner distance, source pixels"),
    Feature(YAW, "float32", 1, "head-turn proxy, 0 frontal to 1 profile"),
    Feature(LANDMARK_JITTER, "float32", 1, "fitting noise of the rigid landmarks (brows, nose, "
                                           "eyes) from their second differences / face size"),
    Feature(SHARPNESS, "float32", 1, "mean variance of the Laplacian of the crops"),
    Feature(VIDEO_START, "float32", 1,
            "container time (s) of the video's first frame; frame k shows video_start + k / fps"),
    Feature(SHOT, "int64", 1, "index of the shot (between hard cuts) holding the word, from 0"),
    Feature(FACE_TRACK, "int64", 1, "id of the face track the crops come from, unique per video"),
    Feature(CANDIDATE_FACES, "int64", 1, "face tracks with landmarks on every window frame"),
    Feature(SPEAKER_SCORE, "float32", 1,
            "audio-visual sync score of the chosen face (NaN without audio)"),
    Feature(SPEAKER_MARGIN, "float32", 1,
            "chosen face's sync score minus the runner-up's (NaN with one face or no audio)"),
    Feature(ASD_SCORE, "float32", 1, "active-speaker score from an LRS transcript, else NaN"),
    Feature(ALIGNMENT_CONFIDENCE, "float32", 1,
            "forced-alignment confidence 0..1 of subtitle-derived word times, else NaN"),
    Feature(UNIT, "bytes", 1, "word (a fixed window around one word) or sentence (a whole "
                              "sentence; `word` then holds its words joined by spaces)",
            default=UNIT_WORD),
    Feature(WORDS, "bytes", 0, "the clip's words in order (a word clip: its one word)"),
    Feature(WORD_STARTS, "float32", 0, "start of each of `words`, seconds from the video's start"),
    Feature(WORD_ENDS, "float32", 0, "end of each of `words`, seconds from the video's start"),
    Feature(AV_OFFSET, "float32", 1, "seconds the window was moved earlier than the word times "
                                     "because the face's sound follows its picture by that "
                                     "much (0: not moved)", default=0.0),
    Feature(AV_OFFSET_ESTIMATE, "float32", 1, "the face track's estimated sound-to-picture "
                                              "offset in seconds, trusted or not (NaN: none)",
            default=float("nan")),
    Feature(AV_OFFSET_PEAK, "float32", 1, "sync correlation at that offset (NaN: none)",
            default=float("nan")),
)
LIST_FEATURES = tuple(f for f in CONTEXT_FEATURES if f.size == 0)

SEQUENCE_FEATURES = (
    Feature(FRAMES, "bytes", 1, "grey mouth crop, raw uint8 row-major [crop_height, crop_width]"),
    Feature(BOUNDARY_MASK, "int64", 1, "1 where the frame lies inside the word"),
    Feature(LANDMARKS, "float32", 2 * NUM_LANDMARKS,
            "68 (x, y) points in source-frame pixels, smoothed, as used for the crop"),
    Feature(LANDMARK_DETECTED, "int64", 1, "1 where landmarks were fitted, 0 where interpolated"),
    Feature(CROP_TRANSFORM, "float32", 6,
            "2x3 similarity mapping source-frame pixels to crop pixels, row-major"),
)


@dataclass
class ClipRecord:
    """One word clip in numpy form. T = window length, S = crop side."""

    clip_id: str
    video_id: str
    source_video: str
    word: str
    word_index: int
    start_time: float
    end_time: float
    fps: float
    first_frame: int
    padded_before: int
    padded_after: int
    frames: np.ndarray             # uint8 [T, S, S]
    boundary_mask: np.ndarray      # uint8 [T]
    landmarks: np.ndarray          # float32 [T, 68, 2]
    landmark_detected: np.ndarray  # bool [T]
    crop_transform: np.ndarray     # float32 [T, 2, 3]
    speaker: str = ""
    show: str = ""
    split: str = ""
    group: str = ""
    label: int = -1
    augment_copy: int = 0
    face_size: float = 0.0
    yaw: float = 0.0
    landmark_jitter: float = 0.0
    sharpness: float = 0.0
    video_start: float = 0.0
    shot: int = 0
    face_track: int = 0
    candidate_faces: int = 1
    speaker_score: float = float("nan")
    speaker_margin: float = float("nan")
    asd_score: float = float("nan")
    alignment_confidence: float = float("nan")
    unit: str = UNIT_WORD
    words: tuple[str, ...] = ()         # empty for a word clip: (word,) is written
    word_starts: tuple[float, ...] = ()
    word_ends: tuple[float, ...] = ()
    av_offset: float = 0.0
    av_offset_estimate: float = float("nan")
    av_offset_peak: float = float("nan")

    @property
    def interpolated_frames(self) -> int:
        return int(np.count_nonzero(~self.landmark_detected.astype(bool)))


def _context_values(record: ClipRecord) -> dict:
    return {
        SCHEMA_VERSION_KEY: SCHEMA_VERSION, CLIP_ID: record.clip_id, VIDEO_ID: record.video_id,
        SOURCE_VIDEO: record.source_video, WORD: record.word, WORD_INDEX: record.word_index,
        START_TIME: record.start_time, END_TIME: record.end_time, FPS: record.fps,
        NUM_FRAMES: record.frames.shape[0], CROP_HEIGHT: record.frames.shape[1],
        CROP_WIDTH: record.frames.shape[2], FIRST_FRAME: record.first_frame,
        PADDED_BEFORE: record.padded_before, PADDED_AFTER: record.padded_after,
        INTERPOLATED_FRAMES: record.interpolated_frames, SPEAKER: record.speaker, SHOW: record.show,
        SPLIT: record.split, GROUP: record.group, LABEL: record.label,
        AUGMENT_COPY: record.augment_copy, FACE_SIZE: record.face_size, YAW: record.yaw,
        LANDMARK_JITTER: record.landmark_jitter, SHARPNESS: record.sharpness,
        VIDEO_START: record.video_start, SHOT: record.shot, FACE_TRACK: record.face_track,
        CANDIDATE_FACES: record.candidate_faces, SPEAKER_SCORE: record.speaker_score,
        SPEAKER_MARGIN: record.speaker_margin, ASD_SCORE: record.asd_score,
        ALIGNMENT_CONFIDENCE: record.alignment_confidence, UNIT: record.unit,
        WORDS: list(record.words) or [record.word],
        WORD_STARTS: list(record.word_starts) or [record.start_time],
        WORD_ENDS: list(record.word_ends) or [record.end_time],
        AV_OFFSET: record.av_offset, AV_OFFSET_ESTIMATE: record.av_offset_estimate,
        AV_OFFSET_PEAK: record.av_offset_peak,
    }


def _sequence_values(record: ClipRecord) -> dict:
    frames = np.ascontiguousarray(record.frames, dtype=np.uint8)
    length = frames.shape[0]
    return {
        FRAMES: [[frame.tobytes()] for frame in frames],
        BOUNDARY_MASK: record.boundary_mask.reshape(length, 1).astype(np.int64),
        LANDMARKS: record.landmarks.reshape(length, -1).astype(np.float32),
        LANDMARK_DETECTED: record.landmark_detected.reshape(length, 1).astype(np.int64),
        CROP_TRANSFORM: record.crop_transform.reshape(length, -1).astype(np.float32),
    }


def _tf_feature(tf, dtype: str, values):
    if dtype == "bytes":
        values = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if dtype == "int64":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def validate_record(record: ClipRecord) -> None:
    """Raises ValueError if the arrays do not have the shapes and dtypes the schema promises."""
    frames = record.frames
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    length = frames.shape[0]
    expected = {"boundary_mask": (length,), "landmarks": (length, NUM_LANDMARKS, 2),
                "landmark_detected": (length,), "crop_transform": (length, 2, 3)}
    for name, shape in expected.items():
        if getattr(record, name).shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {getattr(record, name).shape}")
    if record.unit not in (UNIT_WORD, UNIT_SENTENCE):
        raise ValueError(f"unit must be {UNIT_WORD!r} or {UNIT_SENTENCE!r}, got {record.unit!r}")
    if not len(record.words) == len(record.word_starts) == len(record.word_ends):
        raise ValueError(f"words, word_starts and word_ends differ in length: {record.words!r}")


def encode_clip(record: ClipRecord) -> bytes:
    """Serialised tf.train.SequenceExample of a clip."""
    import tensorflow as tf

    validate_record(record)
    context_values = _context_values(record)
    context = {f.key: _tf_feature(tf, f.dtype, context_values[f.key] if f.size == 0
                                  else [context_values[f.key]]) for f in CONTEXT_FEATURES}
    sequence_values = _sequence_values(record)
    feature_lists = {
        f.key: tf.train.FeatureList(feature=[_tf_feature(tf, f.dtype, row)
                                             for row in sequence_values[f.key]])
        for f in SEQUENCE_FEATURES}
    example = tf.train.SequenceExample(
        context=tf.train.Features(feature=context),
        feature_lists=tf.train.FeatureLists(feature_list=feature_lists))
    # Context and feature lists are protobuf maps, written in hash order (which differs from
    # one process to the next) unless asked otherwise: sorted keys make a rerun byte-identical.
    return example.SerializeToString(deterministic=True)


def _tf_dtype(tf, dtype: str):
    return {"bytes": tf.string, "int64": tf.int64, "float32": tf.float32}[dtype]


def feature_specs() -> tuple[dict, dict]:
    """(context, sequence) parsing specs for tf.io.parse_single_sequence_example."""
    import tensorflow as tf

    context = {f.key: tf.io.VarLenFeature(_tf_dtype(tf, f.dtype)) if f.size == 0
               else tf.io.FixedLenFeature([], _tf_dtype(tf, f.dtype), default_value=f.default)
               for f in CONTEXT_FEATURES}
    sequence = {f.key: tf.io.FixedLenSequenceFeature([f.size] if f.size > 1 else [],
                                                     _tf_dtype(tf, f.dtype))
                for f in SEQUENCE_FEATURES}
    return context, sequence


def parse_clip(serialized):
    """Parses one serialised clip into a dict of tensors (usable inside tf.data.map).

    Context features come out as scalars under their keys (`words`, `word_starts` and
    `word_ends` as vectors); per-frame features as
    `frames` uint8 [T, H, W], `boundary_mask` int64 [T], `landmarks` float32 [T, 68, 2],
    `landmark_detected` int64 [T] and `crop_transform` float32 [T, 2, 3].
    """
    import tensorflow as tf

    context_spec, sequence_spec = feature_specs()
    context, sequence = tf.io.parse_single_sequence_example(
        serialized, context_features=context_spec, sequence_features=sequence_spec)
    height = tf.cast(context[CROP_HEIGHT], tf.int32)
    width = tf.cast(context[CROP_WIDTH], tf.int32)
    frames = tf.io.decode_raw(sequence[FRAMES], tf.uint8)
    parsed = dict(context)
    for feature in LIST_FEATURES:  # a 1.3.0 record holds its one word in word/start/end_time
        values = tf.sparse.to_dense(context[feature.key])
        single = {WORDS: WORD, WORD_STARTS: START_TIME, WORD_ENDS: END_TIME}[feature.key]
        parsed[feature.key] = tf.cond(tf.size(values) > 0, lambda v=values: v,
                                      lambda s=single: tf.reshape(context[s], [1]))
    parsed[FRAMES] = tf.reshape(frames, [-1, height, width])
    parsed[BOUNDARY_MASK] = sequence[BOUNDARY_MASK]
    parsed[LANDMARKS] = tf.reshape(sequence[LANDMARKS], [-1, NUM_LANDMARKS, 2])
    parsed[LANDMARK_DETECTED] = sequence[LANDMARK_DETECTED]
    parsed[CROP_TRANSFORM] = tf.reshape(sequence[CROP_TRANSFORM], [-1, 2, 3])
    return parsed


_TFMD_TYPES = {"bytes": "BYTES", "int64": "INT", "float32": "FLOAT"}


def _tfmd_feature(feature: Feature, indent: str) -> str:
    return (f"{indent}feature {{\n{indent}  name: \"{feature.key}\"\n"
            f"{indent}  type: {_TFMD_TYPES[feature.dtype]}\n"
            f"{indent}  {_value_count(feature)}\n"
            f"{indent}  annotation {{ comment: \"{feature.doc}\" }}\n{indent}}}\n")


def _value_count(feature: Feature) -> str:
    if feature.size == 0:
        return "value_count { min: 1 }"
    return f"value_count {{ min: {feature.size} max: {feature.size} }}"


def tfmd_schema_text() -> str:
    """The TFMD Schema (text proto) of a clip, generated from the tables above."""
    header = (f"# proto-file: tensorflow_metadata/proto/v0/schema.proto\n"
              f"# proto-message: Schema\n# lipflow word clip schema {SCHEMA_VERSION}; "
              f"generated by schemas.clip.tfmd_schema_text(), do not edit by hand.\n")
    context = "".join(_tfmd_feature(f, "") for f in CONTEXT_FEATURES)
    sequence = "".join(_tfmd_feature(f, "    ") for f in SEQUENCE_FEATURES)
    struct = (f"feature {{\n  name: \"{SEQUENCE_STRUCT}\"\n  type: STRUCT\n"
              f"  struct_domain {{\n{sequence}  }}\n}}\n")
    return header + context + struct


def _feature_values(feature, dtype: str) -> list:
    if dtype == "bytes":
        return list(feature.bytes_list.value)
    if dtype == "int64":
        return list(feature.int64_list.value)
    return list(feature.float_list.value)


def _context_scalar(context, spec: Feature):
    if spec.key not in context.feature:
        return spec.default
    values = _feature_values(context.feature[spec.key], spec.dtype)
    if len(values) != 1:
        raise ValueError(f"context feature {spec.key!r} has {len(values)} values, expected 1")
    value = values[0]
    return value.decode("utf-8") if spec.dtype == "bytes" else value


def _parsed(serialized: bytes, sequences: bool):
    """The SequenceExample of a record; ValueError when it is none or lacks a required
    context feature (or, with `sequences`, the frames or the mask)."""
    from tensorflow.core.example import example_pb2
    from google.protobuf.message import DecodeError

    example = example_pb2.SequenceExample()
    try:
        example.ParseFromString(serialized)
    except DecodeError as err:
        raise ValueError(f"not a SequenceExample: {err}") from err
    missing = [f.key for f in CONTEXT_FEATURES
               if f.key not in example.context.feature and f.default is None and f.size]
    if sequences:
        missing += [f.key for f in (SEQUENCE_FEATURES[0], SEQUENCE_FEATURES[1])
                    if f.key not in example.feature_lists.feature_list]
    if missing:
        raise ValueError(f"record lacks features {missing}")
    return example


def decode_context(serialized: bytes) -> dict:
    """The context values of one serialised clip (no frames), as `decode_clip` gives them;
    ValueError when the record is no SequenceExample or lacks a required context key."""
    example = _parsed(serialized, sequences=False)
    return {f.key: _context_scalar(example.context, f) for f in CONTEXT_FEATURES if f.size}


def decode_clip(serialized: bytes) -> dict:
    """Parses one serialised clip into numpy, outside a TensorFlow graph (for Beam stages).

    The same keys as `parse_clip`: context values as Python scalars (strings decoded),
    `frames` uint8 [T, H, W] and `boundary_mask` int64 [T]. Raises ValueError when the
    record is not a clip of this schema (missing features, wrong sizes, bad bytes).
    """
    example = _parsed(serialized, sequences=True)
    clip = {f.key: _context_scalar(example.context, f) for f in CONTEXT_FEATURES if f.size}
    for single, listed in ((WORD, WORDS), (START_TIME, WORD_STARTS), (END_TIME, WORD_ENDS)):
        spec = next(f for f in LIST_FEATURES if f.key == listed)
        values = (_feature_values(example.context.feature[listed], spec.dtype)
                  if listed in example.context.feature else [])
        values = [v.decode("utf-8") if spec.dtype == "bytes" else v for v in values]
        clip[listed] = values or [clip[single]]
    height, width = clip[CROP_HEIGHT], clip[CROP_WIDTH]
    rows = example.feature_lists.feature_list
    frames = [b"".join(entry.bytes_list.value) for entry in rows[FRAMES].feature]
    if any(len(frame) != height * width for frame in frames):
        raise ValueError(f"a frame does not hold {height}x{width} bytes")
    clip[FRAMES] = np.frombuffer(b"".join(frames), np.uint8).reshape(len(frames), height, width)
    mask = [v for entry in rows[BOUNDARY_MASK].feature for v in entry.int64_list.value]
    if len(mask) != len(frames):
        raise ValueError(f"{len(mask)} boundary-mask values for {len(frames)} frames")
    clip[BOUNDARY_MASK] = np.asarray(mask, dtype=np.int64)
    return clip
