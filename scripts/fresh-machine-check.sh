#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the README's two quick-start commands, as the README writes them, the way a new user on a
# fresh Debian 12 machine would: inside a bare root made with `debootstrap --variant=minbase
# bookworm`, entered with chroot (/proc, /sys, /dev and /dev/pts mounted), each command in its
# own fresh clone of this repository's committed HEAD. A package, program or install step that
# only this machine has shows up here, where the suite alone would pass.
#
# Not part of the suite: it needs root and the Debian package registry, and takes most of an
# hour on 2 cores. Prints how long each command took; the full output of each goes to a log.
#
# Usage: scripts/fresh-machine-check.sh [--only main|test] [--commit REF] [--mirror URL]
#                                       [--logs DIR] [--keep]
#   --only main|test  run one of the two commands (default: both, the main job first)
#   --commit REF      the commit to clone (default: HEAD; uncommitted changes are not seen)
#   --mirror URL      the Debian mirror for debootstrap (default: the one apt uses here)
#   --logs DIR        where the logs go (default: a new directory under /tmp)
#   --keep            leave the root in place afterwards (unmounted) to look into
# Exit: 0 both passed, 1 a command failed or the check could not be made, 2 bad usage.
#
# Safety: the root has the host's /dev bind-mounted into it. Before the root is removed, every
# process still running in it is killed, everything mounted under it is unmounted, and
# /proc/self/mountinfo is checked to hold no mount below it; if one remains, the root is left
# in place and the check fails. The removal itself never crosses into another file system.
set -uo pipefail

usage() { echo "usage: fresh-machine-check.sh [--only main|test] [--commit REF] [--mirror URL] [--logs DIR] [--keep]" >&2; exit 2; }
die() { echo "fresh-machine-check: $*" >&2; exit 1; }

only="" commit=HEAD mirror="" logs="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --only) [ $# -ge 2 ] && [[ $2 =~ ^(main|test)$ ]] || usage; only=$2; shift 2 ;;
    --commit) [ $# -ge 2 ] || usage; commit=$2; shift 2 ;;
    --mirror) [ $# -ge 2 ] || usage; mirror=$2; shift 2 ;;
    --logs) [ $# -ge 2 ] || usage; logs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) awk 'NR == 1 || /SPDX-License-Identifier/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
    *) echo "fresh-machine-check: unknown argument '$1'" >&2; usage ;;
  esac
done

source=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, mount and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
command -v git >/dev/null || die "git not found: apt-get install git"
sha=$(git -C "$source" rev-parse --verify --quiet "$commit^{commit}") ||
  die "$commit is not a commit of $source"

# The two commands, from the README's quick start: the first two ```sh blocks after its heading.
mapfile -t commands < <(awk '/^## Quick start/ { on = 1; next } on && /^## / { exit }
  on && /^```sh$/ { block = 1; next } block && /^```$/ { block = 0; next } block { print }' \
  <(git -C "$source" show "$sha:README.md"))
[ ${#commands[@]} -eq 2 ] ||
  die "README.md at $sha: expected two one-line sh blocks under '## Quick start', found ${#commands[@]} lines"
names=(main test)

if [ -z "$mirror" ]; then  # the Debian archive this machine's apt uses
  mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)\/\?$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
[ -n "$logs" ] || logs=$(mktemp -d /tmp/kbinder-fresh-logs.XXXXXX)
mkdir -p "$logs" || die "cannot create the log directory $logs"
root=$(mktemp -d /var/tmp/kbinder-fresh-root.XXXXXX) || die "cannot create a directory under /var/tmp"
mounted=()

# Mount points at or below the root, as the kernel lists them (spaces come escaped as \040).
mounts_below_root() {
  awk -v r="$root" '{ p = $5; gsub(/\\040/, " ", p); if (p == r || index(p, r "/") == 1) print p }' \
    /proc/self/mountinfo
}

cleanup() {
  local pid i m
  trap - EXIT INT TERM
  # Whatever still runs inside (a test server, a build) holds mounts busy.
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "${pid#/proc/}" 2>/dev/null
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || { sleep 1; umount "${mounted[$i]}"; }
  done
  m=$(mounts_below_root)
  if [ -n "$m" ]; then
    echo "fresh-machine-check: still mounted, so $root is left in place (unmount these, then remove it):" >&2
    sed 's/^/    /' <<<"$m" >&2
    exit 1
  fi
  if [ "$keep" -eq 1 ]; then
    echo "fresh-machine-check: the root is kept at $root (nothing mounted in it)"
  else
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT
trap 'echo "fresh-machine-check: interrupted" >&2; exit 1' INT TERM

echo "fresh-machine-check: commit $sha, mirror $mirror, logs in $logs"
start=$SECONDS
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$logs/debootstrap.log" 2>&1; then
  tail -20 "$logs/debootstrap.log" >&2
  die "debootstrap failed (log: $logs/debootstrap.log)"
fi
echo "fresh-machine-check: bare Debian 12 root made in $((SECONDS - start)) s"
cp /etc/resolv.conf "$root/etc/resolv.conf"

mount_in() {  # mount_in TARGET ARGS...: mounts, and remembers it for the cleanup
  local target=$root/$1
  shift
  mount "$@" "$target" || die "cannot mount $* on $target"
  mounted+=("$target")
}
mount_in proc -t proc proc
mount_in sys -t sysfs sysfs
mount_in dev --bind /dev
mount_in dev/pts --bind /dev/pts

status=0
for i in 0 1; do
  name=${names[$i]}
  [ -z "$only" ] || [ "$only" = "$name" ] || continue
  clone=$root/root/kbinder-$name
  git clone --quiet --no-hardlinks "$source" "$clone" && git -C "$clone" checkout --quiet "$sha" ||
    die "cannot clone $source at $sha into $clone"
  echo "fresh-machine-check: $name command: ${commands[$i]}"
  started=$SECONDS
  env -i HOME=/root LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    chroot "$root" /bin/bash -c "cd /root/kbinder-$name && ${commands[$i]}" </dev/null >"$logs/$name.log" 2>&1
  rc=$?
  took=$((SECONDS - started))
  if [ "$rc" -eq 0 ]; then
    echo "fresh-machine-check: $name command passed in $took s (log: $logs/$name.log)"
  else
    echo "fresh-machine-check: $name command FAILED with exit $rc after $took s (log: $logs/$name.log); its last lines:"
    tail -30 "$logs/$name.log" | sed 's/^/    /'
    status=1
  fi
done
exit $status
