#!/bin/sh
# Example runbook: pretend to restart a service. Arguments arrive as an argument list,
# never through a shell string, so they are used quoted and never evaluated.
set -eu
service=""
incident=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --service) service="$2"; shift 2 ;;
    --incident) incident="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -n "$service" ] || { echo "no --service given" >&2; exit 2; }
printf 'restarting service %s for incident %s\n' "$service" "$incident"
printf 'service %s restarted\n' "$service"
