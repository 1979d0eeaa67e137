# shellcheck shell=bash
# bash tests/integration/lib-prof-html.sh REPORT.html NPLOTS: renders the page in headless
# Chromium; passes when the DOM says NPLOTS plot images decoded and the screenshot shows the
# plots' colour (#1f77b4, from profiling/src/plots.c) over a real area.
set -euo pipefail
html=$(realpath "$1") want=$2
command -v chromium > /dev/null || { echo "chromium is missing (make deps)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile"
       --virtual-time-budget=5000 --window-size=1280,3000)
# The page counts its decoded plots itself; a cold browser on a loaded machine can dump the
# DOM before the last image decodes, so a short count is tried again, at most 3 times.
for attempt in 1 2 3; do
    timeout 120 chromium "${flags[@]}" --dump-dom "file://$html" > "$tmp/dom.html" 2> "$tmp/err" ||
        { tail -5 "$tmp/err"; exit 1; }
    loaded=$(grep -o 'data-plots-loaded="[0-9]*"' "$tmp/dom.html" | grep -o '[0-9]*' || echo 0)
    echo "chromium (attempt $attempt): $loaded plot images decoded (want $want)"
    [ "$loaded" -ne "$want" ] || break
done
[ "$loaded" -eq "$want" ] || exit 1
blue_pixels() {
python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), f"unexpected PNG type {ctype}/{depth}"
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), w * bpp
prev, blue, i = bytearray(stride), 0, 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        blue += bl > 150 and bl > r + 50 and g > r + 20
    prev = line
print(f"screenshot {w}x{h}: {blue} pixels in the plots' blue")
sys.exit(0 if blue >= 3000 else 1)
PY
}
for attempt in 1 2 3; do
    timeout 120 chromium "${flags[@]}" --screenshot="$tmp/shot.png" "file://$html" 2> "$tmp/err" ||
        { tail -5 "$tmp/err"; exit 1; }
    cp "$tmp/shot.png" "$(dirname "$html")/screenshot.png"
    blue_pixels "$tmp/shot.png" && exit 0
    echo "(screenshot attempt $attempt)"
done
exit 1
