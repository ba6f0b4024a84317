"""Generation metrics of the E2E challenge (BLEU, NIST, METEOR, ROUGE-L, CIDEr), one module each, named as
what it registers and imported when the registry first looks that name up.

Each registers a :class:`~harness.causal.metrics.base.GenerationMetric` in ``harness.core.registry.GENERATION_METRICS``:
``unavailable()`` says why it cannot run here (None when it can), ``corpus(predictions, references)`` scores
a corpus where every prediction has a list of references. The implementations are the ones the E2E challenge's official scripts wrap, offline:
sacrebleu (mteval-v13a BLEU), NLTK (NIST), pycocoevalcap (METEOR 1.5 via Java, ROUGE-L, CIDEr-D).
Scales follow the LoRA paper's Table 3: BLEU, METEOR and ROUGE-L x100; NIST and CIDEr raw.
"""
