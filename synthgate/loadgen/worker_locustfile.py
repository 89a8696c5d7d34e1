"""The locustfile of a remote load worker (`synthgate load --worker`): no profile here, the master sends it.

Both user classes start without tasks; when the test starts, `cluster.ClusterState.configure_users` gives
them the requests built from the profile the master sent, and the master's spawn message names the one
to run.
"""

from locust import FastHttpUser

from synthgate.loadgen import cluster  # noqa: F401 - master/worker handshake and profile shipping
from synthgate.loadgen.user import FastUser


class ProfileUser(FastUser):
    """One virtual user on synthgate's client, running the master's profile's load tasks."""


class ProfileHttpUser(FastHttpUser):
    """One virtual user on Locust's FastHttpUser, running the master's profile's load tasks."""
