#!/usr/bin/env bash
# An --upgrade-command for a kubeadm cluster reached over ssh: what
# `gauntlet run --profile preupgrade --rehearse --upgrade-command
# './examples/upgrade-kubeadm.sh v1.37.2'` runs while UPG-06 measures.
#
# Each step is written to $KUBE_GAUNTLET_UPGRADE_STEPS_FILE (set by the
# check) as one JSON line {"step", "node", "start", "end"} so that the
# report shows per-step durations. Adapt the package commands to your
# distribution; the order is the documented one: control planes one at a
# time (kubeadm upgrade apply on the first, node on the others, then the
# kubelet), then each worker drained, upgraded and uncordoned.
set -euo pipefail
version="${1:?usage: $0 vX.Y.Z}"
control_planes=(${CONTROL_PLANES:?space-separated control-plane hosts})
workers=(${WORKERS:-})

step() { # step NAME NODE COMMAND...
  local name=$1 node=$2 start end
  shift 2
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  if [ -n "${KUBE_GAUNTLET_UPGRADE_STEPS_FILE:-}" ]; then
    printf '{"step": "%s", "node": "%s", "start": %s, "end": %s}\n' \
      "$name" "$node" "$start" "$end" >>"$KUBE_GAUNTLET_UPGRADE_STEPS_FILE"
  fi
}

packages() { # packages HOST: kubeadm, kubelet and kubectl at $version
  ssh "$1" "apt-get install -y kubeadm='${version#v}-*' kubelet='${version#v}-*' kubectl='${version#v}-*'"
}

first=1
for node in "${control_planes[@]}"; do
  step packages "$node" packages "$node"
  if [ "$first" = 1 ]; then
    step "kubeadm upgrade apply" "$node" ssh "$node" "kubeadm upgrade apply -y $version"
    first=0
  else
    step "kubeadm upgrade node" "$node" ssh "$node" "kubeadm upgrade node"
  fi
  step drain "$node" kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data
  step kubelet "$node" ssh "$node" "systemctl daemon-reload && systemctl restart kubelet"
  step uncordon "$node" kubectl uncordon "$node"
done
for node in "${workers[@]}"; do
  step drain "$node" kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data
  step packages "$node" packages "$node"
  step "kubeadm upgrade node" "$node" ssh "$node" "kubeadm upgrade node"
  step kubelet "$node" ssh "$node" "systemctl daemon-reload && systemctl restart kubelet"
  step uncordon "$node" kubectl uncordon "$node"
done
