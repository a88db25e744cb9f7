#!/bin/bash
# SpotTrain user data: runs as root at the first boot of every spot instance.
#
# A one-time spot instance is terminated at an interruption, so every instance that picks
# the work up again is new and runs this script: it installs spottrain, attaches the
# persistent EBS volume (creating it the first time, taking it over from the dead instance,
# or copying it into this Availability Zone), mounts it at /dl and starts training, which
# resumes from the newest valid checkpoint on the volume.
#
# Launch with:  spottrain ec2 launch-spot --user-data Docs/examples/user-data.sh …
# (see Docs/SpotWorkflow.md). The settings below are the only lines to edit. User data is
# limited to 16 KiB.
set -euo pipefail
exec > >(tee -a /var/log/spottrain-user-data.log) 2>&1

# ---- settings -------------------------------------------------------------------------
VOLUME_NAME="mnist"            # the volume's spottrain:volume tag
VOLUME_SIZE_GIB=20             # size when it is created the first time
MOUNT_POINT="/dl"
# Where to get a spottrain binary built for this distribution, for example a presigned S3
# URL of `swift build -c release --static-swift-stdlib` output (.build/release/spottrain).
SPOTTRAIN_URL="https://example.invalid/spottrain"
SPOTTRAIN_SHA256=""            # optional: expected SHA-256 of that binary
# The unit file (Docs/examples/spottrain.service) is embedded below.
# ---------------------------------------------------------------------------------------

echo "spottrain user-data: starting at $(date -u +%FT%TZ)"

# 1. Runtime libraries (OpenBLAS; CA certificates for the TLS of EC2Spot's HTTP client) and spottrain.
if command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq libopenblas0 zlib1g ca-certificates curl python3 e2fsprogs
elif command -v dnf >/dev/null; then
  dnf install -y -q openblas zlib ca-certificates curl python3 e2fsprogs
fi
if [ ! -x /usr/local/bin/spottrain ]; then
  curl -fsSL --retry 5 -o /usr/local/bin/spottrain.download "$SPOTTRAIN_URL"
  if [ -n "$SPOTTRAIN_SHA256" ]; then
    echo "$SPOTTRAIN_SHA256  /usr/local/bin/spottrain.download" | sha256sum -c -
  fi
  chmod 0755 /usr/local/bin/spottrain.download
  mv /usr/local/bin/spottrain.download /usr/local/bin/spottrain
fi
spottrain --version

# 2. Attach the persistent volume. Region, instance id and Availability Zone come from
#    IMDSv2, credentials from the instance profile's role. Idempotent.
result="$(spottrain ec2 ensure-volume --name "$VOLUME_NAME" --size-gib "$VOLUME_SIZE_GIB" \
            --volume-type gp3 --device /dev/xvdb)"
echo "ensure-volume: $result"
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$result" "$1"; }
volume_id="$(field volume_id)"
by_id="$(field nvme_device_by_id)"        # /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…
device="$(field device)"                   # /dev/xvdb (Xen instances use this name or /dev/sdb)

# 3. Wait for the block device. On Nitro instances EBS volumes are NVMe devices whose
#    numbering (/dev/nvme1n1, …) follows discovery order, not the requested name; the
#    by-id link, made from the volume id in the NVMe serial number, is the reliable name.
dev=""
for _ in $(seq 1 120); do
  for candidate in "$by_id" "$device" "${device/\/xvd//sd}"; do
    if [ -b "$candidate" ]; then dev="$(readlink -f "$candidate")"; break 2; fi
  done
  udevadm settle --timeout=1 2>/dev/null || sleep 1
done
if [ -z "$dev" ]; then
  echo "volume $volume_id did not appear as a block device" >&2
  exit 1
fi
echo "volume $volume_id is $dev"

# 4. A file system only if there is none: never format a volume that holds checkpoints.
#    blkid -p exits 2 only when it finds no signature at all; anything else (an error, an
#    ambiguous result) stops here rather than risk formatting data.
probe=0
blkid -p "$dev" >/dev/null 2>&1 || probe=$?
if [ "$probe" -eq 2 ]; then
  echo "no file system on $dev: creating ext4"
  mkfs.ext4 -q -L spottrain "$dev"
elif [ "$probe" -ne 0 ]; then
  echo "blkid -p $dev failed with status $probe; not formatting" >&2
  exit 1
fi
mkdir -p "$MOUNT_POINT"
mountpoint -q "$MOUNT_POINT" || mount -o noatime "$dev" "$MOUNT_POINT"
mkdir -p "$MOUNT_POINT/data/mnist" "$MOUNT_POINT/checkpoints"
if [ -z "$(ls -A "$MOUNT_POINT/data/mnist")" ]; then
  echo "warning: $MOUNT_POINT/data/mnist is empty: copy the four MNIST IDX files there once" >&2
fi

# 5. The training service (the same text as Docs/examples/spottrain.service).
cat > /etc/systemd/system/spottrain.service <<'UNIT'
[Unit]
Description=SpotTrain: MNIST training that resumes from its newest checkpoint
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/dl

[Service]
Type=exec
ExecStart=/usr/local/bin/spottrain train --data /dl/data/mnist --checkpoint-dir /dl/checkpoints --spot --summary /dl/summary.json --metrics /dl/metrics.jsonl --quiet
# Exit codes: 0 finished; 75 interrupted after a good checkpoint; 1 transient runtime error;
# 64 usage and 78 configuration (bad data, mismatched checkpoint, divergence): never restarted.
# 75 counts as a failure, so it is restarted: on this instance that is harmless (training
# resumes, or checkpoints and exits again while the notice stands); after a reclaim the
# next instance's boot runs this unit from its user data.
SuccessExitStatus=0
Restart=on-failure
RestartSec=10
RestartPreventExitStatus=64 78
TimeoutStopSec=90

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now spottrain.service
echo "spottrain user-data: training started"
