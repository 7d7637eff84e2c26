#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (cmake -DESTKIT_FUZZ=ON, clang).
# usage: scripts/fuzz.sh BUILD_DIR [TARGET...]   (default: every target in fuzz/targets.txt)
# env: FUZZ_SECONDS (60) per target, FUZZ_JOBS (1) targets at a time, FUZZ_TIMEOUT (60) s
# per input (generous: on a loaded machine ASan's allocator can stall a run for seconds).
# Each target starts from fuzz/corpus/<t>/ and grows BUILD_DIR/fuzz/work/<t>/ (not committed);
# crashes go to fuzz/crashes/ (gitignored); logs to BUILD_DIR/fuzz/logs/<t>.log. The last
# libFuzzer status line of each target is printed. Non-zero exit when a target crashed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: scripts/fuzz.sh BUILD_DIR [TARGET...]}
shift
build=$(cd "$build" && pwd)
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
mkdir -p "$top/fuzz/crashes" "$build/fuzz/logs"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(grep -E '^[a-z0-9_]+ [0-9]+$' "$top/fuzz/targets.txt" | cut -d' ' -f1)
fi

run_one() {
  local t=$1 maxlen
  maxlen=$(awk -v t="$t" '$1 == t { print $2 }' "$top/fuzz/targets.txt")
  [ -n "$maxlen" ] || { echo "fuzz: unknown target $t" >&2; return 1; }
  mkdir -p "$build/fuzz/work/$t"
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="$maxlen" -timeout="${FUZZ_TIMEOUT:-60}" \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$top/fuzz/crashes/$t-" \
      "$build/fuzz/work/$t" "$top/fuzz/corpus/$t" >"$build/fuzz/logs/$t.log" 2>&1
  local rc=$?
  printf '%-8s rc=%d %s\n' "$t" "$rc" \
    "$(grep -E '^#[0-9]+' "$build/fuzz/logs/$t.log" | tail -1)"
  return $rc
}
export -f run_one
export top build seconds

printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
