"""The load generator: a fast Locust User, HDR recording, and a runner that keeps Locust in a subprocess.

Only `runner`, `hdr` and `plan` are safe to import in the gate's process: `client`, `user` and `plugin`
import gevent and Locust, which monkey-patch the interpreter they are imported into.
"""
