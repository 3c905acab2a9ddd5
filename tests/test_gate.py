"""The promotion gate's paired tests, against hand-computed values."""

import numpy as np
import pytest

from pipelines.retrain.gate import (GateConfig, compare, mcnemar_exact, paired_bootstrap,
                                    paired_outcomes)


def test_mcnemar_exact_matches_binomial_tails_by_hand():
    # b = 8, c = 1: P(X >= 8 | n = 9, 1/2) = (C(9,8) + C(9,9)) / 2^9 = 10 / 512.
    one_sided, two_sided = mcnemar_exact(8, 1)
    assert one_sided == pytest.approx(10 / 512)
    assert two_sided == pytest.approx(20 / 512)
    # b = 1, c = 8: the candidate is worse; P(X >= 1 | n = 9) = 1 - 1/512.
    assert mcnemar_exact(1, 8)[0] == pytest.approx(511 / 512)
    # b = c: two-sided p is 1 (capped), one-sided P(X >= 3 | n = 6) = 42 / 64.
    assert mcnemar_exact(3, 3) == (pytest.approx(42 / 64), 1.0)
    assert mcnemar_exact(0, 0) == (1.0, 1.0)


def test_mcnemar_refuses_negative_counts():
    with pytest.raises(ValueError, match=">= 0"):
        mcnemar_exact(-1, 2)


def test_bootstrap_of_identical_discordance_is_a_point():
    # Every clip: candidate right, production wrong. Each resample's difference is 1.
    ones, zeros = np.ones(20, bool), np.zeros(20, bool)
    assert paired_bootstrap(ones, zeros, 500, 0.95, 0) == (1.0, 1.0)
    assert paired_bootstrap(zeros, zeros, 500, 0.95, 0) == (0.0, 0.0)


def test_bootstrap_bounds_agree_with_the_normal_approximation():
    # 400 clips: 60 only the candidate gets right, 20 only production. delta = 0.1;
    # per-clip differences d in {1, -1, 0}: var = (60 + 20)/400 - 0.1^2 = 0.19,
    # se = sqrt(0.19 / 400) = 0.02179; one-sided 95% bounds 0.1 -/+ 1.645 se.
    candidate = np.array([True] * 60 + [False] * 20 + [True] * 150 + [False] * 170)
    production = np.array([False] * 60 + [True] * 20 + [True] * 150 + [False] * 170)
    low, high = paired_bootstrap(candidate, production, 4000, 0.95, 1)
    assert low == pytest.approx(0.1 - 1.645 * 0.02179, abs=0.006)
    assert high == pytest.approx(0.1 + 1.645 * 0.02179, abs=0.006)


def test_gate_promotes_only_a_clear_gain_over_the_margin():
    candidate = np.array([True] * 60 + [False] * 20 + [True] * 150 + [False] * 170)
    production = np.array([False] * 60 + [True] * 20 + [True] * 150 + [False] * 170)
    assert compare(candidate, production, GateConfig())["promote"] is True
    # The same gain is not enough when the margin asks for more than its lower bound.
    strict = compare(candidate, production, GateConfig(margin=0.08))
    assert strict["promote"] is False and "margin 0.08" in strict["reason"]
    # Swapped: production is the better one.
    worse = compare(production, candidate, GateConfig())
    assert worse["promote"] is False and worse["top1_delta"] == pytest.approx(-0.1)
    assert worse["candidate_only_right"] == 20 and worse["production_only_right"] == 60


def test_a_small_gain_on_few_clips_is_not_significant():
    # 3 against 1 discordant clips: one-sided p = (C(4,3) + 1) / 16 = 5/16.
    candidate = np.array([True, True, True, False, True, False])
    production = np.array([False, False, False, True, True, False])
    record = compare(candidate, production, GateConfig())
    assert record["mcnemar_p_one_sided"] == pytest.approx(5 / 16)
    assert record["promote"] is False


def test_predictions_are_paired_on_clip_id_and_a_clip_one_model_missed_is_wrong_for_it():
    candidate = [{"clip_id": "b", "correct": True}, {"clip_id": "a", "correct": False},
                 {"clip_id": "c", "correct": True}]
    production = [{"clip_id": "a", "correct": True}, {"clip_id": "b", "correct": True},
                  {"clip_id": "d", "correct": True}]
    ours, theirs, clips, unpaired = paired_outcomes(candidate, production)
    assert clips == ["a", "b", "c", "d"]
    assert list(ours) == [False, True, True, False]
    assert list(theirs) == [True, True, False, True]
    assert unpaired == {"candidate_only": 1, "production_only": 1}


def test_a_candidate_that_skips_the_clips_it_would_miss_is_not_promoted():
    production = [{"clip_id": f"c{k:02d}", "correct": k >= 20} for k in range(40)]
    candidate = [{"clip_id": f"c{k:02d}", "correct": True} for k in range(25)]  # 15 unscored
    ours, theirs, _, _ = paired_outcomes(candidate, production)
    # On the 25 clips both scored the candidate wins 25 to 5; on all 40, 25 to 20.
    assert ours.mean() == 25 / 40 and theirs.mean() == 20 / 40
    assert compare(ours, theirs, GateConfig())["promote"] is False


@pytest.mark.parametrize("fields", [{"confidence": 1.0}, {"margin": 1.5},
                                    {"bootstrap_samples": 10}])
def test_gate_config_refuses_bad_values(fields):
    with pytest.raises(ValueError):
        GateConfig(**fields)
