"""synthgate: a synthetic deploy gate."""
