"""The batch evaluation job: scores a SavedModel on a lipflow dataset."""
