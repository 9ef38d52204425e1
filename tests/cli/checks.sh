# Shared by the command-line tests (sourced): a temp dir removed at exit,
# pass/fail bookkeeping, and `expect`, which runs a command and checks its
# exit code and output. Call `finish NAME` last.

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# expect NAME EXIT_CODE PATTERN -- COMMAND...  (stdout and stderr together)
expect() {
  local name=$1 code=$2 pattern=$3
  shift 4
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$name: exit $rc, expected $code; output: $out"
  elif ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$name: output lacks /$pattern/: $out"
  else
    pass "$name"
  fi
}

# check NAME COMMAND...: passes when the command succeeds.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$1: $failures failure(s)"
    exit 1
  fi
  echo "$1: all checks passed"
}
