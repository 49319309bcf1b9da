#!/usr/bin/env bash
# Uses loom as another project would: installs BUILD into a prefix, checks what is there (the
# files, libloom.so's exports and SONAME), then builds and runs a program against it with
# find_package(loom), with pkg-config (C and C++), and from Python; with SUBDIR=1, also a project
# that adds loom's source with add_subdirectory.
# Usage: run.sh BUILD_DIR SOURCE_DIR MODEL WORK_DIR
set -euo pipefail
build=$(realpath "$1") src=$(realpath "$2") model=$(realpath "$3") work=$(realpath -m "$4")
want="there was a little girl named Lily"
rm -rf "$work" && mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"

echo "== installed files"
for f in include/loom/loom.h include/loom/c.h include/loom/version.h include/loom/chat.h \
         lib/cmake/loom/loomConfig.cmake lib/cmake/loom/loomConfigVersion.cmake \
         lib/cmake/loom/loomTargets.cmake lib/pkgconfig/loom.pc bin/loom-generate \
         bin/loom-server bin/loom-quantize lib/python3/dist-packages/loom/__init__.py; do
  [[ -e "$prefix/$f" ]] || { echo "missing: $f"; exit 1; }
done
so=$(ls "$prefix"/lib/libloom.so.*.*.* | head -1)
[[ -f "$so" ]] || { echo "missing: lib/libloom.so.*"; exit 1; }

echo "== libloom.so: SONAME and exports"
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
echo "SONAME $soname"
[[ "$soname" =~ ^libloom\.so\.[0-9]+\.[0-9]+$ ]] || { echo "bad SONAME '$soname'"; exit 1; }
nm -D --defined-only "$so" | awk '{print $3}' | c++filt > "$work/exports.txt"
echo "$(wc -l < "$work/exports.txt") exported symbols"
if grep -Ev '^(loom_|loom::|typeinfo for loom::|typeinfo name for loom::|vtable for loom::|VTT for loom::|LOOM_)' "$work/exports.txt"; then
  echo "libloom.so exports the symbols above, outside loom"
  exit 1
fi
grep -q '^loom_generate$' "$work/exports.txt" && grep -q '^loom::Model::load' "$work/exports.txt"
if grep -E '^loom::(simd|ops|quant|io)::' "$work/exports.txt" | head -3 | grep .; then
  echo "libloom.so exports internal symbols"
  exit 1
fi

check_run() {  # NAME COMMAND...: runs it, expects the stories260K text
  local name=$1
  shift
  "$@" > "$work/$name.out" 2>&1 || { cat "$work/$name.out"; echo "$name failed"; exit 1; }
  grep -q "$want" "$work/$name.out" || { cat "$work/$name.out"; echo "$name: wrong text"; exit 1; }
  echo "$name: ok"
}

echo "== the installed tools' default model, from a relocated prefix"
# The tools run the installed stories260K when no model is named, found from their own path: a
# copy of the prefix elsewhere runs its own copy (the source tree's path would break an
# installation once the tree is gone).
moved="$work/moved"
cp -r "$prefix" "$moved"
"$moved/bin/loom-generate" --help > "$work/help.txt" 2>&1
grep -qF "$moved/share/loom/models/stories260K" "$work/help.txt" ||
  { grep -- --model "$work/help.txt"; echo "loom-generate's default model is not the installed copy"; exit 1; }
check_run installed_default_model env LD_LIBRARY_PATH="$moved/lib" "$moved/bin/loom-generate" \
  -p "Once upon a time" -n 32 --temp 0

echo "== find_package(loom)"
cmake -S "$src/tests/consumers/find_package" -B "$work/fp" -DCMAKE_PREFIX_PATH="$prefix" \
  -DLOOM_EXAMPLES="$src/examples" -DCMAKE_BUILD_TYPE=Release > "$work/fp.log"
cmake --build "$work/fp" >> "$work/fp.log" 2>&1 || { cat "$work/fp.log"; exit 1; }
check_run find_package_cpp "$work/fp/consumer" "$model"
check_run find_package_c "$work/fp/consumer_c" "$model"

echo "== pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --modversion loom
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -pedantic -Werror "$src/examples/simple.c" -o "$work/pc_c" \
  $(pkg-config --cflags --libs loom) -Wl,-rpath,"$prefix/lib"
check_run pkgconfig_c "$work/pc_c" "$model"
# shellcheck disable=SC2046
c++ -std=c++20 "$src/examples/simple.cpp" -o "$work/pc_cpp" $(pkg-config --cflags --libs loom) \
  -Wl,-rpath,"$prefix/lib"
check_run pkgconfig_cpp "$work/pc_cpp" "$model"
# The static library, as pkg-config --static links it.
# shellcheck disable=SC2046
c++ -std=c++20 "$src/examples/simple.cpp" -o "$work/pc_static" -I"$prefix/include" \
  "$prefix/lib/libloom.a" $(pkg-config --libs-only-other --libs-only-l --static loom | sed 's/-lloom//')
check_run pkgconfig_static "$work/pc_static" "$model"

echo "== Python (the installed module, the installed library)"
check_run python env -u LOOM_LIBRARY PYTHONPATH="$prefix/lib/python3/dist-packages" "${PYTHON3:-python3}" -c \
  "import loom, sys; print(loom.version(), loom.__file__, file=sys.stderr); m = loom.Model('$model'); print('Once upon a time' + m.generate('Once upon a time', max_tokens=32, temperature=0))"

if [[ "${SUBDIR:-0}" == 1 ]]; then
  echo "== add_subdirectory"
  # -O0: this builds loom's library again; only that it builds and runs matters here.
  cmake -S "$src/tests/consumers/subdirectory" -B "$work/sub" -DLOOM_SOURCE="$src" \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0 > "$work/sub.log"
  cmake --build "$work/sub" -j "$(nproc)" >> "$work/sub.log" 2>&1 || { tail -30 "$work/sub.log"; exit 1; }
  check_run subdirectory "$work/sub/consumer" "$model"
fi
echo "all consumers ok"
