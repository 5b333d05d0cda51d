#!/usr/bin/env bash
# Runs one libFuzzer target of fuzz/ for a number of seconds (issue 15).
#   Scripts/fuzz.sh TARGET SECONDS [JOBS]
# TARGET: csv | hl7 | xml | expression | mapping-loader. Builds fuzz/ in release with
# -sanitize=fuzzer,address into fuzz/.build-fuzz (gitignored, apart from the main build), seeds
# the corpus from fixtures/ and mappings/, keeps the growing corpus under fuzz/.build-fuzz/corpus
# and any finding (crash, leak, timeout) under fuzz/.findings/TARGET (gitignored; not inside the
# scratch folder: SwiftPM owns its `artifacts` folder and empties it on a build, which deleted
# the findings an earlier version of this script kept there), and prints the CPU time used.
# Exit status: libFuzzer's (0: nothing found). FUZZ_TIMEOUT: seconds of wall time one input may
# take before libFuzzer calls it a timeout (default 60: a run at `nice 19` beside builds stalls
# for seconds; a timeout found is run again alone with `-runs=1` to see whether it is real).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:?usage: Scripts/fuzz.sh TARGET SECONDS [JOBS]}"
seconds="${2:?usage: Scripts/fuzz.sh TARGET SECONDS [JOBS]}"
jobs="${3:-1}"
case "$target" in
  csv) product=FuzzCSV; seeds=("$root"/fixtures/research/input/*.csv "$root"/mappings/*/*.csv) ;;
  hl7) product=FuzzHL7; seeds=("$root"/fixtures/hospital/*/*.hl7 "$root"/fixtures/malformed/hl7/*) ;;
  xml) product=FuzzXML; seeds=("$root"/fixtures/hospital/his/*.xml "$root"/fixtures/malformed/xml/*) ;;
  expression) product=FuzzExpression; seeds=() ;;
  mapping-loader) product=FuzzMappingLoader; seeds=("$root"/mappings/*/*.yaml) ;;
  *) echo "unknown target $target (csv, hl7, xml, expression, mapping-loader)" >&2; exit 2 ;;
esac
scratch="$root/fuzz/.build-fuzz"
swift build --package-path "$root/fuzz" --scratch-path "$scratch" -c release \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product "$product"
corpus="$scratch/corpus/$target"
artifacts="$root/fuzz/.findings/$target/"
timeout="${FUZZ_TIMEOUT:-60}"
mkdir -p "$corpus" "$artifacts"
for s in "${seeds[@]}"; do [ -f "$s" ] && cp -n "$s" "$corpus/" 2>/dev/null || true; done
if [ "$target" = expression ]; then
  # One seed per documented example: the expression on the first line.
  grep -h '^expr: ' "$root/docs/mapping-language.md" | sed -e 's/^expr: //' -e 's/  =>.*$//' \
    | awk -v d="$corpus" '{ f = sprintf("%s/doc-%04d", d, NR); print $0 > f; print "ab12 X" > f; close(f) }'
fi
start=$(date +%s)
set +e
parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
# Run from the artifacts folder: libFuzzer's per-job logs (fuzz-N.log) land there.
(cd "$artifacts" && /usr/bin/time -f "cpu_seconds=%U+%S wall=%e" "$scratch/release/$product" "$corpus" \
  -max_total_time="$seconds" "${parallel[@]}" -max_len=65536 -timeout="$timeout" -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts" -print_final_stats=1)
status=$?
set -e
echo "target=$target seconds=$seconds wall=$(( $(date +%s) - start )) corpus=$(ls "$corpus" | wc -l) crashes=$(ls "$artifacts" | grep -cv '\.log$') status=$status"
exit $status
