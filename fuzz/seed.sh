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
# a fused chain longer than codegen's padded-tail threshold (256 nodes), with taps
# fetched along it: one kernel of many outputs over an odd extent
{
    printf 'module {\n  %%x = parameter : f32[?0]\n'
    printf '  %%c = constant [1.0001] : f32[]\n  %%cb = broadcast %%c {dims=[]} : f32[?0]\n'
    prev=x
    for k in $(seq 1 300); do
        case $((k % 3)) in
            0) printf '  %%v%d = mul %%%s, %%cb : f32[?0]\n' "$k" "$prev" ;;
            1) printf '  %%v%d = tanh %%%s : f32[?0]\n' "$k" "$prev" ;;
            *) printf '  %%v%d = add %%%s, %%cb : f32[?0]\n' "$k" "$prev" ;;
        esac
        if [ $((k % 37)) = 0 ]; then printf '  %%tap%d = neg %%v%d : f32[?0]\n' "$k" "$k"; fi
        prev=v$k
    done
    printf '}\n'
} > corpus/parse_ir/long_chain.kir
{ printf '\003'; cat corpus/parse_ir/long_chain.kir; } > corpus/compile_run/long_chain.kir
# hand-written modules: narrow integers and a concat along unknown sizes (a sum dim)
for f in seeds/*.kir; do
    cp "$f" "corpus/parse_ir/$(basename "$f")"
    { printf '\001'; cat "$f"; } > "corpus/compile_run/$(basename "$f")"
done
echo "seeded $(ls corpus/parse_ir | wc -l) inputs per target"
