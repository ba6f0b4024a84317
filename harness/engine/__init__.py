"""Training and inference: the models a run starts from, the Trainer loop every method runs in, one seed fitted,
the learning-rate grid search, batched prediction, adapters' low-rank updates, and what a block of work measures
(memory, latency, the device)."""
