#!/bin/bash
# SpotTrain user data: runs as root at the first boot of every spot instance
# (Ubuntu 24.04 or Amazon Linux 2023).
#
# A one-time spot instance is terminated at an interruption, so every instance that picks the
# work up again is new and runs this script: it installs spottrain and its unit, attaches the
# persistent EBS volume (creating it the first time, taking it over from the dead instance, or
# copying it into this Availability Zone), mounts it at /dl through /etc/fstab (so a reboot
# mounts it again before the service starts) and starts training, which resumes from the
# newest valid checkpoint on the volume.
#
# A failure no retry can fix (a missing library, a volume that is not ext4, ensure-volume
# failing past its deadline) is logged, written to the instance tag spottrain:boot-failure,
# and the instance shuts itself down: launch-spot sets the instance-initiated shutdown
# behaviour to terminate, so a broken instance does not bill while doing nothing.
#
# Launch with:  spottrain ec2 launch-spot --user-data Docs/examples/user-data.sh …
# (see Docs/SpotWorkflow.md). User data is limited to 16 KiB.
set -euo pipefail

# ---- settings: the only lines to edit ---------------------------------------------------
# Each can also come from the environment (the tests in Tests/boot/ do that).
: "${VOLUME_NAME:=mnist}"        # the volume's spottrain:volume tag
: "${VOLUME_SIZE_GIB:=20}"       # size when it is created the first time
: "${MOUNT_POINT:=/dl}"          # must match RequiresMountsFor= in spottrain.service
# Where to get a spottrain binary built for this distribution (for example a presigned S3 URL
# of `swift build -c release --static-swift-stdlib` output) and the unit file
# Docs/examples/spottrain.service, uploaded next to it. SHA-256s are optional but advised.
: "${SPOTTRAIN_URL:=https://example.invalid/spottrain}"
: "${SPOTTRAIN_SHA256:=}"
: "${SPOTTRAIN_UNIT_URL:=https://example.invalid/spottrain.service}"
: "${SPOTTRAIN_UNIT_SHA256:=}"
: "${DEVICE_TIMEOUT:=180}"       # seconds to wait for the block device to appear
: "${ENSURE_DEADLINE:=900}"      # seconds to keep retrying ensure-volume
# -----------------------------------------------------------------------------------------
# Paths and pacing, overridden only by tests.
: "${POLL_INTERVAL:=1}"
: "${RETRY_DELAY:=10}"
: "${BOOT_LOG:=/var/log/spottrain-user-data.log}"
: "${OS_RELEASE:=/etc/os-release}"
: "${BIN_DIR:=/usr/local/bin}"
: "${UNIT_DIR:=/etc/systemd/system}"
: "${FSTAB:=/etc/fstab}"
: "${STATE_DIR:=/var/lib/spottrain}"

exec > >(tee -a "$BOOT_LOG") 2>&1
log() { echo "spottrain user-data: $*"; }
SPOTTRAIN="$BIN_DIR/spottrain"
stopping=""

# A permanent failure: log it, tag the instance, shut down (terminate, see above).
fail() {
  stopping=1
  log "FATAL: $1"
  log "shutting the instance down"
  if [ -x "$SPOTTRAIN" ]; then
    timeout 60 "$SPOTTRAIN" ec2 report-boot-failure --reason "$1" \
      || log "could not tag the instance with the reason"
  fi
  shutdown -h now "spottrain user-data: $1" || poweroff || true
  exit 1
}
# Anything that fails unexpectedly under `set -e` is permanent too.
err=""
trap 'err="line $LINENO: $BASH_COMMAND"' ERR
trap 'rc=$?; [ "$rc" -eq 0 ] || [ -n "$stopping" ] || fail "exited with status $rc at $err"' EXIT

log "starting at $(date -u +%FT%TZ)"

# 1. Runtime libraries (OpenBLAS, zlib, libxml2; CA certificates for the TLS of EC2Spot's
#    HTTP client) and spottrain. Only names that exist on each distribution: on Amazon Linux
#    2023 the preinstalled curl-minimal conflicts with a `curl` package, so none is asked for
#    (curl-minimal provides the command). The ldd check below catches anything still missing.
os_id="$(. "$OS_RELEASE" && echo "${ID:-}")"
install_packages() {
  case "$os_id" in
    ubuntu|debian)
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq || return 1
      apt-get install -y -qq libopenblas0 zlib1g libxml2 ca-certificates e2fsprogs python3 curl ;;
    amzn|fedora|rhel|centos|rocky|almalinux)
      dnf install -y -q openblas zlib libxml2 ca-certificates e2fsprogs python3 util-linux ;;
    *) log "unknown distribution '$os_id': installing no packages" ;;
  esac
}
for attempt in 1 2 3; do
  install_packages && break
  [ "$attempt" -lt 3 ] || fail "installing packages on '$os_id' failed three times"
  sleep "$RETRY_DELAY"
done
fetch() { # url destination sha256
  curl -fsSL --retry 5 --retry-connrefused -o "$2.download" "$1" || fail "could not download $1"
  if [ -n "$3" ]; then
    echo "$3  $2.download" | sha256sum -c - || fail "$1 does not have SHA-256 $3"
  fi
  mv "$2.download" "$2"
}
if [ ! -x "$SPOTTRAIN" ]; then
  mkdir -p "$BIN_DIR"
  fetch "$SPOTTRAIN_URL" "$SPOTTRAIN" "$SPOTTRAIN_SHA256"
  chmod 0755 "$SPOTTRAIN"
fi
missing="$(ldd "$SPOTTRAIN" 2>&1 | awk '/not found/ {print $1}' | tr '\n' ' ')"
[ -z "$missing" ] || fail "$SPOTTRAIN needs libraries this image lacks: $missing"
"$SPOTTRAIN" --version || fail "$SPOTTRAIN does not run on this image"

# 2. Attach the persistent volume. Region, instance id and Availability Zone come from
#    IMDSv2, credentials from the instance profile's role. Idempotent, so it is retried until
#    ENSURE_DEADLINE: statuses 64 (usage) and 78 (configuration) are final, others (1: AWS
#    throttling past its own retries, network, a volume still held by a dying instance) not.
deadline=$((SECONDS + ENSURE_DEADLINE))
delay="$RETRY_DELAY"
while :; do
  status=0
  result="$("$SPOTTRAIN" ec2 ensure-volume --name "$VOLUME_NAME" --size-gib "$VOLUME_SIZE_GIB" \
              --volume-type gp3 --device /dev/xvdb)" || status=$?
  [ "$status" -eq 0 ] && break
  case "$status" in 64|78) fail "ensure-volume failed with status $status (not retried)" ;; esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    fail "ensure-volume still failing (status $status) after ${ENSURE_DEADLINE}s"
  fi
  log "ensure-volume failed with status $status; retrying in ${delay}s"
  sleep "$delay"
  delay=$((delay * 2 > 60 ? 60 : delay * 2))
done
log "ensure-volume: $result"
# volume_id, action, fresh (true only when ensure-volume created it empty just now),
# nvme_device_by_id (/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…) and device
# (/dev/xvdb; Xen instances use this name or /dev/sdb), one per line.
{ read -r volume_id; read -r action; read -r fresh; read -r by_id; read -r device; } < <(
  python3 -c 'import json, sys
r = json.loads(sys.argv[1])
for k in ("volume_id", "action", "fresh", "nvme_device_by_id", "device"):
    v = r.get(k, "")
    print(str(v).lower() if isinstance(v, bool) else str(v).replace("\n", " "))' "$result") \
  || fail "ensure-volume printed no JSON object: $result"
[ -n "$volume_id" ] && [ -n "$device" ] || fail "ensure-volume printed no volume_id/device: $result"

# 3. Wait for the block device. On Nitro instances EBS volumes are NVMe devices numbered in
#    discovery order (/dev/nvme1n1, …); the by-id link, made from the volume id in the NVMe
#    serial number, is the reliable name. A real deadline: udevadm settle may return at once.
dev=""
device_deadline=$((SECONDS + DEVICE_TIMEOUT))
while :; do
  for candidate in "$by_id" "$device" "${device/\/xvd//sd}"; do
    if [ -n "$candidate" ] && [ -b "$candidate" ]; then dev="$(readlink -f "$candidate")"; break 2; fi
  done
  [ "$SECONDS" -lt "$device_deadline" ] || break
  udevadm settle --timeout=1 >/dev/null 2>&1 || true
  sleep "$POLL_INTERVAL"
done
[ -n "$dev" ] || fail "volume $volume_id did not appear as a block device within ${DEVICE_TIMEOUT}s"
log "volume $volume_id ($action) is $dev"

# 4. Format only a volume ensure-volume has just created empty (or that this instance
#    created and has not formatted yet: the marker survives a rerun of this script). Any
#    other volume without a recognisable file system may hold checkpoints behind a damaged
#    superblock: stop instead (repair it with e2fsck -b 32768 from another instance).
mkdir -p "$STATE_DIR"
marker="$STATE_DIR/unformatted-$volume_id"
[ "$fresh" != "true" ] || touch "$marker"
probe=0
fstype="$(blkid -p -o value -s TYPE "$dev" 2>/dev/null)" || probe=$?
if [ "$probe" -eq 2 ]; then
  if [ -e "$marker" ]; then
    log "new volume $volume_id: creating ext4 on $dev"
    mkfs.ext4 -q -L spottrain "$dev" || fail "mkfs.ext4 $dev failed"
    rm -f "$marker"
  else
    fail "volume $volume_id ($dev) has no recognisable file system and was not just created: not formatting it"
  fi
elif [ "$probe" -ne 0 ]; then
  fail "blkid -p $dev failed with status $probe; not formatting"
elif [ "$fstype" != "ext4" ]; then
  fail "volume $volume_id ($dev) holds '$fstype', not ext4"
else
  rm -f "$marker"
fi
uuid="$(blkid -p -o value -s UUID "$dev")" && [ -n "$uuid" ] || fail "no UUID on $dev"

# Mount by UUID through fstab: nofail keeps a boot without the volume alive, the service's
# RequiresMountsFor= keeps it from running on the empty mount point.
entry="UUID=$uuid $MOUNT_POINT ext4 defaults,noatime,nofail,x-systemd.device-timeout=120s 0 2"
{ [ ! -e "$FSTAB" ] || awk -v mp="$MOUNT_POINT" '$1 ~ /^#/ || $2 != mp' "$FSTAB"
  echo "$entry"; } > "$FSTAB.spottrain"
mv "$FSTAB.spottrain" "$FSTAB"
systemctl daemon-reload
mkdir -p "$MOUNT_POINT"
mountpoint -q "$MOUNT_POINT" || mount "$MOUNT_POINT" || fail "mount $MOUNT_POINT (UUID=$uuid) failed"
mkdir -p "$MOUNT_POINT/data/mnist" "$MOUNT_POINT/checkpoints"
if [ -z "$(ls -A "$MOUNT_POINT/data/mnist")" ]; then
  log "warning: $MOUNT_POINT/data/mnist is empty: copy the four MNIST IDX files there once"
fi

# 5. The training service: the shipped Docs/examples/spottrain.service, unchanged.
mkdir -p "$UNIT_DIR"
fetch "$SPOTTRAIN_UNIT_URL" "$UNIT_DIR/spottrain.service" "$SPOTTRAIN_UNIT_SHA256"
grep -q "^RequiresMountsFor=$MOUNT_POINT\$" "$UNIT_DIR/spottrain.service" \
  || fail "spottrain.service does not require $MOUNT_POINT"
systemctl daemon-reload
systemctl enable --now spottrain.service
log "training started"
