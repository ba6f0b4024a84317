"""Data sources behind one registry: built-in generators, local files, hub datasets.

Every source returns a ``datasets.DatasetDict`` with splits ``train`` and ``test`` (the reported split: SST-2's
dev set, a generator's held-out stream) and, where it has one, ``validation``, with the standard columns
of ``base``; everything after that (checking, carving a validation split from train where the source has none,
subsetting, hashing, tokenising) is shared. Settings are chosen on ``validation`` only (the tune stage);
``test`` is read by the stages that report.

One module per source; each is named as what it registers and imported when the registry (``harness.core.registry.SOURCES``) first looks its name up.
"""
