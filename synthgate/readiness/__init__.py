"""Release readiness: what must hold before any stage may judge a deploy (the new release is live)."""
