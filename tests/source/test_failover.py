"""TransportPlan: the collector's transport choice, push-server rotation and fallback rules."""

from __future__ import annotations

from dylive.errors import HandshakeRefused, SignatureRefused
from dylive.source.failover import TransportPlan, failure_flag
from dylive.source.options import CollectorOptions
from dylive.source.reconnect import StaleConnection


def test_refused_handshake_falls_back_to_polling_and_push_is_retried_later() -> None:
    plan = TransportPlan(CollectorOptions(push_retry_after=30.0))
    assert plan.choose(now=0.0) == "push"
    assert plan.push_failed(refused=True, polling_refused=False, now=100.0) is True
    assert plan.choose(now=110.0) == "poll"
    assert plan.retry_push_due("poll", now=129.0) is False
    assert plan.retry_push_due("poll", now=130.0) is True
    assert plan.choose(now=130.0) == "push"


def test_socket_failures_fall_back_only_after_the_configured_count() -> None:
    plan = TransportPlan(CollectorOptions(push_failures_before_fallback=3))
    assert plan.push_failed(refused=False, polling_refused=False, now=0.0) is False
    plan.delivered()  # a delivery in between resets the count
    assert plan.push_failed(refused=False, polling_refused=False, now=0.0) is False
    assert plan.push_failed(refused=False, polling_refused=False, now=0.0) is False
    assert plan.push_failed(refused=False, polling_refused=False, now=0.0) is True
    assert plan.mode == "poll"


def test_no_fallback_to_a_refused_poll_and_fixed_transports_stay() -> None:
    plan = TransportPlan(CollectorOptions())
    assert plan.push_failed(refused=True, polling_refused=True, now=0.0) is False
    assert plan.choose(now=0.0) == "push"
    fixed = TransportPlan(CollectorOptions(transport="push"))
    assert fixed.push_failed(refused=True, polling_refused=False, now=0.0) is False
    assert fixed.choose(now=1e9) == "push"
    polled = TransportPlan(CollectorOptions(transport="poll"))
    polled.poll_refused()
    assert polled.choose(now=0.0) == "poll"


def test_push_servers_rotate_on_silent_hosts_and_are_forgotten_per_broadcast() -> None:
    plan = TransportPlan(CollectorOptions())
    assert plan.base("https://live.douyin.com").startswith("wss://")
    assert plan.base("http://127.0.0.1:9000") == "ws://127.0.0.1:9000"
    plan.learn("wss://a/", ("wss://a/", "wss://b/"))
    assert plan.base("http://x") == "wss://a/"
    plan.push_failed(refused=False, polling_refused=False, now=0.0)
    assert plan.base("http://x") == "wss://b/"
    plan.push_failed(refused=True, polling_refused=False, now=0.0)  # a refusal: same host
    assert plan.base("http://x") == "wss://b/"
    plan.forget()
    assert plan.base("http://x") == "ws://x"
    assert TransportPlan(CollectorOptions(push_url="wss://o/")).base("http://x") == "wss://o/"


def test_failure_flags() -> None:
    assert failure_flag(HandshakeRefused("5", "no"), "push") == "refused"
    assert failure_flag(StaleConnection("no business message (fake-alive)"), "push") == (
        "heartbeat_only"
    )
    assert failure_flag(StaleConnection("no frame for 30 s"), "push") == ""
    assert failure_flag(SignatureRefused("empty"), "poll") == "polling_refused"
    assert failure_flag(SignatureRefused("empty"), "push") == ""
