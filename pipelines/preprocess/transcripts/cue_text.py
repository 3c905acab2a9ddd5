"""Subtitle cue text -> the words that are spoken, as the aligner's dictionary spells them.

`normalise_cue_text` removes what is written but not said, then spells out numbers:

1. Markup: ASS/SSA override blocks (`{\\an8}`), HTML-like tags (`<i>`, `</b>`,
   `<font color="...">`), WebVTT voice, class and timestamp tags (`<v Name>`, `<c.loud>`,
   `<00:00:01.000>`); HTML character references are decoded (`&amp;` -> `&`).
2. Sound tags: `[MUSIC]`, `(applause)`, lyrics between music notes (`♪ ... ♪`; a line
   with one note loses the rest of the line).
3. Per line: dialogue dashes (`- `), speaker-change markers (`>>`), and a speaker label at
   the line start written in capitals (`JOHN:`, `DR. SMITH:`, `MAN 2:`).
4. Lines are joined; `&` is read "and", `%` "percent".
5. Numbers (see `number_words`): integers (`42` -> forty two, `1,000` -> one thousand),
   four-digit numbers from 1100 to 1999 and from 2010 to 2099 as years (`1999` -> nineteen
   ninety nine, `1905` -> nineteen oh five, `2024` -> twenty twenty four; 2000 to 2009 are
   read as integers: two thousand five), ordinals (`3rd` -> third, `21st` -> twenty first),
   decades (`90s` -> nineties), decimals (`2.5` -> two point five, `.5` -> point five: one
   word per digit after the point). A number with leading zeros (`007`) is read digit
   by digit. Digits glued to letters are split from them (`mp3` -> mp three). No "and"
   is inserted (`105` -> one hundred five). Currency symbols and signs are dropped, not
   read.
6. Unicode NFC, lower case; punctuation is removed, apostrophes inside a word are kept
   (`don't`, `rock'n'roll`; curly apostrophes become `'`), hyphens split words.

Pure Python.
"""

from __future__ import annotations

import html
import re
import unicodedata

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
         "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
         "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_IRREGULAR_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                       "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_LARGEST_SPELLED = 10**15
_SPELLED_DIGITS = len(str(_LARGEST_SPELLED)) - 1

_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")
_TAG = re.compile(r"<[^<>\n]*>")
_BRACKETED = re.compile(r"\[[^\[\]]*\]|\([^()]*\)")
_MUSIC = re.compile(r"[♪♫][^♪♫\n]*(?:[♪♫]|$)", re.MULTILINE)
_DIALOGUE_DASH = re.compile(r"^\s*[-‐–—]+\s*")
_SPEAKER_CHANGE = re.compile(r">>+")
_SPEAKER_LABEL = re.compile(r"^\s*[A-Z][A-Z0-9 .'&-]{0,30}:(?=\s|$)")
_APOSTROPHES = re.compile(r"[’‘ʼ`´]")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
_NUMBER = re.compile(
    r"(?<![\d.,])(?:(?P<integer>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?:(?P<ordinal>st|nd|rd|th)\b|'?(?P<plural>s)\b|\.(?P<fraction>\d+))?"
    r"|\.(?P<bare_fraction>\d+))",
    re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def integer_words(number: int) -> list[str]:
    """English words of a non-negative integer: 342 -> three hundred forty two."""
    if number < 0:
        raise ValueError(f"integer_words takes a non-negative integer, got {number!r}")
    if number >= _LARGEST_SPELLED:
        return [_ONES[int(digit)] for digit in str(number)]
    if number < 20:
        return [_ONES[number]]
    if number < 100:
        tens, ones = divmod(number, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return [_ONES[hundreds], "hundred"] + (integer_words(rest) if rest else [])
    scale, name = next((scale, name) for scale, name in _SCALES if number >= scale)
    high, rest = divmod(number, scale)
    return integer_words(high) + [name] + (integer_words(rest) if rest else [])


def year_words(year: int) -> list[str]:
    """A year read in two halves: 1999 -> nineteen ninety nine, 1905 -> nineteen oh five."""
    century, rest = divmod(year, 100)
    if rest == 0:
        return integer_words(century) + ["hundred"]
    if rest < 10:
        return integer_words(century) + ["oh", _ONES[rest]]
    return integer_words(century) + integer_words(rest)


def _is_year(digits: str) -> bool:
    return len(digits) == 4 and (1100 <= int(digits) <= 1999 or 2010 <= int(digits) <= 2099)


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return words[:-1] + [last]


def _plural(words: list[str]) -> list[str]:
    last = words[-1]
    if last.endswith("y"):
        last = last[:-1] + "ies"
    elif last.endswith(("x", "s")):
        last += "es"
    else:
        last += "s"
    return words[:-1] + [last]


def number_words(digits: str, ordinal: bool = False, plural: bool = False,
                 fraction: str = "") -> list[str]:
    """Words for a written number: `digits` may hold thousands commas ("1,000").

    `ordinal` reads it as an ordinal (third), `plural` as a decade or plural (nineties),
    `fraction` is the digit string after a decimal point (one word per digit).
    """
    bare = digits.replace(",", "")
    if (len(bare) > 1 and bare.startswith("0")) or len(bare) > _SPELLED_DIGITS:
        # Leading zeros, or too long to be said as one number (and to convert: Python's
        # int() refuses strings of more than 4,300 digits): read digit by digit.
        words = [_ONES[int(digit)] for digit in bare]
    elif _is_year(bare) and "," not in digits and not ordinal and not fraction:
        words = year_words(int(bare))
    else:
        words = integer_words(int(bare))
    if fraction:
        words = words + ["point"] + [_ONES[int(digit)] for digit in fraction]
    if ordinal:
        words = _ordinal(words)
    elif plural:
        words = _plural(words)
    return words


def _spell_number(match: re.Match) -> str:
    if match["bare_fraction"]:  # ".5"
        return " point " + " ".join(_ONES[int(d)] for d in match["bare_fraction"]) + " "
    words = number_words(match["integer"], ordinal=bool(match["ordinal"]),
                         plural=bool(match["plural"]), fraction=match["fraction"] or "")
    return " " + " ".join(words) + " "


def _spoken_line(line: str) -> str:
    """A line without its dialogue dash, speaker-change marker and capitalised label."""
    line = _SPEAKER_CHANGE.sub(" ", line)
    line = _DIALOGUE_DASH.sub("", line)
    return _SPEAKER_LABEL.sub("", line)


def strip_cue_markup(text: str) -> str:
    """The cue's spoken text with markup, sound tags and speaker labels removed.

    Lines are kept (joined by "\\n"); case, punctuation and numbers are untouched.
    """
    text = _ASS_OVERRIDE.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _MUSIC.sub(" ", text)
    previous = None
    while previous != text:  # nested brackets: "[music (soft)]"
        previous, text = text, _BRACKETED.sub(" ", text)
    return "\n".join(_spoken_line(line) for line in text.splitlines())


def normalise_cue_text(text: str) -> tuple[str, ...]:
    """The normalised words of a cue's text, in order (see the module docstring)."""
    spoken = unicodedata.normalize("NFC", strip_cue_markup(text))
    spoken = spoken.replace("\n", " ").replace("&", " and ").replace("%", " percent ")
    spoken = _APOSTROPHES.sub("'", spoken)
    spoken = _LETTER_DIGIT.sub(" ", spoken)
    spoken = _NUMBER.sub(_spell_number, spoken)
    return tuple(word.lower() for word in _WORD.findall(spoken))
