"""Scheduled retraining: new videos -> a batch -> the rebuilt dataset -> a candidate model
-> a paired comparison with production -> the registry (promoted or refused)."""
