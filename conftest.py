"""Root pytest configuration.

synthgate's options (--profile, --synthgate-*) and fixtures (sg_profile, sg_target, sg, the check fixtures)
come from its pytest plugin, `synthgate.plugin`, registered as an entry point; --base-url comes from
pytest-base-url. So `pytest tests/smoke --profile coldcopy --base-url https://...` runs the smoke checks
alone, and a test added under tests/<stage>/ can use the same fixtures.
"""
