#!/usr/bin/env bash
# Sets up everything the tests need (system packages, PostGIS, Redis, virtualenv, Chromium)
# and runs the whole test suite. Extra arguments go to pytest.
source "$(dirname "$0")/lib.sh"
export APP_MODE=test
setup_all
apt_install chromium fonts-dejavu-core  # headless browser tests (Playwright drives Debian's Chromium)
log "Running the test suite"
exec "$VENV/bin/pytest" "$@"
