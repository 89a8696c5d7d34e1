"""Progressive delivery: `synthgate rollout` takes a new version from 0 % to 100 % of the traffic by steps,
verifying it pinned before any user meets it and comparing it side by side with the old one (README:
"Progressive delivery")."""
