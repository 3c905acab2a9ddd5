"""The preprocess job's command-line flags: --input, --output and every PreprocessConfig field.

Kept apart from the Beam options class (options.py) because Beam parses every options
class that has been imported for every pipeline: the command line builds its help from
this module without registering the preprocess flags for other jobs.
"""

from __future__ import annotations

import dataclasses

from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.landmarks import BACKENDS

_HELP = {
    "fps": "output frame rate; word times map to frames at this rate",
    "window_length": "frames per word clip, centred on the word (29 = 1.16 s, LRW)",
    "crop_size": "side in pixels of the square grey mouth crop",
    "max_side": "frames larger than this on either side are scaled down first",
    "landmarks": f"landmark backend, one of {BACKENDS}: mesh (BlazeFace and the 468-point "
                 "face mesh, read as 68 points) is the offline default; dlib (HOG and its "
                 "68-point model) ships too; fan (face-alignment) needs its extra and downloads "
                 "weights on first use",
    "landmark_device": "torch device for the fan backend (cpu, cuda)",
    "detect_every": "run the face detector on every n-th frame and track in between",
    "detect_max_side": "frames are scaled to at most this size for face detection only",
    "search_every": "while faces are followed, search the whole frame for new faces at least "
                    "every n-th frame; the detections between look only around the followed "
                    "faces (set it to --detect_every to search the whole frame every time)",
    "upsample": "dlib detector upsampling steps, for faces smaller than about 80 pixels "
                "(dlib backend only)",
    "max_faces": "most faces followed at once in one shot (the largest are kept)",
    "chunk_seconds": "videos longer than this are cut into chunks of whole shots (a shot longer "
                     "than a chunk is split with overlap) that workers process in parallel",
    "max_transcript_mb": "a transcript larger than this (MiB) is a dead letter "
                         "(read_transcript/transcript_too_large), not read",
    "max_gap": "frames without a face that may be bridged by interpolation",
    "smooth_window": "frames in the centred moving average applied to landmarks before the "
                     "crop is cut",
    "max_av_offset": "sound-to-picture offsets searched per face track, in frames either way; "
                     "a trusted offset moves the word windows to meet the mouth (0: off)",
    "end_tolerance": "seconds a word may end past the video's end (clamped); beyond: dead letter",
    "num_shards": "number of TFRecord shards (0: let the runner decide)",
    "compression": "TFRecord files: gzip (clips-*.tfrecord.gz) or none (clips-*.tfrecord, "
                   "about 1.7x larger, read by the trainer without inflating)",
    "gzip_level": "GZIP level of the TFRecords, 1 to 9: 1-3 deflate with ISA-L (several times "
                  "faster), 4-9 with zlib (up to 9, the smallest files)",
    "max_failure_fraction": "share of words that failed (not those dropped on purpose or with "
                            "no clip) above which the run exits with an error",
    "unit": "word: a fixed window around every word; sentence: also one clip per sentence "
            "(a subtitle cue, or a word-timed transcript as a whole) of variable length, "
            "labelled with its word sequence, under sentences/",
    "sentence_margin": "frames kept before the first and after the last word of a sentence clip",
    "train_fraction": "share of groups in the train split",
    "val_fraction": "share of groups in the val split; test takes the rest",
    "split_by": "group key of the splits: folder (the input's layout: LRS2 programme, LRS3 "
                "YouTube id, else the video's source folder), video, speaker or show (from a "
                "manifest's columns); corpus splits (LRW/LRS folders, LRS2 lists, a split "
                "column) are kept, and trainval/pretrain material never reaches test",
    "vocab_size": "vocabulary size: the most frequent words of the train split (LRW: 500)",
    "min_word_count": "words with fewer train clips than this are out of vocabulary",
    "vocabulary": "label clips with a fixed vocabulary instead of learning one: a "
                  "vocabulary.txt (one word a line, in label order), an export folder of "
                  "lipflow train or an earlier dataset; words outside it are dead letters "
                  "(vocabulary/out_of_vocabulary) and --vocab_size, --min_word_count are unused",
    "augment_copies": "augmented copies written per train clip (0: none)",
    "min_face_size": "quality: minimum outer-eye-corner distance in source pixels",
    "max_yaw": "quality: maximum head-turn proxy (0 frontal .. 1 profile)",
    "max_jitter": "quality: maximum landmark jitter, as a share of the face size",
    "max_interpolated_fraction": "quality: maximum share of frames without a fitted face",
    "min_sharpness": "quality: minimum mean variance of the Laplacian of the crops",
}


def add_preprocess_arguments(parser, required: bool) -> None:
    """Adds the flags to `parser`; `required`: whether --input and --output must be given."""
    parser.add_argument("--input", required=required,
                        help="folder of videos with transcripts beside them or in a sibling "
                             "folder (as GRID's video/ and align/), or a CSV / JSON Lines "
                             "manifest with a 'video' column")
    parser.add_argument("--output", required=required,
                        help="folder for clips-*.tfrecord[.gz], dead_letters.jsonl and "
                             "manifest.json (local path or gs://); a folder holding another "
                             "run's dataset is refused (a rerun of the same run rewrites it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete what an earlier run of another input or other settings "
                             "wrote into --output before writing (never other files)")
    for field in dataclasses.fields(PreprocessConfig):
        parser.add_argument(f"--{field.name}", type=type(field.default), default=field.default,
                            help=f"{_HELP[field.name]} (default: {field.default})")
