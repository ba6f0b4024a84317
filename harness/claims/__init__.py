"""The claims registry: every claim as data (``experiments/claims/*.yaml``), judged against results.

A claim names where it comes from (paper, table, row, column), its *kind*, what of ours it reads (a
*measure*, registered by kind in ``harness/claims/measures``) and how it is judged (a *judge*,
registered by kind in ``harness/claims/judges``); both registries live in ``harness.core.registry``. The kinds keep a paper's verdict apart from our own
questions, and the headline counts them apart:

* ``measurement`` - a paper-scale figure the paper printed, rerun at the paper's scale (or the paper's
  own relation between two such figures);
* ``count`` - an exact count computed from architecture configs (parameters, bytes, analytic memory);
* ``transferred`` - the paper's relation (A beats B, A equals B) asked at our scale, in the paper's
  direction and with no margin of ours;
* ``rating`` - a question of ours: an atlas rating's band, a non-inferiority margin, a check of the
  harness's own models. It states its thresholds' reason and never decides a component alone.

``published`` holds only a number a paper printed, as printed (a quoted string keeps its last digit,
which sets the rounding an equivalence allows), with table, row and column. ``claim`` defines a claim;
``loading`` reads and checks them; ``engine`` judges them; ``stats`` holds the statistics behind every
verdict and ``gate`` the check CI runs on the committed verdicts. Nothing is imported here (``kinds`` registers the
measure and judge kinds).
"""
