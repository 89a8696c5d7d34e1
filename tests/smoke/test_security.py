"""Security baseline: CORS never grants an arbitrary origin credentialed access.

(Stack traces, internal paths and secrets in bodies are looked for in every response of every check.)
"""

from synthgate.checks import smoke


def test_cors(cors_check, sg_profile, sg_target, sg):
    sg.attempted(cors_check.id, smoke.execute(cors_check, sg_profile, sg_target))
