#!/bin/sh
# make demo: runs the cart-abandonment recipe on examples/events.ndjson
# under the event clock, against a fresh database in demo/, shows what was
# sent (the file channel writes demo/outbox.ndjson) and ends with the
# run's summary line.
set -e
NUDGE=${1:-build/nudge}
rm -rf demo && mkdir demo
echo "\$ nudge run recipes/cart_abandonment.lua --events examples/events.ndjson --clock event"
summary=$("$NUDGE" --db demo/nudge.db --outbox demo/outbox.ndjson \
    run recipes/cart_abandonment.lua --events examples/events.ndjson --clock event)
echo
echo "sent $(wc -l < demo/outbox.ndjson) messages to demo/outbox.ndjson; the first five:"
head -n 5 demo/outbox.ndjson
echo
echo "\$ nudge check recipes/cart_abandonment.lua"
"$NUDGE" --db demo/nudge.db check recipes/cart_abandonment.lua
echo
echo "$summary"
