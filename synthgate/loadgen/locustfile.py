"""The locustfile synthgate's runner starts: the profile's load tasks on the fast User.

Same as tests/load/locustfile.py (the copy users read and extend), kept inside the package so an
installed synthgate can run it; here the profile's `load.user_class` picks the base class. The class
names match the remote workers' (worker_locustfile.py): `ProfileUser` on synthgate's client,
`ProfileHttpUser` on Locust's FastHttpUser.
"""

from locust import FastHttpUser

from synthgate.loadgen import cluster  # noqa: F401 - master/worker handshake and profile shipping
from synthgate.loadgen.user import FastUser, profile_setup

setup = profile_setup()
UserBase = FastHttpUser if setup.user_class == "fasthttp" else FastUser


class ProfileUser(UserBase):  # type: ignore[valid-type,misc]
    """One virtual user running the profile's weighted load tasks."""

    host = setup.host
    tasks = setup.tasks
    network_timeout = setup.timeout_s


if setup.user_class == "fasthttp":
    ProfileHttpUser = ProfileUser
    ProfileHttpUser.__name__ = "ProfileHttpUser"
    del ProfileUser
