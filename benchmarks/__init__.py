"""Prepared benchmark scripts (``make bench`` runs them through ``python -m autograder bench``)."""
