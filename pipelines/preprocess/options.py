"""Command-line options of the preprocess job, as a Beam PipelineOptions view."""

from __future__ import annotations

import dataclasses

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.preprocess.config import PreprocessConfig
from pipelines.preprocess.flags import add_preprocess_arguments


class PreprocessOptions(PipelineOptions):
    """--input, --output and every PreprocessConfig field as a flag."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add_preprocess_arguments(parser, required=True)


def config_from_options(options: PipelineOptions) -> PreprocessConfig:
    """The typed config from parsed options (raises ValueError on bad values)."""
    view = options.view_as(PreprocessOptions)
    values = {f.name: getattr(view, f.name) for f in dataclasses.fields(PreprocessConfig)}
    return PreprocessConfig(**values)
