#!/bin/sh
# `camstream synth` and `camstream fit` end to end:
# - synth images/figures: same seed → identical trees, another seed → different; split sizes;
# - synth video (when built with GStreamer): decoded by gst-launch-1.0 (matroskademux, jpegdec)
#   into exactly FRAMES raw frames, and a label row per visible object and frame;
# - fit: every kind writes a statistics file recording the split; the leakage rule refuses
#   --split val/test, a training image repeated byte for byte in the val/test split, and one in
#   another dataset's evaluation split (--exclude-overlap-with);
# - errors: exit 2 (usage) or 1 (failure) with exactly one line on stderr.
#
#     cli_synth.sh CAMSTREAM SOURCE_DIR
set -u
if [ $# -ne 2 ]; then
    echo "usage: cli_synth.sh CAMSTREAM SOURCE_DIR" >&2
    exit 2
fi
camstream=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-cli-synth.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0 cases=0

ok() { cases=$((cases + 1)); echo "ok   $1"; }
bad() { cases=$((cases + 1)); failures=$((failures + 1)); echo "FAIL $1" >&2; }

# run_ok NAME ARGS...: exit 0.
run_ok() {
    name=$1
    shift
    if "$camstream" "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$name: $(head -c 200 "$tmp/out")"; else
        bad "$name: exit $?"
        sed 's/^/    stderr: /' "$tmp/err" >&2
    fi
}

# expect NAME STATUS SUBSTRING ARGS...: that exit status, one line on stderr naming SUBSTRING.
expect() {
    name=$1 want_rc=$2 want=$3
    shift 3
    "$camstream" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    why=""
    [ "$rc" -eq "$want_rc" ] || why="exit status $rc, expected $want_rc"
    [ "$lines" -eq 1 ] || why="$why; $lines lines on stderr"
    grep -qF -- "$want" "$tmp/err" || why="$why; stderr does not mention '$want'"
    if [ -n "$why" ]; then
        bad "$name: ${why#; }"
        sed 's/^/    stderr: /' "$tmp/err" >&2
    else
        ok "$name: $(cat "$tmp/err")"
    fi
}

# ---- synth images / figures ----------------------------------------------------------------
run_ok "synth images" synth images --out "$tmp/a" --count 40 --size 32 --seed 9 --split 0.5,0.25,0.25
run_ok "synth images again" synth images --out "$tmp/b" --count 40 --size 32 --seed 9 --split 0.5,0.25,0.25
run_ok "synth images seed 10" synth images --out "$tmp/c" --count 40 --size 32 --seed 10 --split 0.5,0.25,0.25
if diff -r "$tmp/a" "$tmp/b" >/dev/null; then ok "same seed, identical files"; else bad "same seed, different files"; fi
if cmp -s "$tmp/a/dataset.csv" "$tmp/c/dataset.csv"; then bad "seed 10 gave the same csv"; else ok "another seed, another csv"; fi
if cmp -s "$tmp/a/images/000000.png" "$tmp/c/images/000000.png"; then bad "seed 10 gave the same image"; else ok "another seed, another image"; fi
n_train=$(grep -c ',train,' "$tmp/a/dataset.csv")
n_val=$(grep -c ',val,' "$tmp/a/dataset.csv")
n_test=$(grep -c ',test,' "$tmp/a/dataset.csv")
if [ "$n_train/$n_val/$n_test" = "20/10/10" ]; then ok "splits 20/10/10"; else bad "splits $n_train/$n_val/$n_test, expected 20/10/10"; fi
n_png=$(ls "$tmp/a/images" | grep -c '\.png$')
[ "$n_png" -eq 40 ] && ok "40 PNG files" || bad "$n_png PNG files, expected 40"
run_ok "synth figures" synth figures --out "$tmp/fig" --count 10 --size 48 --seed 1
if grep -q '^# keypoints: head;neck;' "$tmp/fig/dataset.csv" && [ "$(cat "$tmp/fig/labels.txt")" = person ]; then
    ok "figures declare keypoints"; else bad "figures: no keypoints line or wrong labels"; fi

expect "unknown mode" 2 "unknown mode 'pictures'" synth pictures --out "$tmp/x" --count 1
expect "no mode" 2 "images, figures or video" synth --out "$tmp/x"
expect "missing --out" 2 "--out is required" synth images --count 3
expect "missing --count" 2 "--count is required" synth images --out "$tmp/x"
expect "bad split" 2 "--split expects" synth images --out "$tmp/x" --count 3 --split 0.5,0.5
expect "split sum" 2 "--split expects" synth images --out "$tmp/x" --count 3 --split 0.5,0.5,0.5
expect "bad classes" 2 "--classes" synth images --out "$tmp/x" --count 3 --classes 7
expect "bad seed" 2 "--seed" synth images --out "$tmp/x" --count 3 --seed -4
expect "bad size" 2 "--size" synth images --out "$tmp/x" --count 3 --size 8
expect "unwritable dir" 1 "/proc/nope" synth images --out /proc/nope/x --count 3
expect "bad difficulty" 2 "--difficulty expects high, medium or low, got 'hard'" synth images --out "$tmp/x" --count 3 --difficulty hard
run_ok "synth images medium" synth images --out "$tmp/med" --count 40 --size 32 --seed 9 --split 0.5,0.25,0.25 --difficulty medium
run_ok "synth images high" synth images --out "$tmp/high" --count 40 --size 32 --seed 9 --split 0.5,0.25,0.25 --difficulty high
if diff -r "$tmp/a" "$tmp/high" >/dev/null; then ok "--difficulty high is the default"; else bad "--difficulty high differs from the default"; fi
if cmp -s "$tmp/a/images/000000.png" "$tmp/med/images/000000.png"; then bad "medium gave the default image"; else ok "medium differs"; fi

# ---- synth video ---------------------------------------------------------------------------
"$camstream" synth video --out "$tmp/v.mkv" --frames 12 --size 96x64 --fps 10 --figure --seed 4 \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] && grep -q 'needs GStreamer' "$tmp/err"; then
    echo "skip synth video: built without GStreamer"
elif [ $rc -ne 0 ]; then
    bad "synth video: exit $rc: $(cat "$tmp/err")"
else
    ok "synth video: $(cat "$tmp/out")"
    [ -s "$tmp/v.csv" ] && ok "labels beside the video" || bad "no $tmp/v.csv"
    frames=$(grep -v '^#' "$tmp/v.csv" | cut -d, -f1 | sort -un | wc -l)
    [ "$frames" -eq 12 ] && ok "labels for 12 frames" || bad "labels for $frames frames, expected 12"
    # the figure (class 6 after 6 shapes) has 14 keypoints in every frame
    fig_rows=$(grep -v '^#' "$tmp/v.csv" | awk -F, '$3 == 6 && NF == 49' | wc -l)
    [ "$fig_rows" -eq 12 ] && ok "figure rows with 14 keypoints" || bad "$fig_rows figure rows, expected 12"
    if command -v gst-launch-1.0 >/dev/null; then
        gst-launch-1.0 -q filesrc location="$tmp/v.mkv" ! matroskademux ! jpegdec ! videoconvert ! \
            video/x-raw,format=RGB,width=96,height=64 ! filesink location="$tmp/v.rgb" >/dev/null 2>&1
        size=$(wc -c <"$tmp/v.rgb" 2>/dev/null || echo 0)
        [ "$size" -eq $((12 * 96 * 64 * 3)) ] && ok "gst-launch decodes 12 frames of 96x64" ||
            bad "decoded $size bytes, expected $((12 * 96 * 64 * 3))"
    fi
    # fit --video: the channel means equal those of the frames gst-launch decoded
    run_ok "fit --video" fit --video "$tmp/v.mkv" --kind channel-mean --out "$tmp/v.stats"
    want=$(od -An -tu1 -v "$tmp/v.rgb" | tr -s ' ' '\n' | grep -v '^$' |
        awk '{ s[(NR - 1) % 3] += $1 } END { printf "%.6f %.6f %.6f", s[0] / (NR / 3) / 255, s[1] / (NR / 3) / 255, s[2] / (NR / 3) / 255 }')
    got=$(sed -n 's/^mean = //p' "$tmp/v.stats" | tr ';' ' ')
    if echo "$want $got" | awk '{ for (i = 1; i <= 3; i++) if ($i - $(i + 3) > 2e-4 || $(i + 3) - $i > 2e-4) exit 1 }'; then
        ok "fit --video means $got (gst-launch + awk: $want)"
    else
        bad "fit --video means $got, expected $want"
    fi
    grep -q '^samples = 12$' "$tmp/v.stats" && ok "fit --video: 12 frames" || bad "fit --video: samples != 12"
    run_ok "fit --video --frames 5" fit --video "$tmp/v.mkv" --frames 5 --kind zca --out "$tmp/v5.stats"
    grep -q '^samples = 5$' "$tmp/v5.stats" && ok "fit --video --frames 5: 5 frames" || bad "--frames 5: samples != 5"
    expect "fit --video not a video" 1 "README.md" fit --video "$2/README.md" --kind zca --out "$tmp/x.stats"
    expect "video size" 2 "--size expects WxH" synth video --out "$tmp/w.mkv" --frames 3 --size 95x64
    expect "video frames" 2 "--frames is required" synth video --out "$tmp/w.mkv"
fi

# ---- fit -----------------------------------------------------------------------------------
for kind in mean-image channel-mean channel-mean-std pca zca; do
    run_ok "fit $kind" fit --data "$tmp/a" --kind $kind --out "$tmp/$kind.stats"
    grep -q '^fitted_on = a/train$' "$tmp/$kind.stats" && ok "$kind: fitted_on a/train" ||
        bad "$kind: no 'fitted_on = a/train' in $tmp/$kind.stats"
done
run_ok "fit zca patches" fit --data "$tmp/a" --kind zca --feature patch --patch 4 --epsilon 1e-3 \
    --scale 11 --out "$tmp/zp.stats"
[ -s "$tmp/zp.W.pb" ] && ok "48x48 matrix in zp.W.pb" || bad "no zp.W.pb"
[ -s "$tmp/mean-image.mean.pb" ] && ok "mean image in mean-image.mean.pb" || bad "no mean-image.mean.pb"

expect "fit on test" 1 "refusing to fit on split 'test'" fit --data "$tmp/a" --split test --kind zca --out "$tmp/x.stats"
expect "fit on val" 1 "leakage rule" fit --data "$tmp/a" --split val --kind pca --out "$tmp/x.stats"
[ -e "$tmp/x.stats" ] && bad "a refused fit wrote its output" || ok "a refused fit writes nothing"
# a training image repeated byte for byte in the test split of the same dataset
cp -r "$tmp/a" "$tmp/dup"
cp "$tmp/dup/images/000003.png" "$tmp/dup/images/copy.png"
echo "images/copy.png,test,0,0,0,4,4" >>"$tmp/dup/dataset.csv"
expect "train image in test (bytes)" 1 "images/000003.png (train) has the same bytes as" \
    fit --data "$tmp/dup" --kind zca --out "$tmp/x.stats"
# another dataset whose test split holds one of a's training images
mkdir -p "$tmp/other/images"
cp "$tmp/a/labels.txt" "$tmp/other/"
cp "$tmp/a/images/000001.png" "$tmp/other/images/t.png"
cp "$tmp/a/images/000030.png" "$tmp/other/images/u.png"
printf '# camstream dataset 1\n# size: 32x32\nimages/t.png,test,0,0,0,4,4\nimages/u.png,val,0,0,0,4,4\n' >"$tmp/other/dataset.csv"
expect "exclude-overlap-with" 1 "overlaps an excluded evaluation split" \
    fit --data "$tmp/a" --kind channel-mean --exclude-overlap-with "$tmp/other" --out "$tmp/x.stats"
expect "exclude-overlap-with :test" 1 "images/t.png (test)" \
    fit --data "$tmp/a" --kind channel-mean --exclude-overlap-with "$tmp/other:test" --out "$tmp/x.stats"
run_ok "exclude-overlap-with :val (a's test image: allowed)" \
    fit --data "$tmp/a" --kind channel-mean --exclude-overlap-with "$tmp/other:val" --out "$tmp/y.stats"
expect "exclude bad split" 1 "splits must be" \
    fit --data "$tmp/a" --kind zca --exclude-overlap-with "$tmp/other:dev" --out "$tmp/x.stats"

expect "fit no kind" 2 "--kind" fit --data "$tmp/a" --out "$tmp/x.stats"
expect "fit bad kind" 2 "--kind 'whiten'" fit --data "$tmp/a" --kind whiten --out "$tmp/x.stats"
expect "fit patch without pca" 2 "pca and zca only" fit --data "$tmp/a" --kind channel-mean --feature patch --patch 2 --out "$tmp/x.stats"
expect "fit patch without --patch" 2 "go together" fit --data "$tmp/a" --kind zca --feature patch --out "$tmp/x.stats"
expect "fit no dataset" 1 "dataset.csv" fit --data "$tmp/nothing" --kind zca --out "$tmp/x.stats"
printf 'images/000000.png,train,9,0,0,4,4\n' >>"$tmp/b/dataset.csv"
expect "fit bad dataset" 1 "dataset.csv:44: class: 9 is out of range" fit --data "$tmp/b" --kind zca --out "$tmp/x.stats"

echo "$cases cases, $failures failures"
[ "$failures" -eq 0 ]
