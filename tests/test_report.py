"""Tests of report.html: content, escaping, embedded plots, degenerate inputs, and a real
render in headless Chromium (screenshot, and a DOM probe that every plot decoded).

The metrics come from the evaluation job's own `compute_metrics` over synthetic scored
clips, so the report is tested on exactly the structure the job writes. Chromium must be
installed (`make browser`); set LIPFLOW_SKIP_BROWSER=1 to skip those two tests instead.
"""

import base64
import io
import os
import re
import subprocess

import numpy as np
import pytest
from PIL import Image

from pipelines.evaluate.metrics import MetricsConfig, Scored, compare_to_baseline, compute_metrics
from pipelines.evaluate.report import PLOT_IDS, render_report, write_report

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_SECONDS = 120
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE = "<script>alert(1)</script>"
AMPERSAND = 'a&b"'
MATHTEXT = r"cost$\oops{$"     # a broken formula: it raises if mathtext parsed it
# Homophemes under Lee & Yook (2002): p, b and m share one viseme.
GROUPS = (("mark", "park", "bark"), ("bin", "pin"), ("bat", "mat", "pat"))
OTHER_WORDS = tuple(
    "again blue by green in lay now place please red set soon white with zero one two three "
    "four five six seven eight nine ten apple river stone cloud table window garden yellow "
    "orange purple silver letter number answer question people little large small house "
    "water paper music money night light right left under over after before".split())
UNSEEN = "never"
IMG = re.compile(r'<img id="(\w+)"[^>]*?src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _classes(labels) -> dict:
    """word -> viseme class: group members share one, every other word is its own."""
    classes = {word: f"class-{word}" for word in labels}
    for group in GROUPS:
        classes.update({word: "-".join(group) for word in group})
    return classes


def _rows(labels, clips: int, seed: int = 0) -> list[Scored]:
    """Scored clips: about 60% right, a quarter of errors within the viseme class, and the
    hostile words confused with each other often enough to reach every table and plot."""
    rng = np.random.default_rng(seed)
    classes, index = _classes(labels), {w: i for i, w in enumerate(labels)}
    mates = {i: [index[w] for w in labels if classes[w] == classes[labels[i]] and w != labels[i]]
             for i in range(len(labels))}
    rows = []
    for n in range(clips):
        label = int(rng.integers(max(len(labels) - 1, 1)))    # the last word is never seen
        if labels[label] in (HOSTILE, AMPERSAND, MATHTEXT) and rng.random() < 0.6:
            guess = index[(HOSTILE, AMPERSAND, MATHTEXT)[n % 3]]
        elif rng.random() < 0.6:
            guess = label
        elif mates[label] and rng.random() < 0.5:
            guess = int(rng.choice(mates[label]))
        else:
            guess = int(rng.integers(len(labels)))
        others = [i for i in rng.permutation(len(labels)) if i != guess][:4]
        confidence = float(np.clip(rng.beta(5, 2) if guess == label else rng.beta(2, 3), 0, 1))
        rows.append(Scored(f"clip{n:04d}", label, (guess, *map(int, others)), confidence,
                           {"speaker": f"s{n % 3 + 1}", "word_length": f"{len(labels[label])} letters",
                            "lighting": HOSTILE if n % 5 == 0 else "daylight"}))
    return rows


def metrics_and_confusion(labels, clips: int, baseline: dict | None = None):
    """A whole metrics.json document as the job writes it, and its confusion matrix."""
    scored, confusion = compute_metrics(_rows(labels, clips), labels, _classes(labels),
                                        MetricsConfig(bootstrap_samples=200))
    document = {
        "schema_version": "1.1.0", "created": "2026-11-23T12:00:00Z",
        "models": ["gs://bucket/models/resnet_tcn/export", f"models/{HOSTILE}/export"],
        "data": "gs://bucket/data/grid & lrw", "split": "val", "tta": ["centre", "flip"],
        "viseme_mapping": {"name": "lee2002", "citation": "Lee, S. and Yook, D. (2002) "
                           "Audio-to-visual conversion using hidden Markov models. <PRICAI>"},
        "counts": {"records": clips + 10, "scored": clips, "out_of_vocabulary": 6,
                   "dead_letters": 4},
        **scored,
        "homopheme_groups": [list(g) for g in GROUPS if set(g) <= set(labels)],
        "out_of_vocabulary_words": [{"word": "foo", "count": 4}, {"word": HOSTILE, "count": 2}],
        "baseline": None,
        "context": {"model": "class bigram (exchange algorithm)", "classes": 9, "weight": 0.25,
                    "training_videos": 312, "top1_without_context": 0.9125},
    }
    if baseline is not None:
        document["baseline"] = compare_to_baseline(document, baseline, f"old/{AMPERSAND}.json")
    return document, confusion


def full_vocabulary() -> list[str]:
    words = [w for group in GROUPS for w in group] + list(OTHER_WORDS)
    return words + [HOSTILE, AMPERSAND, MATHTEXT, UNSEEN]


def embedded_pngs(page: str) -> dict[str, bytes]:
    return {plot_id: base64.b64decode(data) for plot_id, data in IMG.findall(page)}


def _with_labels(labels, clips, baseline=None):
    metrics, confusion = metrics_and_confusion(labels, clips, baseline)
    return metrics, labels, confusion


@pytest.fixture(scope="module")
def inputs():
    """render_report's arguments for 70 words, 400 clips, hostile words among them."""
    return _with_labels(full_vocabulary(), 400)


@pytest.fixture(scope="module")
def report(inputs) -> str:
    return render_report(*inputs)


def test_every_plot_is_an_embedded_png(report):
    pngs = embedded_pngs(report)
    assert tuple(pngs) == PLOT_IDS
    for plot_id, png in pngs.items():
        assert png.startswith(PNG_SIGNATURE), plot_id
        image = Image.open(io.BytesIO(png))
        image.verify()
        assert image.width >= 400 and image.height >= 150, (plot_id, image.size)


def test_data_text_is_escaped(report):
    assert "<script" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert "a&amp;b&quot;" in report and AMPERSAND not in report
    assert "&lt;PRICAI&gt;" in report and "grid &amp; lrw" in report


def test_the_page_loads_nothing_from_outside(report):
    assert "Content-Security-Policy" in report
    assert re.findall(r'src="([^"]{5})', report) == ["data:"] * len(PLOT_IDS)
    for external in ("<link", "href=", "@import", "url(", "@font-face"):
        assert external not in report


def test_header_headline_and_homophemes(report):
    for text in ("Out-of-vocabulary clips", "not scored", "410 read, 400 scored",
                 "6 out of vocabulary", "4 dead letters", "centre, flip", "95% CI",
                 "top-5 accuracy", "homopheme-aware top-1", "of errors are homophemes",
                 "lee2002", "Lee, S. and Yook, D. (2002)", "mark &middot; park &middot; bark",
                 "falls in the true word's viseme class",
                 "No baseline was given", "Only the 60 words with the most clips",
                 "class bigram (exchange algorithm), 9 word classes, weight 0.25, from 312 "
                 "training videos; top-1 without it 91.2%"):
        assert text in report, text
    for key in ("speaker", "word_length", "lighting"):     # one table per slice key
        assert f"<h3>{key}</h3>" in report, key


@pytest.mark.parametrize("top1, std_error, verdict, box", [
    (0.3, 0.02, "better", "better"), (0.9, 0.02, "worse", "worse"),
    (0.3, None, "no significant difference", "same")])
def test_verdict_box_with_a_baseline(top1, std_error, verdict, box):
    baseline = {"top1": {"value": top1, "std_error": std_error, "confidence": 0.95},
                "top5": 0.5, "homopheme_top1": 0.4}
    page = render_report(*_with_labels([*GROUPS[0], *GROUPS[1], "red", "blue"], 100, baseline))
    assert f'class="verdict {box}"' in page
    assert f"Against the baseline: {verdict}" in page and "No baseline was given" not in page
    assert "old/a&amp;b&quot;.json" in page and " pp" in page


@pytest.mark.parametrize("labels, clips", [(["only"], 5), (["a", "b", "c"], 0)],
                         ids=["one word", "zero scored"])
def test_degenerate_inputs_render(labels, clips):
    page = render_report(*_with_labels(labels, clips))
    assert tuple(embedded_pngs(page)) == PLOT_IDS


def test_no_confusions_renders():
    labels = ["bin", "pin", "red"]
    scored, confusion = compute_metrics(
        [Scored(f"c{i}", i % 3, (i % 3,), 0.9) for i in range(9)], labels,
        {w: w for w in labels}, MetricsConfig(bootstrap_samples=50))
    page = render_report({**scored, "counts": {"scored": 9}}, labels, confusion)
    assert tuple(embedded_pngs(page)) == PLOT_IDS and "No confusions." in page


def test_a_confusion_of_the_wrong_shape_is_refused():
    metrics, labels, confusion = _with_labels(["a", "b"], 4)
    with pytest.raises(ValueError, match="expected"):
        render_report(metrics, labels + ["c"], confusion)


def _chromium() -> str:
    if os.environ.get("LIPFLOW_SKIP_BROWSER") == "1":
        pytest.skip("LIPFLOW_SKIP_BROWSER=1")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` to install Chromium "
                    "(or set LIPFLOW_SKIP_BROWSER=1 to skip the browser tests)")
    return CHROMIUM


def _run_chromium(tmp_path, page_path, *flags) -> subprocess.CompletedProcess:
    # A fresh profile per call, and no background traffic: the test must work offline.
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}", *flags, f"file://{page_path}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_SECONDS)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_chromium_screenshot_is_not_blank(tmp_path, inputs):
    page = write_report(str(tmp_path / "report.html"), *inputs)
    shot = tmp_path / "report.png"
    _run_chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1280,4000")
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 4000)
    assert len(image.getcolors(maxcolors=1 << 20) or ()) > 100    # text, plots, not one colour


# The probe runs before the page's Content-Security-Policy (placed first in <head>), so the
# policy stays in force for the report itself; the late script must be blocked by it.
PROBE = ("<script>window.addEventListener('load', () => {const p = document.createElement('pre');"
         " p.id = 'probe'; p.textContent = 'decoded=' + [...document.images].filter("
         "i => i.complete && i.naturalWidth > 0).length; document.body.appendChild(p);});</script>")
LATE = "<script>document.body.setAttribute('data-late', 'ran');</script>"


def test_chromium_decodes_every_plot(tmp_path, report):
    copy = tmp_path / "probe.html"
    copy.write_text(report.replace("<head>", "<head>" + PROBE, 1)
                    .replace("</body>", LATE + "</body>", 1), encoding="utf-8")
    dom = _run_chromium(tmp_path, copy, "--dump-dom", "--virtual-time-budget=5000").stdout
    found = re.search(r'<pre id="probe">decoded=(\d+)</pre>', dom)
    assert found, dom[-2000:]
    assert int(found.group(1)) == len(PLOT_IDS)
    assert 'data-late="ran"' not in dom     # the policy blocks scripts in the report
