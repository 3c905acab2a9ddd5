"""Training of lip-reading models on lipflow datasets (not built yet; see README)."""
