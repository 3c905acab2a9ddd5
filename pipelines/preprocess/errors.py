"""The one exception type that turns a bad record into a dead letter.

Pure modules raise `RecordError` for problems that belong to one input (a bad
transcript, a corrupt video, a word outside its video); Beam stages catch it and
route the record to the dead-letter output with its stage, reason and detail.
Anything else is a bug and is allowed to fail loudly.
"""


class RecordError(ValueError):
    """A per-record failure with a machine-readable reason and a human detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
