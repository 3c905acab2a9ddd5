"""Corpus layouts: LRW, LRS2 and LRS3 folders keep their own splits, and no source
(programme, YouTube id, folder) is ever in two splits.

Pure rules are checked on video ids; each corpus is also built as a small folder of real
sample recordings copied under the corpus's own names, with transcripts in its format,
listed as the command lists its input, and its clips split by the split stage.
"""

import logging
import os
import shutil

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.preprocess.assign_splits import AssignSplits
from pipelines.preprocess.dead_letters import DEAD_LETTER
from pipelines.preprocess.inputs import InputListing, list_inputs
from pipelines.preprocess.layouts import (Placement, folders_layout, read_lrs2_list,
                                          recognise_layout)
from pipelines.preprocess.splits import SplitRatios, group_fraction, split_of_group
from pipelines.preprocess.transcripts import parse_transcript
from schemas.clip import ClipRecord
from tests import media

RATIOS = SplitRatios(0.8, 0.1)
# YouTube ids whose SHA-256 fractions (of `youtube:<id>`) fall in each band of RATIOS.
YT_VAL, YT_TRAIN, YT_TEST_BAND = "peyOxJRkSq1", "EqV8ib8HDy8", "dqNCIEPx3mn"
YT_OFFICIAL_TEST = ("za93Ce6KRDi", "8YtDtXbiufM")
# LRS2 programmes: the first hashes into train, the second into val (for the drawn case).
PROG_A, PROG_B, PROG_C, PROG_D = ("5535415699068794046", "5536038039829982468",
                                  "6330311066473698535", "5540863473342066578")


def _lrs_text(*words: str) -> str:
    rows = "".join(f"{w} {0.1 + 0.3 * i:.2f} {0.4 + 0.3 * i:.2f} {5.0 - i:.1f}\n"
                   for i, w in enumerate(words))
    return f"Text:  {' '.join(words)}\nConf:  4\n\nWORD START END ASDSCORE\n{rows}"


def _lrw_text(word: str) -> str:
    return f"Text: {word}\nDuration: 0.53 seconds\n"


def _copy_clip(root, relative: str, transcript: str | None, sample: str = "bbaf3s") -> None:
    """A sample recording copied to `root/relative`, with `transcript` beside it."""
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(media.sample_video(sample), target)
    if transcript is not None:
        target.with_suffix(".txt").write_text(transcript, encoding="utf-8")


def _by_id(listing: InputListing) -> dict[str, tuple[str, str]]:
    return {v.video_id: (v.split, v.group) for v in listing.videos}


def _clips(listing: InputListing) -> list[ClipRecord]:
    """One clip per video, carrying what CropMouths takes from its VideoInput."""
    clips = []
    for number, video in enumerate(listing.videos):
        frames = np.zeros((3, 8, 8), np.uint8)
        clips.append(ClipRecord(
            clip_id=f"{video.video_id}#0000_w", video_id=video.video_id,
            source_video=video.video, word="w", word_index=0, start_time=0.0, end_time=0.1,
            fps=25.0, first_frame=0, padded_before=0, padded_after=0, frames=frames,
            boundary_mask=np.ones(3, np.uint8), landmarks=np.zeros((3, 68, 2), np.float32),
            landmark_detected=np.ones(3, bool), crop_transform=np.zeros((3, 2, 3), np.float32),
            speaker=video.speaker, show=video.show, split=video.split, group=video.group))
    return clips


_ASSIGNED: dict[str, tuple[str, str]] = {}


def _record_assigned(clips) -> None:
    """Keeps what the split stage gave (the direct runner runs in this process)."""
    _ASSIGNED.update({c.video_id: (c.split, c.group) for c in clips})


def _split_clips(listing: InputListing, split_by: str = "folder",
                 ratios: SplitRatios = RATIOS) -> dict[str, tuple[str, str]]:
    """video_id -> (split, group) after the split stage."""
    _ASSIGNED.clear()
    with BeamTestPipeline() as pipeline:
        out = pipeline | beam.Create(_clips(listing)) | AssignSplits(ratios, split_by)
        assert_that(out.clips | beam.Map(lambda c: c.video_id),
                    equal_to([v.video_id for v in listing.videos]), label="AllClips")
        assert_that(out[DEAD_LETTER], equal_to([]), label="NoDeadLetters")
        _ = out.clips | beam.combiners.ToList() | beam.Map(_record_assigned)
    assert len(_ASSIGNED) == len(listing.videos)
    return dict(_ASSIGNED)


def _one_split_per_group(assigned: dict[str, tuple[str, str]]) -> dict[str, str]:
    groups: dict[str, set] = {}
    for split, group in assigned.values():
        groups.setdefault(group, set()).add(split)
    assert all(len(splits) == 1 for splits in groups.values()), groups
    return {group: splits.pop() for group, splits in groups.items()}


def _transcript_formats(listing: InputListing) -> set[str]:
    formats = set()
    for video in listing.videos:
        if video.transcript:
            with open(video.transcript, "rb") as handle:
                formats.add(parse_transcript(handle.read(), video.transcript).format)
    return formats


# ---- LRS3 -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lrs3(tmp_path_factory):
    root = tmp_path_factory.mktemp("lrs3")
    for youtube_id in (YT_VAL, YT_TRAIN, YT_TEST_BAND):
        _copy_clip(root, f"trainval/{youtube_id}/00001.mp4", _lrs_text("bin", "blue"))
        _copy_clip(root, f"pretrain/{youtube_id}/00001.mp4", _lrs_text("at", "f", "two"))
    _copy_clip(root, f"trainval/{YT_VAL}/00002.mp4", _lrs_text("now"))
    _copy_clip(root, f"trainval/{YT_TRAIN}/00002.mp4", None)  # no transcript of its own
    for youtube_id in YT_OFFICIAL_TEST:
        _copy_clip(root, f"test/{youtube_id}/00001.mp4", _lrs_text("place", "red"))
    return root


def test_lrs3_layout_keeps_test_and_groups_by_youtube_id(lrs3):
    listing = list_inputs(str(lrs3))

    placed = _by_id(listing)
    assert placed[f"test/{YT_OFFICIAL_TEST[0]}/00001"] == ("test", f"youtube:{YT_OFFICIAL_TEST[0]}")
    assert placed[f"trainval/{YT_VAL}/00002"] == ("trainval", f"youtube:{YT_VAL}")
    assert placed[f"pretrain/{YT_VAL}/00001"] == ("pretrain", f"youtube:{YT_VAL}")
    assert _transcript_formats(listing) == {"lrs"}
    # Every YouTube id holds an 00002: a clip without its own transcript gets none, not
    # another video's.
    assert {v.video_id: v.transcript for v in listing.videos}[f"trainval/{YT_TRAIN}/00002"] is None
    assert listing.orphan_transcripts == ()


def test_lrs3_trainval_never_reaches_test_and_val_is_carved_by_youtube_id(lrs3):
    assert [split_of_group(f"youtube:{y}", RATIOS) for y in (YT_VAL, YT_TRAIN, YT_TEST_BAND)] \
        == ["val", "train", "test"]  # the fixture's premise

    assigned = _split_clips(list_inputs(str(lrs3)))

    by_group = _one_split_per_group(assigned)
    assert by_group == {f"youtube:{YT_VAL}": "val", f"youtube:{YT_TRAIN}": "train",
                        f"youtube:{YT_TEST_BAND}": "train",
                        **{f"youtube:{y}": "test" for y in YT_OFFICIAL_TEST}}
    assert all(split != "test" for video_id, (split, _) in assigned.items()
               if not video_id.startswith("test/"))


def test_lrs3_split_by_video_still_draws_per_video_and_never_puts_trainval_in_test(lrs3):
    listing = list_inputs(str(lrs3))

    assigned = _split_clips(listing, "video", SplitRatios(0.0, 0.5))

    assert {g for _, g in assigned.values()} == {f"video:{v.video_id}" for v in listing.videos}
    assert {s for v, (s, _) in assigned.items() if v.startswith("test/")} == {"test"}
    assert {s for v, (s, _) in assigned.items() if not v.startswith("test/")} <= {"train", "val"}


# ---- LRS2 -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lrs2(tmp_path_factory):
    root = tmp_path_factory.mktemp("lrs2")
    corpus = root / "mvlrs_v1"
    for clip in ("00001", "00002"):
        _copy_clip(corpus, f"main/{PROG_A}/{clip}.mp4", _lrs_text("bin", "blue"))
    _copy_clip(corpus, f"main/{PROG_B}/00001.mp4", _lrs_text("lay", "green"))
    _copy_clip(corpus, f"main/{PROG_C}/00001.mp4", _lrs_text("set", "white"))
    _copy_clip(corpus, f"pretrain/{PROG_A}/00001.mp4", _lrs_text("place", "red", "at"))
    _copy_clip(corpus, f"pretrain/{PROG_D}/00001.mp4", _lrs_text("with", "j"))
    # The official lists: PROGRAMME/CLIP a line, some with a trailing mark.
    (root / "train.txt").write_text(f"{PROG_A}/00001\n{PROG_A}/00002 MV\n", encoding="utf-8")
    (root / "val.txt").write_text(f"{PROG_B}/00001\n", encoding="utf-8")
    (root / "test.txt").write_text(f"{PROG_C}/00001 NF\n\n", encoding="utf-8")
    (root / "pretrain.txt").write_text(f"{PROG_A}/00001\n{PROG_D}/00001\n", encoding="utf-8")
    return root


def test_lrs2_lists_name_the_splits_and_programmes_are_the_groups(lrs2):
    listing = list_inputs(str(lrs2))

    assert _by_id(listing) == {
        f"mvlrs_v1/main/{PROG_A}/00001": ("train", f"programme:{PROG_A}"),
        f"mvlrs_v1/main/{PROG_A}/00002": ("train", f"programme:{PROG_A}"),
        f"mvlrs_v1/main/{PROG_B}/00001": ("val", f"programme:{PROG_B}"),
        f"mvlrs_v1/main/{PROG_C}/00001": ("test", f"programme:{PROG_C}"),
        # Training material; the lists hold a val split, so none is carved.
        f"mvlrs_v1/pretrain/{PROG_A}/00001": ("train", f"programme:{PROG_A}"),
        f"mvlrs_v1/pretrain/{PROG_D}/00001": ("train", f"programme:{PROG_D}"),
    }
    # The lists are not transcripts, and every clip has its own.
    assert listing.orphan_transcripts == ()
    assert _transcript_formats(listing) == {"lrs"}

    assigned = _split_clips(listing)

    assert _one_split_per_group(assigned) == {
        f"programme:{PROG_A}": "train", f"programme:{PROG_B}": "val",
        f"programme:{PROG_C}": "test", f"programme:{PROG_D}": "train"}


def test_lrs2_without_lists_draws_programmes_and_keeps_pretrain_ones_from_test(tmp_path):
    ids = [f"main/{PROG_A}/00001", f"main/{PROG_B}/00001", f"pretrain/{PROG_B}/00001",
           f"pretrain/{PROG_D}/00001"]

    layout = recognise_layout(ids, str(tmp_path))

    assert layout.name == "lrs2"
    assert layout.placements == (
        Placement("", f"programme:{PROG_A}"),
        # A programme with pretrain/ clips is training material as a whole: its main/
        # clips cannot be drawn into test while its pretrain/ clips train.
        Placement("trainval", f"programme:{PROG_B}"), Placement("pretrain", f"programme:{PROG_B}"),
        Placement("pretrain", f"programme:{PROG_D}"))


def test_lrs2_list_without_a_val_list_carves_val_from_training_programmes(tmp_path):
    (tmp_path / "train.txt").write_text(f"{PROG_A}/00001\n", encoding="utf-8")
    (tmp_path / "test.txt").write_text(f"{PROG_C}/00001\n", encoding="utf-8")
    ids = [f"main/{PROG_A}/00001", f"main/{PROG_C}/00001", f"pretrain/{PROG_A}/00002",
           f"pretrain/{PROG_B}/00001", f"main/{PROG_B}/00009"]

    layout = recognise_layout(ids, str(tmp_path))

    assert [p.split for p in layout.placements] == [
        "train", "test", "train",  # pretrain follows its programme's listed train clips
        "pretrain", "trainval"]    # material: train, or val with the programme
    assert split_of_group(f"programme:{PROG_B}", RATIOS) == "val"


def test_lrs2_unlisted_main_clip_is_training_material_and_is_reported(tmp_path, caplog):
    (tmp_path / "val.txt").write_text(f"{PROG_B}/00001\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        layout = recognise_layout([f"main/{PROG_A}/00001", f"main/{PROG_B}/00001"],
                                  str(tmp_path))

    assert [p.split for p in layout.placements] == ["train", "val"]
    assert "1 LRS2 main/ clips are in none of the split lists" in caplog.text


def test_lrs2_list_lines_with_marks_prefixes_and_suffixes(tmp_path):
    path = tmp_path / "test.txt"
    path.write_text(f"\ufeff{PROG_C}/00001 NF\n{PROG_C}/00002\tMV\nmain/{PROG_C}/00003.mp4\n\n",
                    encoding="utf-8")

    assert read_lrs2_list(str(path)) == [f"{PROG_C}/00001", f"{PROG_C}/00002", f"{PROG_C}/00003"]


@pytest.mark.parametrize("lists, message", [
    ({"train.txt": "a/1\n", "test.txt": "a/2\na/1 NF\n"}, "in two split lists"),
    ({"val.txt": "a/1\njust-a-name\n"}, r"line 2: 'just-a-name' does not name a clip"),
])
def test_bad_lrs2_lists_raise_with_the_file_and_line(tmp_path, lists, message):
    for name, text in lists.items():
        (tmp_path / name).write_text(text, encoding="utf-8")

    with pytest.raises(ValueError, match=message):
        recognise_layout(["main/a/1", "main/a/2"], str(tmp_path))


def test_groups_that_the_corpus_puts_in_two_splits_are_kept_and_reported(tmp_path, caplog):
    (tmp_path / "val.txt").write_text(f"{PROG_B}/00001\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        layout = recognise_layout([f"main/{PROG_B}/00001", f"pretrain/{PROG_B}/00001"],
                                  str(tmp_path))

    assert [p.split for p in layout.placements] == ["val", "train"]
    assert f"1 groups are in more than one of the input's own splits (e.g. programme:{PROG_B} " \
        "in train and val)" in caplog.text


# ---- LRW --------------------------------------------------------------------------------


def test_lrw_keeps_its_folders_splits_with_each_clip_its_own_group(tmp_path):
    for word in ("ABOUT", "AFTER"):
        for number, split in enumerate(("train", "train", "val", "test"), start=1):
            _copy_clip(tmp_path, f"lipread_mp4/{word}/{split}/{word}_{number:05d}.mp4",
                       _lrw_text(word))

    listing = list_inputs(str(tmp_path))

    assert recognise_layout([v.video_id for v in listing.videos]).name == "lrw"
    assert _transcript_formats(listing) == {"lrw"}
    assigned = _split_clips(listing)
    assert assigned == {v.video_id: (v.video_id.split("/")[2], f"video:{v.video_id}")
                        for v in listing.videos}
    _one_split_per_group(assigned)


# ---- any other folder -------------------------------------------------------------------


def test_unrecognised_nested_folders_group_by_the_video_folder(tmp_path):
    for show, clips in (("evening", ("bbaf3s", "bbiz1s", "bgbo1a")), ("morning", ("bbaf3s",))):
        for clip in clips:
            _copy_clip(tmp_path, f"shows/{show}/{clip}.mpg", None, clip)
            shutil.copyfile(media.sample_align(clip), tmp_path / f"shows/{show}/{clip}.align")
    _copy_clip(tmp_path, "loose.mpg", None)

    listing = list_inputs(str(tmp_path))

    assert {v.video_id: v.group for v in listing.videos} == {
        "loose": "video:loose",  # directly in the input folder: its own group
        **{f"shows/evening/{c}": "folder:shows/evening" for c in ("bbaf3s", "bbiz1s", "bgbo1a")},
        "shows/morning/bbaf3s": "folder:shows/morning"}
    assert _transcript_formats(listing) == {"grid"}
    assigned = _split_clips(listing, ratios=SplitRatios(0.5, 0.25))
    by_group = _one_split_per_group(assigned)
    assert by_group == {g: split_of_group(g, SplitRatios(0.5, 0.25)) for g in by_group}


def test_a_flat_grid_folder_groups_each_video_alone(tmp_path):
    sample = os.path.dirname(media.sample_video())
    clips = sorted(os.path.splitext(n)[0] for n in os.listdir(sample))[:6]
    for clip in clips:
        _copy_clip(tmp_path, f"s1/video/{clip}.mpg", None, clip)
        (tmp_path / "s1/align").mkdir(exist_ok=True)
        shutil.copyfile(media.sample_align(clip), tmp_path / f"s1/align/{clip}.align")

    listing = list_inputs(str(tmp_path))

    # All videos in one folder: grouping by it would put the whole corpus in one split.
    assert {v.video_id: v.group for v in listing.videos} == {
        f"s1/video/{c}": f"video:s1/video/{c}" for c in clips}
    assert {v.split for v in listing.videos} == {""}
    assert _transcript_formats(listing) == {"grid"}


def test_grid_with_several_speakers_groups_by_speaker_folder():
    ids = [f"{speaker}/video/{clip}" for speaker in ("s1", "s2") for clip in ("a", "b")]

    assert [p.group for p in folders_layout(ids).placements] == [
        "folder:s1/video", "folder:s1/video", "folder:s2/video", "folder:s2/video"]


@pytest.mark.parametrize("ids, expected", [
    # Split folders are left out of the group, so one source is one group across them.
    (["data/trainval/x/1", "data/pretrain/x/2", "data/test/y/1"],
     [("trainval", "folder:data/x"), ("pretrain", "folder:data/x"), ("test", "folder:data/y")]),
    # Clips directly in a split folder have no source folder: each is its own group.
    (["a/train/1", "a/test/2", "b/val/3"],
     [("train", "video:a/train/1"), ("test", "video:a/test/2"), ("val", "video:b/val/3")]),
    (["trainval/1", "trainval/2", "other/3"],
     [("trainval", "video:trainval/1"), ("trainval", "video:trainval/2"), ("", "video:other/3")]),
])
def test_folders_layout_splits_and_groups(ids, expected):
    assert [(p.split, p.group) for p in folders_layout(ids).placements] == expected


def test_training_material_in_plain_folders_follows_its_group():
    ids = ["c/trainval/x/1", "c/x/2", "c/trainval/y/1", "c/train/y/2", "c/trainval/z/1"]

    placements = recognise_layout(ids).placements

    # x: material with a clip of no split; y: material beside clips named train; z: material.
    assert [p.split for p in placements] == ["trainval", "trainval", "train", "train", "trainval"]


def test_a_manifest_names_groups_and_splits_over_the_layout(tmp_path):
    for youtube_id in (YT_VAL, YT_TRAIN):
        _copy_clip(tmp_path, f"trainval/{youtube_id}/00001.mp4", _lrs_text("bin"))
    manifest = tmp_path / "clips.csv"
    manifest.write_text("video,group,split\n"
                        f"trainval/{YT_VAL}/00001.mp4,,\n"
                        f"trainval/{YT_TRAIN}/00001.mp4,speaker 7,val\n", encoding="utf-8")

    listing = list_inputs(str(manifest))

    assert _by_id(listing) == {
        # A val split named by the manifest: no val is carved from training material.
        f"trainval/{YT_VAL}/00001": ("train", f"youtube:{YT_VAL}"),
        f"trainval/{YT_TRAIN}/00001": ("val", "group:speaker 7")}
    assert _transcript_formats(listing) == {"lrs"}


def test_the_carve_follows_the_group_fraction():
    for youtube_id in (YT_VAL, YT_TRAIN, YT_TEST_BAND):
        fraction = group_fraction(f"youtube:{youtube_id}")
        layout = recognise_layout([f"trainval/{youtube_id}/00001"])
        assert layout.placements == (Placement("trainval", f"youtube:{youtube_id}"),)
        assert (RATIOS.train <= fraction < RATIOS.train + RATIOS.val) == (youtube_id == YT_VAL)
