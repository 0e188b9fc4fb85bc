#!/usr/bin/env bash
# test.sh — install what is missing, build with zero warnings (-Werror in CI),
# run every test (cmocka unit tests and mpirun integration tests) with CTest.
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -R load
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ddp_install_missing
ddp_build
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 900 "$@"
