#!/usr/bin/env bash
# One-time setup on a fresh machine with Node >= 20 and npm: the locked dependencies, installed
# with pnpm. Safe to run again. Quiet by default (one line per step; the full log only when a
# step fails); `--verbose` (`npm run setup -- --verbose`) shows everything.
#
# A developer's own pnpm is never replaced: it installs the lockfile when it can
# (`--frozen-lockfile`); when it cannot (another major), pnpm 12.4.2 runs once through npx,
# leaving the global one alone. pnpm is installed globally (npm -g) only when there is none,
# and setup says so. (corepack cannot fetch pnpm on these machines.)
set -euo pipefail
cd "$(dirname "$0")/.."

want=12.4.2
verbose=0
for arg in "$@"; do
  case "$arg" in
    --verbose | -v) verbose=1 ;;
    -h | --help)
      echo "usage: npm run setup [-- --verbose]"
      exit 0
      ;;
    *)
      echo "setup: unknown option $arg (known: --verbose)" >&2
      exit 2
      ;;
  esac
done

# No update notices, funding or audit chatter.
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
log=$(mktemp "${TMPDIR:-/tmp}/devarno-mocks-setup.XXXXXX")
trap 'rm -f "$log"' EXIT

# Runs a step: its output streamed with --verbose, else kept in $log and shown only on failure.
step() {
  if [ "$verbose" -eq 1 ]; then
    "$@"
  else
    "$@" >"$log" 2>&1
  fi
}
fail() {
  echo "setup: $1 failed. Its output:" >&2
  [ "$verbose" -eq 1 ] || tail -n 60 "$log" >&2
  exit 1
}

if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: no pnpm found; installing pnpm@$want globally (npm install -g pnpm@$want)"
  step npm install -g --loglevel=error "pnpm@$want" || fail "npm install -g pnpm@$want"
  hash -r
fi

have=$(pnpm --version 2>/dev/null || echo unknown)
echo "setup: installing the locked dependencies with pnpm $have"
if step pnpm install --frozen-lockfile; then
  echo "setup: done (pnpm $have). Next: pnpm dev:mocks, or pnpm test"
  exit 0
fi
if [ "$have" = "$want" ]; then
  fail "pnpm install --frozen-lockfile"
fi
echo "setup: pnpm $have could not install the lockfile; running pnpm@$want through npx (your pnpm stays as it is)"
step npx --yes "pnpm@$want" install --frozen-lockfile || fail "npx pnpm@$want install --frozen-lockfile"
echo "setup: done (pnpm@$want via npx). Next: pnpm dev:mocks, or pnpm test"
