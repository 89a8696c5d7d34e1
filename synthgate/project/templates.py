"""The files `synthgate init` writes besides the profile: pytest set-up, one example check per stage, CI."""

CONFTEST = '''"""pytest set-up of this repository's synthgate checks.

synthgate runs tests/smoke, tests/e2e and tests/load (next to synthgate.yaml) in their stage, beside its own
checks. Every test gets synthgate's fixtures through its pytest plugin:
  base_url   the deployment under test (--base-url, SYNTHGATE_BASE_URL, API_URL, or the profile's base_url)
  sg_client  an HTTP client with the profile's headers and timeouts; failed requests are retried with backoff,
             secrets are redacted, and every exchange is attached to the report with a curl command
  sg_profile the loaded profile
  page       a Playwright page in synthgate's Chromium (tests/e2e), from pytest-playwright
Fixtures defined here are shared by the tests below this folder.
"""
'''

SMOKE_EXAMPLE = '''"""Our own smoke check: runs in synthgate's smoke stage as tests/smoke/test_example.py::<name>."""


def test_landing_page_answers(sg_client):
    response = sg_client.get("/")
    assert response.status_code == 200, f"the landing page answered {response.status_code}"
'''

E2E_EXAMPLE = '''"""Our own browser check: runs in synthgate's e2e stage; pytest-playwright's `page` knows base_url."""


def test_landing_page_has_a_title(page):
    page.goto("/")
    assert page.title(), "the landing page has no <title>"
'''

LOAD_EXAMPLE = '''"""A check of our own in the load stage: runs after the profile's Locust load, on the warmed service.

The load itself (tasks, users, P95 and error-rate thresholds) is the profile's `load:` section.
"""


def test_ten_requests_in_a_row_stay_fast(sg_client):
    slowest = max(sg_client.get("/").elapsed.total_seconds() for _ in range(10))
    assert slowest < 2.0, f"the slowest of 10 requests to / took {slowest:.2f} s"
'''

# the team's example checks, one per stage (init --from runs them in its trial before writing them)
EXAMPLES = {
    "tests/smoke/test_example.py": SMOKE_EXAMPLE,
    "tests/e2e/test_example.py": E2E_EXAMPLE,
    "tests/load/test_example.py": LOAD_EXAMPLE,
}

WORKFLOW = '''# synthgate as the post-deploy gate: deploy, then gate the fresh deployment; a failed gate rolls it back
# (the profile's `rollback:`). The job's summary shows the verdict; reports/ is uploaded whatever happened.
name: deploy

on:
  push:
    branches: [main]
  workflow_dispatch:

permissions:
  contents: read

concurrency:
  group: deploy-production
  cancel-in-progress: false

jobs:
  deploy:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    outputs:
      url: ${{ steps.deploy.outputs.url }}
    steps:
      - uses: actions/checkout@v5
      - id: deploy
        name: Deploy (replace with your deploy)
        run: |
          echo "deploy here"
          echo "url=https://myapp.example.com" >> "$GITHUB_OUTPUT"

  gate:
    needs: deploy
    runs-on: ubuntu-latest
    timeout-minutes: 30
    env:
      BASE_URL: ${{ needs.deploy.outputs.url }}
    steps:
      - uses: actions/checkout@v5
      - uses: actions/setup-python@v6
        with:
          python-version: "3.12"
      - name: Install synthgate and a browser for the e2e stage
        run: |
          python -m pip install synthgate
          python -m playwright install --with-deps chromium
      # exit 0 keeps the deploy; 1 gate failed (rolled back); 3 rollback failed; 4 target unreachable
      - name: Gate the deployment
        run: synthgate run --base-url "$BASE_URL" --reports reports
      - name: Upload the reports
        if: always()
        uses: actions/upload-artifact@v6
        with:
          name: synthgate-reports
          path: reports/
          if-no-files-found: warn
'''
