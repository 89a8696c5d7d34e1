"""The pytest plugin's part for a team's own checks: the `sg_client` fixture and ids namespaced by file.

A test outside synthgate's bundled suites is a user check: its result id is its file path relative to the
profile's folder plus its name (`tests/smoke/test_billing.py::test_invoice_page`), so two files never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthgate.bundled import is_bundled
from synthgate.check_client import CheckClient
from synthgate.profile import Profile

USER_ID = "synthgate-user-check"
_CLIENT_KEY = pytest.StashKey[CheckClient]()


def user_check_id(item: pytest.Item, root: Path | None) -> str | None:
    """The namespaced id of a user check (None for a bundled test)."""
    path = Path(item.path)
    if is_bundled(path):
        return None
    base = root or Path(item.config.rootpath)
    try:
        rel = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        rel = path.resolve().as_posix()
    return f"{rel}::{item.name}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each user check with its namespaced id (a bundled test keeps the id its check gives it)."""
    root_opt = config.getoption("synthgate_checks_root", None)
    root = Path(root_opt) if root_opt else None
    bundled = []
    for item in items:
        uid = user_check_id(item, root)
        if uid is not None:
            item.user_properties.append((USER_ID, uid))
        else:
            bundled.append(item)
    if bundled and config.getoption("synthgate_user_only", False):  # the probe runs bundled checks itself
        config.hook.pytest_deselected(items=bundled)
        items[:] = [i for i in items if i not in bundled]


@pytest.fixture
def sg_client(request: pytest.FixtureRequest, sg_profile: Profile, sg_target: str) -> Iterator[CheckClient]:
    """An HTTP client on the target with the profile's headers, timeouts and transport retries (see CheckClient)."""
    client = CheckClient(sg_profile, sg_target)
    request.node.stash[_CLIENT_KEY] = client
    yield client
    client.attach()
    client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Before the call's report is made: what sg_client saw (attempts, flakiness, curl) joins the result."""
    client = item.stash.get(_CLIENT_KEY, None)
    if call.when == "call" and client is not None:
        item.user_properties.append(("synthgate", client.result_fields()))
    return (yield)
