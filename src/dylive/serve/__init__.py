"""The HTTP face of the service (internal: no public API).

``create_app(config)`` (:mod:`dylive.serve.app`) builds the Starlette app over the service; the
modules here are its endpoints (vendor-compatible chat and audience, the REST API, SSE, WebSocket
feeds, webhooks, sessions, the dashboard), their query parsers (:mod:`.params`), the envelope
(:mod:`.errors`), request metrics, the rate limiter and the ``dylive serve`` / ``demo`` / ``token``
commands. What the service does — collection (:mod:`dylive.collect`), analytics, delivery — lives
outside this package; import it from there, not from here.
"""
