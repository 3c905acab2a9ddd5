"""One export loader (schemas.export.load_export) behind evaluate, predict and retrain:
each refuses an export whose parts do not belong together, with the same message."""

import json
import os
import shutil

import pytest

from pipelines.evaluate.inference import SavedModelHandler
from pipelines.predict.model import load_model
from schemas.export import load_export, read_vocabulary


@pytest.fixture(scope="module")
def export(small_model):
    return os.path.join(small_model, "export")


def _evaluate_load(export_dir: str):
    handler = SavedModelHandler([export_dir], [read_vocabulary(export_dir)], ("plain",), 4)
    return handler.load_model()


def _copy_with_crop_size(export: str, folder, crop_size: int) -> str:
    copy = shutil.copytree(export, folder / "export")
    path = copy / "preprocessing.json"
    contract = json.loads(path.read_text(encoding="utf-8"))
    contract["crop_size"] = crop_size
    path.write_text(json.dumps(contract), encoding="utf-8")
    return str(copy)


def test_the_loader_returns_the_exports_parts(export):
    loaded = load_export(export)
    assert loaded.vocabulary == read_vocabulary(export)
    assert loaded.contract.crop_size == 96
    assert "probabilities" in loaded.serve.structured_outputs


@pytest.mark.parametrize("load", [load_export, load_model, _evaluate_load],
                         ids=["loader", "predict", "evaluate"])
def test_a_contract_whose_crop_size_the_model_does_not_take_is_refused(export, tmp_path,
                                                                        load):
    edited = _copy_with_crop_size(export, tmp_path, 112)
    with pytest.raises(ValueError, match="takes 96-pixel crops but its contract says 112"):
        load(edited)


@pytest.mark.parametrize("load", [load_export, load_model],
                         ids=["loader", "predict"])
def test_a_vocabulary_longer_than_the_models_output_is_refused(export, tmp_path, load):
    copy = shutil.copytree(export, tmp_path / "export")
    with open(copy / "vocabulary.txt", "a", encoding="utf-8") as handle:
        handle.write("extra\n")
    with pytest.raises(ValueError, match=r"scores \d+ words but its vocabulary.txt names"):
        load(str(copy))


def test_evaluate_refuses_a_vocabulary_changed_after_the_job_read_it(export, tmp_path):
    copy = shutil.copytree(export, tmp_path / "export")
    words = read_vocabulary(str(copy))
    handler = SavedModelHandler([str(copy)], [words], ("plain",), 4)
    (copy / "vocabulary.txt").write_text("\n".join(reversed(words)) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="changed while the job ran"):
        handler.load_model()


SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "data", "models", "grid_s1_words")


def test_the_shipped_grid_model_loads_and_this_lipflow_can_cut_its_clips():
    """The demo's model, as a fresh clone holds it (no model.keras, no empty assets/)."""
    model = load_model(SHIPPED)
    assert len(model.vocabulary) == 51 and {"bin", "lay", "place", "set"} <= set(model.vocabulary)
    size = sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(SHIPPED) for name in names)
    assert size < 10e6
