"""Input discovery: folders and manifests, pairing each video with its transcript.

Discovery never decodes a video, so empty files stand in for real media.
"""

import json
import os

import pytest

from pipelines.preprocess.inputs import (
    InputListing,
    VideoInput,
    list_folder,
    list_inputs,
    list_manifest,
)


def _touch(root, *relative_paths: str) -> None:
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def _pairs(listing: InputListing, root) -> dict[str, str | None]:
    """video_id -> transcript path relative to `root` (None where there is none)."""
    return {v.video_id: None if v.transcript is None else os.path.relpath(v.transcript, root)
            for v in listing.videos}


def _orphans(listing: InputListing, root) -> list[str]:
    return [os.path.relpath(p, root) for p in listing.orphan_transcripts]


# Folders ------------------------------------------------------------------------------


def test_grid_layout_pairs_video_with_align_in_sibling_folder(tmp_path):
    _touch(tmp_path, "s1/video/bbaf2n.mpg", "s1/video/bbaf3s.mpg",
           "s1/align/bbaf2n.align", "s1/align/bbaf3s.align")

    listing = list_inputs(str(tmp_path))

    assert listing.videos == (
        # One folder of videos: each video is its own group.
        VideoInput(video=str(tmp_path / "s1/video/bbaf2n.mpg"), video_id="s1/video/bbaf2n",
                   transcript=str(tmp_path / "s1/align/bbaf2n.align"),
                   group="video:s1/video/bbaf2n"),
        VideoInput(video=str(tmp_path / "s1/video/bbaf3s.mpg"), video_id="s1/video/bbaf3s",
                   transcript=str(tmp_path / "s1/align/bbaf3s.align"),
                   group="video:s1/video/bbaf3s"),
    )
    assert listing.orphan_transcripts == ()


def test_transcript_beside_the_video_wins_over_sibling_folder(tmp_path):
    # Beside wins even though .align is otherwise preferred to .txt.
    _touch(tmp_path, "video/clip.mp4", "video/clip.txt", "align/clip.align")

    listing = list_folder(str(tmp_path))

    assert _pairs(listing, tmp_path) == {"video/clip": "video/clip.txt"}
    assert _orphans(listing, tmp_path) == ["align/clip.align"]


def test_first_sibling_folder_in_name_order_wins(tmp_path):
    _touch(tmp_path, "video/clip.mp4", "b_text/clip.align", "a_text/clip.align")

    listing = list_folder(str(tmp_path))

    assert _pairs(listing, tmp_path) == {"video/clip": "a_text/clip.align"}
    assert _orphans(listing, tmp_path) == ["b_text/clip.align"]


@pytest.mark.parametrize("present, expected", [
    ((".align", ".txt", ".csv", ".json"), ".align"),
    ((".txt", ".csv", ".json"), ".txt"),
    ((".csv", ".json"), ".csv"),
    ((".json",), ".json"),
])
def test_transcript_suffix_preference(tmp_path, present, expected):
    _touch(tmp_path, "clip.mp4", *(f"clip{suffix}" for suffix in present))

    listing = list_folder(str(tmp_path))

    assert _pairs(listing, tmp_path) == {"clip": f"clip{expected}"}
    assert _orphans(listing, tmp_path) == sorted(
        f"clip{suffix}" for suffix in present if suffix != expected)


def test_suffixes_match_in_any_case(tmp_path):
    _touch(tmp_path, "CLIP.MP4", "CLIP.TXT", "CLIP.Align")

    listing = list_folder(str(tmp_path))

    assert _pairs(listing, tmp_path) == {"CLIP": "CLIP.Align"}
    assert _orphans(listing, tmp_path) == ["CLIP.TXT"]


def test_video_without_transcript_gets_none(tmp_path):
    _touch(tmp_path, "talk.mp4", "other.align", "notes.md")

    listing = list_folder(str(tmp_path))

    assert _pairs(listing, tmp_path) == {"talk": None}
    assert _orphans(listing, tmp_path) == ["other.align"]


def test_transcripts_without_video_are_orphans(tmp_path):
    _touch(tmp_path, "s1/video/a.mpg", "s1/align/a.align", "s1/align/b.align",
           "lonely/c.txt", "lonely/d.json")

    listing = list_folder(str(tmp_path))

    assert _pairs(listing, tmp_path) == {"s1/video/a": "s1/align/a.align"}
    assert _orphans(listing, tmp_path) == ["lonely/c.txt", "lonely/d.json", "s1/align/b.align"]


def test_only_video_suffixes_are_listed(tmp_path):
    _touch(tmp_path, *(f"v{i}{suffix}" for i, suffix in enumerate(
        (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".ts", ".flv",
         ".wmv"))), "readme.md", "frame.png", "audio.wav", "noext")

    listing = list_folder(str(tmp_path))

    assert sorted(v.video_id for v in listing.videos) == sorted(f"v{i}" for i in range(11))


def test_video_ids_are_relative_paths_without_suffix(tmp_path):
    _touch(tmp_path, "top.mp4", "a/b/c/deep.avi", "a/shallow.mov")

    listing = list_folder(str(tmp_path))

    assert [v.video_id for v in listing.videos] == ["top", "a/shallow", "a/b/c/deep"]
    assert [v.video for v in listing.videos] == [
        str(tmp_path / "top.mp4"), str(tmp_path / "a/shallow.mov"),
        str(tmp_path / "a/b/c/deep.avi")]


def test_same_stem_with_different_suffixes_keeps_the_suffix_in_the_id(tmp_path):
    _touch(tmp_path, "a/clip.mp4", "a/clip.avi", "a/clip.align", "b/clip.mp4")

    listing = list_folder(str(tmp_path))

    ids = {os.path.relpath(v.video, tmp_path): v.video_id for v in listing.videos}
    assert ids == {"a/clip.avi": "a/clip.avi", "a/clip.mp4": "a/clip.mp4", "b/clip.mp4": "b/clip"}
    assert len(set(ids.values())) == len(ids)
    # Both videos in `a` share the transcript beside them; `b/clip` has none beside it
    # and finds the same one because `a` is a sibling folder of `b`.
    pairs = {v.video_id: v.transcript for v in listing.videos}
    assert pairs == dict.fromkeys(["a/clip.avi", "a/clip.mp4", "b/clip"],
                                  str(tmp_path / "a/clip.align"))
    assert listing.orphan_transcripts == ()


def test_recurses_into_nested_folders_in_sorted_order(tmp_path):
    _touch(tmp_path, "z.mp4", "s2/video/y.mpg", "s2/align/y.align",
           "s1/video/x.mpg", "s1/align/x.align", "s1/extra/deeper/w.mp4", "s1/extra/deeper/w.txt")

    listing = list_folder(str(tmp_path))

    assert _pairs(listing, tmp_path) == {
        "z": None,
        "s1/extra/deeper/w": "s1/extra/deeper/w.txt",
        "s1/video/x": "s1/align/x.align",
        "s2/video/y": "s2/align/y.align",
    }
    assert [v.video_id for v in listing.videos] == [
        "z", "s1/extra/deeper/w", "s1/video/x", "s2/video/y"]


def test_names_with_spaces_and_unicode(tmp_path):
    _touch(tmp_path, "Sprecher Ä/video/Grüße aus Köln 1.mp4",
           "Sprecher Ä/align/Grüße aus Köln 1.align", "話者/動画 二.mkv", "話者/動画 二.txt")

    listing = list_inputs(str(tmp_path))

    assert _pairs(listing, tmp_path) == {
        "Sprecher Ä/video/Grüße aus Köln 1": "Sprecher Ä/align/Grüße aus Köln 1.align",
        "話者/動画 二": "話者/動画 二.txt",
    }
    assert listing.orphan_transcripts == ()


def test_empty_folder_lists_nothing(tmp_path):
    assert list_folder(str(tmp_path)) == InputListing(videos=(), orphan_transcripts=())


def test_list_folder_on_a_file_raises(tmp_path):
    _touch(tmp_path, "clip.mp4")

    with pytest.raises(ValueError, match="is not a folder"):
        list_folder(str(tmp_path / "clip.mp4"))


def test_list_inputs_on_a_missing_path_raises(tmp_path):
    missing = str(tmp_path / "no such folder")

    with pytest.raises(ValueError, match="neither a folder nor a manifest file") as caught:
        list_inputs(missing)
    assert repr(missing) in str(caught.value)


# Manifests ----------------------------------------------------------------------------


def test_csv_manifest_resolves_paths_against_its_folder(tmp_path, monkeypatch):
    _touch(tmp_path, "data/clips/a.mp4", "data/text/a.txt", "data/clips/b.mp4",
           "data/clips/b.align")
    manifest = tmp_path / "data" / "manifest.csv"
    manifest.write_text(
        "video,transcript,speaker,split\n"
        "clips/a.mp4,text/a.txt,s7,train\n"
        "clips/b.mp4,,s8,test\n",
        encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # paths must not depend on the working folder

    listing = list_inputs(str(manifest))

    data = tmp_path / "data"
    assert listing == InputListing(
        videos=(
            VideoInput(video=str(data / "clips/a.mp4"), video_id="clips/a",
                       transcript=str(data / "text/a.txt"), speaker="s7", split="train",
                       group="video:clips/a"),
            # An empty transcript cell is paired the way a folder would be.
            VideoInput(video=str(data / "clips/b.mp4"), video_id="clips/b",
                       transcript=str(data / "clips/b.align"), speaker="s8", split="test",
                       group="video:clips/b"),
        ),
        orphan_transcripts=())


def test_csv_manifest_with_only_a_video_column_and_a_bom(tmp_path):
    _touch(tmp_path, "video/x.mpg", "align/x.align")
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("\ufeffvideo\nvideo/x.mpg\n".encode("utf-8"))

    listing = list_manifest(str(manifest))

    assert listing.videos == (
        VideoInput(video=str(tmp_path / "video/x.mpg"), video_id="video/x",
                   transcript=str(tmp_path / "align/x.align"), group="video:video/x"),)


def test_jsonl_manifest_auto_pairs_a_row_without_transcript(tmp_path):
    _touch(tmp_path, "s1/video/bbaf2n.mpg", "s1/align/bbaf2n.align", "s1/video/bbaf3s.mpg",
           "elsewhere/custom.json", "s1/video/no_text.mpg")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.mp4"
    rows = [
        {"video": "s1/video/bbaf2n.mpg", "speaker": "s1", "split": "train"},
        {"video": "s1/video/bbaf3s.mpg", "transcript": "elsewhere/custom.json", "split": "val"},
        {"video": "s1/video/no_text.mpg", "speaker": 0},
        {"video": str(outside), "transcript": "gs://bucket/outside.txt"},
    ]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n",
                        encoding="utf-8")

    listing = list_manifest(str(manifest))

    assert listing.videos == (
        # Two folders hold videos (`s1/video` and the manifest's parent): each is a group.
        VideoInput(video=str(tmp_path / "s1/video/bbaf2n.mpg"), video_id="s1/video/bbaf2n",
                   transcript=str(tmp_path / "s1/align/bbaf2n.align"), speaker="s1",
                   split="train", group="folder:s1/video"),
        VideoInput(video=str(tmp_path / "s1/video/bbaf3s.mpg"), video_id="s1/video/bbaf3s",
                   transcript=str(tmp_path / "elsewhere/custom.json"), split="val",
                   group="folder:s1/video"),
        VideoInput(video=str(tmp_path / "s1/video/no_text.mpg"), video_id="s1/video/no_text",
                   transcript=None, speaker="0", group="folder:s1/video"),
        # Absolute paths and URLs are kept as given.
        VideoInput(video=str(outside), video_id=f"../{tmp_path.name}-outside",
                   transcript="gs://bucket/outside.txt", group="folder:.."),
    )
    assert listing.orphan_transcripts == ()


def test_manifest_names_with_spaces_and_unicode(tmp_path):
    _touch(tmp_path, "vidéos/Grüße 1.mp4", "vidéos/Grüße 1.txt", "話者/動画 二.mkv")
    manifest = tmp_path / "liste à lire.jsonl"
    manifest.write_text(
        json.dumps({"video": "vidéos/Grüße 1.mp4", "speaker": "Zoë"}, ensure_ascii=False) + "\n"
        + json.dumps({"video": "話者/動画 二.mkv", "split": "tëst"}) + "\n",
        encoding="utf-8")

    listing = list_inputs(str(manifest))

    assert [(v.video_id, v.transcript, v.speaker, v.split) for v in listing.videos] == [
        ("vidéos/Grüße 1", str(tmp_path / "vidéos/Grüße 1.txt"), "Zoë", ""),
        ("話者/動画 二", None, "", "tëst"),
    ]


@pytest.mark.parametrize("name, text, message", [
    ("m.csv", "video,speaker\na.mp4,s1\n,s2\n", "entry 2 has no 'video'"),
    ("m.csv", "path,speaker\na.mp4,s1\n", "entry 1 has no 'video'"),
    ("m.jsonl", '{"video": "a.mp4"}\n{"speaker": "s1"}\n', "entry 2 has no 'video'"),
    ("m.jsonl", '{"video": "a.mp4"}\n["a.mp4"]\n', "entry 2 has no 'video'"),
    ("m.jsonl", '{"video": "a.mp4"}\n\n{"video": "b.mp4",\n', "line 3 is not JSON"),
])
def test_bad_manifest_raises_with_a_clear_message(tmp_path, name, text, message):
    manifest = tmp_path / name
    manifest.write_text(text, encoding="utf-8")

    with pytest.raises(ValueError, match=message) as caught:
        list_inputs(str(manifest))
    assert repr(str(manifest)) in str(caught.value)


def test_manifest_with_wrong_suffix_raises(tmp_path):
    manifest = tmp_path / "videos.txt"
    manifest.write_text("video\na.mp4\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"must end in one of \('\.csv', '\.jsonl'\)"):
        list_inputs(str(manifest))
    with pytest.raises(ValueError, match="must end in one of"):
        list_manifest(str(tmp_path / "videos.json"))


def test_lrw_folders_name_the_split(tmp_path):
    from pipelines.preprocess.inputs import list_folder

    for split in ("train", "val", "test"):
        folder = tmp_path / "lrw" / "ABOUT" / split
        folder.mkdir(parents=True)
        (folder / "ABOUT_00001.mp4").write_bytes(b"")
        (folder / "ABOUT_00001.txt").write_text("Text:  ABOUT\nDuration: 0.5 seconds\n")
    listing = list_folder(str(tmp_path / "lrw"))
    assert {v.video_id: v.split for v in listing.videos} == {
        "ABOUT/train/ABOUT_00001": "train", "ABOUT/val/ABOUT_00001": "val",
        "ABOUT/test/ABOUT_00001": "test"}
