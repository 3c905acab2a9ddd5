"""Evaluation metrics on a hand-made set of predictions, against hand-computed values."""

import numpy as np
import pytest

from pipelines.evaluate import metrics as m
from pipelines.evaluate.outputs import PER_WORD_COLUMNS, confusion_csv, per_word_csv
from pipelines.evaluate.views import TTA_MODES, clip_view, view

LABELS = ["bin", "pin", "fin", "at", "red", "set", "now"]
# Written out by hand so that these tests do not depend on the pronouncing dictionary.
CLASSES = {"bin": "P-IH-N", "pin": "P-IH-N", "fin": "F-IH-N", "at": "AE-T", "red": "R-EH-T",
           "set": "S-EH-T", "now": "N-AW"}
B, P, F, AT, RED, SET, NOW = range(7)


def rows():
    s1, s2 = {"speaker": "s1"}, {"speaker": "s2"}
    return [
        m.Scored("c1", B, (B, P, F, AT, RED), 0.9, s1),    # right
        m.Scored("c2", B, (P, B, F, AT, RED), 0.6, s1),    # wrong, a homopheme (pin for bin)
        m.Scored("c3", P, (F, P, B, AT, RED), 0.5, s1),    # wrong, not a homopheme; top-5 hit
        m.Scored("c4", F, (F, B, P, AT, RED), 0.8, s1),    # right
        m.Scored("c5", AT, (RED, SET, NOW, B, P), 0.4, s1),  # wrong, top-5 miss
        m.Scored("c6", P, (P, B, F, AT, RED), 0.95, s2),   # right
    ]


@pytest.fixture(scope="module")
def computed():
    return m.compute_metrics(rows(), LABELS, CLASSES, m.MetricsConfig(bootstrap_samples=2000))


def test_top1_top5_and_homopheme_aware_top1(computed):
    result, _ = computed
    assert result["top1"]["value"] == pytest.approx(3 / 6)
    assert result["top5"] == pytest.approx(5 / 6)
    assert result["homopheme_top1"] == pytest.approx(4 / 6)
    assert result["errors"] == {"count": 3, "homopheme": 1, "homopheme_share": pytest.approx(1 / 3)}


def test_confusion_matrix(computed):
    _, confusion = computed
    expected = np.zeros((7, 7), dtype=int)
    for true, predicted in ((B, B), (B, P), (P, F), (F, F), (AT, RED), (P, P)):
        expected[true, predicted] += 1
    np.testing.assert_array_equal(confusion, expected)
    lines = confusion_csv(LABELS, confusion).splitlines()
    assert lines[0] == "true\\predicted,bin,pin,fin,at,red,set,now"
    assert lines[1] == "bin,1,1,0,0,0,0,0"


def test_per_word_precision_recall(computed):
    per_word = {row["word"]: row for row in computed[0]["per_word"]}
    assert [row["word"] for row in computed[0]["per_word"]] == LABELS
    bin_, pin, fin, at, red, set_ = (per_word[w] for w in ("bin", "pin", "fin", "at", "red", "set"))
    assert (bin_["support"], bin_["predicted"], bin_["correct"]) == (2, 1, 1)
    assert (bin_["precision"], bin_["recall"], bin_["top5"], bin_["homopheme_accuracy"]) == (
        1.0, 0.5, 1.0, 1.0)
    assert (pin["precision"], pin["recall"], pin["homopheme_accuracy"]) == (0.5, 0.5, 0.5)
    assert (fin["precision"], fin["recall"]) == (0.5, 1.0)
    assert (at["precision"], at["recall"], at["top5"]) == (None, 0.0, 0.0)
    assert (red["precision"], red["recall"]) == (0.0, None)
    assert (set_["support"], set_["precision"], set_["accuracy"]) == (0, None, None)
    assert bin_["viseme_class"] == "P-IH-N"
    lines = per_word_csv(computed[0]["per_word"]).splitlines()
    assert lines[0].startswith("word,support,predicted,correct,precision,recall")
    assert lines[4] == "at,1,0,0,,0.0,0.0,0.0,0.0,AE-T"


def test_confused_pairs_most_frequent_first_with_homopheme_flag(computed):
    pairs = computed[0]["confused_pairs"]
    assert [(p["true"], p["predicted"], p["count"], p["homophemes"]) for p in pairs] == [
        ("at", "red", 1, False), ("bin", "pin", 1, True), ("pin", "fin", 1, False)]
    heavy = [m.Scored(f"x{i}", RED, (SET,), 0.5) for i in range(3)]
    _, confusion = m.compute_metrics(rows() + heavy, LABELS, CLASSES)
    assert m.confused_pairs(confusion, LABELS, CLASSES)[0] == {
        "true": "red", "predicted": "set", "count": 3, "homophemes": False}


def test_calibration_bins_and_expected_calibration_error(computed):
    calibration = computed[0]["calibration"]
    # |confidence - accuracy| weighted by bin share: bins 9 (.925 vs 1), 8, 6, 5, 4.
    assert calibration["ece"] == pytest.approx((2 * 0.075 + 0.2 + 0.6 + 0.5 + 0.4) / 6)
    by_bin = {round(b["low"], 1): b for b in calibration["bins"]}
    assert len(calibration["bins"]) == 10
    assert by_bin[0.9]["count"] == 2 and by_bin[0.9]["confidence"] == pytest.approx(0.925)
    assert by_bin[0.0] == {"low": 0.0, "high": 0.1, "count": 0, "confidence": None,
                           "accuracy": None}
    certain = m.calibration([m.Scored("c", B, (B,), 1.0)])
    assert certain["bins"][-1]["count"] == 1 and certain["ece"] == 0.0


def test_slices(computed):
    assert computed[0]["slices"] == {"speaker": [
        {"value": "s1", "count": 5, "top1": pytest.approx(2 / 5)},
        {"value": "s2", "count": 1, "top1": 1.0}]}
    lengths = [m.Scored(f"c{n}", B, (B,), 0.5, {"word_length": f"{n} letters"})
               for n in (10, 2, 1)]
    values = [s["value"] for s in m.slice_accuracy(lengths)["word_length"]]
    assert values == ["1 letters", "2 letters", "10 letters"]


def test_bootstrap_interval_is_seeded_and_near_the_binomial_error(computed):
    top1 = computed[0]["top1"]
    assert top1["ci_low"] <= top1["value"] <= top1["ci_high"]
    assert top1["std_error"] == pytest.approx(np.sqrt(0.25 / 6), rel=0.1)
    again, _ = m.compute_metrics(list(reversed(rows())), LABELS, CLASSES,
                                 m.MetricsConfig(bootstrap_samples=2000))
    assert again["top1"] == top1
    empty, confusion = m.compute_metrics([], LABELS, CLASSES)
    assert empty["top1"]["value"] is None and empty["top5"] is None
    assert empty["calibration"]["ece"] is None and confusion.sum() == 0


def _run(value, std_error):
    return {"top1": {"value": value, "std_error": std_error, "confidence": 0.95},
            "top5": value + 0.1, "homopheme_top1": value + 0.05}


def test_baseline_verdicts():
    assert m._normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-5)
    better = m.compare_to_baseline(_run(0.80, 0.02), _run(0.70, 0.02), "base.json")
    assert better["verdict"] == m.VERDICT_BETTER
    assert better["top1_delta"] == pytest.approx(0.10)
    assert better["ci_low"] == pytest.approx(0.10 - 1.959964 * np.hypot(0.02, 0.02), abs=1e-5)
    assert better["top5_delta"] == pytest.approx(0.10) and better["top1"] == 0.70
    worse = m.compare_to_baseline(_run(0.60, 0.02), _run(0.70, 0.02), "base.json")
    assert worse["verdict"] == m.VERDICT_WORSE
    same = m.compare_to_baseline(_run(0.71, 0.02), _run(0.70, 0.02), "base.json")
    assert same["verdict"] == m.VERDICT_SAME and same["ci_low"] < 0 < same["ci_high"]
    unknown = m.compare_to_baseline(_run(0.71, 0.02), {"top1": {"value": 0.5}}, "old.json")
    assert unknown["verdict"] == m.VERDICT_SAME and unknown["ci_low"] is None


def test_tta_views_move_the_models_centre_crop_onto_the_corners():
    frames = np.arange(2 * 96 * 96, dtype=np.int64).reshape(2, 96, 96).astype(np.uint32)
    centre = lambda f: f[..., 4:92, 4:92]  # noqa: E731  (what the exported model does)
    np.testing.assert_array_equal(centre(view(frames, "top_left")), frames[..., 0:88, 0:88])
    np.testing.assert_array_equal(centre(view(frames, "bottom_right")), frames[..., 8:96, 8:96])
    np.testing.assert_array_equal(centre(view(frames, "top_right")), frames[..., 0:88, 8:96])
    np.testing.assert_array_equal(centre(view(frames, "flip")), frames[..., 4:92, 4:92][..., ::-1])
    np.testing.assert_array_equal(centre(view(frames, "bottom_left+flip")),
                                  frames[..., 8:96, 0:88][..., ::-1])
    assert len(TTA_MODES["multi"]) == 10 and TTA_MODES["none"] == ("centre",)
    with pytest.raises(ValueError, match="unknown view"):
        view(frames, "middle")


def test_time_views_move_frames_and_mask_together_and_pad_with_the_edge_frame():
    # Frame t of clip b holds the value 10 * b + t everywhere; the word covers frames 2-4.
    values = 10 * np.arange(2)[:, None] + np.arange(7)[None, :]
    frames = np.broadcast_to(values[:, :, None, None], (2, 7, 96, 96)).astype(np.uint8)
    mask = np.zeros((2, 7), np.float32)
    mask[:, 2:5] = 1
    later, later_mask = clip_view(frames, mask, "centre@+1")
    np.testing.assert_array_equal(later[:, :, 0, 0], [[1, 2, 3, 4, 5, 6, 6],
                                                      [11, 12, 13, 14, 15, 16, 16]])
    np.testing.assert_array_equal(later_mask[0], [0, 1, 1, 1, 0, 0, 0])
    earlier, earlier_mask = clip_view(frames, mask, "flip@-2")
    np.testing.assert_array_equal(earlier[1, :, 0, 0], [10, 10, 10, 11, 12, 13, 14])
    np.testing.assert_array_equal(earlier_mask[1], [0, 0, 0, 0, 1, 1, 1])
    # The spatial part still applies: the flip mirrors each frame.
    ramp = np.broadcast_to(np.arange(96, dtype=np.uint8), (2, 7, 96, 96))
    np.testing.assert_array_equal(clip_view(ramp, mask, "flip@-2")[0][0, 3, 0], ramp[0, 0, 0, ::-1])
    unmoved, unmoved_mask = clip_view(frames, mask, "centre")
    np.testing.assert_array_equal(unmoved, frames)
    np.testing.assert_array_equal(unmoved_mask, mask)
    assert TTA_MODES["time"] == ("centre", "centre@-1", "centre@+1")
    assert len(TTA_MODES["flip_time"]) == 6 and "flip@+1" in TTA_MODES["flip_time"]
    with pytest.raises(ValueError, match="not an integer"):
        clip_view(frames, mask, "centre@later")


def test_csv_cells_a_spreadsheet_would_run_are_written_as_text():
    # A word read from a transcript can be anything: "=HYPERLINK(...)" must not become a
    # formula when per_word.csv or confusion.csv is opened in a spreadsheet.
    text = confusion_csv(["=cmd()", "+1", "@sum", "ok"], np.eye(4, dtype=int))
    header, first, *_ = text.splitlines()
    assert header == "true\\predicted,'=cmd(),'+1,'@sum,ok"
    assert first == "'=cmd(),1,0,0,0"
    row = {key: None for key in PER_WORD_COLUMNS} | {"word": "-rm", "support": -1}
    assert per_word_csv([row]).splitlines()[1].startswith("'-rm,-1,")
