#!/bin/sh
# Selects the service the image runs; anything else is run as a command (e.g. `sma db upgrade`).
set -e
case "$1" in
  scheduler|collector|maintenance|simulator) exec python -m "sma_$1" ;;
  gateway|api-gateway) exec python -m sma_gateway ;;
  *) exec "$@" ;;
esac
