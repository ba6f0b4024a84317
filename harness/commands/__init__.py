"""The commands around the pipeline (not stages): freshness (``current``), validation, profiles (use, run, write
the GLUE ones), the seed plan, stage dependencies and the preload server. ``harness/core/cli.py`` dispatches to
them through ``harness/core/command_table.py``."""
