#!/bin/sh
# The binary under test with tests/data/open.conf.lua first: a test's own
# --config comes later on the command line and wins.
exec "$NUDGE_BIN" --config "$NUDGE_OPEN_CONFIG" "$@"
