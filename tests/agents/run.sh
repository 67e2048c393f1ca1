#!/usr/bin/env bash
# The `agents` test group (not part of `cargo test`): see tests/agents/README.md. Exits non-zero on any failure,
# including a registry that cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 tests/agents/run.py "$@"
