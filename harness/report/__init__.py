"""Reports built from results, beside the claims' status table: the headline metrics file, AdaLoRA's rank maps,
the budget sweep and the default task's checks against real data."""
