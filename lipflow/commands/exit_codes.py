"""Exit codes every subcommand shares (2, a bad command line, is argparse's own)."""

EXIT_OK = 0
EXIT_FAILED_RUN = 1
EXIT_BAD_SETUP = 3
