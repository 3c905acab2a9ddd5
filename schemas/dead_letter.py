"""A dead letter: the record of an input, word or clip that did not become a clip, with
where and why. Preprocess and evaluate write them (dead_letters.jsonl); the manifest and
the command's summary read their kinds. Plain data, no Beam.

  failure  something went wrong: unreadable or corrupt input, a decode error, a
           transcript that does not parse, an alignment error, a bad split key
  dropped  a word left out on purpose by a rule of the job: out of vocabulary, a
           quality threshold, a face too small to read, a speaker the job cannot tell
           apart
  no_clip  the word cannot be cut: no face in its window, its times are invalid or
           outside the video, it is spoken across a shot cut
"""

from __future__ import annotations

FAILURE, DROPPED, NO_CLIP = "failure", "dropped", "no_clip"
ANY_REASON = "*"

# (stage, reason) -> kind; (stage, ANY_REASON) covers every reason of a stage. Any pair
# not listed is a failure, so a new reason counts against the run until it is sorted here.
KIND_BY_REASON: dict[tuple[str, str], str] = {
    ("vocabulary", "out_of_vocabulary"): DROPPED,
    ("quality", ANY_REASON): DROPPED,
    ("crop_mouths", "ambiguous_speaker"): DROPPED,
    ("crop_mouths", "no_sync_signal"): DROPPED,
    ("crop_mouths", "face_too_small"): DROPPED,
    ("align_subtitles", "low_alignment_confidence"): DROPPED,
    ("align_subtitles", "cue_text_mismatch"): DROPPED,
    ("crop_mouths", "no_face"): NO_CLIP,
    ("detect_landmarks", "no_face"): NO_CLIP,
    ("crop_mouths", "word_outside_video"): NO_CLIP,
    ("crop_mouths", "word_crosses_cut"): NO_CLIP,
    ("crop_mouths", "invalid_word_times"): NO_CLIP,
    ("align_subtitles", "invalid_cue_times"): NO_CLIP,
    ("align_subtitles", "cue_outside_audio"): NO_CLIP,
    ("align_subtitles", "not_in_dictionary"): NO_CLIP,
    # Whole-sentence clips (--unit sentence): each takes no word with it (words_affected 0).
    ("crop_sentences", "ambiguous_speaker"): DROPPED,
    ("crop_sentences", "no_sync_signal"): DROPPED,
    ("crop_sentences", "face_too_small"): DROPPED,
    ("crop_sentences", "no_face"): NO_CLIP,
    ("crop_sentences", "words_untimed"): NO_CLIP,
    ("crop_sentences", "sentence_crosses_cut"): NO_CLIP,
    ("crop_sentences", "sentence_spans_chunks"): NO_CLIP,
    ("crop_sentences", "invalid_word_times"): NO_CLIP,
    ("crop_sentences", "word_outside_video"): NO_CLIP,
}


def kind_of(stage: str, reason: str) -> str:
    """failure, dropped or no_clip for a dead letter's stage and reason (failure if unlisted)."""
    return KIND_BY_REASON.get((stage, reason), KIND_BY_REASON.get((stage, ANY_REASON), FAILURE))


def failure(source: str, stage: str, reason: str, detail: str, video_id: str = "",
            word: str = "", word_index: int = -1, words_affected: int = 0) -> dict:
    """A dead-letter record. `words_affected`: transcript words that it ends."""
    return {"input": source, "stage": stage, "reason": reason, "detail": detail,
            "video_id": video_id, "word": word, "word_index": word_index,
            "words_affected": words_affected, "kind": kind_of(stage, reason)}
