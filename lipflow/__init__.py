"""lipflow: a lip-reading data platform (preprocess, train, evaluate, operate)."""

__version__ = "0.1.0"
