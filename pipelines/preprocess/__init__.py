"""The preprocess job: raw video + word timings -> word-aligned mouth-crop TFRecords."""
