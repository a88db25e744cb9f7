#!/bin/bash
# Tests of the job boot script (`spottrain job user-data`, the launch template's user data)
# with stubbed system commands.
#
#   Tests/boot/job.sh SCRIPT [case …]   (run by JobBootScriptTests under `swift test`)
#
# SCRIPT is the generated boot script. Each case runs it in a fake root: BIN_DIR empty, the
# binary served from a file:// URL (a stub spottrain whose `job run` exits with a scripted
# status), stubs first on PATH for apt-get, dnf, ldd, shutdown and poweroff; each stub appends
# its command line to $ROOT/calls. No root needed. Exit status: 0 all passed, 1 a case failed.
set -uo pipefail

SCRIPT="$1"; shift
failures=0
ROOT=""

stub() { # name body…
  printf '#!/bin/bash\necho "%s $*" >> "$ROOT/calls"\n%s\n' "$1" "$2" > "$ROOT/stubs/$1"
  chmod +x "$ROOT/stubs/$1"
}

setup() { # the exit status of `spottrain job run`
  ROOT="$(mktemp -d)"
  mkdir -p "$ROOT/stubs" "$ROOT/bin" "$ROOT/dist"
  : > "$ROOT/calls"
  printf 'ID=ubuntu\nVERSION_ID="24.04"\n' > "$ROOT/os-release"
  cat > "$ROOT/dist/spottrain" <<STUB
#!/bin/bash
echo "spottrain \$*" >> "$ROOT/calls"
case "\$1 \${2:-}" in
  "--version ") echo "spottrain 0.0.0-test" ;;
  "job run") exit $1 ;;
  "ec2 report-boot-failure") exit 0 ;;
  *) echo "unexpected spottrain \$*" >&2; exit 64 ;;
esac
STUB
  stub apt-get 'exit 0'
  stub dnf 'exit 0'
  stub shutdown 'exit 0'
  stub poweroff 'exit 0'
  stub ldd 'echo "	libopenblas.so.0 => /lib/libopenblas.so.0"; [ -z "${STUB_LDD_MISSING:-}" ] || echo "	$STUB_LDD_MISSING => not found"'
}

run_script() {
  local digest="${BINARY_SHA256:-$(sha256sum "$ROOT/dist/spottrain" | cut -d ' ' -f 1)}"
  env ROOT="$ROOT" PATH="$ROOT/stubs:$PATH" BIN_DIR="$ROOT/bin" BOOT_LOG="$ROOT/log" OS_RELEASE="$ROOT/os-release" \
    RETRY_DELAY=0 WORK_DIR="$ROOT/work" SPOTTRAIN_URL="file://$ROOT/dist/spottrain" SPOTTRAIN_SHA256="$digest" \
    bash "$SCRIPT" > "$ROOT/out" 2>&1
  echo $? > "$ROOT/status"
}

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
shut_down() { called "shutdown -h now"; }

case_success_installs_runs_the_job_and_does_not_shut_down() {
  setup 0
  run_script
  check "exits 0" status_is 0
  check "installs the binary" test -x "$ROOT/bin/spottrain"
  check "runs the job of the store with the work dir" called "spottrain job run --store s3://spottrain-boot-test/jobs/a --work-dir $ROOT/work"
  check "creates the work dir" test -d "$ROOT/work"
  check "does not shut down (the group shrinks to 0)" not_called "shutdown"
}

case_interruption_and_transient_errors_shut_down() {
  for status in 75 1 78; do
    setup "$status"
    run_script
    check "exits 0 after shutting down ($status)" status_is 0
    check "shuts down after status $status" shut_down
    check "logs the status $status" logged "job run exited with status $status"
    check "does not tag a boot failure ($status)" not_called "report-boot-failure"
    [ "$status" = 78 ] || [ "$failures" -gt 0 ] || rm -rf "$ROOT"
  done
}

case_binary_with_the_wrong_sha256_is_never_run() {
  setup 0
  BINARY_SHA256="$(printf '0%.0s' {1..64})" run_script
  check "exits 1" status_is 1
  check "names the mismatch" logged "does not have SHA-256 0000"
  check "does not install it" test ! -e "$ROOT/bin/spottrain"
  check "never runs the job" not_called "job run"
  check "shuts down" shut_down
}

case_missing_library_shuts_down_before_the_job() {
  setup 0
  STUB_LDD_MISSING=libopenblas.so.0 run_script
  check "exits 1" status_is 1
  check "names the library" logged "lacks: libopenblas.so.0"
  check "never runs the job" not_called "job run"
  check "tags the reason" called "spottrain ec2 report-boot-failure --reason"
  check "shuts down" shut_down
}

case_amazon_linux_uses_dnf() {
  setup 0
  printf 'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n' > "$ROOT/os-release"
  run_script
  check "exits 0" status_is 0
  check "uses dnf" called "dnf install"
  check "never uses apt-get" not_called "apt-get"
}

cases=("$@")
[ "${#cases[@]}" -gt 0 ] || mapfile -t cases < <(declare -F | awk '{print $3}' | grep '^case_')
for case_name in "${cases[@]}"; do
  before=$failures
  "$case_name"
  if [ "$failures" -eq "$before" ]; then echo "ok   $case_name"; rm -rf "$ROOT"; fi
done
[ "$failures" -eq 0 ]
