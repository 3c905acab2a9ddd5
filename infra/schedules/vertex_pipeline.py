"""Vertex AI Pipelines: the retraining cycle as four steps of the same `lipflow retrain`,
each in the training image (infra/training/Dockerfile), the training step on a GPU.

Vertex mounts Cloud Storage at /gcs/BUCKET (Cloud Storage FUSE) in every step, so the
work folder is a plain path there and each step resumes from its state.json.

  pip install -r infra/schedules/requirements.txt
  python infra/schedules/vertex_pipeline.py --image IMAGE --bucket BUCKET \
      [--compile lipflow_retrain.yaml] [--schedule "30 2 * * *" --project P --region R]

--compile writes the pipeline spec; --schedule also creates a Vertex schedule (cron) that
runs it (Cloud Scheduler is used by Vertex underneath; nothing else to set up).
"""

# No `from __future__ import annotations`: kfp reads the components' parameter types from
# their annotations, which must be types, not strings.
import argparse

from kfp import compiler, dsl

STEPS = ("preprocessed", "dataset_built", "trained", "")  # "" runs the evaluation and gate


def retrain_step(image: str):
    """A container component: `lipflow retrain ... --until UNTIL` in `image`."""

    @dsl.container_component
    def lipflow_retrain(input_path: str, workdir: str, config: str, margin: str, until: str):
        return dsl.ContainerSpec(
            image=image, command=["lipflow", "retrain"],
            args=["--input", input_path, "--workdir", workdir, "--config", config,
                  "--margin", margin, "--until", until])

    return lipflow_retrain


def build_pipeline(image: str, accelerator: str = "NVIDIA_L4"):
    step = retrain_step(image)

    @dsl.pipeline(name="lipflow-retrain",
                  description="new videos -> preprocess -> dataset -> train -> paired gate")
    def lipflow_retrain(input_path: str, workdir: str, config: str = "grid",
                        margin: str = "0.01"):
        previous = None
        for until in STEPS:
            task = step(input_path=input_path, workdir=workdir, config=config, margin=margin,
                        until=until)
            task.set_display_name(f"retrain until {until or 'decided'}")
            task.set_caching_options(False)  # each step reads state.json, not its inputs
            if until == "trained":
                task.set_accelerator_type(accelerator).set_accelerator_limit(1)
                task.set_cpu_limit("8").set_memory_limit("32G")
            if previous is not None:
                task.after(previous)
            previous = task

    return lipflow_retrain


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="the training image (infra/training)")
    parser.add_argument("--bucket", required=True, help="bucket holding inputs and work folder")
    parser.add_argument("--compile", default="lipflow_retrain.yaml")
    parser.add_argument("--schedule", default="", help="cron; empty: only compile")
    parser.add_argument("--project", default="")
    parser.add_argument("--region", default="us-central1")
    args = parser.parse_args(argv)
    compiler.Compiler().compile(build_pipeline(args.image), args.compile)
    if args.schedule:
        from google.cloud import aiplatform

        aiplatform.init(project=args.project, location=args.region)
        job = aiplatform.PipelineJob(
            display_name="lipflow-retrain", template_path=args.compile,
            pipeline_root=f"gs://{args.bucket}/pipeline_root",
            parameter_values={"input_path": f"/gcs/{args.bucket}/broadcasts",
                              "workdir": f"/gcs/{args.bucket}/retrain"})
        job.create_schedule(display_name="lipflow-retrain-nightly", cron=args.schedule,
                            max_concurrent_run_count=1)


if __name__ == "__main__":
    main()
