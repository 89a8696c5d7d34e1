"""The locustfile synthgate's runner starts: the profile's load tasks on the fast User.

Same as tests/load/locustfile.py (the copy users read and extend), kept inside the package so an
installed synthgate can run it; here the profile's `load.user_class` picks the base class.
"""

from locust import FastHttpUser

from synthgate.loadgen.user import FastUser, profile_setup

setup = profile_setup()
UserBase = FastHttpUser if setup.user_class == "fasthttp" else FastUser


class ProfileUser(UserBase):  # type: ignore[valid-type,misc]
    """One virtual user running the profile's weighted load tasks."""

    host = setup.host
    tasks = setup.tasks
    network_timeout = setup.timeout_s
