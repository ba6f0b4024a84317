"""The causal-LM track: GPT-2-style base models adapted with LoRA/AdaLoRA/full fine-tuning on language
modelling and data-to-text, evaluated through lm-eval on task YAMLs shipped in ``lm_eval_tasks``.

Tasks (``tasks/``) and generation metrics (``metrics/``) are registries: one module each, discovered
on import, so adding one touches no core code.
"""
