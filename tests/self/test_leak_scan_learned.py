"""The leak scan flags secrets given to the gate, never values the target itself handed out (real-apps lesson)."""

from synthgate.checks.security import body_leaks
from synthgate.redact import redactor


def test_a_given_secret_echoed_in_a_body_is_a_leak() -> None:
    redactor.add("given-token-5c1f0e9a7b", "LEAK_SCAN_TOKEN")
    assert "response body contains a secret value" in body_leaks('{"echo": "given-token-5c1f0e9a7b"}',
                                                                "application/json")


def test_a_value_the_target_handed_out_is_redacted_but_no_leak() -> None:
    redactor.learn("camp_7f3a9c2e11d4", "saved_campaign_id")
    assert body_leaks('{"campaign_id": "camp_7f3a9c2e11d4"}', "application/json") == []
    assert "camp_7f3a9c2e11d4" not in redactor("campaign camp_7f3a9c2e11d4 created")
