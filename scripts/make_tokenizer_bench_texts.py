#!/usr/bin/env python3
"""Writes the texts loom-bench --tokenize was measured on (docs/tokenizers.md), about 1 MB each,
from files a Debian machine already has, so nothing is downloaded and nothing is committed:

  english.txt  the licence texts in /usr/share/common-licenses and the README/NEWS files under
               /usr/share/doc (plain or gzipped), lines that are mostly words
  cjk.txt      the Chinese, Japanese and Korean translations (msgstr) of the gettext catalogues
               in /usr/share/locale/{zh_CN,zh_TW,ja,ko}, messages mostly in CJK characters
  code.txt     Python from the interpreter's standard library and C++ from libstdc++'s headers,
               half and half

Each source is read in sorted order and cut at the size, so a machine with the same packages
writes the same bytes. Usage: make_tokenizer_bench_texts.py OUTDIR [MB]
"""
import glob
import gettext
import gzip
import os
import sys
import sysconfig


def read_text(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def mostly_words(line):
    letters = sum(c.isalpha() or c == " " for c in line)
    return len(line) >= 30 and letters >= 0.85 * len(line)


def english():
    paths = sorted(glob.glob("/usr/share/common-licenses/*"))
    for pattern in ("README*", "NEWS*"):
        paths += sorted(glob.glob("/usr/share/doc/*/" + pattern))
    for p in paths:
        if os.path.isfile(p):
            for line in read_text(p).splitlines():
                if mostly_words(line.strip()):
                    yield line.strip() + "\n"


def is_cjk(c):
    o = ord(c)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF or
            0xFF00 <= o <= 0xFFEF or 0x3000 <= o <= 0x303F)


def cjk():
    seen = set()
    for lang in ("zh_CN", "ja", "ko", "zh_TW"):
        for p in sorted(glob.glob("/usr/share/locale/%s/LC_MESSAGES/*.mo" % lang)):
            try:
                with open(p, "rb") as f:
                    catalog = gettext.GNUTranslations(f)._catalog
            except Exception:
                continue
            for k in sorted(catalog, key=str):
                v = catalog[k]
                if not isinstance(v, str) or v in seen:
                    continue
                seen.add(v)
                if len(v) >= 8 and sum(map(is_cjk, v)) >= 0.5 * len(v):
                    yield v.strip() + "\n"


def code(half):
    py = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    cpp = sorted(glob.glob("/usr/include/c++/*/bits/*.h"))
    for files in (py, cpp):
        n = 0
        for p in files:
            t = read_text(p)
            yield t
            n += len(t.encode())
            if n >= half:
                break


def write(path, pieces, size):
    out, n = [], 0
    for piece in pieces:
        out.append(piece)
        n += len(piece.encode())
        if n >= size:
            break
    data = "".join(out).encode()[:size].decode("utf-8", "ignore")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(data)
    print("%s: %d bytes, %d lines" % (path, len(data.encode()), data.count("\n")))


def main():
    outdir = sys.argv[1]
    size = int(float(sys.argv[2] if len(sys.argv) > 2 else 1) * 1_000_000)
    os.makedirs(outdir, exist_ok=True)
    write(os.path.join(outdir, "english.txt"), english(), size)
    write(os.path.join(outdir, "cjk.txt"), cjk(), size)
    write(os.path.join(outdir, "code.txt"), code(size // 2), size)


if __name__ == "__main__":
    main()
