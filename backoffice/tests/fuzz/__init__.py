"""Fuzz tests of every back-office endpoint: naughty strings and generated bodies, 0 5xx, and
what a citizen's API call must never change or reveal."""
