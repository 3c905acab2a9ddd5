"""Training of lip-reading models on lipflow datasets (docs/commands/train.md)."""
