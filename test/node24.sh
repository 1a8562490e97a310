#!/usr/bin/env bash
# The Node 24 tier (docs/operations.md, Node versions): the tests of everything that does not
# need uWebSockets.js (core, engines with LMDB, replicas, protocol, client connections, the
# simulator) on Node 24, which runs the TypeScript sources itself (type stripping, no tsx).
# Node 24 comes from the npm registry (the node-<platform>-<arch> package) into a prefix
# outside the repository, installed once: NODE24_PREFIX (default $TMPDIR/dynamo-node24).
# NODE24=/path/to/node uses that binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${NODE24:-}" ]; then
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "test:node24: no Node package for $(uname -s); set NODE24=/path/to/node" >&2; exit 2 ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) echo "test:node24: no Node package for $(uname -m); set NODE24=/path/to/node" >&2; exit 2 ;; esac
  prefix="${NODE24_PREFIX:-${TMPDIR:-/tmp}/dynamo-node24}"
  NODE24="$prefix/node_modules/node-$os-$arch/bin/node"
  if ! "$NODE24" --version 2>/dev/null | grep -q '^v24\.'; then
    echo "test:node24: installing node-$os-$arch@24 into $prefix" >&2
    npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund "node-$os-$arch@24" >&2
  fi
fi
version="$("$NODE24" --version)"
case "$version" in v24.*) ;; *) echo "test:node24: $NODE24 is $version, not Node 24" >&2; exit 2 ;; esac
echo "test:node24: $NODE24 ($version)" >&2

# test/transport/versions.test.ts starts a NodeServer (hyper-express on uWS): Node 20 only here
files=$(find test/core test/engine test/replica test/protocol test/sim test/watch -name '*.test.ts'; echo test/transport/connection.test.ts test/transport/tls-config.test.ts)
# shellcheck disable=SC2086
exec "$NODE24" --test --test-reporter=spec $(printf '%s\n' $files | sort)
