#!/bin/bash
# small fp32 decode with and without glibc's THP tunable for malloc, alternating; AnonHugePages peak per run
cd "$(dirname "$0")/../../.."
out=${OUT:-/tmp}
for i in 1 2; do
  for mode in off on; do
    ( peak=0; while true; do v=$(awk '/AnonHugePages/{print $2}' /proc/meminfo); [ "$v" -gt "$peak" ] && peak=$v && echo $peak > $out/hp-peak-$mode-$i; sleep 0.3; done ) &
    mon=$!
    if [ $mode = on ]; then export GLIBC_TUNABLES=glibc.malloc.hugetlb=1; else unset GLIBC_TUNABLES; fi
    ./rsmoe bench lm --shapes small --dtypes fp32,bf16 --llama-cpp F32 --threads 2 --repetitions 3 --out $out/hp-$mode-$i.json > $out/hp-$mode-$i.log 2>&1
    kill $mon; unset GLIBC_TUNABLES
    echo "$mode $i peak AnonHugePages kB: $(cat $out/hp-peak-$mode-$i 2>/dev/null)"
    grep -iE "decode|tok" $out/hp-$mode-$i.log | tail -4
  done
done
