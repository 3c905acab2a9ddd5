"""Transcript parsing: hand-computed timings for every format, and every error reason."""

import json

import math

import pytest

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.transcripts import (
    TRANSCRIPT_SUFFIXES,
    Transcript,
    WordTiming,
    parse_transcript,
)


def _timings(transcript: Transcript) -> list[tuple[str, float, float]]:
    return [(w.word, w.start, w.end) for w in transcript.words]


def _error(data: bytes, name: str) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parse_transcript(data, name)
    return caught.value


# Formats -------------------------------------------------------------------------------


def test_grid_converts_ticks_to_seconds_and_skips_silence():
    data = b"0 17750 sil\n17750 22500 bin\n\n22500 30000 BLUE\n30000 35000 sp\n35000 74500 sil\n"
    transcript = parse_transcript(data, "s1/bbaf2n.align")
    assert transcript.format == "grid"
    assert transcript.anchor == "start"
    # 17750 / 25000 = 0.71, 22500 / 25000 = 0.9, 30000 / 25000 = 1.2
    assert _timings(transcript) == [
        ("bin", pytest.approx(0.71), pytest.approx(0.9)),
        ("blue", pytest.approx(0.9), pytest.approx(1.2)),
    ]


def test_lrs_rows_with_and_without_asd_score():
    data = (
        b"Text:  SOME WORDS HERE\nConf:  4\nRef:   somevideo\n\n"
        b"WORD START END ASDSCORE\n"
        b"SOME 0.13 0.35 6.3\n"
        b"WORDS 0.35 0.60 -1.5e1\n"
        b"HERE 0.60 0.92\n"
    )
    transcript = parse_transcript(data, "00001.txt")
    assert (transcript.format, transcript.anchor) == ("lrs", "start")
    assert _timings(transcript) == [
        ("some", pytest.approx(0.13), pytest.approx(0.35)),
        ("words", pytest.approx(0.35), pytest.approx(0.60)),
        ("here", pytest.approx(0.60), pytest.approx(0.92)),
    ]


def test_lrs_three_column_header():
    data = b"Text: HI\n\nWORD START END\nHI 1.0 1.25\n"
    assert _timings(parse_transcript(data, "a.txt")) == [("hi", 1.0, 1.25)]


def test_lrw_word_is_centred_on_the_clip():
    data = b"Text: ABOUT\nConf: 1\nDuration: 0.53 seconds\n"
    transcript = parse_transcript(data, "ABOUT_00001.txt")
    assert (transcript.format, transcript.anchor) == ("lrw", "centre")
    assert _timings(transcript) == [("about", pytest.approx(-0.265), pytest.approx(0.265))]


def test_csv_without_header():
    data = b"hello,0.1,0.4\nworld, 0.4 , 0.9\n"
    transcript = parse_transcript(data, "clip.csv")
    assert transcript.format == "csv"
    assert _timings(transcript) == [("hello", 0.1, 0.4), ("world", 0.4, 0.9)]


def test_csv_header_finds_columns_by_name_and_ignores_extras():
    data = b"Start,END,conf,Word\r\n0.1,0.4,0.9,hello\r\n\r\n0.4,0.9,0.8,\"big, red\"\r\n"
    transcript = parse_transcript(data, "clip.csv")
    assert _timings(transcript) == [("hello", 0.1, 0.4), ("big, red", 0.4, 0.9)]


def test_csv_data_row_for_the_word_word_is_not_a_header():
    assert _timings(parse_transcript(b"word,0.0,0.5\n", "a.csv")) == [("word", 0.0, 0.5)]


def test_json_list_and_words_object_give_the_same_words():
    words = [{"word": "Hello", "start": 0.1, "end": 0.4}, {"word": "world", "start": 1, "end": 2}]
    from_list = parse_transcript(json.dumps(words).encode(), "a.json")
    from_object = parse_transcript(json.dumps({"words": words}).encode(), "a.json")
    assert from_list == from_object
    assert from_list.format == "json"
    assert _timings(from_list) == [("hello", 0.1, 0.4), ("world", 1.0, 2.0)]


def test_word_is_nfc_stripped_and_lower_case():
    decomposed = "CAFE\u0301"  # 'E' + combining acute: NFC makes it one code point
    data = f"0 25000 {decomposed}\n".encode()
    assert parse_transcript(data, "a.align").words == (WordTiming("caf\u00e9", 0.0, 1.0),)


def test_utf8_bom_crlf_and_upper_case_suffix_are_accepted():
    data = b"\xef\xbb\xbf0 25000 bin\r\n25000 50000 red\r\n"
    assert _timings(parse_transcript(data, "A.ALIGN")) == [("bin", 0.0, 1.0), ("red", 1.0, 2.0)]


def test_negative_and_reversed_times_are_kept_as_parsed():
    grid = parse_transcript(b"-2500 5000 bin\n50000 25000 red\n", "a.align")
    assert _timings(grid) == [("bin", -0.1, 0.2), ("red", 2.0, 1.0)]
    data = json.dumps([{"word": "a", "start": -0.5, "end": -1.0}]).encode()
    assert _timings(parse_transcript(data, "a.json")) == [("a", -0.5, -1.0)]


# Errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, offset",
    [(b"\xff\xfe0 1 a", 0), (b"0 25000 caf\xe9\n", 11), (b"\xef\xbb\xbfab\xff", 5)],
)
def test_bad_encoding_names_the_byte_offset(data, offset):
    error = _error(data, "a.align")
    assert error.reason == "bad_encoding"
    assert f"offset {offset}" in error.detail
    assert "UTF-8" in error.detail
    assert "a.align" in error.detail


def test_unparseable_grid_line_names_line_number_and_text():
    error = _error(b"0 17750 sil\n17750 22500 bin\nabc 12 bin\n", "s1/x.align")
    assert error.reason == "unparseable_transcript"
    assert "line 3" in error.detail
    assert "'abc 12 bin'" in error.detail
    assert "START END WORD" in error.detail


@pytest.mark.parametrize(
    "data, name, line",
    [
        (b"0 1.5 bin\n", "a.align", "line 1"),  # GRID times are integers
        (b"0 1\n", "a.align", "line 1"),  # missing word
        (b"WORD START END\nA 0.1 nan\n", "a.txt", "line 2"),
        (b"WORD START END\nA 0.1 inf 3\n", "a.txt", "line 2"),
        (b"WORD START END\nA 0.1\n", "a.txt", "line 2"),
        (b"WORD START END ASDSCORE\nA 0.1 0.2 high\n", "a.txt", "line 2"),
        (b"Text: A B\nDuration: 0.5 seconds\n", "a.txt", "line 1"),  # LRW has one word
        (b"Text: A\nDuration: soon\n", "a.txt", "line 2"),
        (b"Text:\nDuration: 0.5\n", "a.txt", "line 1"),  # empty word
        (b"a,0.1,0.2\nb,0.2,x\n", "a.csv", "line 2"),
        (b"a,0.1,0.2,0.9\n", "a.csv", "line 1"),  # extra column needs a header
        (b"word,start,end\nc,1e999,2\n", "a.csv", "line 2"),
        (b"text,start,stop\na,0.1,0.2\n", "a.csv", "line 1"),  # header lacks word/end
    ],
)
def test_unparseable_lines_name_their_line(data, name, line):
    error = _error(data, name)
    assert error.reason == "unparseable_transcript"
    assert f"{line}:" in error.detail
    assert "expected" in error.detail


def test_unparseable_detail_truncates_long_lines():
    long_line = "0 1 " + "x" * 500 + " extra"
    error = _error(long_line.encode(), "a.align")
    assert "x" * 100 in error.detail
    assert "x" * 200 not in error.detail


def test_lrw_without_text_line_is_unparseable():
    error = _error(b"Conf: 1\nDuration: 0.53 seconds\n", "ABOUT_00001.txt")
    assert error.reason == "unparseable_transcript"
    assert "Text:" in error.detail


@pytest.mark.parametrize(
    "entries, index, problem",
    [
        (
            [{"word": "a", "start": 0, "end": 1}, {"word": "b", "start": "abc", "end": 1}],
            1,
            "'start' is a string",
        ),
        ([0.1, 0.2], 0, "not an object"),
        ([{"word": "a", "start": 0}], 0, "end"),
        ([{"word": 7, "start": 0, "end": 1}], 0, "word"),
        ([{"word": "a", "start": True, "end": 1}], 0, "start"),
        ([{"word": "  ", "start": 0, "end": 1}], 0, "empty"),
    ],
)
def test_bad_json_entries_name_their_index(entries, index, problem):
    error = _error(json.dumps(entries).encode(), "a.json")
    assert error.reason == "unparseable_transcript"
    assert f"entry {index}" in error.detail
    assert problem in error.detail


@pytest.mark.parametrize(
    "data",
    [
        b'[{"word": "a", "start": 0, "end": 1}',  # truncated
        b'[{"word": "a", "start": NaN, "end": 1}]',
        b'"just a string"',
        b'{"utterance": []}',
        b"[" * 100000 + b"]" * 100000,
    ],
)
def test_bad_json_documents_are_unparseable(data):
    error = _error(data, "a.json")
    assert error.reason == "unparseable_transcript"
    assert "a.json" in error.detail


def test_bad_json_names_line_and_column():
    error = _error(b'[\n{"word": "a",, "start": 0}]', "a.json")
    assert "line 2 column" in error.detail


@pytest.mark.parametrize(
    "data, name",
    [
        (b"0 17750 sil\n17750 30000 sp\n", "a.align"),
        (b"", "a.align"),
        (b"  \n\n", "a.txt"),
        (b"Text: HI\n\nWORD START END ASDSCORE\n", "a.txt"),
        (b"word,start,end\n", "a.csv"),
        (b"[]", "a.json"),
        (b'{"words": []}', "a.json"),
    ],
)
def test_empty_transcripts(data, name):
    error = _error(data, name)
    assert error.reason == "empty_transcript"
    assert name in error.detail


@pytest.mark.parametrize("name", ["a.srt", "a", "a.align.bak"])
def test_unknown_suffix_names_it_and_the_accepted_ones(name):
    error = _error(b"0 1 a\n", name)
    assert error.reason == "unknown_transcript_format"
    assert all(suffix in error.detail for suffix in TRANSCRIPT_SUFFIXES)


def test_unknown_txt_layout():
    error = _error(b"HELLO WORLD\nConf: 3\n", "a.txt")
    assert error.reason == "unknown_transcript_format"
    assert "WORD START END" in error.detail
    assert "Duration" in error.detail and "Text:" in error.detail


@pytest.mark.parametrize("data", [
    b"Text:  WE DON'T TRUST THE MAN\nConf:  3\n",      # LRS2 main
    b"Text:  WE DON'T TRUST THE MAN\n",                 # LRS3 without its table
    b"Conf: 3\r\nText: We don't trust the man.\r\n",     # another order, CRLF, punctuation
])
def test_a_sentence_alone_is_one_cue_spanning_the_clip(data):
    transcript = parse_transcript(data, "00017.txt")
    assert transcript.format == "sentence" and transcript.needs_alignment
    assert transcript.words == () and transcript.word_count == 5
    (cue,) = transcript.cues
    assert (cue.index, cue.start, cue.end) == (0, 0.0, math.inf)
    assert cue.words == ("we", "don't", "trust", "the", "man")


def test_a_sentence_without_words_is_an_empty_transcript():
    error = _error(b"Text:   [LAUGHTER]\nConf: 3\n", "a.txt")
    assert error.reason == "empty_transcript" and "line 1" in error.detail


def test_a_word_table_wins_over_its_sentence_and_lrw_keeps_its_meaning():
    table = parse_transcript(b"Text: HI THERE\n\nWORD START END\nHI 0.1 0.3\nTHERE 0.3 0.6\n",
                             "a.txt")
    assert table.format == "lrs" and not table.needs_alignment
    lrw = parse_transcript(b"Text: ABOUT\nDuration: 0.53 seconds\n", "a.txt")
    assert (lrw.format, lrw.anchor, len(lrw.words)) == ("lrw", "centre", 1)


def test_transcript_rejects_unknown_format_and_anchor():
    with pytest.raises(ValueError, match="anchor"):
        Transcript("lrw", (), anchor="middle")
    with pytest.raises(ValueError, match="format"):
        Transcript("srt", ())


# --- hostile transcripts: one bad file is one dead letter, never an exception ----------------

def _textgrid(size: str = "1", intervals: int = 2) -> bytes:
    rows = "".join(f'        intervals [{i + 1}]:\n            xmin = {i * 0.5}\n'
                   f'            xmax = {(i + 1) * 0.5}\n            text = "w{i}"\n'
                   for i in range(intervals))
    return ('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\n'
            f'xmax = {intervals * 0.5}\ntiers? <exists>\nsize = {size}\nitem []:\n'
            '    item [1]:\n        class = "IntervalTier"\n        name = "words"\n'
            f'        xmin = 0\n        xmax = {intervals * 0.5}\n'
            f'        intervals: size = {intervals}\n' + rows).encode()


@pytest.mark.parametrize("size", ["1e400", "1e9", "-1", "2.5"])
def test_a_textgrid_with_an_impossible_count_is_unparseable(size):
    assert len(parse_transcript(_textgrid(), "a.TextGrid").words) == 2
    error = _error(_textgrid(size), "a.TextGrid")
    assert error.reason == "unparseable_transcript" and "line 7" in error.detail


def test_a_number_of_thousands_of_digits_in_a_cue_is_read_digit_by_digit():
    digits = "9" * 5000  # int() refuses strings of more than 4,300 digits
    cue = parse_transcript(f"1\n00:00:01,000 --> 00:00:02,000\nhello {digits}\n".encode(),
                           "a.srt").cues[0]
    assert cue.words == ("hello",) + ("nine",) * 5000


def test_a_cue_time_of_thousands_of_digits_is_a_broken_time_line():
    error = _error(f"1\n{'9' * 5000}:00:01,000 --> 00:00:02,000\nhello\n".encode(), "a.srt")
    assert error.reason == "unparseable_transcript" and "line 2" in error.detail


def test_a_transcript_over_the_size_limit_is_refused_unread():
    with pytest.raises(RecordError) as caught:
        parse_transcript(b"0 1000 a\n" * 20, "a.align", max_bytes=100)
    assert caught.value.reason == "transcript_too_large" and "180 bytes" in caught.value.detail
    assert len(parse_transcript(b"0 1000 a\n" * 20, "a.align", max_bytes=180).words) == 20


def test_whatever_a_parser_raises_is_one_transcripts_failure(monkeypatch):
    from pipelines.preprocess.transcripts import parse as parse_module

    def broken(text, name):
        raise KeyError("no such tier")

    monkeypatch.setitem(parse_module._FORMATS, ".csv", (parse_module.decode_utf8, broken))
    error = _error(b"a,0,1\n", "a.csv")
    assert error.reason == "unparseable_transcript"
    assert "KeyError" in error.detail and "no such tier" in error.detail
