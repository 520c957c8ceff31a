"""The course library the notebooks import: ``from utils import data, models, train, plots``.

One small module per idea of the note: ``data`` (the pets), ``models``
(pre-trained backbones, one interface), ``train`` (device, feature extraction,
training loops), ``plots``, ``results`` (headline numbers for the accuracy arc)
and ``cache`` (on-disk cache).
"""
