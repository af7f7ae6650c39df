#!/usr/bin/env bash
# One-time setup on a fresh machine with Node >= 20 and npm: pnpm at the version the lockfile
# was written with, then the locked dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
want=12.4.2
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$want" ]; then
  echo "setup: installing pnpm@$want"
  npm install -g "pnpm@$want" >/dev/null
fi
pnpm install --frozen-lockfile
