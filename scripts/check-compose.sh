#!/usr/bin/env bash
# Validates compose/docker-compose.yml (and the replicated cluster's compose file and haproxy.cfg) with docker-compose (Debian's 1.29.2 needs no engine;
# it rejects keys newer than the 3.8 format), then the commented family-hub example,
# uncommented, so the example a team copies cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
file=compose/docker-compose.yml

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "check-compose: docker-compose is not installed: apt-get install -y docker-compose" >&2
  exit 2
fi

docker-compose -f "$file" config -q
echo "check-compose: $file is valid ($(docker-compose version --short))"

example=$(mktemp --suffix=.yml)
trap 'rm -f "$example"' EXIT
# Uncomment from "  # family-hub:" up to the end marker; nothing else changes.
sed -E '/^  # family-hub:$/,/family-hub example \(end\)/{/family-hub example \(end\)/!s/^  # ?/  /}' \
  "$file" >"$example"
if ! grep -q '^  family-hub:$' "$example"; then
  echo "check-compose: the commented family-hub example (\"  # family-hub:\" ... \"family-hub example (end)\") is missing from $file" >&2
  exit 1
fi
# The example requires these from the environment; any value will do for validation.
BETTER_AUTH_SECRET=check-compose-secret-of-at-least-32-chars DATABASE_URL=postgres://check \
  docker-compose --project-directory compose -f "$example" config -q
echo "check-compose: the family-hub example in $file is valid"

# The replicated cluster (README "Replicas"): its compose file, and the haproxy.cfg it and
# `pnpm dev:cluster` share, checked by Debian's haproxy with compose's values.
scale=compose/docker-compose.scale.yml
docker-compose -f "$scale" config -q
echo "check-compose: $scale is valid"
if ! command -v haproxy >/dev/null 2>&1; then
  echo "check-compose: haproxy is not installed (apt-get install -y haproxy): compose/haproxy.cfg cannot be checked" >&2
  exit 2
fi
LB_HOST=0.0.0.0 REPLICA1=127.0.0.2 REPLICA2=127.0.0.3 V01T_PORT=8000 MEDIA_PORT=8081 CHAT_PORT=8082 \
  AUTH_PORT=8083 UPSTASH_PORT=8084 DB_PORT=5433 CONTROL_PORT=8090 \
  haproxy -c -q -f compose/haproxy.cfg
echo "check-compose: compose/haproxy.cfg is valid ($(haproxy -v | head -1 | cut -d' ' -f1-3))"
