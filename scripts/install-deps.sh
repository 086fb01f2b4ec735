#!/usr/bin/env bash
# Installs the Debian 12 packages kbinder builds and tests with, skipping what is present.
# Run as root (or with sudo). Only the Debian package registry is used.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config     # the build
  libboost-dev                          # Boost.DLL (header-only) loads plugins
  libprotobuf-dev protobuf-compiler     # the ABI's message schema
  libspdlog-dev                         # logging
  libtomlplusplus-dev                   # profiles
  libcli11-dev                          # the command line
  libssl-dev                            # SHA-256 pins of plugin libraries
  nlohmann-json3-dev libyaml-cpp-dev    # Kubernetes manifests (JSON, YAML)
  libgtest-dev                          # the test suite
  binutils                              # nm, for the exported-symbols check
)

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
