"""Leak-free, deterministic split assignment (pure functions)."""

import hashlib

import pytest

from pipelines.preprocess.splits import (SPLIT_KEYS, SplitRatios, clip_split, group_fraction,
                                         group_key, named_split, split_of_group)


def test_group_fraction_is_the_sha256_prefix():
    expected = int.from_bytes(hashlib.sha256(b"video:abc").digest()[:8], "big") / 2**64
    assert group_fraction("video:abc") == expected
    assert 0.0 <= group_fraction("") < 1.0


def test_split_follows_the_fraction_and_the_ratios():
    ratios = SplitRatios(train=0.5, val=0.25)
    for index in range(200):
        group = f"video:{index}"
        # The fraction computed here from SHA-256, not by the function under test.
        digest = hashlib.sha256(group.encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        expected = "train" if fraction < 0.5 else "val" if fraction < 0.75 else "test"
        assert split_of_group(group, ratios) == expected


def test_shares_are_close_to_the_ratios_on_many_groups():
    splits = [split_of_group(f"video:{i}", SplitRatios(0.8, 0.1)) for i in range(5000)]
    assert splits.count("train") / 5000 == pytest.approx(0.8, abs=0.02)
    assert splits.count("val") / 5000 == pytest.approx(0.1, abs=0.015)


def test_group_keys():
    assert group_key("vid/1", "spk", "video") == "video:vid/1"
    assert group_key("vid/1", "spk", "speaker") == "speaker:spk"
    with pytest.raises(ValueError, match="names no speaker"):
        group_key("vid/1", "", "speaker")
    with pytest.raises(ValueError, match="split_by"):
        group_key("vid/1", "spk", "channel")


def test_named_splits():
    assert [named_split(n) for n in ("train", "Validation", "val ", "TEST")] == \
        ["train", "val", "val", "test"]
    with pytest.raises(ValueError, match="unknown split 'trainval'"):
        named_split("trainval")


def test_bad_ratios():
    with pytest.raises(ValueError):
        SplitRatios(train=0.9, val=0.2)
    assert SplitRatios(0.8, 0.1).test == pytest.approx(0.1)


def test_show_groups():
    assert group_key("vid/1", "", "show", show="news at ten") == "show:news at ten"
    with pytest.raises(ValueError, match="names no show"):
        group_key("vid/1", "spk", "show")


def test_folder_groups_take_the_inputs_group_else_the_video():
    assert SPLIT_KEYS[0] == "folder"
    assert group_key("lrs3/trainval/abc/00001", "", "folder", group="youtube:abc") == "youtube:abc"
    # A clip whose input named no group (made outside a listing) is its own group.
    assert group_key("vid/1", "", "folder") == "video:vid/1"
    # The other keys ignore the input's group.
    assert group_key("vid/1", "spk", "video", group="folder:vid") == "video:vid/1"
    assert group_key("vid/1", "spk", "speaker", group="folder:vid") == "speaker:spk"


def test_named_splits_are_kept_and_empty_ones_drawn_by_group():
    ratios = SplitRatios(0.5, 0.25)
    assert [clip_split(n, "video:x", ratios) for n in ("train", "Validation", "test")] == \
        ["train", "val", "test"]
    for index in range(50):
        group = f"folder:{index}"
        assert clip_split("", group, ratios) == split_of_group(group, ratios)
    with pytest.raises(ValueError, match="unknown split 'holdout'"):
        clip_split("holdout", "video:x", ratios)


def test_training_material_goes_to_train_or_val_by_group_never_to_test():
    ratios = SplitRatios(0.5, 0.25)
    seen = set()
    for index in range(400):
        group = f"youtube:{index}"
        drawn = split_of_group(group, ratios)
        for name in ("trainval", "pretrain", " TrainVal"):
            split = clip_split(name, group, ratios)
            assert split == ("val" if drawn == "val" else "train")
            seen.add(split)
    assert seen == {"train", "val"}
    # The carved val share is --val_fraction of the groups.
    carved = [clip_split("trainval", f"youtube:{i}", SplitRatios(0.8, 0.1)) for i in range(5000)]
    assert carved.count("val") / 5000 == pytest.approx(0.1, abs=0.015)
    assert clip_split("trainval", "youtube:x", SplitRatios(1.0, 0.0)) == "train"
