#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages kbinder builds and tests with, skipping what is present.
# Run as root (or with sudo). Only the Debian package registry is used.
#   --list       prints the packages it would install, one per line, and installs nothing
#   --programs   prints "PROGRAM PACKAGE" for every program the build, the suite and bench/ run
#                beyond what every Debian system has (the packages of priority "required",
#                which even a minimal debootstrap installs), and installs nothing
# A test (scripts.install_deps_covers_the_tests) fails when a script in the repository runs a
# program that is neither listed here nor part of every Debian system.
set -euo pipefail

libraries=(
  libboost-dev                          # Boost.DLL (header-only) loads plugins
  libprotobuf-dev                       # the ABI's message schema
  libspdlog-dev                         # logging
  libtomlplusplus-dev                   # profiles
  libcli11-dev                          # the command line
  libssl-dev                            # SHA-256 pins of plugin libraries
  nlohmann-json3-dev libyaml-dev        # Kubernetes manifests (JSON, YAML)
  libcurl4-openssl-dev                  # HTTPS to the Kubernetes API server
  libcpp-httplib-dev                    # serve's /healthz, /readyz and /metrics (HTTP server)
  libsimdjson-dev                       # the API server's answers, parsed without a JSON tree
  libjemalloc-dev                       # the allocator kbinder's programs run on
  libgtest-dev                          # the test suite
  libbenchmark-dev                      # the benchmarks (bench/)
)

programs=(                              # PROGRAM:PACKAGE
  cmake:cmake ctest:cmake ninja:ninja-build g++:g++ pkg-config:pkgconf  # the build
  protoc:protobuf-compiler              # the ABI's message schema, compiled
  nm:binutils                           # the exported-symbols check
  curl:curl                             # serve_test.sh reads /healthz, /readyz and /metrics
  clang-format:clang-format             # the layout check (tests/repo/format_test.sh)
  clang-tidy:clang-tidy                 # the lint check (tests/repo/clang_tidy_test.sh)
  valgrind:valgrind                     # instruction counts of a cycle (bench/count_instructions.sh)
  kubectl:kubernetes-client             # the test API server's fidelity; kubectl drives serve_test.sh
)

case "${1:-}" in
  --programs)
    for entry in "${programs[@]}"; do echo "${entry%%:*} ${entry#*:}"; done
    exit 0
    ;;
  --list | "") ;;
  *)
    echo "install-deps.sh: unknown option '$1' (use --list, --programs or nothing)" >&2
    exit 2
    ;;
esac

packages=("${libraries[@]}")
for entry in "${programs[@]}"; do
  program=${entry%%:*} package=${entry#*:}
  # Debian's kubernetes-client conflicts with another package's kubectl: it is installed only
  # where no kubectl is on the PATH, and the suite uses whichever kubectl is there.
  if [ "$package" = kubernetes-client ] && command -v "$program" >/dev/null 2>&1; then continue; fi
  case " ${packages[*]} " in *" $package "*) ;; *) packages+=("$package") ;; esac
done

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
