"""The load generator: a fast Locust User, HDR recording, and a runner that keeps Locust in a subprocess.

- `runner.run_load(LoadRunSpec, progress) -> LoadRunResult`: the programmatic entry point (gate side).
- `user.FastUser`: the Locust User on `client.FastClient` (raw gevent sockets, httptools, HDR samples).
- `plugin`: synthgate inside Locust (batched stats, HDR over master/worker reports, open model).
- `hdr`: recording, merging and encoding latency histograms; `plan`: profile tasks to requests.
- `testserver`: a loopback server with a known latency distribution, for calibration.

Only `runner`, `hdr`, `plan` and `testserver` are safe to import in the gate's process: `client`, `user`,
`plugin` and `locustfile` import gevent and Locust, and Locust monkey-patches the interpreter it enters.
"""
