"""The vocabulary file: an export's label order, one word a line.

Label i is the word on line i. Lines end with "\n" only: words never hold a line break of
any kind (the transcript readers take them out), and the reader splits at "\n" alone,
not at every character Python counts as a line end (U+0085, U+2028, ...), so no word
can shift every later label. Plain Python; no Beam, no TensorFlow.
"""

from __future__ import annotations

VOCABULARY_FILE = "vocabulary.txt"


def vocabulary_text(words: list[str]) -> str:
    """The file's text for `words` in label order; ValueError for a word that would not
    read back as itself (empty, or holding a line end)."""
    bad = [w for w in words if not w or "\n" in w or "\r" in w]
    if bad:
        raise ValueError(f"vocabulary words must be non-empty and hold no line end: {bad[:5]!r}")
    return "".join(f"{word}\n" for word in words)


def vocabulary_words(text: str, where: str) -> list[str]:
    """The words of a vocabulary file's text, in label order; ValueError naming `where`
    if it is empty or has a blank line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]  # the last word's line end
    if not lines or any(not line for line in lines):
        raise ValueError(f"{where} is empty or has blank lines")
    return lines
