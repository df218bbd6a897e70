#!/bin/sh
# Example runbook: print what it was given, one argument per line, as data.
set -eu
printf 'diagnostics for %s argument(s)\n' "$#"
for arg in "$@"; do
  printf 'arg: %s\n' "$arg"
done
