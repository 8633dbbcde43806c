"""Simulated citizens: scenarios driven through the running stack, judged by the ticket filed.

``evals/scenarios/dev.yml`` is what the team develops against; ``heldout.yml`` is read only
when measuring (``bench/citizens_bench.py``), so the fixes are not fitted to its sentences.
"""
