#!/usr/bin/env bash
# setup.sh — install what ddptrain needs (Debian packages) if it is missing,
# then configure and build. Idempotent: a second run installs nothing and only
# rebuilds what changed. Sourced by demo.sh and test.sh.
#
#   BUILD_DIR   build directory (default: <repo>/build)
#   DDP_CMAKE_ARGS  extra CMake arguments (e.g. -DDDP_SANITIZE=ON)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build}"

# Build + run-time packages; python3-h5py/numpy only for the optional scripts.
DDP_PACKAGES=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
              libcmocka-dev procps gdb libomp5-14)

# ddp_apt_install PKG...: install the packages that are missing (apt-get
# update first). Returns non-zero when they cannot be installed (no apt, no
# network, not root and no password-less sudo), so a caller may skip.
ddp_apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo -n true 2>/dev/null || return 1
        sudo="sudo -n"
    fi
    command -v apt-get >/dev/null || return 1
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq >/dev/null 2>&1 || return 1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null || return 1
}

# ddp_install_missing [PKG...]: the build and test packages (and any given);
# failing to install them is fatal.
ddp_install_missing() {
    ddp_apt_install "${DDP_PACKAGES[@]}" "$@" || {
        echo "setup: cannot install the packages ddptrain needs: ${DDP_PACKAGES[*]} $*" >&2
        return 1
    }
}

ddp_build() {
    local werror=OFF
    [ "${CI:-}" = "true" ] && werror=ON
    cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DDDP_WERROR="$werror" ${DDP_CMAKE_ARGS:-} >/dev/null
    cmake --build "$BUILD_DIR" -j"$(getconf _NPROCESSORS_ONLN)"
}

# ddp_workdir NAME: a temp directory in $WORK, removed when the script exits.
ddp_workdir() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/ddp-$1.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
}

# mpirun as root (containers, CI) and with more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

# ddp_bench_packages: Debian's PyTorch (the benchmarks' reference), OpenBLAS
# (PyTorch is measured with it and with the reference BLAS it comes with;
# installing it makes OpenBLAS the system's libblas.so.3, as Debian does) and
# matplotlib (scripts/plot_*.py), installed if missing. Only the benchmark
# and plot scripts call this; the build and the tests never need them.
ddp_bench_packages() {
    ddp_apt_install python3-torch python3-matplotlib python3-h5py python3-numpy libopenblas0-openmp
}

# ddp_install_slurm: Debian's Slurm daemons and client tools, for the local
# test cluster (scripts/slurm/local_cluster.sh) and the Slurm tests. Returns
# non-zero when they cannot be installed (no apt, no network, no root), so a
# caller can skip instead of failing. Services are not started by the
# packages (no systemd here); the test cluster starts its own daemons.
ddp_install_slurm() {
    ddp_apt_install slurmctld slurmd slurm-client
}
