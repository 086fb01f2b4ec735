#!/usr/bin/env bash
# Installs the Debian 12 packages kbinder builds and tests with, skipping what is present.
# Run as root (or with sudo). Only the Debian package registry is used.
# With --list, prints the packages one per line and installs nothing.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config     # the build
  libboost-dev                          # Boost.DLL (header-only) loads plugins
  libprotobuf-dev protobuf-compiler     # the ABI's message schema
  libspdlog-dev                         # logging
  libtomlplusplus-dev                   # profiles
  libcli11-dev                          # the command line
  libssl-dev                            # SHA-256 pins of plugin libraries
  nlohmann-json3-dev libyaml-dev        # Kubernetes manifests (JSON, YAML)
  libcurl4-openssl-dev                  # HTTPS to the Kubernetes API server
  libsimdjson-dev                       # the API server's answers, parsed without a JSON tree
  libjemalloc-dev                       # the allocator kbinder's programs run on
  libgtest-dev                          # the test suite
  libbenchmark-dev                      # the benchmarks (bench/)
  valgrind                              # instruction counts of a cycle (bench/count_instructions.sh)
  binutils                              # nm, for the exported-symbols check
)

# kubectl checks the test API server's fidelity. Install Debian's only where there is none:
# another package's kubectl may already be on the PATH, and the two conflict.
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
