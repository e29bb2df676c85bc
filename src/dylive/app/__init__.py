"""The service, composed: :class:`Service` (:mod:`.service`) builds the store, collection,
analytics, delivery, identities, the audience ranking and the fleet node, and runs them;
:class:`ServiceConfig` (:mod:`.config`) is what ``dylive serve`` sets; :class:`Commits`
(:mod:`.commits`) is the one fan-out of "a batch was committed"; :class:`StreamHub` (:mod:`.hub`)
the live fan-out it feeds. HTTP lives in :mod:`dylive.serve`, built over a service."""

from .commits import Commit, Commits, IngestEvents
from .config import ServiceConfig
from .hub import StreamHub, Subscription
from .service import Service

__all__ = [
    "Commit",
    "Commits",
    "IngestEvents",
    "Service",
    "ServiceConfig",
    "StreamHub",
    "Subscription",
]
