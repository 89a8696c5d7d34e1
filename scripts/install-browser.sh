#!/usr/bin/env bash
# Installs a Chromium for the e2e stage: Debian's `chromium` where we are root with apt (Playwright's own
# download cannot work on closed networks), else Playwright's browser. Idempotent; never fails the set-up:
# without a browser the e2e stage fails with an install hint instead.
# `--system-only`: only Debian's packages (no venv needed), so `make` runs it beside pip; a second call without it
# then falls back to Playwright's browser if apt could not install one.
system_only=false
[ "${1:-}" = --system-only ] && { system_only=true; shift; }
venv=${1:-.venv}
cjk_font() {
  # a CJK font, so e2e screenshots of zh pages show text rather than boxes (checks compare text either way)
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1
  return 0
}
headless_shell() {
  # Debian's headless shell beside it: synthgate prefers it (always headless), a third of the full browser's CPU
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v chromium-headless-shell >/dev/null 2>&1 \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell >/dev/null 2>&1
  return 0
}
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${SYNTHGATE_CHROMIUM:-}" ]; then
  [ -n "${SYNTHGATE_CHROMIUM:-}" ] || headless_shell
  cjk_font
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium and chromium-headless-shell for the e2e stage"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    && headless_shell && cjk_font && exit 0
  echo "apt-get could not install chromium" >&2
fi
$system_only && exit 0
echo "installing Playwright's chromium for the e2e stage"
"$venv/bin/python" -m playwright install chromium || echo "no browser installed: the e2e stage will say how to install one" >&2
exit 0
