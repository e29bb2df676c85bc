"""Analytics: broadcasts (sessions), gift valuation, per-minute aggregates, reports,
reconciliation with Douyin's own ranking.

- :mod:`~dylive.analytics.service` — :class:`Analytics`: sessions maintained from stored rows
  (each stored message counted once), live and stored reports.
- :mod:`~dylive.analytics.tally` — the pure fold of one session's messages (a checkpoint).
- :mod:`~dylive.analytics.report` — the report document; Markdown and CSV renderings.
- :mod:`~dylive.analytics.audience` — :class:`AudienceService`: the audience gift ranking
  (upstream ranklist, else computed from the stored gift deltas).
- :mod:`~dylive.analytics.catalogue` — Douyin's gift catalogue, cached.
- :mod:`~dylive.analytics.rates` — 抖币 → 音浪 → yuan, with their sources.
"""

from dylive.analytics.audience import AudienceService
from dylive.analytics.catalogue import GiftCatalogue
from dylive.analytics.report import build_report, to_csv, to_markdown
from dylive.analytics.service import Analytics
from dylive.analytics.tally import SessionTally

__all__ = [
    "Analytics",
    "AudienceService",
    "GiftCatalogue",
    "SessionTally",
    "build_report",
    "to_csv",
    "to_markdown",
]
