"""A faithful local Douyin: room page, web/enter, im/fetch, push socket, ranklist, gift list.

    from dylive.sim import SimServer, SimConfig
    async with SimServer(SimConfig(seed=1, rate=5.0)) as sim:
        ...  # sim.base_url, sim.log(web_rid), sim.set_faults(web_rid, corrupt=0.1), sim.end(web_rid)

Run it: ``dylive sim --port 9000``. Control plane: ``/__sim/`` (see :mod:`dylive.sim.control`).
"""

from .core import SimConfig, Simulator, StateError
from .faults import Faults
from .scenario import TEENIE_INTRO, RoomSpec, default_rooms
from .server import SimServer, build_app

DEFAULT_WEB_RID = "615189692839"
DEFAULT_ROOM_ID = 6922580638159719176

__all__ = [
    "DEFAULT_ROOM_ID",
    "DEFAULT_WEB_RID",
    "TEENIE_INTRO",
    "Faults",
    "RoomSpec",
    "SimConfig",
    "SimServer",
    "Simulator",
    "StateError",
    "build_app",
    "default_rooms",
]
