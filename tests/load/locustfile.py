"""Load test built from a synthgate profile: plain Locust, so every Locust way of running it works.

    SYNTHGATE_PROFILE=targets/demo.yaml locust -f tests/load/locustfile.py --host http://127.0.0.1:8000
    locust -f tests/load/locustfile.py --headless -u 50 -r 50 -t 30s --host URL
    locust -f tests/load/locustfile.py --master --expect-workers 2 ...   # plus: locust -f ... --worker

$SYNTHGATE_PROFILE is a profile path or a bundled name (default: demo); the base URL comes from --host,
then $SYNTHGATE_BASE_URL, then the profile. Write tasks (POST/PUT/PATCH/DELETE) run only when the
profile sets load.allow_writes. synthgate's options: --arrival-rate R (open model, latency measured from
each request's intended send time), --max-requests N, --request-timeout S, --insecure-tls.
"""

from locust import FastHttpUser  # noqa: F401

from synthgate.loadgen.user import FastUser, profile_setup

setup = profile_setup()

# The one line to switch to Locust's own client (slower; coarse, bucketed percentiles; no open model):
# UserBase = FastHttpUser
UserBase = FastUser


class ProfileUser(UserBase):  # type: ignore[valid-type,misc]
    """One virtual user running the profile's weighted load tasks."""

    host = setup.host
    tasks = setup.tasks
    network_timeout = setup.timeout_s
