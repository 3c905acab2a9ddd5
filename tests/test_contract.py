"""The preprocessing contract: written with the data and the export, and every mismatch refused."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from schemas.export import read_contract
from pipelines.preprocess.config import default
from pipelines.preprocess.mean_face import mean_face
from schemas.clip import SCHEMA_VERSION
from schemas.contract import (CONTRACT_FILE, check_contract, contract_from_dict,
                              dataset_contract, make_contract, mean_face_version, mismatches)
from tests import media
from tests.runs import SMALL_TRAINING, lipflow


def _contract(**changes):
    options = {**default().as_dict(), **changes}
    return make_contract(options, mean_face(), 120.0, 30.0, SCHEMA_VERSION)


def test_a_mismatch_names_the_field_and_both_values():
    model, clips = _contract(), _contract(fps=30.0, crop_size=112)
    assert mismatches(model, clips) == [
        "fps: the model expects 25.0, the clips have 30.0",
        "crop_size: the model expects 96, the clips have 112"]
    with pytest.raises(ValueError, match="fps: the model expects 25.0, the clips have 30.0"):
        check_contract(model, clips, "m", "d")


def test_other_pixel_statistics_are_no_mismatch():
    # A model normalises with its own training statistics, whatever data it reads.
    other = dataclasses.replace(_contract(), pixel_mean=90.0, pixel_std=12.0)
    check_contract(_contract(), other, "m", "d")


def test_the_mean_face_version_follows_its_points():
    moved = mean_face()
    moved[48, 0] += 0.5
    assert mean_face_version(moved) != mean_face_version(mean_face())
    assert mean_face_version(mean_face().copy()) == mean_face_version(mean_face())


def test_a_contract_survives_json():
    contract = _contract()
    back = contract_from_dict(json.loads(json.dumps(contract.as_dict())), "here")
    assert back == contract
    np.testing.assert_array_equal(back.reference(), mean_face())


def test_a_dataset_card_without_a_contract_is_refused():
    with pytest.raises(ValueError, match="no preprocessing contract.*lipflow preprocess again"):
        dataset_contract({"schema_version": SCHEMA_VERSION}, "old")


def test_the_dataset_and_its_export_carry_the_same_contract(small_dataset, small_model):
    card = json.load(open(os.path.join(small_dataset, "dataset_info.json")))
    data = dataset_contract(card, small_dataset)
    assert (data.fps, data.window_length, data.crop_size, data.landmarks, data.smooth_window) == (
        25.0, 29, 96, "mesh", 3)
    assert data.mean_face_version == mean_face_version(mean_face())
    assert (data.pixel_mean, data.pixel_std) == (card["pixel_mean"], card["pixel_std"])
    assert data.schema_version == SCHEMA_VERSION
    assert read_contract(os.path.join(small_model, "export")) == data


def _edited_copy(folder: str, target, edit) -> str:
    shutil.copytree(folder, target)
    path = os.path.join(target, "dataset_info.json")
    card = json.load(open(path))
    edit(card)
    json.dump(card, open(path, "w"))
    return str(target)


def test_evaluate_refuses_clips_made_at_another_frame_rate(small_dataset, small_model, tmp_path):
    data = _edited_copy(small_dataset, tmp_path / "data",
                        lambda card: card["preprocessing"].update(fps=30.0))
    result = lipflow("evaluate", "--data", data, "--model", os.path.join(small_model, "export"),
                     "--output", str(tmp_path / "o"), "--split", "val")
    assert result.returncode == 3, result.stderr[-2000:]
    assert "fps: the model expects 25.0, the clips have 30.0" in result.stderr


def test_train_refuses_a_warm_start_from_a_model_of_other_clips(small_dataset, small_model,
                                                                tmp_path):
    data = _edited_copy(small_dataset, tmp_path / "data",
                        lambda card: card["preprocessing"].update(window_length=25))
    result = lipflow("train", "--data", data, "--config", "demo", "--output",
                     str(tmp_path / "run"), "--warm_start", os.path.join(small_model, "export"))
    assert result.returncode == 3, result.stderr[-2000:]
    assert "window_length: the model expects 29, the clips have 25" in result.stderr


def test_train_refuses_a_crop_larger_than_the_clips(small_dataset, tmp_path):
    result = lipflow("train", "--data", small_dataset, "--config", "demo", "--output",
                     str(tmp_path / "run"), "--set", "input.crop_size=100")
    assert result.returncode == 3, result.stderr[-2000:]
    assert "input.crop_size is 100, but the clips of" in result.stderr
    assert "are 96 pixels square" in result.stderr


def test_predict_refuses_an_export_of_another_schema(small_model, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(os.path.join(small_model, "export"), export)
    contract = json.load(open(export / CONTRACT_FILE))
    json.dump({**contract, "schema_version": "0.9.0"}, open(export / CONTRACT_FILE, "w"))
    result = lipflow("predict", media.sample_video(), "--model", str(export),
                     "--output", str(tmp_path / "o"))
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"schema '0.9.0', this lipflow cuts clips of schema '{SCHEMA_VERSION}'" in result.stderr


def test_a_dataset_of_112_pixel_crops_trains_exports_and_predicts_at_112(tmp_path):
    root = tmp_path / "videos"
    for split, clips in (("train", ("bbaf3s", "bbiz1s")), ("val", ("lgiz3s",))):
        for kind in ("video", "align"):
            os.makedirs(root / split / kind)
        for clip in clips:
            shutil.copyfile(media.sample_video(clip), root / split / "video" / f"{clip}.mpg")
            shutil.copyfile(media.sample_align(clip), root / split / "align" / f"{clip}.align")
    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "out"
    made = lipflow("preprocess", "--input", str(root), "--output", str(data), "--crop_size",
                   "112", "--direct_running_mode", "in_memory")
    assert made.returncode == 0, made.stderr[-3000:]
    trained = lipflow("train", "--data", str(data), "--config", "demo", "--output", str(run),
                      *[a for item in SMALL_TRAINING + ["epochs=1"] for a in ("--set", item)])
    assert trained.returncode == 0, trained.stderr[-3000:]
    export = str(run / "export")
    assert read_contract(export).crop_size == 112
    serve = tf.saved_model.load(export).signatures["serve"]
    assert serve.structured_input_signature[1]["frames"].shape[-2:] == (112, 112)
    predicted = lipflow("predict", media.sample_video("lgiz3s"), "--model", export,
                        "--output", str(out))
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    lines = [json.loads(line) for line in open(out / "predictions.jsonl")]
    assert len([line for line in lines if "top" in line]) == 6
