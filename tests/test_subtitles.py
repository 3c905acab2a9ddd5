"""Subtitle (SRT, WebVTT) and Praat TextGrid transcripts, and cue text normalisation.

Expectations are written by hand from the files in each test; the round trips compare
with the times of the sample GRID alignment files.
"""

import os

import pytest

from pipelines.preprocess.errors import RecordError
from pipelines.preprocess.inputs import VideoInput, list_folder
from pipelines.preprocess.manifest import words_seen_event
from pipelines.preprocess.video_job import VideoJob
from pipelines.preprocess.transcripts import (TRANSCRIPT_SUFFIXES, BadCue, Cue, Transcript,
                                              WordTiming, normalise_cue_text, parse_transcript)
from tests import media

SRT = """1
00:00:01,000 --> 00:00:03,500
<i>- JOHN: Hello there!</i>
- [MUSIC] It's 42 degrees.

2
00:00:04,000 --> 00:00:05,250 X1:100 X2:200 Y1:10 Y2:50
(applause)
♪ la la la ♪

3
00:00:06,000 --> 00:00:07,000
{\\an8}Thank you &amp; goodbye
"""

VTT = """WEBVTT - broadcast captions
Kind: captions
Language: en

STYLE
::cue { color: yellow }

NOTE a comment
that spans two lines

intro
00:01.000 --> 00:02.500 align:start position:10%
<v Roger Bingham>We are in <b>New York</b> City

01:00:00.000 --> 01:00:01.200 line:0
<c.loud>Yes!</c> <00:00:00.500>Really.
"""


def _error(data: bytes, name: str) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parse_transcript(data, name)
    return caught.value


def _cue_summary(transcript: Transcript) -> list:
    return [(c.index, c.start, c.end, c.words) for c in transcript.cues]


# Cue text normalisation ------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("<i>Hello</i>, <b>world</b>!", ("hello", "world")),
    ('<font color="#ffff00">Yes</font> sir', ("yes", "sir")),
    ("<v Roger Bingham>Hi <c.loud>there</c>", ("hi", "there")),
    ("<00:00:01.000>One <00:00:01.500>two", ("one", "two")),
    ("{\\an8}{\\i1}Up here", ("up", "here")),
    ("JOHN: Hello\nMARY ANN: Hi", ("hello", "hi")),
    ("- Are you in?\n- I'm in.", ("are", "you", "in", "i'm", "in")),
    (">> REPORTER: Live from here", ("live", "from", "here")),
    ("[MUSIC PLAYING] (applause) Thanks ♪ la la ♪", ("thanks",)),
    ("Note: JOHN: is not a label mid-line", ("note", "john", "is", "not", "a", "label",
                                             "mid", "line")),
    ("Don't stop, it’s rock'n'roll!", ("don't", "stop", "it's", "rock'n'roll")),
    ("'Cause the dogs' bones", ("cause", "the", "dogs", "bones")),
    ("42", ("forty", "two")),
    ("1,000 and 105", ("one", "thousand", "and", "one", "hundred", "five")),
    ("In 1999 and 1905 and 1900", ("in", "nineteen", "ninety", "nine", "and", "nineteen",
                                   "oh", "five", "and", "nineteen", "hundred")),
    ("2005 then 2024", ("two", "thousand", "five", "then", "twenty", "twenty", "four")),
    ("the 3rd, 21st and 12th", ("the", "third", "twenty", "first", "and", "twelfth")),
    ("2.5 or .5", ("two", "point", "five", "or", "point", "five")),
    ("50% & more", ("fifty", "percent", "and", "more")),
    ("the 90s", ("the", "nineties")),
    ("007 mp3", ("zero", "zero", "seven", "mp", "three")),
    ("CAFE\u0301 Crème", ("café", "crème")),
    ("(laughs)", ()),
])
def test_normalise_cue_text(text, words):
    assert normalise_cue_text(text) == words


# SRT ---------------------------------------------------------------------------------------


def test_srt_cues_lose_markup_labels_and_sound_tags():
    transcript = parse_transcript(SRT.encode(), "show.srt")
    assert transcript.format == "srt"
    assert transcript.words == ()
    assert transcript.needs_alignment
    # Cue 1 holds only sound tags and lyrics: skipped, it has no words to account for.
    assert _cue_summary(transcript) == [
        (0, 1.0, 3.5, ("hello", "there", "it's", "forty", "two", "degrees")),
        (2, 6.0, 7.0, ("thank", "you", "and", "goodbye")),
    ]
    assert transcript.cues[0].text == "<i>- JOHN: Hello there!</i>\n- [MUSIC] It's 42 degrees."
    assert transcript.word_count == 10
    assert transcript.bad_cues == ()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_srt_bom_and_utf16_with_bom(encoding):
    data = SRT.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = ("\ufeff" + SRT).encode(encoding)
    assert _cue_summary(parse_transcript(data, "a.srt")) == _cue_summary(
        parse_transcript(SRT.encode(), "a.srt"))


def test_srt_crlf_missing_blank_line_and_blank_line_inside_text():
    data = (b"1\r\n00:00:01,000 --> 00:00:02,000\r\nFirst line\r\n\r\nstill cue one\r\n"
            b"2\r\n00:00:03,000 --> 00:00:04,000\r\nSecond\r\n")
    transcript = parse_transcript(data, "a.srt")
    assert _cue_summary(transcript) == [(0, 1.0, 2.0, ("first", "line", "still", "cue", "one")),
                                        (1, 3.0, 4.0, ("second",))]


def test_srt_times_with_dot_and_without_hours():
    data = b"1\n01:02:03.5 --> 01:02:04.25\nLate\n\n2\n00:10,000 --> 00:11,000\nShort\n"
    assert _cue_summary(parse_transcript(data, "a.srt")) == [
        (0, 3723.5, 3724.25, ("late",)), (1, 10.0, 11.0, ("short",))]


def test_overlapping_cues_are_both_kept():
    data = (b"1\n00:00:01,000 --> 00:00:03,000\nOne voice\n\n"
            b"2\n00:00:02,000 --> 00:00:04,000\nAnother voice\n")
    assert [c.words for c in parse_transcript(data, "a.srt").cues] == [
        ("one", "voice"), ("another", "voice")]


def test_cue_ending_before_it_starts_is_a_bad_cue_with_its_words():
    data = (b"1\n00:00:01,000 --> 00:00:02,000\nGood one\n\n"
            b"2\n00:00:05,000 --> 00:00:04,000\nBackwards cue here\n\n"
            b"3\n00:00:06,000 --> 00:00:06,000\nZero\n\n"
            b"4\n00:00:07,000 --> 00:00:08,000\nLast\n")
    transcript = parse_transcript(data, "a.srt")
    assert _cue_summary(transcript) == [(0, 1.0, 2.0, ("good", "one")),
                                        (3, 7.0, 8.0, ("last",))]
    assert [(b.index, b.reason, b.words) for b in transcript.bad_cues] == [
        (1, "invalid_cue_times", ("backwards", "cue", "here")),
        (2, "invalid_cue_times", ("zero",))]
    assert "line 6" in transcript.bad_cues[0].detail
    assert "cue 1" in transcript.bad_cues[0].detail
    assert transcript.word_count == 7
    # Words are numbered in cue order, bad cues included.
    assert transcript.cue_word_offsets() == {0: 0, 1: 2, 2: 5, 3: 6}


def test_only_bad_cues_is_still_a_transcript():
    transcript = parse_transcript(b"1\n00:00:02,000 --> 00:00:01,000\nOops\n", "a.srt")
    assert transcript.cues == () and transcript.bad_cues[0].words == ("oops",)
    assert transcript.needs_alignment and transcript.word_count == 1


@pytest.mark.parametrize("data, line", [
    (b"1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:03,000 --> 00:00:0x,000\nYo\n", 6),
    (b"1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:03,000 - 00:00:04,000\nYo\n", 6),
    (b"1\n00:00:01,000 --> 00:00:02,000\nHi\n\n00:00:03,000 -> 00:00:04,000\nYo\n", 5),
    (b"1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:75:03,000 --> 00:75:04,000\nYo\n", 6),
    (b"Hello before anything\n\n1\n00:00:01,000 --> 00:00:02,000\nHi\n", 1),
])
def test_broken_srt_time_line_names_its_line(data, line):
    error = _error(data, "show.srt")
    assert error.reason == "unparseable_transcript"
    assert f"show.srt line {line}:" in error.detail
    assert "expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm'" in error.detail


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf",
                                  b"1\n00:00:01,000 --> 00:00:02,000\n[MUSIC]\n\n"
                                  b"2\n00:00:03,000 --> 00:00:04,000\n\n"])
def test_empty_subtitles(data):
    error = _error(data, "a.srt")
    assert error.reason == "empty_transcript"
    assert "a.srt" in error.detail


@pytest.mark.parametrize("name", ["a.srt", "a.vtt", "a.TextGrid"])
def test_subtitles_that_are_not_utf8_or_utf16_with_bom(name):
    error = _error("1\n00:00:01,000 --> 00:00:02,000\nCafé\n".encode("latin-1"), name)
    assert error.reason == "bad_encoding"
    assert "offset 35" in error.detail and name in error.detail


def test_srt_without_any_time_line_is_not_subrip():
    error = _error(b"just some text\n", "a.srt")
    assert error.reason == "unknown_transcript_format"
    assert "-->" in error.detail


# WebVTT ------------------------------------------------------------------------------------


def test_vtt_header_notes_style_identifiers_settings_and_short_times():
    transcript = parse_transcript(VTT.encode(), "show.vtt")
    assert transcript.format == "vtt" and transcript.needs_alignment
    assert _cue_summary(transcript) == [
        (0, 1.0, 2.5, ("we", "are", "in", "new", "york", "city")),
        (1, 3600.0, 3601.2, ("yes", "really")),
    ]


def test_vtt_utf16_with_bom():
    assert _cue_summary(parse_transcript(VTT.encode("utf-16"), "a.vtt")) == _cue_summary(
        parse_transcript(VTT.encode(), "a.vtt"))


def test_vtt_cue_right_after_the_signature():
    data = b"WEBVTT\n00:00.500 --> 00:01.000\nHi\n"
    assert _cue_summary(parse_transcript(data, "a.vtt")) == [(0, 0.5, 1.0, ("hi",))]


@pytest.mark.parametrize("data, line, expected", [
    (b"00:01.000 --> 00:02.000\nHi\n", 1, "WEBVTT"),
    (b"WEBVTTX\n\n00:01.000 --> 00:02.000\nHi\n", 1, "WEBVTT"),
    (b"WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n\nid\n00:03.000 -> 00:04.000\nYo\n", 7,
     "[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm"),
    (b"WEBVTT\n\n00:01.000 --> 00:0a.000\nHi\n", 3, "[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm"),
])
def test_broken_vtt_names_its_line(data, line, expected):
    error = _error(data, "a.vtt")
    assert error.reason == "unparseable_transcript"
    assert f"a.vtt line {line}:" in error.detail
    assert expected in error.detail


def test_vtt_with_only_notes_is_empty():
    assert _error(b"WEBVTT\n\nNOTE nothing here\n", "a.vtt").reason == "empty_transcript"


# Praat TextGrid ---------------------------------------------------------------------------

LONG_TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.5
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 2.5
        intervals: size = 1
        intervals [1]:
            xmin = 0
            xmax = 2.5
            text = "HH AH L OW"
    item [2]:
        class = "IntervalTier"
        name = "Words"
        xmin = 0
        xmax = 2.5
        intervals: size = 5
        intervals [1]:
            xmin = 0
            xmax = 0.5
            text = ""
        intervals [2]:
            xmin = 0.5
            xmax = 1.25
            text = "Hello"
        intervals [3]:
            xmin = 1.25
            xmax = 1.5
            text = "sp"
        intervals [4]:
            xmin = 1.5
            xmax = 2.0
            text = "say ""hi"""
        intervals [5]:
            xmin = 2.0
            xmax = 2.5
            text = "<sil>"
'''

SHORT_TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

0
2.5
<exists>
2
"TextTier"
"events"
0
2.5
1
1.0
"click"
"IntervalTier"
"speech"
0
2.5
3
0
0.5
"sil"
0.5
1.25
"Hello"
1.25
2.5
"world"
'''


def _word_list(transcript: Transcript) -> list[tuple[str, float, float]]:
    return [(w.word, w.start, w.end) for w in transcript.words]


def test_textgrid_long_format_reads_the_words_tier():
    transcript = parse_transcript(LONG_TEXTGRID.encode(), "clip.TextGrid")
    assert (transcript.format, transcript.anchor) == ("textgrid", "start")
    assert not transcript.needs_alignment
    assert _word_list(transcript) == [("hello", 0.5, 1.25), ('say "hi"', 1.5, 2.0)]


def test_textgrid_short_format_takes_the_first_interval_tier():
    transcript = parse_transcript(SHORT_TEXTGRID.encode("utf-16"), "clip.textgrid")
    assert _word_list(transcript) == [("hello", 0.5, 1.25), ("world", 1.25, 2.5)]


@pytest.mark.parametrize("text, line", [
    (LONG_TEXTGRID.replace("xmax = 1.25", "xmax = soon"), 31),
    (SHORT_TEXTGRID.replace('"Hello"\n1.25', '"Hello"\n'), 28),  # a number missing
    (SHORT_TEXTGRID.replace('"world"', '"world'), 28),
    ('File type = "ooTextFile"\nObject class = "Sound"\n', 2),
])
def test_broken_textgrid_names_its_line(text, line):
    error = _error(text.encode(), "clip.TextGrid")
    assert error.reason == "unparseable_transcript"
    assert f"clip.TextGrid line {line}:" in error.detail


def test_textgrid_without_words_is_empty():
    silent = SHORT_TEXTGRID.replace('"Hello"', '""').replace('"world"', '"sp"')
    assert _error(silent.encode(), "a.TextGrid").reason == "empty_transcript"
    error = _error(b'File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<absent>\n',
                   "a.TextGrid")
    assert error.reason == "empty_transcript"


# Round trips from a GRID alignment -----------------------------------------------------------


def _grid_words(clip: str) -> list[WordTiming]:
    with open(media.sample_align(clip), "rb") as handle:
        return list(parse_transcript(handle.read(), f"{clip}.align").words)


def _grid_rows(clip: str) -> list[tuple[str, int, int]]:
    """(word, start tick, end tick) of every line of a GRID .align file, silences too."""
    with open(media.sample_align(clip), encoding="utf-8") as handle:
        rows = [line.split() for line in handle if line.strip()]
    return [(word, int(start), int(end)) for start, end, word in rows]


def _vtt_time(ticks: int) -> str:
    milliseconds = ticks // 25  # 1/25000 s ticks -> ms
    minutes, rest = divmod(milliseconds, 60000)
    return f"{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def test_vtt_round_trip_of_a_grid_alignment():
    rows = [r for r in _grid_rows("bbaf3s") if r[0] not in ("sil", "sp")]
    cues = "".join(f"{i}\n{_vtt_time(s)} --> {_vtt_time(e)}\n{w.upper()}\n\n"
                   for i, (w, s, e) in enumerate(rows))
    transcript = parse_transcript(f"WEBVTT\n\n{cues}".encode(), "bbaf3s.vtt")
    # bbaf3s.align: bin 17750-22500 ticks = 0.71-0.90 s ... soon 36250-46750 = 1.45-1.87 s
    assert [(c.words, c.start, c.end) for c in transcript.cues] == [
        (("bin",), 0.71, 0.9), (("blue",), 0.9, 1.08), (("at",), 1.08, 1.12),
        (("f",), 1.12, 1.24), (("three",), 1.24, 1.45), (("soon",), 1.45, 1.87)]
    assert [(c.words[0], c.start, c.end) for c in transcript.cues] == [
        (w.word, pytest.approx(w.start), pytest.approx(w.end)) for w in _grid_words("bbaf3s")]


def test_textgrid_round_trip_of_a_grid_alignment():
    rows = _grid_rows("bgbo1a")
    intervals = "".join(
        f"        intervals [{i}]:\n            xmin = {s / 25000}\n"
        f"            xmax = {e / 25000}\n            text = \"{w}\"\n"
        for i, (w, s, e) in enumerate(rows, start=1))
    text = ('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\n'
            f"xmax = {rows[-1][2] / 25000}\ntiers? <exists>\nsize = 1\nitem []:\n"
            '    item [1]:\n        class = "IntervalTier"\n        name = "words"\n'
            f"        xmin = 0\n        xmax = {rows[-1][2] / 25000}\n"
            f"        intervals: size = {len(rows)}\n{intervals}")
    transcript = parse_transcript(text.encode(), "bgbo1a.TextGrid")
    assert [w.word for w in transcript.words] == ["bin", "green", "by", "o", "one", "again"]
    assert [(w.start, w.end) for w in transcript.words] == [
        (pytest.approx(w.start), pytest.approx(w.end)) for w in _grid_words("bgbo1a")]


# The data model and what the rest of the job sees ---------------------------------------------


def test_subtitle_transcript_needs_cues_and_word_timed_ones_have_none():
    cue = Cue(0, 1.0, 2.0, "Hi", ("hi",))
    with pytest.raises(ValueError, match="format"):
        Transcript("vtt", ())
    with pytest.raises(ValueError, match="format"):
        Transcript("grid", (), cues=(cue,))
    assert Transcript("srt", (), bad_cues=(BadCue(0, "invalid_cue_times", "d", ("a",)),))
    aligned = Transcript("srt", (WordTiming("hi", 1.1, 1.4, confidence=0.9, cue_index=0,
                                            word_index=0),), cues=(cue,))
    assert not aligned.needs_alignment and aligned.word_count == 1


def test_word_index_follows_the_numbering_of_aligned_words():
    cues = (Cue(0, 0.0, 1.0, "a b", ("a", "b")), Cue(1, 1.0, 2.0, "c", ("c",)))
    transcript = Transcript("srt", (WordTiming("a", 0.1, 0.2, word_index=0),
                                    WordTiming("c", 1.1, 1.2, word_index=2)), cues=cues)
    assert [transcript.word_index(i) for i in range(2)] == [0, 2]
    grid = Transcript("grid", (WordTiming("x", 0, 1), WordTiming("y", 1, 2)))
    assert [grid.word_index(i) for i in range(2)] == [0, 1]


def test_lrs_keeps_the_active_speaker_score():
    data = b"Text: HI THERE\n\nWORD START END ASDSCORE\nHI 0.1 0.3 6.5\nTHERE 0.3 0.6\n"
    words = parse_transcript(data, "00001.txt").words
    assert [(w.word, w.asd_score) for w in words] == [("hi", 6.5), ("there", None)]


def test_words_seen_counts_every_cue_word_of_subtitles():
    transcript = parse_transcript(SRT.encode(), "show.srt")
    job = VideoJob(VideoInput("show.mp4", "show", "show.srt"), transcript)
    assert words_seen_event(job) == {"kind": "words", "count": 10}


def test_suffixes_and_the_preference_for_word_timed_transcripts(tmp_path):
    assert {".srt", ".vtt", ".textgrid"} <= set(TRANSCRIPT_SUFFIXES)
    for name in ("a.mp4", "a.srt", "a.align", "b.mp4", "b.vtt", "c.mp4", "c.TextGrid"):
        (tmp_path / name).write_text("x")
    listing = list_folder(str(tmp_path))
    found = {v.video_id: os.path.basename(v.transcript) for v in listing.videos}
    assert found == {"a": "a.align", "b": "b.vtt", "c": "c.TextGrid"}
    assert [os.path.basename(p) for p in listing.orphan_transcripts] == ["a.srt"]
