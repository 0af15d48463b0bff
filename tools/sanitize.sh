#!/usr/bin/env bash
# Memory and undefined-behaviour checks of the compiled kernels:
#   1. AddressSanitizer + UndefinedBehaviorSanitizer: a copy of the sources
#      built with -fsanitize=address,undefined (UB aborts: no recovery), then
#      the conv, pooling, im2col, validation and determinism tests against it;
#   2. valgrind memcheck on tools/valgrind_smoke.py (every kernel, small
#      shapes, every micro-kernel set the CPU runs): no invalid reads or writes.
# Usage: tools/sanitize.sh   (needs gcc with libasan/libubsan, and valgrind)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== ASan + UBSan build (in $work)"
(cd "$repo" && git ls-files -z | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$work"
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
(cd "$work" && CFLAGS="$sanitize" LDFLAGS="$sanitize" python setup.py -q build_ext --inplace > build.log 2>&1) \
    || { tail -30 "$work/build.log"; exit 1; }
# the check is only worth something if the kernels really are instrumented
# (grep reads all of nm's output: with -q, nm would die of SIGPIPE under pipefail)
nm -D "$work"/cconv/_kernels*.so | grep __asan_report > /dev/null || { echo "not instrumented"; exit 1; }

echo "== reduced suite under ASan + UBSan"
# python itself is not instrumented: the runtime is preloaded, and leak checks
# (CPython keeps its arenas to the end) are off
(cd "$work" && LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    python -m pytest -q -p no:cacheprovider -x tests/test_conv.py tests/test_pool.py tests/test_im2col.py \
        tests/test_validation.py tests/test_determinism.py tests/test_concurrency.py)

echo "== valgrind memcheck"
if ! command -v valgrind > /dev/null; then
    echo "valgrind not found: skipped"
    exit 0
fi
# an uninstrumented build, so valgrind sees the kernels as shipped,
# and without the block cache, so that a read of a workspace's cells before
# they are written meets fresh (undefined) memory, not an earlier call's values
(cd "$work" && rm -rf build cconv/*.so \
    && CFLAGS="-DCCONV_NO_BLOCK_CACHE" python setup.py -q build_ext --inplace > build2.log 2>&1)
# PYTHONPATH: the script's own folder comes first on sys.path, not the cwd
# the interpreter itself: `python` may be a launcher script (pyenv's shim),
# and valgrind would then check the shell and let Python run untraced
python_bin=$(python -c 'import sys; print(sys.executable)')
(cd "$work" && PYTHONPATH="$work" PYTHONMALLOC=malloc valgrind --quiet --error-exitcode=99 --errors-for-leak-kinds=none \
    --suppressions="$repo/tools/valgrind-python.supp" "$python_bin" "$repo/tools/valgrind_smoke.py")
echo "valgrind: no invalid reads or writes"
