"""Target profiles: the model, YAML loading with clear errors, bundled-profile lookup."""

from synthgate.profile.loader import (
    ProfileError,
    bundled_dir,
    bundled_names,
    default_profile,
    load_profile,
    resolve_base_url,
)
from synthgate.profile.model import Check, Expect, Profile, Request, Route

__all__ = [
    "Check",
    "Expect",
    "Profile",
    "ProfileError",
    "Request",
    "Route",
    "bundled_dir",
    "bundled_names",
    "default_profile",
    "load_profile",
    "resolve_base_url",
]
