"""Property-based input fuzzing: strategies from declared field schemas, the properties every healthy API
holds, stateful flows, request pacing and curl reproductions.

Imported only by the fuzz suite (`tests/fuzz/`), which runs in its own process: Hypothesis and Schemathesis
never load into the gate's process.
"""
