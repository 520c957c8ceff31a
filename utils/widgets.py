"""Interactive controls for the note's knobs (ipywidgets), one section per notebook.

Every widget here reacts from cached arrays or features within about a second on
a 2-core CPU, never runs during grading (its notebook cell is tagged
``otter_ignore``) and, in a static export, leaves a static figure behind.
Each public function's docstring names the notebook that introduces it.
"""
from __future__ import annotations

# --- notebook 01: OLS on raw pixels -------------------------------------------

# --- notebook 02: edge filters and logistic regression -------------------------

# --- notebook 03: frozen pre-trained features ----------------------------------

# --- notebook 04: fine-tuning -------------------------------------------------
