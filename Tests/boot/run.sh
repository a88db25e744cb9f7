#!/bin/bash
# Tests of the boot recipe Docs/examples/user-data.sh with stubbed system commands.
#
#   Tests/boot/run.sh [case …]      (from anywhere; run by BootRecipeTests under `swift test`)
#
# Each case runs the recipe in a fake root (its own /dev, fstab, unit directory, state
# directory, log), with stubs first on PATH for spottrain, udevadm, blkid, mkfs.ext4, mount,
# mountpoint, systemctl, shutdown, ldd, apt-get and dnf. Each stub appends its command line
# to $ROOT/calls. Block devices are made with mknod, so this needs root; without it the
# script exits 77 (skipped). Exit status: 0 all passed, 1 a case failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RECIPE="${BOOT_RECIPE:-$REPO/Docs/examples/user-data.sh}"   # BOOT_RECIPE: another recipe, to see the cases fail
UNIT="$REPO/Docs/examples/spottrain.service"
VOLUME="vol-0123456789abcdef0"
BY_ID_NAME="nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"

probe_dir="$(mktemp -d)"
if ! mknod "$probe_dir/b" b 7 254 2>/dev/null; then
  rm -rf "$probe_dir"; echo "skipped: mknod needs root"; exit 77
fi
rm -rf "$probe_dir"

failures=0
ROOT=""

# ---- fixture ----------------------------------------------------------------------------
stub() { # name body…
  printf '#!/bin/bash\necho "%s $*" >> "$ROOT/calls"\n%s\n' "$1" "$2" > "$ROOT/stubs/$1"
  chmod +x "$ROOT/stubs/$1"
}

setup() { # ensure-volume JSON action and fresh
  ROOT="$(mktemp -d)"
  mkdir -p "$ROOT/stubs" "$ROOT/bin" "$ROOT/dev/disk/by-id" "$ROOT/etc/systemd" "$ROOT/dl"
  : > "$ROOT/calls"
  printf 'ID=ubuntu\nVERSION_ID="24.04"\n' > "$ROOT/os-release"
  printf '# static\nLABEL=root / ext4 defaults 0 1\nUUID=old-uuid %s ext4 defaults 0 2\n' "$ROOT/dl" > "$ROOT/etc/fstab"
  cat > "$ROOT/ensure.json" <<JSON
{"action":"$1","fresh":$2,"volume_id":"$VOLUME","device":"$ROOT/dev/xvdb",
 "nvme_device_by_id":"$ROOT/dev/disk/by-id/$BY_ID_NAME","availability_zone":"us-east-1a"}
JSON
  # The shipped unit with its mount point moved into the fake root.
  sed "s|/dl|$ROOT/dl|g" "$UNIT" > "$ROOT/spottrain.service"
  echo 0 > "$ROOT/ensure-statuses"     # one exit status per call; the last one repeats
  echo none > "$ROOT/fs"               # what blkid finds: none | ext4 | damaged
  # spottrain: --version, ec2 ensure-volume (scripted statuses), ec2 report-boot-failure.
  cat > "$ROOT/bin/spottrain" <<'STUB'
#!/bin/bash
echo "spottrain $*" >> "$ROOT/calls"
case "$1 ${2:-}" in
  "--version ") echo "spottrain 0.0.0-test" ;;
  "ec2 ensure-volume")
    n=$(( $(cat "$ROOT/ensure-count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$ROOT/ensure-count"
    status="$(sed -n "${n}p" "$ROOT/ensure-statuses")"; [ -n "$status" ] || status="$(tail -n 1 "$ROOT/ensure-statuses")"
    if [ "$status" -eq 0 ]; then cat "$ROOT/ensure.json"; else
      echo "spottrain: error: RequestLimitExceeded (HTTP 503): Request limit exceeded." >&2; fi
    exit "$status" ;;
  "ec2 report-boot-failure") exit 0 ;;
  *) echo "unexpected spottrain $*" >&2; exit 64 ;;
esac
STUB
  chmod +x "$ROOT/bin/spottrain"
  stub udevadm 'exit 0'
  stub blkid '
dev="${!#}"; fs="$(cat "$ROOT/fs")"
case "$fs" in none|damaged) exit 2 ;; esac
case "$*" in *"-s TYPE"*) echo "$fs" ;; *"-s UUID"*) echo "1b2c3d4e-0000-4000-8000-000000000001" ;; esac'
  stub mkfs.ext4 'echo ext4 > "$ROOT/fs"'
  stub mount 'exit 0'
  stub mountpoint 'exit 1'
  stub systemctl 'exit 0'
  stub shutdown 'exit 0'
  stub poweroff 'exit 0'
  stub ldd 'echo "	libopenblas.so.0 => /lib/libopenblas.so.0"; [ -z "${STUB_LDD_MISSING:-}" ] || echo "	$STUB_LDD_MISSING => not found"'
  stub apt-get 'exit 0'
  stub dnf 'exit 0'
}

attach_device_after() { # seconds: the NVMe device and its by-id link appear after that long
  ( sleep "$1"; mknod "$ROOT/dev/nvme1n1" b 7 253; ln -s ../../nvme1n1 "$ROOT/dev/disk/by-id/$BY_ID_NAME" ) &
}

run_recipe() {
  env ROOT="$ROOT" PATH="$ROOT/stubs:$PATH" \
    BIN_DIR="$ROOT/bin" UNIT_DIR="$ROOT/etc/systemd" FSTAB="$ROOT/etc/fstab" STATE_DIR="$ROOT/state" \
    BOOT_LOG="$ROOT/log" OS_RELEASE="$ROOT/os-release" MOUNT_POINT="$ROOT/dl" \
    SPOTTRAIN_UNIT_URL="file://$ROOT/spottrain.service" SPOTTRAIN_UNIT_SHA256="${UNIT_SHA256:-}" DEVICE_TIMEOUT="${DEVICE_TIMEOUT:-10}" POLL_INTERVAL=0.2 \
    RETRY_DELAY="${RETRY_DELAY:-0}" ENSURE_DEADLINE="${ENSURE_DEADLINE:-30}" \
    bash "$RECIPE" > "$ROOT/out" 2>&1
  echo $? > "$ROOT/status"
  wait
}

# ---- assertions -------------------------------------------------------------------------
case_name=""
check() { # description command…
  if ! "${@:2}"; then
    echo "FAIL [$case_name]: $1"; failures=$((failures + 1))
    sed 's/^/    out: /' "$ROOT/out"; sed 's/^/    call: /' "$ROOT/calls"
  fi
}
called() { grep -q -- "$1" "$ROOT/calls"; }
not_called() { ! grep -q -- "$1" "$ROOT/calls"; }
status_is() { [ "$(cat "$ROOT/status")" = "$1" ]; }
logged() { grep -q -- "$1" "$ROOT/log"; }
fstab_mounts_by_uuid() {
  grep -qx "UUID=1b2c3d4e-0000-4000-8000-000000000001 $ROOT/dl ext4 defaults,noatime,nofail,x-systemd.device-timeout=120s 0 2" "$ROOT/etc/fstab" \
    && ! grep -q "old-uuid" "$ROOT/etc/fstab" && grep -q "^LABEL=root / " "$ROOT/etc/fstab"
}
unit_is_the_shipped_file() { cmp -s "$ROOT/spottrain.service" "$ROOT/etc/systemd/spottrain.service"; }
started() { called "systemctl enable --now spottrain.service"; }
shut_down() { called "shutdown -h now"; }

# ---- cases ------------------------------------------------------------------------------
case_device_appears_after_3s_is_found() {
  setup attached false; echo ext4 > "$ROOT/fs"
  attach_device_after 3
  run_recipe
  check "exits 0" status_is 0
  check "logs the NVMe device" logged "is $ROOT/dev/nvme1n1"
  check "never formats an existing volume" not_called "mkfs.ext4"
  check "fstab mounts by UUID, nofail, device timeout; old entry for the mount point replaced" fstab_mounts_by_uuid
  check "mounts through fstab" called "mount $ROOT/dl"
  check "installs the shipped unit unchanged" unit_is_the_shipped_file
  check "starts the service" started
  check "does not shut down" not_called "shutdown"
}

case_device_never_appearing_stops_at_the_deadline() {
  setup attached false; echo ext4 > "$ROOT/fs"
  DEVICE_TIMEOUT=2 run_recipe
  check "exits 1" status_is 1
  check "names the deadline" logged "did not appear as a block device within 2s"
  check "shuts down" shut_down
}

case_damaged_existing_ext4_is_not_formatted() {
  setup reattached false; echo damaged > "$ROOT/fs"
  attach_device_after 0
  run_recipe
  check "exits 1" status_is 1
  check "never formats" not_called "mkfs"
  check "never mounts" not_called "mount "
  check "says why" logged "has no recognisable file system and was not just created: not formatting it"
  check "tags the reason" called "spottrain ec2 report-boot-failure --reason volume $VOLUME"
  check "shuts down" shut_down
  check "does not start the service" not_called "enable --now"
}

case_created_volume_is_formatted() {
  setup created true
  attach_device_after 0
  run_recipe
  check "exits 0" status_is 0
  check "formats the new volume" called "mkfs.ext4 -q -L spottrain $ROOT/dev/nvme1n1"
  check "fstab mounts by UUID" fstab_mounts_by_uuid
  check "starts the service" started
}

case_created_but_not_formatted_on_this_instance_is_formatted_on_rerun() {
  # A first run created the volume and died before mkfs; the rerun sees already_attached.
  setup already_attached false; mkdir -p "$ROOT/state"; touch "$ROOT/state/unformatted-$VOLUME"
  attach_device_after 0
  run_recipe
  check "exits 0" status_is 0
  check "formats it" called "mkfs.ext4"
  check "removes the marker" test ! -e "$ROOT/state/unformatted-$VOLUME"
}

case_foreign_file_system_stops() {
  setup attached false; echo xfs > "$ROOT/fs"
  attach_device_after 0
  run_recipe
  check "exits 1" status_is 1
  check "says what it found" logged "holds 'xfs', not ext4"
  check "never formats" not_called "mkfs"
  check "shuts down" shut_down
}

case_throttling_is_retried() {
  setup attached false; echo ext4 > "$ROOT/fs"; printf '1\n1\n0\n' > "$ROOT/ensure-statuses"
  attach_device_after 0
  run_recipe
  check "exits 0" status_is 0
  check "called ensure-volume three times" test "$(grep -c 'spottrain ec2 ensure-volume' "$ROOT/calls")" -eq 3
  check "logs the retries" logged "ensure-volume failed with status 1; retrying"
  check "starts the service" started
  check "does not shut down" not_called "shutdown"
}

case_failure_past_the_deadline_shuts_down() {
  setup attached false; echo 1 > "$ROOT/ensure-statuses"
  RETRY_DELAY=1 ENSURE_DEADLINE=2 run_recipe
  check "exits 1" status_is 1
  check "retried before giving up" test "$(grep -c 'spottrain ec2 ensure-volume' "$ROOT/calls")" -ge 2
  check "names the deadline" logged "ensure-volume still failing (status 1) after 2s"
  check "tags the reason" called "spottrain ec2 report-boot-failure --reason ensure-volume still failing"
  check "shuts down" shut_down
}

case_configuration_error_is_not_retried() {
  setup attached false; echo 78 > "$ROOT/ensure-statuses"
  run_recipe
  check "exits 1" status_is 1
  check "called ensure-volume once" test "$(grep -c 'spottrain ec2 ensure-volume' "$ROOT/calls")" -eq 1
  check "shuts down" shut_down
}

case_missing_library_shuts_down_before_touching_the_volume() {
  setup attached false
  STUB_LDD_MISSING=libxml2.so.2 run_recipe
  check "exits 1" status_is 1
  check "names the library" logged "lacks: libxml2.so.2"
  check "never calls ensure-volume" not_called "ensure-volume"
  check "shuts down" shut_down
}

case_amazon_linux_installs_names_that_exist_there() {
  setup attached false; echo ext4 > "$ROOT/fs"
  printf 'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n' > "$ROOT/os-release"
  attach_device_after 0
  run_recipe
  check "exits 0" status_is 0
  check "uses dnf" called "dnf install"
  check "asks for libxml2" called "dnf install .*libxml2"
  check "asks for CA certificates" called "dnf install .*ca-certificates"
  # curl-minimal and libcurl-minimal are preinstalled; curl or libcurl would conflict with them.
  check "asks for no curl package" bash -c "! grep -E '^dnf .*[[:space:]](lib)?curl([[:space:]]|\$)' '$ROOT/calls'"
  check "never uses apt-get" not_called "apt-get"
}

case_ubuntu_installs_libxml2_and_ca_certificates() {
  setup attached false; echo ext4 > "$ROOT/fs"
  attach_device_after 0
  run_recipe
  check "exits 0" status_is 0
  check "asks for libxml2" called "apt-get install .*libxml2"
  check "asks for CA certificates" called "apt-get install .*ca-certificates"
  check "never uses dnf" not_called "dnf"
}

case_unit_with_the_wrong_sha256_is_not_installed() {
  setup attached false; echo ext4 > "$ROOT/fs"
  attach_device_after 0
  UNIT_SHA256="$(printf '0%.0s' {1..64})" run_recipe
  check "exits 1" status_is 1
  check "names the mismatch" logged "does not have SHA-256 0000"
  check "does not install it" test ! -e "$ROOT/etc/systemd/spottrain.service"
  check "does not start the service" not_called "enable --now"
  check "shuts down" shut_down
  # The right digest is accepted.
  [ "$failures" -gt 0 ] || rm -rf "$ROOT"
  setup attached false; echo ext4 > "$ROOT/fs"
  attach_device_after 0
  UNIT_SHA256="$(sha256sum "$ROOT/spottrain.service" | cut -d ' ' -f 1)" run_recipe
  check "exits 0 with the right digest" status_is 0
  check "installs it" unit_is_the_shipped_file
}

case_unexpected_failure_shuts_down() {
  setup attached false; echo ext4 > "$ROOT/fs"
  stub systemctl 'exit 1'
  attach_device_after 0
  run_recipe
  check "exits 1" status_is 1
  check "logs the failing command" logged "FATAL: exited with status 1 at line"
  check "shuts down" shut_down
}

cases=("$@")
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <(declare -F | awk '$3 ~ /^case_/ {print $3}')
for name in "${cases[@]}"; do
  case_name="$name"
  before=$failures
  "$name"
  [ "$failures" -eq "$before" ] && echo "ok   $name" && rm -rf "$ROOT"
done
echo "$failures failure(s) in ${#cases[@]} case(s)"
[ "$failures" -eq 0 ]
