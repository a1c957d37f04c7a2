#!/usr/bin/env bash
# Builds and runs every tests/c/test_*.c against the static C library, three ways:
#
#   plain     gcc -O1 -g, linked with libedgecache.a
#   asan      the same with -fsanitize=address,undefined (LeakSanitizer on,
#             UBSan halts on the first error)
#   valgrind  the plain binary under valgrind --leak-check=full; definite and
#             indirect leaks and memory errors fail, "still reachable" (Rust
#             std thread-locals, the group registry) does not
#
# It also checks that every function declared in include/edgecache.h is
# called by some tests/c/test_*.c.
#
# Usage: bash tests/c/run.sh [LIBDIR]        (or LIBDIR=... bash tests/c/run.sh)
#   LIBDIR     directory holding libedgecache.a (default target/debug). With
#              the default, the library is built first with
#              `cargo build -p edgecache-capi --features test-hooks`; with any
#              other LIBDIR it must already hold such a build.
#   SKIP_BUILD=1   do not run cargo even for the default LIBDIR.
#   MODES="plain asan valgrind"   the modes to run (default all three).
#   ONLY=test_group   run only the programs whose name matches this pattern.
#
# Prints one line per program and mode, then a line exactly
# "N passed, M failed". Exits 1 if anything failed. Logs and binaries are in
# target/ctest/.
set -u

cd "$(dirname "$0")/../.."
ROOT=$(pwd)

DEFAULT_LIBDIR=target/debug
LIBDIR=${1:-${LIBDIR:-$DEFAULT_LIBDIR}}
MODES=${MODES:-plain asan valgrind}
ONLY=${ONLY:-}
OUT=$ROOT/target/ctest
CC=${CC:-gcc}
CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror -O1 -g -Iinclude -Itests/c -DEDGECACHE_TEST_HOOKS)
SANFLAGS=(-fsanitize=address,undefined -fno-omit-frame-pointer)
LIBS=(-lpthread -ldl -lm)

passed=0
failed=0
declare -A mode_secs=()

report() { # STATUS MODE NAME DETAIL
    printf '%-4s  %-8s  %-14s  %s\n' "$1" "$2" "$3" "$4"
    if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

show_log() { # FILE
    echo "----- $1 (last 60 lines) -----"
    tail -n 60 "$1"
    echo "-----"
}

finish() {
    for m in $MODES; do
        [ -n "${mode_secs[$m]:-}" ] && printf 'time in %-8s %ss\n' "$m:" "${mode_secs[$m]}"
    done
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

mkdir -p "$OUT/logs" "$OUT/plain" "$OUT/asan"

# ---- the library ----
if [ "$LIBDIR" = "$DEFAULT_LIBDIR" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
    if ! cargo build -q -p edgecache-capi --features test-hooks >"$OUT/logs/cargo.log" 2>&1; then
        show_log "$OUT/logs/cargo.log"
        report FAIL build libedgecache "cargo build -p edgecache-capi --features test-hooks failed"
        finish
    fi
fi
if [ ! -f "$LIBDIR/libedgecache.a" ]; then
    report FAIL build libedgecache "no $LIBDIR/libedgecache.a"
    finish
fi
# A private copy: another cargo build (other features) may replace the
# original while the tests link.
cp "$LIBDIR/libedgecache.a" "$OUT/libedgecache.a"
LIB=$OUT/libedgecache.a
if ! nm -g --defined-only "$LIB" 2>/dev/null | grep -q ' T edgecache_test_panic$'; then
    report FAIL build libedgecache "$LIBDIR/libedgecache.a lacks edgecache_test_panic: build it with --features test-hooks"
    finish
fi

# ---- every header function is called by a test ----
missing=()
while read -r fn; do
    if ! grep -qw -- "$fn" tests/c/test_*.c; then missing+=("$fn"); fi
done < <(grep -v '^ *\*\|^ */' include/edgecache.h | grep -oE '^[A-Za-z].*[ *]edgecache_[a-z0-9_]+\(' |
    grep -oE 'edgecache_[a-z0-9_]+\($' | tr -d '(' | sort -u)
if [ "${#missing[@]}" -eq 0 ]; then
    report PASS header coverage "every function in include/edgecache.h is called by a test"
else
    report FAIL header coverage "not called by any tests/c/test_*.c: ${missing[*]}"
fi

# ---- build ----
progs=()
for src in tests/c/test_*.c; do
    name=$(basename "$src" .c)
    if [ -n "$ONLY" ] && [[ "$name" != *$ONLY* ]]; then continue; fi
    progs+=("$name")
done

has_mode() { case " $MODES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

kinds=()
if has_mode plain || has_mode valgrind; then kinds+=(plain); fi
if has_mode asan; then kinds+=(asan); fi

declare -A built=()
for name in "${progs[@]}"; do
    for kind in "${kinds[@]}"; do
        flags=("${CFLAGS[@]}")
        [ "$kind" = asan ] && flags+=("${SANFLAGS[@]}")
        log=$OUT/logs/$name.$kind.build.log
        if "$CC" "${flags[@]}" "tests/c/$name.c" "$LIB" "${LIBS[@]}" -o "$OUT/$kind/$name" >"$log" 2>&1; then
            built[$name.$kind]=1
        else
            show_log "$log"
        fi
    done
done

# ---- run ----
run_one() { # MODE NAME
    local mode=$1 name=$2 bin log start end secs rc
    case $mode in
    plain | valgrind) bin=$OUT/plain/$name ;;
    asan) bin=$OUT/asan/$name ;;
    esac
    local kind=plain
    [ "$mode" = asan ] && kind=asan
    if [ -z "${built[$name.$kind]:-}" ]; then
        report FAIL "$mode" "$name" "did not compile (see $OUT/logs/$name.$kind.build.log)"
        return
    fi
    log=$OUT/logs/$name.$mode.log
    start=$(date +%s.%N)
    case $mode in
    plain)
        "$bin" >"$log" 2>&1
        rc=$?
        ;;
    asan)
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$bin" >"$log" 2>&1
        rc=$?
        ;;
    valgrind)
        valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --fair-sched=yes \
            "$bin" >"$log" 2>&1
        rc=$?
        ;;
    esac
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    mode_secs[$mode]=$(awk -v a="${mode_secs[$mode]:-0}" -v b="$secs" 'BEGIN { printf "%.2f", a + b }')
    if [ "$rc" -eq 0 ]; then
        report PASS "$mode" "$name" "${secs}s"
    else
        report FAIL "$mode" "$name" "exit $rc after ${secs}s (log: $log)"
        show_log "$log"
    fi
}

if has_mode valgrind && ! command -v valgrind >/dev/null 2>&1; then
    report FAIL valgrind "(all)" "valgrind is not installed (apt-get install valgrind)"
    MODES=$(echo " $MODES " | sed 's/ valgrind / /')
fi

for mode in $MODES; do
    for name in "${progs[@]}"; do
        run_one "$mode" "$name"
    done
done

finish
