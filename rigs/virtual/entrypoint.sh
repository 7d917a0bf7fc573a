#!/bin/sh
# Boot of a virtual rig: facts of its profile, its own host key (kept across power cuts: the container's disk
# survives `docker kill`), the harness's public key, the camera service if a model is active, then sshd.
set -eu
profile="${FLEETLAB_PROFILE:-orin-nx}"
home=/var/lib/fleetlab-rig
mkdir -p "$home" /etc/fleetlab-rig /opt/fleetlab/models /root/.ssh
cp "/opt/rig/profiles/$profile.json" "$home/profile.json"
/opt/rig/venv/bin/python - "$home/profile.json" <<'PY'
import json, sys
profile = json.load(open(sys.argv[1]))
open("/etc/nv_tegra_release", "w").write(profile["nv_tegra_release"] + "\n")
open("/etc/fleetlab-rig/model", "wb").write(profile["model"].encode() + b"\0")
PY
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
printf '%s\n' "${FLEETLAB_AUTHORIZED_KEY:-}" > /root/.ssh/authorized_keys
chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys
rm -f "$home/tegrastats.pid"
if [ -e /opt/fleetlab/models/active ]; then          # the pipeline starts at boot, like the real one
  camera-service restart --store /opt/fleetlab/models >/dev/null 2>&1 || true
fi
# sshd under a small supervisor, not as PID 1: a restarted (or crashed) sshd comes back as on a real rig's systemd
trap 'exit 0' TERM INT
while :; do
  /usr/sbin/sshd -D -e -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o UsePAM=no \
    -o HostKey=/etc/ssh/ssh_host_ed25519_key -o MaxStartups=50 -o ClientAliveInterval=5 &
  wait $! || true
  sleep 0.5
done
