#!/usr/bin/env bash
# Archive and scene throughput, in process and through the local constellation, one sitting.
# Run from anywhere: bash docs/benchmarks/archives-and-scenes.sh (after ./run.sh has built; ../shared/data beside the checkout).
set -uo pipefail
out="${OUT:-/tmp/rsmoe-throughput}"; mkdir -p "$out"   # where the lists and results go
cd "$(dirname "$0")/../.."
ls "$(cd ../shared/data/rsicd/images && pwd)"/*.jpg | sort > $out/all.txt
sed -n '1,1000p' $out/all.txt > $out/inproc.txt
sed -n '1001,1600p' $out/all.txt > $out/c1.txt
sed -n '1601,2200p' $out/all.txt > $out/c2.txt
sed -n '2201,2800p' $out/all.txt > $out/c4.txt
sed -n '2801,3400p' $out/all.txt > $out/c8.txt
rm -f $out/*.jsonl $out/*.geojson
echo "== in process, 1000 RSICD images"
./rsmoe caption-batch $out/inproc.txt --out $out/inproc.jsonl 2>&1 | grep -E "images in|captioned"
./rsmoe scene-sample --out $out/scene20.tif --images 20 --data ../shared/data
echo "== scene in process"
./rsmoe scene $out/scene20.tif --out $out/scene-inproc.geojson 2>&1 | grep -E "tiles of|captioned"
./rsmoe up --port 5090 --logs $out/logs > $out/up.log 2>&1 &
up=$!
for i in $(seq 1 120); do grep -q "RS-MoE is up" $out/up.log && break; sleep 2; done
sleep 5
tail -3 $out/up.log
for c in 1 2 4 8; do
  echo "== gateway, concurrency $c, 600 RSICD images"
  ./rsmoe caption-batch $out/c$c.txt --out $out/c$c.jsonl --gateway http://127.0.0.1:5091 --concurrency $c 2>&1 | grep -E "images in|captioned|error"
done
echo "== scene through the gateway, 2 tiles at a time"
./rsmoe scene $out/scene20.tif --out $out/scene-gw.geojson --gateway http://127.0.0.1:5091 --concurrency 2 2>&1 | grep -E "tiles of|captioned"
kill -TERM $up; wait $up
