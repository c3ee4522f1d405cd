#!/usr/bin/env bash
# Seeds the fuzz corpora from the committed models and every IR snapshot.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/parse_ir corpus/compile_run
for f in ../examples/models/*.kir; do
    cp "$f" "corpus/parse_ir/$(basename "$f")"
    { printf '\001'; cat "$f"; } > "corpus/compile_run/$(basename "$f")"
    # symbolic dims of 70,001: kernels split across threads
    { printf '\005'; cat "$f"; } > "corpus/compile_run/big.$(basename "$f")"
done
i=0
for f in ../tests/snapshots/*.snap; do
    # the module text after the snapshot header
    body=$(awk 'n >= 2 { print } /^---$/ { n++ }' "$f")
    case "$body" in
        *"module {"*)
            i=$((i + 1))
            printf '%s\n' "$body" > "corpus/parse_ir/snap$i.kir"
            { printf '\002'; printf '%s\n' "$body"; } > "corpus/compile_run/snap$i.kir"
            ;;
    esac
done
echo "seeded $(ls corpus/parse_ir | wc -l) inputs per target"
