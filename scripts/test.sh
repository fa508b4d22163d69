#!/usr/bin/env bash
# scripts/test.sh — the project's test command (README "Run the tests").
#
# Installs the real peers the integration tests use when they are missing
# (Debian: python3-keystone for a real Keystone, openipmi's ipmi_sim and
# ipmitool for a real IPMI BMC simulator), then runs the whole suite under the
# race detector, in shuffled order. The tests start and stop their own peer instances on free
# loopback ports through scripts/keystone and scripts/ipmisim.
#
# Environment:
#   METAL_NO_INSTALL=1   never call apt-get (tests needing a missing peer skip,
#                        or fail when CI=true)
#   GOTEST_FLAGS         extra flags for go test (e.g. "-run TestFoo -v")
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v keystone-manage >/dev/null 2>&1 || need+=(python3-keystone)
command -v ipmi_sim >/dev/null 2>&1 || need+=(openipmi)
command -v ipmitool >/dev/null 2>&1 || need+=(ipmitool)

if [ "${#need[@]}" -gt 0 ] && [ "${METAL_NO_INSTALL:-0}" != 1 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else sudo=""; fi
  fi
  if [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; then
    echo "scripts/test.sh: installing ${need[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "scripts/test.sh: missing ${need[*]} and cannot install (not root, no sudo)" >&2
  fi
fi

# shellcheck disable=SC2086
# -shuffle=on: test order must not matter; the seed is printed so a failure
# can be replayed with -shuffle=SEED.
exec go test -race -count=1 -shuffle=on -timeout 30m ${GOTEST_FLAGS:-} ./...
