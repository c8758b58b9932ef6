#!/bin/sh
# `camstream explain` and `camstream visualize` end to end on a committed model and image:
# outputs exist and parse (PNG headers and sizes, JSON fields, the raw map's TensorProto
# dims), and bad inputs exit non-zero with nothing on stdout and one line on stderr.
#
#     cli_explain.sh CAMSTREAM SOURCE_DIR
set -u
if [ $# -ne 2 ]; then
    echo "usage: cli_explain.sh CAMSTREAM SOURCE_DIR" >&2
    exit 2
fi
camstream=$1 src=$2
model=$src/tests/models/gap_cnn_op13/model.onnx # 3x32x32 in, 8x8 last feature map, 10 classes
input=$src/tests/models/gap_cnn_op13/test_data_set_0/input_0.pb
big_input=$src/tests/models/resnet_tiny_op13/test_data_set_0/input_0.pb
png=$src/tests/data/chelsea_120x80.png
jpg=$src/tests/data/chelsea_120x80.jpg
layer=/features/features.3/features.3.2/Relu_output_0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-cli-explain.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0 cases=0

for f in "$model" "$input" "$big_input" "$png" "$jpg"; do
    [ -f "$f" ] || { echo "cli_explain.sh: missing $f" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "cli_explain.sh: python3 is needed" >&2; exit 1; }

fail() {
    echo "FAIL $1" >&2
    failures=$((failures + 1))
}

# check.py: parses what camstream wrote. Subcommands:
#   png FILE W H              a PNG whose IHDR says W x H (W or H '-' for any)
#   pb FILE D0 D1             an ONNX TensorProto of floats with dims D0 x D1, all finite
#   mkpng FILE W H MODE R G B a uniform PNG (MODE rgb8, gray8 (value R), rgba8 (alpha 0),
#                             rgb16 (each value ·257)), written with zlib alone
#   input FILE PRESET R G B   a saved 1x3xHxW input whose channels all hold what PRESET makes
#                             of the 8-bit color (R, G, B)
#   json FILE KEY=VALUE...    explain's JSON: required fields, consistency, and given values
#                             (KEY is a dotted path; the flag any-class allows a class
#                             other than the top-1)
cat >"$tmp/check.py" <<'EOF'
import json, math, struct, sys, zlib

def png(path, w, h):
    with open(path, "rb") as f:
        head = f.read(33)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert head[12:16] == b"IHDR", "no IHDR"
    pw, ph = struct.unpack(">II", head[16:24])
    assert w == "-" or pw == int(w), "width %d, want %s" % (pw, w)
    assert h == "-" or ph == int(h), "height %d, want %s" % (ph, h)

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return v, i

def pb(path, d0, d1):
    b = open(path, "rb").read()
    dims, dtype, floats, raw, i = [], None, [], None, 0
    while i < len(b):
        key, i = varint(b, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
            if field == 1: dims.append(v)
            if field == 2: dtype = v
        elif wt == 2:
            n, i = varint(b, i)
            chunk, i = b[i:i + n], i + n
            if field == 1:
                j = 0
                while j < len(chunk):
                    v, j = varint(chunk, j); dims.append(v)
            elif field == 4: floats += struct.unpack("<%df" % (n // 4), chunk)
            elif field == 9: raw = chunk
        elif wt == 5:
            if field == 4: floats += struct.unpack("<f", b[i:i + 4])
            i += 4
        elif wt == 1:
            i += 8
        else:
            raise AssertionError("bad wire type %d" % wt)
    assert dtype == 1, "data_type %r, want 1 (float)" % dtype
    assert dims == [int(d0), int(d1)], "dims %r, want [%s, %s]" % (dims, d0, d1)
    if raw is not None:
        floats = struct.unpack("<%df" % (len(raw) // 4), raw)
    assert len(floats) == int(d0) * int(d1), "%d values" % len(floats)
    assert all(math.isfinite(v) for v in floats), "non-finite values"

def mkpng(path, w, h, mode, r, g, b):
    w, h, r, g, b = int(w), int(h), int(r), int(g), int(b)
    depth, ctype, px = {
        "rgb8": (8, 2, bytes([r, g, b])),
        "gray8": (8, 0, bytes([r])),
        "rgba8": (8, 6, bytes([r, g, b, 0])),
        "rgb16": (16, 2, struct.pack(">HHH", r * 257, g * 257, b * 257)),
    }[mode]
    raw = b"".join(b"\0" + px * w for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))

def tensor(path):
    b = open(path, "rb").read()
    dims, vals, i = [], [], 0
    while i < len(b):
        key, i = varint(b, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
            if field == 1: dims.append(v)
        elif wt == 2:
            n, i = varint(b, i)
            chunk, i = b[i:i + n], i + n
            if field == 1:
                j = 0
                while j < len(chunk):
                    v, j = varint(chunk, j); dims.append(v)
            elif field == 4 or field == 9: vals += struct.unpack("<%df" % (n // 4), chunk)
        elif wt == 5:
            if field == 4: vals += struct.unpack("<f", b[i:i + 4])
            i += 4
        elif wt == 1:
            i += 8
    return dims, vals

def inp(path, preset, r, g, b):
    rgb = [int(r), int(g), int(b)]
    if preset == "imagenet":
        m, s = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        want = [(rgb[c] / 255 - m[c]) / s[c] for c in range(3)]
    elif preset == "caffe":
        bgr, m = rgb[::-1], (103.939, 116.779, 123.68)
        want = [bgr[c] - m[c] for c in range(3)]
    elif preset == "tf":
        want = [v / 127.5 - 1 for v in rgb]
    else:
        want = [v / 255 for v in rgb]
    dims, vals = tensor(path)
    assert len(dims) == 4 and dims[0] == 1 and dims[1] == 3, "dims %r" % dims
    plane = dims[2] * dims[3]
    assert len(vals) == 3 * plane, "%d values" % len(vals)
    for c in range(3):
        got = vals[c * plane:(c + 1) * plane]
        bad = max(abs(v - want[c]) for v in got)
        assert bad <= 1e-4 * max(1, abs(want[c])), \
            "channel %d: %r, want %r (off by %g)" % (c, got[0], want[c], bad)

def js(path, *kv):
    d = json.load(open(path))
    for k in ("model", "method", "layer", "class", "score", "probability", "top", "map",
              "boxes", "timing_ms", "input"):
        assert k in d, "no '%s'" % k
    top = d["top"]
    flags = [item for item in kv if "=" not in item]
    assert top, "empty top"
    assert top[0]["class"] == d["class"] or "any-class" in flags, "top-1 is not the class"
    probs = [t["probability"] for t in top]
    assert all(0 <= p <= 1 for p in probs) and sum(probs) <= 1.0001, "probabilities %r" % probs
    assert probs == sorted(probs, reverse=True), "top not sorted"
    assert d["timing_ms"]["total"] >= d["timing_ms"]["explain"] >= 0, "timing"
    w = d["input"].get("width", d["input"]["shape"][3])
    h = d["input"].get("height", d["input"]["shape"][2])
    for b in d["boxes"]:
        assert 0 <= b["x0"] < b["x1"] <= w and 0 <= b["y0"] < b["y1"] <= h, "box %r" % b
    for item in kv:
        if item in flags:
            continue
        k, v = item.split("=", 1)
        got = d
        for part in k.split("."):
            got = got[int(part)] if isinstance(got, list) else got[part]
        assert str(got) == v, "%s is %r, want %r" % (k, got, v)

try:
    {"png": png, "pb": pb, "json": js, "mkpng": mkpng, "input": inp}[sys.argv[1]](*sys.argv[2:])
except (AssertionError, OSError, ValueError, KeyError, IndexError) as e:
    print("%s: %s" % (sys.argv[2], e))
    sys.exit(1)
EOF
check() {
    python3 "$tmp/check.py" "$@" >"$tmp/check" 2>&1 || { fail "$name: $(cat "$tmp/check")"; return 1; }
}

# ok NAME CMD ARGS...: must exit 0 with nothing on stderr.
ok() {
    name=$1
    shift
    cases=$((cases + 1))
    "$camstream" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ]; then
        fail "$name: exit status $rc"
        sed 's/^/    stderr: /' "$tmp/err" >&2
        return 1
    fi
    echo "ok   $name"
}

# bad NAME STATUS SUBSTRING CMD ARGS...: must exit STATUS, print nothing on stdout and one line
# on stderr that starts with "camstream CMD: " and contains SUBSTRING.
bad() {
    name=$1 want_rc=$2 want=$3 cmd=$4
    shift 3
    cases=$((cases + 1))
    "$camstream" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    why=""
    [ "$rc" -ne "$want_rc" ] && why="exit status $rc, want $want_rc"
    [ -s "$tmp/out" ] && why="$why; wrote to stdout"
    [ "$(wc -l <"$tmp/err")" -ne 1 ] && why="$why; $(wc -l <"$tmp/err") lines on stderr"
    grep -q "^camstream $cmd: " "$tmp/err" || why="$why; no 'camstream $cmd: ' prefix"
    grep -qF -- "$want" "$tmp/err" || why="$why; stderr does not mention '$want'"
    if [ -n "$why" ]; then
        fail "$name:${why#;}"
        sed 's/^/    stderr: /' "$tmp/err" >&2
    else
        echo "ok   $name: $(cat "$tmp/err")"
    fi
}

# ---- explain on an image: heatmap and overlay at the image's size, JSON, raw map ----
if ok explain-png explain --model "$model" --image "$png" --method gradcam --top 3 \
    --out-heatmap "$tmp/heat.png" --out-overlay "$tmp/over.png" --json "$tmp/r.json" \
    --raw-out "$tmp/map.pb"; then
    check png "$tmp/heat.png" 120 80 &&
        check png "$tmp/over.png" 120 80 &&
        check json "$tmp/r.json" method=gradcam layer="$layer" map.height=8 map.width=8 \
            input.width=120 input.height=80 input.shape.3=32 &&
        check pb "$tmp/map.pb" 8 8
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["top"]))' \
        "$tmp/r.json")" = 3 ] || fail "explain-png: --top 3 did not list 3 classes"
    grep -q '^gradcam: class ' "$tmp/out" || fail "explain-png: no summary line on stdout"
fi
# The same image as JPEG, explicit class, letterbox and crop, other colormaps.
ok explain-jpeg explain --model "$model" --image "$jpg" --method gradcampp --class 2 \
    --resize letterbox --colormap viridis --out-overlay "$tmp/over_jpg.png" \
    --json "$tmp/r_jpg.json" &&
    check png "$tmp/over_jpg.png" 120 80 &&
    check json "$tmp/r_jpg.json" any-class class=2 method=gradcampp input.resize=letterbox
ok explain-crop explain --model "$model" --image "$png" --method layercam --resize crop \
    --preset caffe --colormap inferno --alpha 0.7 --overlay-threshold 0.3 \
    --out-heatmap "$tmp/heat_crop.png" --json "$tmp/r_crop.json" --quiet &&
    check png "$tmp/heat_crop.png" 120 80 &&
    check json "$tmp/r_crop.json" input.resize=crop input.bgr=True
[ -s "$tmp/out" ] && fail "explain-crop: --quiet wrote to stdout"
# JSON on stdout.
if ok explain-json-stdout explain --model "$model" --image "$png" --method xgradcam --json -; then
    python3 -c 'import json,sys; json.load(sys.stdin)' <"$tmp/out" ||
        fail "explain-json-stdout: stdout is not JSON"
fi

# ---- explain on a preprocessed input: outputs at the input's size ----
ok explain-in explain --model "$model" --in "$input" --method gradcam --layer "$layer" \
    --out-heatmap "$tmp/heat_in.png" --out-overlay "$tmp/over_in.png" \
    --json "$tmp/r_in.json" --raw-out "$tmp/map_in.pb" &&
    check png "$tmp/heat_in.png" 32 32 &&
    check png "$tmp/over_in.png" 32 32 &&
    check json "$tmp/r_in.json" map.height=8 input.shape.2=32 &&
    check pb "$tmp/map_in.pb" 8 8
# Saliency maps are at input resolution.
ok explain-saliency explain --model "$model" --in "$input" --method saliency \
    --preset none --raw-out "$tmp/sal.pb" --out-overlay "$tmp/sal.png" &&
    check pb "$tmp/sal.pb" 32 32 && check png "$tmp/sal.png" 32 32

# Every method that needs nothing more than the model (pv needs a decoder model).
for method in cam scorecam smooth_gradcampp smoothgrad rise augmented_gradcam; do
    ok "explain-$method" explain --model "$model" --image "$png" --method "$method" \
        --samples 4 --rise-masks 200 --json "$tmp/m.json" --out-overlay "$tmp/m.png" &&
        check json "$tmp/m.json" method="$method" && check png "$tmp/m.png" 120 80
done

# ---- preprocessing: uniform images of every PNG layout through every preset ----
for spec in "rgb8 imagenet 255 128 0" "rgb8 caffe 255 128 0" "gray8 none 100 100 100" \
    "rgba8 tf 10 20 30" "rgb16 none 200 50 7" "rgb8 imagenet 0 255 17"; do
    set -- $spec
    name="preprocess-$1-$2"
    check mkpng "$tmp/u.png" 50 30 "$1" "$3" "$4" "$5" &&
        ok "$name" explain --model "$model" --image "$tmp/u.png" --preset "$2" \
            --method gradcam --quiet --save-input "$tmp/u.pb" &&
        check input "$tmp/u.pb" "$2" "$3" "$4" "$5"
done
# The saved input explains like the image itself.
if ok save-input explain --model "$model" --image "$png" --method gradcam --quiet \
    --save-input "$tmp/saved.pb" --json "$tmp/a.json" &&
    ok reuse-input explain --model "$model" --in "$tmp/saved.pb" --method gradcam --quiet \
        --json "$tmp/b.json"; then
    python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); \
assert a["class"]==b["class"] and abs(a["score"]-b["score"])<1e-5' "$tmp/a.json" "$tmp/b.json" ||
        fail "reuse-input: --in of the saved input gives another class or score"
fi

# ---- visualize ----
ok visualize-filters visualize --model "$model" --filters --out "$tmp/filters.png" &&
    check png "$tmp/filters.png" - -
ok visualize-actmax visualize --model "$model" --actmax --target output --unit 3 \
    --steps 20 --out "$tmp/actmax.png" &&
    check png "$tmp/actmax.png" 128 128
ok visualize-patches visualize --model "$model" --patches --layer "$layer" --unit 1 \
    --images "$src/tests/data" --top 4 --tile 32 --out "$tmp/patches.png" &&
    check png "$tmp/patches.png" 70 70

# ---- bad inputs ----
printf 'hello, this is not an image\n' >"$tmp/text.png"
head -c 2000 "$png" >"$tmp/cut.png"
head -c 1500 "$jpg" >"$tmp/cut.jpg"
printf 'GIF89a\001\000\001\000\000\000\000;' >"$tmp/image.gif"
: >"$tmp/empty.png"
mkdir "$tmp/emptydir"
bad missing-model 1 "$tmp/nope.onnx" explain --model "$tmp/nope.onnx" --image "$png" --method gradcam
bad model-is-image 1 "$png" explain --model "$png" --image "$png" --method gradcam
bad missing-image 1 "$tmp/nope.png" explain --model "$model" --image "$tmp/nope.png" \
    --method gradcam
bad text-image 1 "$tmp/text.png" explain --model "$model" --image "$tmp/text.png" \
    --method gradcam
bad empty-image 1 "$tmp/empty.png" explain --model "$model" --image "$tmp/empty.png" \
    --method gradcam
bad truncated-png 1 "truncated" explain --model "$model" --image "$tmp/cut.png" \
    --method gradcam
bad truncated-jpeg 1 "$tmp/cut.jpg" explain --model "$model" --image "$tmp/cut.jpg" \
    --method gradcam
bad gif 1 "GIF" explain --model "$model" --image "$tmp/image.gif" --method gradcam
bad directory-image 1 "directory" explain --model "$model" --image "$tmp" \
    --method gradcam
bad unknown-method 2 "'nosuch'" explain --model "$model" --image "$png" --method nosuch
bad unknown-layer 1 "'nosuch'" explain --model "$model" --image "$png" --method gradcam \
    --layer nosuch
bad class-out-of-range 1 "10" explain --model "$model" --image "$png" --method gradcam --class 10
bad class-in-out-of-range 1 "out of range" explain --model "$model" --in "$input" \
    --method gradcam --class 99
bad class-negative 2 "--class" explain --model "$model" --image "$png" --method gradcam --class -3
bad in-wrong-shape 1 "does not fit" explain --model "$model" --in "$big_input" \
    --method gradcam
bad in-not-pb 1 "$png" explain --model "$model" --in "$png" --method gradcam
bad image-and-in 2 "exactly one" explain --model "$model" --image "$png" --in "$input" \
    --method gradcam
bad no-method 2 "--method" explain --model "$model" --image "$png"
bad no-model 2 "--model" explain --image "$png" --method gradcam
bad unknown-option 2 "--frobnicate" explain --model "$model" --image "$png" --method gradcam \
    --frobnicate
bad unknown-colormap 2 "'hot'" explain --model "$model" --image "$png" --method gradcam \
    --colormap hot
bad unknown-preset 2 "'yolo'" explain --model "$model" --image "$png" --method gradcam --preset yolo
bad bad-alpha 2 "--alpha" explain --model "$model" --image "$png" --method gradcam --alpha 2
bad bad-mean 2 "--mean" explain --model "$model" --image "$png" --method gradcam --mean 1,2
bad unwritable-heatmap 1 "$tmp/no/dir/h.png" explain --model "$model" --image "$png" \
    --method gradcam --out-heatmap "$tmp/no/dir/h.png"
bad unwritable-json 1 "$tmp/no/dir/r.json" explain --model "$model" --image "$png" \
    --method gradcam --json "$tmp/no/dir/r.json"
bad visualize-no-mode 2 "--actmax" visualize --model "$model" --out "$tmp/v.png"
bad visualize-bad-unit 1 "12" visualize --model "$model" --actmax --target output \
    --unit 12 --out "$tmp/v.png"
bad visualize-bad-image 1 "$tmp/text.png" visualize --model "$model" --patches \
    --layer "$layer" --unit 1 --images "$tmp/text.png" --out "$tmp/v.png"
bad visualize-empty-dir 1 "no PNG or JPEG" visualize --model "$model" --patches \
    --layer "$layer" --unit 1 --images "$tmp/emptydir" --out "$tmp/v.png"

# The bench commands on a model description: its model (64x64 input) and its [explain] layer.
desc=$src/models/shapes_multitask.model
ok bench-desc bench "$desc" --runs 2 --warmup 1 --json &&
    grep -q '"input":"1x3x64x64"' "$tmp/out" || fail "bench-desc: $(cat "$tmp/out")"
ok bench-explain-desc bench-explain "$desc" --methods gradcam --runs 2 --warmup 1 --json &&
    grep -q '"layer":"features"' "$tmp/out" || fail "bench-explain-desc: $(cat "$tmp/out")"
bad bench-no-model 1 "$tmp/none.model" bench "$tmp/none.model"

echo "$cases cases, $failures failed"
[ "$failures" -eq 0 ]
