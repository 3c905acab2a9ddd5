"""`.json` transcripts: a list of `{"word", "start", "end"}` objects in seconds, or an
object `{"words": [...]}` holding such a list."""

from __future__ import annotations

import json
import math
from typing import Any

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts.common import (LineProblem, Transcript, WordTiming,
                                                     blame, normalised_word)

_WORD_KEYS = ("word", "start", "end")
_JSON_EXPECTED = (
    "expected an object with a string 'word' and numbers 'start' and 'end' in seconds"
)
_JSON_LAYOUT = (
    "a JSON transcript must be a list of {\"word\", \"start\", \"end\"} objects "
    "or an object {\"words\": [...]} holding such a list"
)


def _json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    kinds = {dict: "an object", list: "a list", str: "a string"}
    return kinds.get(type(value), "a number")


def _load_json(text: str, name: str) -> Any:
    """The decoded JSON document, or an "unparseable_transcript" RecordError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problem = f"at line {error.lineno} column {error.colno}: {error.msg}"
    except (ValueError, RecursionError) as error:
        problem = f"({str(error) or type(error).__name__})"
    raise RecordError("unparseable_transcript", f"{name}: invalid JSON {problem}; {_JSON_LAYOUT}")


def _json_entries(document: Any, name: str) -> list[Any]:
    """The list of word entries of a decoded JSON transcript."""
    if isinstance(document, dict) and isinstance(document.get("words"), list):
        return document["words"]
    if isinstance(document, list):
        return document
    found = "an object without a 'words' list" if isinstance(document, dict) else None
    raise RecordError(
        "unparseable_transcript",
        f"{name}: the top-level JSON value is {found or _json_kind(document)}; {_JSON_LAYOUT}",
    )


def _json_seconds(value: Any, key: str) -> float:
    """A JSON number of seconds; strings, booleans, nan and infinities are problems."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LineProblem(f"{key!r} is {_json_kind(value)}, not a number of seconds")
    try:
        seconds = float(value)
    except OverflowError:
        raise LineProblem(f"{key!r} is too large") from None
    if not math.isfinite(seconds):
        raise LineProblem(f"{key!r} is not a finite number")
    return seconds


def _json_word(entry: Any) -> WordTiming:
    """One `{"word", "start", "end"}` entry of a JSON transcript."""
    if not isinstance(entry, dict):
        raise LineProblem(f"the entry is {_json_kind(entry)}, not an object")
    missing = [key for key in _WORD_KEYS if key not in entry]
    if missing:
        raise LineProblem(f"missing key(s) {', '.join(missing)}")
    if not isinstance(entry["word"], str):
        raise LineProblem(f"'word' is {_json_kind(entry['word'])}, not a string")
    return WordTiming(
        normalised_word(entry["word"]),
        _json_seconds(entry["start"], "start"),
        _json_seconds(entry["end"], "end"),
    )


def parse_json(text: str, name: str) -> Transcript:
    """A `.json` transcript: a list of word objects, or `{"words": [...]}`."""
    words = []
    for index, entry in enumerate(_json_entries(_load_json(text, name), name)):
        source = json.dumps(entry, ensure_ascii=False)
        with blame(name, f"entry {index} (0-based)", source, _JSON_EXPECTED):
            words.append(_json_word(entry))
    return Transcript("json", tuple(words))
