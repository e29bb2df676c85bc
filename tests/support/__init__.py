"""Helpers shared by the test suite (importable as ``support`` through pytest's ``pythonpath``).

- :mod:`support.waiting`: wait for a condition with a deadline (async and sync forms).
- :mod:`support.postgres`: a PostgreSQL of the test's own (reachable or skip, dropped afterwards).
- :mod:`support.service`: the API served in-process by uvicorn on a free port.
- :mod:`support.process`: ``dylive serve`` as a subprocess.
- :mod:`support.simkit`: the collector against the simulator (fast options, runs, log comparison).
- :mod:`support.deliverkit`, :mod:`support.receiver`: delivery clients and a real webhook receiver.
- :mod:`support.fleetkit`: fleets of ``dylive serve`` nodes on one PostgreSQL database.
"""
