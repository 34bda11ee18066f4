"""Kubernetes, Nomad and docker-compose job definitions → native `nunet/v1` ensembles.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.translate.dispatch import detect, translate
from nunet.translate.errors import TranslateError
from nunet.translate.quantities import NOMAD_MHZ_PER_CORE
from nunet.translate.result import SOURCES, Dropped, Source, Translation

__all__ = [
    "NOMAD_MHZ_PER_CORE",
    "SOURCES",
    "Dropped",
    "Source",
    "TranslateError",
    "Translation",
    "detect",
    "translate",
]
