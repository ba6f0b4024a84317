"""What every stage's process runs, whatever the stage: the CLI and its command table, the params loader and
its schema, the registries, the paths, errors, atomic I/O, provenance and the seed workers. One folder, so
``dvc.yaml`` lists it once per stage (``harness/core``) instead of repeating ten files."""
