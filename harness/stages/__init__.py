"""One module per DVC stage, each with a thin ``main(argv)``; the work is in plain functions beside it."""
