#!/usr/bin/env bash
# Set up kube-gauntlet on a fresh Debian machine: OS packages for the lab,
# a virtualenv in .venv with the package and its tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[setup] $*" >&2; }

# netcat-openbsd, bind9-dnsutils and curl: the lab's e2e images carry
# them, as upstream's alpine and Debian based images do. wrk: the native
# reference client of benchmarks/load_vs_reference.py.
debs=(runc containernetworking-plugins iptables iproute2 conntrack socat
      busybox-static procps psmisc util-linux gcc libc6-dev
      netcat-openbsd bind9-dnsutils curl wrk)
# chromium: headless screenshots of the HTML report (`gauntlet report
# screenshot`). Without its recommends (udev, upower, a systemd upgrade)
# it is 25 packages, 124 MB to fetch, 414 MB installed (bookworm).
lean_debs=(chromium)
missing_of() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
      | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t missing < <(missing_of "${debs[@]}")
mapfile -t missing_lean < <(missing_of "${lean_debs[@]}")
all_missing=("${missing[@]}" "${missing_lean[@]}")
if [ "${#all_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${all_missing[*]} (run as root to install)"
    exit 2
  fi
  say "installing Debian packages: ${all_missing[*]}"
  apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  [ "${#missing[@]}" -eq 0 ] \
    || apt-get install -y -qq "${missing[@]}" >/dev/null
  [ "${#missing_lean[@]}" -eq 0 ] \
    || apt-get install -y -qq --no-install-recommends "${missing_lean[@]}" \
      >/dev/null
fi

command -v go >/dev/null || { say "Go is required (1.26+) to build the lab"; exit 2; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.kube-gauntlet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing kube-gauntlet and its dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
say "ready: .venv/bin/gauntlet"
