"""`lipflow predict`: read lips on your own videos with an exported model."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys

from lipflow.commands.exit_codes import EXIT_BAD_SETUP, EXIT_FAILED_RUN, EXIT_OK

PREDICTIONS_FILE = "predictions.jsonl"
PAGE_FILE = "predictions.html"
_LOG = logging.getLogger("lipflow.predict")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="read lips on your own videos with an exported model",
        description="For each video: with a transcript beside it (same name, any format "
                    "lipflow preprocess reads, subtitles included), one prediction per word; "
                    "without one, the speech found in the audio (or, with no audio, "
                    "word-length windows over the talking face) cut into word-length "
                    "segments, each with its top words. Clips are cut as lipflow preprocess "
                    "cuts them (same faces, same speaker choice), with the settings the "
                    "model was trained on. Writes predictions.jsonl and predictions.html "
                    "(and with --annotate an mp4 per video) into --output.")
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files to read")
    parser.add_argument("--model", required=True, metavar="EXPORT_DIR",
                        help="an export folder from lipflow train (OUTPUT/export)")
    parser.add_argument("--output", default="predictions",
                        help="folder for the predictions (default: ./predictions)")
    parser.add_argument("--top_k", type=int, default=5, help="words listed per segment")
    parser.add_argument("--annotate", action="store_true",
                        help="also write VIDEO.annotated.mp4: the predicted word drawn under "
                             "the face")
    return parser


def _failure(video: str, reason: str, detail: str) -> dict:
    return {"video": video, "error": reason, "detail": detail}


def annotation_names(videos: list[str]) -> dict[str, str]:
    """Video -> the name of its annotated file: the file name without its suffix, or, where
    two videos share one (a/talk.mp4, b/talk.mp4), that name and a hash of the path."""
    stems = {video: os.path.splitext(os.path.basename(video))[0] for video in videos}
    shared = {stem for stem in stems.values() if list(stems.values()).count(stem) > 1}
    return {video: stem if stem not in shared else
            f"{stem}.{hashlib.sha1(os.path.abspath(video).encode()).hexdigest()[:8]}"
            for video, stem in stems.items()}


def _annotate(predictor, prediction, folder: str, name: str) -> bool:
    """Writes the annotated video; a failure is said and the predictions kept."""
    from pipelines.preprocess.errors import RecordError

    try:
        predictor.annotate(prediction, folder, name)
        return True
    except (RecordError, OSError, RuntimeError) as err:
        print(f"lipflow predict: {prediction.clips.video}: the annotated video could not be "
              f"written ({err}); its predictions are kept", file=sys.stderr)
        return False


def _read_videos(predictor, args, progress):
    """(predictions, failed videos, annotations that failed): each video read, or its
    failure said and kept."""
    from pipelines.preprocess.errors import RecordError

    done, failed, unannotated = [], [], 0
    names = annotation_names(args.videos)
    for video in args.videos:
        try:
            prediction = predictor.predict(video)
        except RecordError as err:
            failed.append(_failure(video, err.reason, err.detail))
            print(f"lipflow predict: {video}: {err.reason}: {err.detail}", file=sys.stderr)
            progress.step(0, os.path.basename(video))
            continue
        except (OSError, RuntimeError) as err:
            failed.append(_failure(video, "unreadable_video", str(err)))
            print(f"lipflow predict: {video}: {err}", file=sys.stderr)
            progress.step(0, os.path.basename(video))
            continue
        done.append(prediction)
        if args.annotate and not _annotate(predictor, prediction, args.output, names[video]):
            unannotated += 1
        progress.step(prediction.clips.num_frames, os.path.basename(video))
    return done, failed, unannotated


def _write(args, predictor, done: list, failed: list) -> tuple[str, str]:
    from pipelines.predict.page import render_page, video_section

    jsonl = os.path.join(args.output, PREDICTIONS_FILE)
    with open(jsonl, "w", encoding="utf-8") as handle:
        for line in [line for p in done for line in p.lines] + failed:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    sections = [video_section(p.summary(), p.lines,
                              {s.index: s.frames for s in p.clips.segments}) for p in done]
    page = os.path.join(args.output, PAGE_FILE)
    with open(page, "w", encoding="utf-8") as handle:
        handle.write(render_page(predictor.model.export_dir, sections, failed))
    return jsonl, page


# Videos whose words read are printed beside their transcript; the rest are on the page.
_SHOWN_VIDEOS = 5


def _read_against_transcript(prediction) -> list[str]:
    """The words read (top-1) over the transcript's, aligned word by word, for a video
    whose segments are transcript words; [] otherwise."""
    words = [line for line in prediction.lines if "top" in line and line.get("true_word")]
    if not words:
        return []
    read = [line["top"][0]["word"] for line in words]
    truth = [line["true_word"] for line in words]
    widths = [max(len(a), len(b)) for a, b in zip(read, truth)]
    right = sum(line.get("correct") is True for line in words)
    return [f"  {os.path.basename(prediction.clips.video)}: {right} of {len(words)} right",
            "    read:       " + " ".join(w.ljust(n) for w, n in zip(read, widths)).rstrip(),
            "    transcript: " + " ".join(w.ljust(n) for w, n in zip(truth, widths)).rstrip()]


def _summary(done: list, failed: list, jsonl: str, page: str) -> str:
    segments = sum(1 for p in done for line in p.lines if "top" in line)
    known = [line for p in done for line in p.lines if line.get("correct") is not None]
    lines = [f"lipflow predict: {len(done)} videos read, {len(failed)} not; {segments} "
             "segments predicted"]
    if known:
        right = sum(1 for line in known if line["correct"])
        lines.append(f"  transcript words: {right} of {len(known)} right at top-1")
    for prediction in done[:_SHOWN_VIDEOS]:
        lines += _read_against_transcript(prediction)
    lines += [f"  page:        {page}", f"  predictions: {jsonl}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from lipflow.logs import Progress
    from pipelines.predict.predictor import Predictor

    try:
        predictor = Predictor(args.model, args.top_k)
    except (ValueError, RuntimeError) as err:
        print(f"lipflow predict: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    os.makedirs(args.output, exist_ok=True)
    done, failed, unannotated = _read_videos(predictor, args,
                                             Progress(len(args.videos), "videos", _LOG))
    jsonl, page = _write(args, predictor, done, failed)
    print(_summary(done, failed, jsonl, page))
    return EXIT_FAILED_RUN if failed or unannotated else EXIT_OK
