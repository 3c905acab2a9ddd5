"""Entry point of lipflow's Dataflow Flex Templates: builds one job, submits it, returns.

Dataflow's template launcher runs this file (FLEX_TEMPLATE_PYTHON_PY_FILE in the image)
with the template's parameters as flags (`--input=gs://...`) and Dataflow's own beside
them (`--runner`, `--project`, `--region`, `--temp_location`, ...). One image serves both
templates, so the job is told by its required parameters: `--input` is the preprocess
job, `--data` / `--model` the evaluation (the two sets do not overlap).

The launcher needs the program to return once the job is submitted, so this does what
`lipflow preprocess` and `lipflow evaluate` do before their pipeline starts (parse and
check the options, list the inputs, load the landmark model or read the models'
vocabularies) and then submits without waiting. The dataset card (dataset_info.json) and
the removal of tf.Transform's scratch folder are the pipeline's own last stage, so a
template run leaves the same folder as `lipflow preprocess`.

A template parameter holds one string: a flag that a command takes several times
(`--model`, `--slice`) takes a comma-separated list here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import apache_beam as beam

# Flags that the commands accept repeatedly and a template parameter gives as one list.
LIST_FLAGS = ("model", "slice")
# The image this template runs in, set at build time; workers use it unless told otherwise.
WORKER_IMAGE_ENV = "LIPFLOW_WORKER_IMAGE"
_LOG = logging.getLogger("lipflow.flex_template")


def job_of(argv: list[str]) -> str:
    """'preprocess' or 'evaluate', from the flags given; ValueError when neither fits."""
    given = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    if "--input" in given and not given & {"--data", "--model"}:
        return "preprocess"
    if {"--data", "--model"} <= given and "--input" not in given:
        return "evaluate"
    raise ValueError("cannot tell the job from the parameters: the preprocess template takes "
                     "--input and --output, the evaluate template --data, --model and --output")


def split_list_flags(argv: list[str], names: tuple[str, ...] = LIST_FLAGS) -> list[str]:
    """`--model=a,b` (or `--model a,b`) -> `--model=a --model=b`; other flags unchanged."""
    flags = {f"--{name}" for name in names}
    result, index = [], 0
    while index < len(argv):
        arg = argv[index]
        flag, has_value, value = arg.partition("=")
        if flag in flags and not has_value and index + 1 < len(argv):
            value, has_value, index = argv[index + 1], "=", index + 1
        if flag in flags and has_value:
            result += [f"{flag}={item}" for item in value.split(",") if item]
        else:
            result.append(arg)
        index += 1
    return result


def with_worker_image(argv: list[str], environ: dict[str, str]) -> list[str]:
    """Adds --sdk_container_image=<the image's own name> unless the run chose one."""
    image = environ.get(WORKER_IMAGE_ENV, "")
    if not image or any(arg.startswith("--sdk_container_image") for arg in argv):
        return argv
    return argv + [f"--sdk_container_image={image}"]


@contextlib.contextmanager
def local_manifest(path: str) -> Iterator[str]:
    """Yields a local path for a manifest that may live in Cloud Storage.

    The input listing reads local files only. A remote manifest is copied into a
    scratch folder, which is also the working folder while the listing is made, so
    video ids come out as for a local run with the manifest in the working folder.
    Its rows must name their videos and transcripts by absolute (gs://) paths.
    """
    if "://" not in path:
        yield path
        return
    from apache_beam.io.filesystems import FileSystems

    folder = tempfile.mkdtemp(prefix="lipflow-manifest-")
    local = os.path.join(folder, os.path.basename(path))
    previous = os.getcwd()
    try:
        with FileSystems.open(path) as source, open(local, "wb") as target:
            shutil.copyfileobj(source, target)
        os.chdir(folder)
        yield local
    finally:
        os.chdir(previous)
        shutil.rmtree(folder, ignore_errors=True)


def _launch_check(config) -> dict[str, str]:
    """The landmark model loaded once at launch, on the CPU: the launcher has no GPU.

    Loading proves the weights are in the image; the workers load the model again on
    the configured `landmark_device`, which the run record keeps.
    """
    from pipelines.preprocess import job

    versions = job.check_backend(dataclasses.replace(config, landmark_device="cpu"))
    if "device" in versions:
        versions["device"] = config.landmark_device
    return versions


def build_preprocess(argv: list[str]) -> tuple[beam.Pipeline, str]:
    """The preprocess job as a beam.Pipeline, not yet run, and its output folder."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines.preprocess import job
    from pipelines.preprocess.inputs import list_inputs
    from pipelines.preprocess.options import PreprocessOptions, config_from_options
    from pipelines.preprocess.output_folder import prepare_output

    options = PipelineOptions(argv)
    config = config_from_options(options)
    view = options.view_as(PreprocessOptions)
    with local_manifest(view.input) as manifest:
        listing = list_inputs(manifest)
    if not listing.videos:
        raise ValueError(f"no videos listed in {view.input!r}")
    run_info = {
        "input": view.input, "output": view.output,
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "options": config.as_dict(), "landmark_model": _launch_check(config),
        "versions": job.package_versions(), "orphan_transcripts": len(listing.orphan_transcripts),
    }
    prepare_output(view.output, view.input, config.as_dict(), view.overwrite)
    vocabulary_file = job.stage_fixed_vocabulary(config, view.output)
    pipeline = beam.Pipeline(options=options)
    job.build_pipeline(pipeline, listing, config, view.output, run_info, vocabulary_file)
    return pipeline, view.output


def build_evaluate(argv: list[str]) -> tuple[beam.Pipeline, str]:
    """The evaluation job as a beam.Pipeline, not yet run, and its output folder."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from lipflow.cli import build_parser
    from pipelines.evaluate import job as evaluate_job
    from pipelines.evaluate.config import EvaluateConfig
    from pipelines.evaluate.read_clips import split_files

    args, beam_args = build_parser().parse_known_args(["evaluate", *argv])
    config = EvaluateConfig(
        models=tuple(args.model), split=args.split, tta=args.tta, batch_size=args.batch_size,
        viseme_mapping=args.viseme_mapping, extra_slices=tuple(args.slices),
        bootstrap_samples=args.bootstrap_samples, baseline=args.baseline)
    files = split_files(args.data, config.split)
    context = evaluate_job.run_context(config, args.data, args.output)
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args))
    evaluate_job.build_pipeline(pipeline, files, config, context)
    return pipeline, args.output


def build_job(argv: list[str], environ: dict[str, str]) -> tuple[str, beam.Pipeline, str]:
    """(job name, pipeline, output folder) for the template's flags."""
    argv = with_worker_image(split_list_flags(argv), environ)
    name = job_of(argv)
    builder = build_preprocess if name == "preprocess" else build_evaluate
    return (name, *builder(argv))


def main(argv: list[str] | None = None) -> int:
    from apache_beam.io.filesystems import FileSystems

    from lipflow.commands.exit_codes import EXIT_BAD_SETUP, EXIT_OK
    from pipelines.preprocess.landmarks import LandmarkModelUnavailable

    argv = list(sys.argv[1:] if argv is None else argv)
    # Beam's own INFO lines (staging, the job id) are what the launcher's log is read for.
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        name, pipeline, output = build_job(argv, dict(os.environ))
    except (ValueError, LandmarkModelUnavailable) as err:
        print(f"lipflow template: {err}", file=sys.stderr)
        return EXIT_BAD_SETUP
    if not FileSystems.exists(output):
        FileSystems.mkdirs(output)
    pipeline.run()
    _LOG.info("submitted the %s job; its outputs go to %s", name, output)
    return EXIT_OK


if __name__ == "__main__":
    # As the lipflow command does: a process that built a tf.Transform graph can crash
    # while the interpreter tears down, so leave with the exit code directly.
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
