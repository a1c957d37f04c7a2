#!/usr/bin/env bash
# Builds the Python package and runs its tests, from a fresh clone or not.
#
#   tests/python/run.sh            build, install, pytest, stubtest
#   tests/python/run.sh -k watch   extra arguments go to pytest
#   tests/python/run.sh --bench    build, install, run bench/python/bench.py
#
# Creates .venv (gitignored) with $PYTHON (default python3, 3.10 or later) if
# it is missing, installs the tools into it, builds the abi3 wheel with
# maturin into $CARGO_TARGET_DIR/wheels (default target/py, so it does not
# fight other cargo jobs over target/'s lock) and installs that wheel. No file
# lands in the source tree. Exits non-zero on the first failure.
set -euo pipefail

cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/py}

bench=0
if [ "${1:-}" = "--bench" ]; then
    bench=1
    shift
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
py="$VENV/bin/python"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    echo "edgecache needs Python 3.10 or later; $VENV has $("$py" --version)" >&2
    exit 1
}

echo "== tools"
"$py" -m pip install --quiet --disable-pip-version-check 'maturin>=1.9.4,<2' 'pytest>=8,<10' 'mypy>=1.10,<3'
if [ "$bench" = 1 ]; then
    "$py" -m pip install --quiet --disable-pip-version-check 'cachetools>=5,<9' 'cachebox>=4,<7'
fi

echo "== build (maturin, release, abi3)"
wheels="$CARGO_TARGET_DIR/wheels"
rm -rf "$wheels"
# The tests need the `test-hooks` feature (edgecache._native._panic);
# release wheels (`pip install .`, `maturin build`) are built without it.
features=()
if [ "$bench" = 0 ]; then
    features=(--features test-hooks)
fi
"$VENV/bin/maturin" build --release --quiet --interpreter "$py" --out "$wheels" ${features[@]+"${features[@]}"}
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/edgecache-*.whl

if [ "$bench" = 1 ]; then
    echo "== bench"
    exec "$py" bench/python/bench.py "$@"
fi

echo "== pytest"
"$py" -m pytest tests/python -q "$@"

echo "== stubtest"
"$py" -m mypy.stubtest edgecache._native

echo "tests/python/run.sh: all passed"
