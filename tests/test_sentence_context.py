"""Sentence context: transcript pairs, word classes, and the chain decoding, against
hand-made grammars and brute-force enumeration."""

import itertools
from collections import Counter

import numpy as np
import pytest

from pipelines.evaluate import context as language
from pipelines.evaluate.word_classes import class_counts, exchange_classes

# A three-slot grammar: a verb, then a colour, then a letter, every combination equally
# likely (as GRID's slots are), so that word pairs are sparse but classes are not.
VERBS, COLOURS, LETTERS = ("bin", "lay", "place"), ("red", "blue", "green"), tuple("abcdef")
VOCABULARY = VERBS + COLOURS + LETTERS


def _grammar_transcripts(count, seed=0):
    rng = np.random.default_rng(seed)
    return [language.transcript_pairs(enumerate(
        (rng.choice(VERBS), rng.choice(COLOURS), rng.choice(LETTERS)))) for _ in range(count)]


def test_transcript_pairs_follow_word_indices_and_break_at_gaps():
    pairs = language.transcript_pairs([(2, "c"), (0, "a"), (1, "b"), (4, "e"), (5, "f")])
    assert pairs == Counter({(language.START, "a"): 1, ("a", "b"): 1, ("b", "c"): 1,
                             ("e", "f"): 1})
    assert language.transcript_pairs([(3, "x"), (4, "y")]) == Counter({("x", "y"): 1})


def test_exchange_algorithm_recovers_the_slots_of_a_grammar():
    index = {w: i for i, w in enumerate(VOCABULARY)}
    table = language.pair_matrix(_grammar_transcripts(120), index)
    assign = exchange_classes(table, 3, fixed=len(VOCABULARY))
    found = {frozenset(w for w in VOCABULARY if assign[index[w]] == k) for k in range(3)}
    assert found == {frozenset(VERBS), frozenset(COLOURS), frozenset(LETTERS)}
    assert assign[len(VOCABULARY)] == 3  # the start symbol keeps a class of its own


def test_exchange_moves_never_lower_the_training_likelihood():
    index = {w: i for i, w in enumerate(VOCABULARY)}
    table = language.pair_matrix(_grammar_transcripts(60, seed=3), index)

    def likelihood(assign):
        counts = class_counts(table, assign, assign.max() + 1)
        xlogx = lambda v: np.where(v > 0, v * np.log(np.where(v > 0, v, 1)), 0).sum()  # noqa
        return xlogx(counts) - xlogx(counts.sum(1)) - xlogx(counts.sum(0))

    start = np.append(np.arange(len(VOCABULARY)) % 3, 3)
    assert likelihood(exchange_classes(table, 3, fixed=len(VOCABULARY))) > likelihood(start)


def test_held_out_choice_of_classes_picks_the_grammars_slots():
    model = language.bigram_context(_grammar_transcripts(200), VOCABULARY, weight=1.0)
    assert model.classes == 3
    # More classes split a slot for no held-out gain; fewer merge slots and lose a lot.
    assert model.held_out["3"] >= max(model.held_out.values()) - language.TOLERANCE
    assert model.held_out["2"] < model.held_out["3"] - 0.2
    # A colour after a verb is grammatical, a letter after a verb is not.
    verb, colour, letter = (VOCABULARY.index(w) for w in ("bin", "red", "a"))
    assert model.log_ratio[verb, colour] > 0 > model.log_ratio[verb, letter]


def _brute_force_marginals(posteriors, log_ratio, weight, starts):
    steps, size = posteriors.shape
    marginals = np.zeros_like(posteriors, dtype=np.float64)
    for path in itertools.product(range(size), repeat=steps):
        score = np.prod([posteriors[i, w] for i, w in enumerate(path)])
        factors = [log_ratio[a, b] for a, b in zip(path, path[1:])]
        if starts:
            factors.append(log_ratio[-1, path[0]])
        score *= np.exp(weight * sum(factors))
        for i, w in enumerate(path):
            marginals[i, w] += score
    return marginals / marginals.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("starts", [True, False])
def test_forward_backward_marginals_equal_brute_force_enumeration(starts):
    rng = np.random.default_rng(1)
    size, steps = 4, 3
    posteriors = rng.dirichlet(np.ones(size), size=steps)
    model = language.BigramContext(tuple("wxyz"), rng.normal(size=(size + 1, size)), 0.7, 2,
                                   {}, 0)
    decoded = language.decode_run(posteriors, model, starts_transcript=starts)
    expected = _brute_force_marginals(posteriors, model.log_ratio, 0.7, starts)
    np.testing.assert_allclose(decoded, expected, rtol=1e-5, atol=1e-6)


def test_weight_zero_gives_back_the_visual_model():
    rng = np.random.default_rng(2)
    posteriors = rng.dirichlet(np.ones(5), size=4)
    model = language.BigramContext(tuple("vwxyz"), rng.normal(size=(6, 5)), 0.0, 2, {}, 0)
    np.testing.assert_allclose(language.decode_run(posteriors, model, True), posteriors,
                               rtol=1e-5)


def test_neighbours_settle_a_word_the_lips_leave_open():
    model = language.bigram_context(_grammar_transcripts(200), VOCABULARY, weight=1.0)
    one_hot = lambda word, p=0.98: np.where(  # noqa: E731
        np.array(VOCABULARY) == word, p, (1 - p) / (len(VOCABULARY) - 1))
    # The middle clip looks a little more like the letter "a" than the colour "red".
    middle = np.full(len(VOCABULARY), 0.02 / (len(VOCABULARY) - 2))
    middle[VOCABULARY.index("a")], middle[VOCABULARY.index("red")] = 0.5, 0.48
    clips = [(0, one_hot("bin")), (1, middle), (2, one_hot("c"))]
    decoded = language.decode_video(list(reversed(clips)), model)[::-1]
    assert VOCABULARY[int(np.argmax(middle))] == "a"
    assert VOCABULARY[int(np.argmax(decoded[1]))] == "red"
    assert [VOCABULARY[int(np.argmax(d))] for d in (decoded[0], decoded[2])] == ["bin", "c"]
    # Across a gap in the transcript (word 1 missing) the neighbours say nothing.
    apart = language.decode_video([(0, one_hot("bin")), (2, middle)], model)
    np.testing.assert_allclose(apart[1], middle, rtol=1e-5)


def test_no_transcripts_give_a_uniform_context():
    model = language.bigram_context([], VOCABULARY, weight=1.0)
    assert model.pairs == 0 and not model.log_ratio.any()


def test_class_counts_tried_grow_by_about_half_and_stop_at_the_cap():
    assert language.class_candidates(3) == [1, 2, 3]
    assert language.class_candidates(51) == [1, 2, 3, 4, 6, 9, 13, 19, 28, 42, 51]
    assert language.class_candidates(500)[-1] == language.MAX_CLASSES
