#!/usr/bin/env bash
# Compiles, once and before the tests start, what the self-tests' processes import: synthgate, its dependencies
# (pip installs them with --no-compile) and the test modules (pytest's rewritten asserts). Otherwise the first
# processes of a fresh clone (4 xdist workers collecting, the first gates, stage children and servers) all compile
# the same modules at once. Two processes, one per core; a failure here only costs the caches.
venv=${1:-.venv}
"$venv/bin/python" -m pytest tests/self -q --collect-only -p no:cacheprovider >/dev/null 2>&1 &
"$venv/bin/python" -c "
import allure_pytest.plugin, locust.main, psycopg, pytest_playwright.pytest_playwright, xdist.plugin
import synthgate.cli, synthgate.demo.serve, synthgate.gate, synthgate.loadgen.user, synthgate.plugin
" >/dev/null 2>&1
wait
exit 0
