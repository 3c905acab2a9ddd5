"""Homophemes from the real CMU Pronouncing Dictionary and the published viseme tables."""

import pickle

import pytest

from pipelines.evaluate.homophemes import (DEFAULT_MAPPING, MAPPINGS, VisemeMapping,
                                           homopheme_classes, homopheme_groups, mapping_named,
                                           pronunciation, word_visemes)

ARPABET_39 = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S "
              "SH T TH UH UW V W Y Z ZH").split()
GRID_VOCABULARY = ("bin lay place set blue green red white at by in with a b c d e f g h i j "
                   "k l m n o p q r s t u v x y z zero one two three four five six seven "
                   "eight nine again now please soon").split()

# Worked by hand from each table and CMUdict's first pronunciations, e.g. under lee2002:
# at AE T, eight EY T, s EH S -> ey-t (EH/EY/AE share "ey", S is in "t"); k K EY, lay L EY,
# now N AW -> k-ey (K/L/N share "k", AW is in "ey"); a AH, i AY -> ah. CMUdict reads the
# letter "a" as the article (AH), its first pronunciation.
GRID_GROUPS = {
    "lee2002": [["a", "i"], ["at", "eight", "s"], ["b", "p"], ["c", "d", "t", "z"],
                ["k", "lay", "now"], ["l", "n"]],
    # at/eight/n -> V3-C (N is alveolar like T); k K EY, y W AY -> H-V3 (W is "velar").
    "neti2000": [["at", "eight", "n"], ["b", "p"], ["c", "z"], ["d", "t"], ["k", "y"]],
    # Vowels stay apart, so only letter names differing in one consonant class merge.
    "jeffers1971": [["b", "p"], ["c", "z"], ["d", "t"], ["l", "n"]],
}


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_bin_and_pin_are_homophemes_bin_and_fin_are_not(name):
    classes = homopheme_classes(["bin", "pin", "fin"], mapping_named(name))

    assert classes["bin"] == classes["pin"]
    assert classes["bin"] != classes["fin"]


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_mark_park_bark_share_one_class(name):
    mapping = mapping_named(name)

    assert len(set(homopheme_classes(["mark", "park", "bark"], mapping).values())) == 1
    assert homopheme_groups(["mark", "park", "bark", "fin"], mapping) == [
        ["bark", "mark", "park"]]


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_every_mapping_covers_the_39_arpabet_phonemes(name):
    table = mapping_named(name).phoneme_to_viseme

    assert len(ARPABET_39) == 39
    assert [p for p in ARPABET_39 if p not in table] == []
    assert all(table[p] for p in ARPABET_39)


@pytest.mark.parametrize("name", sorted(MAPPINGS))
def test_bilabials_share_a_viseme_apart_from_labiodentals(name):
    table = mapping_named(name).phoneme_to_viseme

    assert table["B"] == table["P"] == table["M"]
    assert table["F"] == table["V"]
    assert table["F"] != table["B"]


def test_default_mapping_is_lee_and_yook():
    mapping = mapping_named(DEFAULT_MAPPING)

    assert mapping.name == "lee2002"
    assert "Lee" in mapping.citation and "Yook" in mapping.citation
    assert "Neti" in mapping_named("neti2000").citation


@pytest.mark.parametrize("word, phonemes", [
    ("bin", ("B", "IH", "N")),
    ("mark", ("M", "AA", "R", "K")),
    ("seven", ("S", "EH", "V", "AH", "N")),
    ("again", ("AH", "G", "EH", "N")),    # first of AH G EH N / AH G EY N
    ("don't", ("D", "OW", "N", "T")),     # in CMUdict with its apostrophe
])
def test_cmudict_pronunciations_without_stress(word, phonemes):
    assert pronunciation(word) == (phonemes, "cmudict")


def test_surrounding_punctuation_is_stripped_for_lookup_only():
    assert pronunciation("'don't,") == (("D", "OW", "N", "T"), "cmudict")
    assert list(homopheme_classes(["bin."], mapping_named("lee2002"))) == ["bin."]


def test_digits_are_spelt_as_words():
    assert pronunciation("7") == (("S", "EH", "V", "AH", "N"), "cmudict")
    # Digit by digit, with the letter between: four, x (EH K S), four.
    assert pronunciation("4x4") == (
        ("F", "AO", "R", "EH", "K", "S", "F", "AO", "R"), "cmudict")


@pytest.mark.parametrize("word, phonemes", [
    # z, "or" -> AO R, b, l, a, t.
    ("zorblat", ("Z", "AO", "R", "B", "L", "AE", "T")),
    # "ee" -> IY and "tch" -> CH win over e, t, c, h.
    ("gleetch", ("G", "L", "IY", "CH")),
    # "qu" -> K W, "bb" counts once, the final e after "l" is silent.
    ("quabble", ("K", "W", "AE", "B", "L")),
])
def test_words_outside_cmudict_use_letter_to_sound_rules(word, phonemes):
    assert pronunciation(word) == (phonemes, "letter_to_sound")


def test_visemes_keep_one_per_phoneme():
    lee = mapping_named("lee2002")

    # S IH T S: the two final tongue-tip visemes are kept, so "sits" is not "sit".
    assert word_visemes("sits", lee) == ("t", "iy", "t", "t")
    assert word_visemes("sit", lee) == ("t", "iy", "t")
    assert homopheme_groups(["sits", "sit"], lee) == []


def test_groups_are_sorted_within_and_by_first_word():
    groups = homopheme_groups(["park", "pin", "fin", "mark", "bin"], mapping_named("lee2002"))

    assert groups == [["bin", "pin"], ["mark", "park"]]


@pytest.mark.parametrize("name", sorted(GRID_GROUPS))
def test_grid_vocabulary_groups(name):
    groups = homopheme_groups(GRID_VOCABULARY, mapping_named(name))
    print(f"GRID homopheme groups under {name}: {groups}")

    assert len(GRID_VOCABULARY) == 51
    assert ["b", "p"] in groups                  # b = B IY, p = P IY
    assert groups == GRID_GROUPS[name]


def test_unknown_mapping_names_the_valid_ones():
    with pytest.raises(ValueError, match="'nope'.*jeffers1971, lee2002, neti2000"):
        mapping_named("nope")


@pytest.mark.parametrize("word", ["", "   ", "?!", "--"])
def test_empty_or_letterless_words_raise(word):
    with pytest.raises(ValueError, match="empty word|no letters or digits"):
        pronunciation(word)


def test_letters_no_rule_reads_raise():
    with pytest.raises(ValueError, match="no letter-to-sound rule reads 'ß'"):
        pronunciation("straße")


def test_a_mapping_must_cover_every_phoneme_and_keep_labels_joinable():
    with pytest.raises(ValueError, match="does not cover"):
        VisemeMapping("partial", "none", {"P": "p"})
    full = dict(mapping_named("lee2002").phoneme_to_viseme)
    with pytest.raises(ValueError, match="free of '-'"):
        VisemeMapping("dashed", "none", {**full, "P": "p-b"})


def test_mappings_are_read_only_and_pickle():
    lee = mapping_named("lee2002")

    with pytest.raises(TypeError):
        lee.phoneme_to_viseme["P"] = "x"
    # Beam ships DoFn arguments to workers by pickling.
    assert pickle.loads(pickle.dumps(lee)) == lee
