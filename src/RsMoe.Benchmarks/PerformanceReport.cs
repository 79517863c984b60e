using System.Globalization;
using System.Text;

namespace RsMoe.Benchmarks;

/// <summary>Renders <c>docs/performance.md</c> from one run of the suite: every figure in it comes from that run.</summary>
internal static class PerformanceReport
{
    public static string Render(BenchmarkSuite.Results r, string jsonPath)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        var m = r.Machine;
        md.AppendLine("# Performance");
        md.AppendLine();
        md.AppendLine($"Written by `./rsmoe bench suite` on {r.Date}{(r.Quick ? " (**--quick**: tiny shapes, few requests; not figures to quote)" : "")}; the raw rows are in");
        md.AppendLine($"[`{jsonPath}`]({jsonPath}). Rerun it to regenerate this page. Every comparison below was measured within this one run, on this machine, minutes apart: llama.cpp too ({LlamaCppNative(r)}).");
        md.AppendLine();
        md.AppendLine("## In short");
        md.AppendLine();
        var peers = PeerComparisons(r).Where(c => c.Threads == 2).ToList();
        if (peers.Count > 0)
            md.AppendLine("- Single-sequence decode, 2 threads, against llama.cpp at the same precision, measured in this run (median of the runs, range from slowest to fastest): " +
                string.Join(", ", peers.Select(c => $"{c.Shape} {c.Ours.DType} vs {c.Peer.DType} {c.Ratio:F2}× ({c.RatioLow:F2}–{c.RatioHigh:F2})")) + ".");
        var pairs = r.Experts.Where(x => x.Mode == "batched").Select(b => (b, r.Experts.First(x => x.Shape == b.Shape && x.DType == b.DType && x.Mode == "sequential"))).ToList();
        md.AppendLine("- Three experts on one shared base in one batched pass, against three separate copies decoded in turn: " +
            string.Join(", ", pairs.Select(p => $"{p.b.Shape} {p.b.DType} {p.b.TokensPerSecond / p.Item2.TokensPerSecond:F2}× the tokens/s in {p.b.PeakRssMiB / p.Item2.PeakRssMiB * 100:F0}% of the memory")) + ".");
        var busiest = r.Serve.Where(x => x.Mode == "batched").GroupBy(x => (x.Shape, x.DType)).Select(g => g.MaxBy(x => x.Concurrency)!).ToList();
        md.AppendLine("- One expert with continuous batching: " + string.Join(", ", busiest.Select(b =>
        {
            var u = r.Serve.First(x => x.Shape == b.Shape && x.DType == b.DType && x.Concurrency == b.Concurrency && x.Mode == "unbatched");
            return $"{b.Shape} {b.DType} at {b.Concurrency} concurrent requests {b.TokensPerSecond / u.TokensPerSecond:F2}× the tokens/s of one generation per request";
        })) + ".");
        if (r.Gateway.FirstOrDefault(x => x.Concurrency == 1) is { } g1)
            md.AppendLine($"- The gateway's own overhead with trivially fast experts: {g1.AddedP50Ms:F1} ms at p50, {g1.AddedP99Ms:F1} ms at p99 (1 client).");
        var cacheRow = r.Constellation.FirstOrDefault(x => x.Request == "ask" && x.Cache == "miss" && x.Concurrency == 1);
        if (cacheRow?.ImageEncoderP50Ms is { } saved)
            md.AppendLine($"- A feature-cache hit saves the image encoder's {saved:F0} ms (p50, 1 client) on every repeated question.");
        md.AppendLine("- Archives and whole scenes (`caption-batch`, `scene`; in process and through the constellation at 1–8 in flight) are measured by");
        md.AppendLine("  their own script, `docs/benchmarks/archives-and-scenes.sh`; its figures are in `docs/benchmarks/archives-and-scenes.md`.");
        md.AppendLine();
        md.AppendLine("Where the time went before: a decode step is about fifteen small operations per layer, and each libtorch call from");
        md.AppendLine("TorchSharp costs several microseconds of handles, dispose scopes and P/Invoke, which on the small shapes outweighed the");
        md.AppendLine("weight reads themselves (the *libtorch* rows below). The CPU decoder does each step in vectorised C# over the model's own");
        md.AppendLine("weight memory (fp32, bf16 widened in registers, or Q8_0 blocks multiplied in int8 against the input rounded to int8 blocks, as llama.cpp does), splits the matrix products across the threads by output rows, and steps");
        md.AppendLine("any number of sequences together so a batch reads each weight once. Prefill stays in libtorch, whose matrix-matrix kernels");
        md.AppendLine("are what long prompts need. The CPU decoder's logits equal libtorch's to 1e-3 in the tests, and greedy and seeded sampled");
        md.AppendLine("tokens are identical.");
        md.AppendLine();
        md.AppendLine("## The machine");
        md.AppendLine();
        md.AppendLine("| processor | cores | read bandwidth, 1 thread | 2 threads | decoder kernel fp32, 2 threads | bf16 | q8_0 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        md.AppendLine($"| {m.Processor} | {m.Cores} | {m.ReadGBps1Thread} GB/s | {m.ReadGBps2Threads} GB/s | {m.KernelFp32GBps} GB/s | {m.KernelBf16GBps} GB/s | {Opt(m.KernelQ8GBps > 0 ? m.KernelQ8GBps : null)} GB/s |");
        md.AppendLine();
        md.AppendLine("Read bandwidth is a vectorised sum over 1 GiB; the kernel figures are the CPU decoder's matrix-vector product streaming");
        md.AppendLine("weight matrices that do not fit the last-level cache (best of 20 passes; cloud machines vary by ±30% between runs).");
        md.AppendLine();

        md.AppendLine("## 1. Decode and prefill");
        md.AppendLine();
        md.AppendLine("Random-weight Llama shapes (tiny: hidden 256, 4 layers; small: hidden 768, 12 layers; 1b: Llama-3.2-1B), a 64-token prompt,");
        md.AppendLine("64 new tokens greedy, one child process per row. *cpu* is the CPU decoder (decode steps in vectorised C# over the model's own");
        md.AppendLine("weights); *libtorch* is the same model with a libtorch call per operation (`RSMOE_CPU_DECODER=0`); prefill is libtorch in both.");
        md.AppendLine("*q8_0* is a bf16 model whose projections and head the CPU decoder reads as Q8_0 blocks quantised at load (`--weights q8_0`;");
        md.AppendLine("the bf16 weights stay resident for libtorch's prefill, so its memory is the sum of both).");
        md.AppendLine("*llama.cpp* is llama.cpp on a GGUF export of the same shape and seed (`rsmoe lm export-gguf`'s writer; F32, F16, BF16, or");
        md.AppendLine("Q8_0 with its F16 fallback for rows that are not whole blocks), run on the same prompt ids, greedy, in its own child process.");
        md.AppendLine("The ceiling is the weights one step reads over the measured read bandwidth at that thread count. Decode is the median of");
        md.AppendLine("the runs; *range* is the slowest and fastest run.");
        md.AppendLine();
        md.AppendLine("| shape | dtype | threads | decoder | weights read per token | prefill tokens/s | decode tokens/s | range | ceiling tokens/s | of ceiling | peak RSS MiB |");
        md.AppendLine("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in r.Lm)
        {
            double bandwidth = row.Threads == 1 ? m.ReadGBps1Thread : m.ReadGBps2Threads;
            double ceiling = bandwidth * 1e9 / row.WeightBytesPerToken;
            string range = row.Repetitions > 1 ? $"{row.DecodeMin:F1}–{row.DecodeMax:F1}" : "–";
            md.AppendLine($"| {row.Shape} | {row.DType} | {row.Threads} | {row.Decoder} | {row.WeightBytesPerToken / 1048576.0:F0} MiB | {row.PrefillTokensPerSecond:F0} | {row.DecodeTokensPerSecond:F1} | {range} | {ceiling:F1} | {row.DecodeTokensPerSecond / ceiling * 100:F0}% | {row.PeakRssMiB:F0} |");
        }
        var comparisons = PeerComparisons(r);
        if (comparisons.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Our decoder against llama.cpp, same shape, same threads, same run. The ratio is of the medians; its range pairs our");
            md.AppendLine("slowest run with llama.cpp's fastest and the other way round. Our q8_0 reads the same Q8_0 blocks as llama.cpp's Q8_0 and, like");
            md.AppendLine("it, rounds each projection's input to 8-bit blocks and multiplies in integers (our input scales are fp32, llama.cpp's fp16).");
            md.AppendLine();
            md.AppendLine("| shape | threads | ours | tokens/s | llama.cpp | tokens/s | ratio | range |");
            md.AppendLine("|---|---:|---|---:|---|---:|---:|---:|");
            foreach (var c in comparisons)
                md.AppendLine($"| {c.Shape} | {c.Threads} | {c.Ours.DType} | {c.Ours.DecodeTokensPerSecond:F1} | {c.Peer.DType} | {c.Peer.DecodeTokensPerSecond:F1} | {c.Ratio:F2}× | {c.RatioLow:F2}–{c.RatioHigh:F2} |");
        }
        md.AppendLine();
        if (r.Lm.Any(x => x.DecodeTokensPerSecond > m.ReadGBps2Threads * 1e9 / x.WeightBytesPerToken))
        {
            md.AppendLine("A row above 100% holds weights that fit the last-level cache (the tiny shape: 21–42 MiB), which is faster than memory;");
            md.AppendLine("the ceiling is memory's.");
            md.AppendLine();
        }
        Targets(md, r);
        Profiles(md, r);
        var speedups = r.Lm.Where(x => x.Decoder == "libtorch").Select(t =>
        {
            var cpu = r.Lm.First(x => x.Decoder == "cpu" && x.Shape == t.Shape && x.DType == t.DType && x.Threads == t.Threads);
            return $"{t.Shape} {t.DType} {cpu.DecodeTokensPerSecond / t.DecodeTokensPerSecond:F1}×";
        });
        md.AppendLine($"The CPU decoder against a libtorch call per operation, 2 threads: {string.Join(", ", speedups)}.");
        md.AppendLine();

        md.AppendLine("## 2. Three experts on one shared base");
        md.AppendLine();
        md.AppendLine("Three Stage II experts (rank-8 LoRA on q, v, gate, up and down, random) each write a 64-token section after a 32-token prompt.");
        md.AppendLine("*sequential*: three merged copies of the model, one decode after another (what three expert processes hold).");
        md.AppendLine("*batched*: one base and the three adapters in a LoRA bank, the three sections decoded together, each row with its own adapter");
        md.AppendLine("(the S-LoRA / Punica approach): the base weights are read once per step for all three. Time includes the prefills.");
        md.AppendLine();
        md.AppendLine("| shape | dtype | mode | weights held | peak RSS | seconds | tokens/s | speed-up | memory |");
        md.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var row in r.Experts)
        {
            var sequential = r.Experts.First(x => x.Shape == row.Shape && x.DType == row.DType && x.Mode == "sequential");
            md.AppendLine($"| {row.Shape} | {row.DType} | {row.Mode} | {row.WeightMiB:F0} MiB | {row.PeakRssMiB:F0} MiB | {row.Seconds:F2} | {row.TokensPerSecond:F1} | {row.TokensPerSecond / sequential.TokensPerSecond:F2}× | {row.PeakRssMiB / sequential.PeakRssMiB * 100:F0}% |");
        }
        md.AppendLine();

        md.AppendLine("## 3. One expert under concurrent requests");
        md.AppendLine();
        md.AppendLine("The expert service decodes with continuous batching: a request is prefilled when it arrives and joins the running batch at");
        md.AppendLine("the next step; it leaves the step it ends. *unbatched* is what the service did before: one generation per request, two at once.");
        md.AppendLine("In process, random weights, 64 new tokens per request, all requests sent at once:");
        md.AppendLine();
        md.AppendLine("| shape | dtype | concurrent requests | unbatched tokens/s | batched tokens/s | mean batch | speed-up |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var batched in r.Serve.Where(x => x.Mode == "batched"))
        {
            var unbatched = r.Serve.First(x => x.Shape == batched.Shape && x.DType == batched.DType && x.Concurrency == batched.Concurrency && x.Mode == "unbatched");
            md.AppendLine($"| {batched.Shape} | {batched.DType} | {batched.Concurrency} | {unbatched.TokensPerSecond:F0} | {batched.TokensPerSecond:F0} | {batched.MeanBatch:F1} | {batched.TokensPerSecond / unbatched.TokensPerSecond:F2}× |");
        }
        md.AppendLine();
        md.AppendLine("Through the real expert process (the default model's objects expert, gRPC on loopback, up to 64 new tokens, random prefixes).");
        md.AppendLine("The default model's language model is tiny (its shape is in `models/default/MODEL_CARD.md`), so its requests are mostly prefill, tokenizing and");
        md.AppendLine("gRPC rather than weight reads; the rows above show what batching does where the weights dominate.");
        md.AppendLine();
        md.AppendLine("| concurrent requests | requests | tokens | tokens/s | p50 ms per request |");
        md.AppendLine("|---:|---:|---:|---:|---:|");
        foreach (var row in r.ExpertService)
            md.AppendLine($"| {row.Concurrency} | {row.Requests} | {row.Tokens} | {row.TokensPerSecond:F0} | {row.P50Ms:F0} |");
        md.AppendLine();

        md.AppendLine("## 4. End to end through the local constellation");
        md.AppendLine();
        md.AppendLine($"Six processes and the feature cache ({r.FeatureCache.Split(' ')[0]}) on this machine, the embedded default model, the gateway's gRPC API. *miss*:");
        md.AppendLine("RSSCN7 photos never seen (the image encoder decodes the JPEG and runs ResNet-18); *hit*: the same photos again.");
        md.AppendLine();
        md.AppendLine("| request | features | clients | requests | p50 ms | p95 ms | mean ms | requests/s | errors |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var row in r.Constellation)
            md.AppendLine($"| {row.Request} | cache {row.Cache} | {row.Concurrency} | {row.Requests} | {row.P50Ms:F0} | {row.P95Ms:F0} | {row.MeanMs:F0} | {row.RequestsPerSecond:F1} | {(row.Errors is { Count: > 0 } e ? string.Join(", ", e.Select(x => $"{x.Key} {x.Value}")) : "none")} |");
        md.AppendLine();

        md.AppendLine("## 5. The gateway's own overhead");
        md.AppendLine();
        md.AppendLine("The same constellation with the gateway asking each expert for one token, captions of one cached image. *backend* is what the");
        md.AppendLine("gateway waited on (the VLM encoder call plus the parallel expert fan-out, from its own timings); *added* is the client's latency");
        md.AppendLine("minus that, per request: REST/gRPC handling, the cache lookup, the fan-out bookkeeping, the merge, and the client's hop.");
        md.AppendLine();
        md.AppendLine("| clients | requests | client p50 ms | client p99 ms | backend p50 ms | added p50 ms | added p99 ms | requests/s |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in r.Gateway)
            md.AppendLine($"| {row.Concurrency} | {row.Requests} | {row.ClientP50Ms:F1} | {row.ClientP99Ms:F1} | {row.BackendP50Ms:F1} | {row.AddedP50Ms:F1} | {row.AddedP99Ms:F1} | {row.RequestsPerSecond:F0} |");
        md.AppendLine();

        md.AppendLine("## 6. What the feature cache saves");
        md.AppendLine();
        var misses = r.Constellation.Where(x => x.Cache == "miss" && x.ImageEncoderP50Ms is not null).ToList();
        var askMiss = r.Constellation.FirstOrDefault(x => x.Request == "ask" && x.Cache == "miss" && x.Concurrency == 1);
        var askHit = r.Constellation.FirstOrDefault(x => x.Request == "ask" && x.Cache == "hit" && x.Concurrency == 1);
        md.AppendLine("| what | p50 ms |");
        md.AppendLine("|---|---:|");
        foreach (var row in misses)
            md.AppendLine($"| image encoder on a miss ({row.Request}, {row.Concurrency} client{(row.Concurrency > 1 ? "s" : "")}), as the gateway timed it | {row.ImageEncoderP50Ms:F0} |");
        if (askMiss is not null && askHit is not null)
            md.AppendLine($"| a question, miss against hit, 1 client | {askMiss.P50Ms:F0} → {askHit.P50Ms:F0} |");
        md.AppendLine();
        md.AppendLine("Every repeated question about an image skips the image encoder (JPEG decode, resize, ResNet-18) and its network hop.");
        if (r.ImageEncoder is { Count: > 0 } encoder)
        {
            md.AppendLine();
            md.AppendLine("## 7. The image encoder against ONNX Runtime");
            md.AppendLine();
            md.AppendLine($"ResNet-18 (the package's CNTK export, preprocessing graph included) up to the map the shipped model reads (`{encoder[0].Encoder}`) on the same RSSCN7 photos, one image per call, in");
            md.AppendLine($"the image encoder with each engine: *libtorch*, our ONNX-graph executor (libtorch operators), and *onnxruntime*, {encoder.FirstOrDefault(x => x.Native is not null)?.Native ?? "ONNX Runtime"}");
            md.AppendLine("(all graph optimisations, intra-op threads as given; the graph loaded with that map added to its outputs), each in");
            md.AppendLine("its own child process; decoding the JPEG is not timed. The two maps agree to 1e-4 (`ResNetImageEncoderTests`). The floor is");
            md.AppendLine($"the graph's own {encoder[0].MultiplyAdds / 1e9:F2} G multiply-adds to that map (its convolutions, counted on their shapes) at the cores' fused-multiply-add peak, measured in the same child.");
            md.AppendLine();
            md.AppendLine("| engine | threads | ms per image (median) | range of runs | compute floor ms | of floor | peak RSS MiB |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var row in encoder)
            {
                md.AppendLine($"| {row.Engine} | {row.Threads} | {row.MsPerImage:F1} | {row.MsMin:F1}–{row.MsMax:F1} | {row.FloorMs:F1} | {row.FloorMs / row.MsPerImage * 100:F0}% | {row.PeakRssMiB:F0} |");
            }
            var engines = encoder.Where(x => x.Engine == "libtorch").Select(o => (Ours: o, Peer: encoder.First(x => x.Engine == "onnxruntime" && x.Threads == o.Threads))).ToList();
            var ratios = engines.Select(p => $"{p.Peer.MsPerImage / p.Ours.MsPerImage:F2}× ONNX Runtime's speed at {p.Ours.Threads} thread{(p.Ours.Threads > 1 ? "s" : "")}");
            var oursFaster = engines.Where(p => p.Ours.MsPerImage < p.Peer.MsPerImage).Select(p => p.Ours.Threads).ToList();
            md.AppendLine();
            md.AppendLine($"The libtorch executor runs at {string.Join(", ", ratios)}. The image-encoder service runs ONNX Runtime on the CPU (its default there), " +
                (oursFaster.Count == 0 ? "the faster engine at every thread count in this run."
                    : $"although the libtorch executor was faster in this run at {string.Join(" and ", oursFaster)} thread(s): ONNX Runtime's runs vary least, and one run's order is not a verdict."));
            int orientations = encoder[0].Orientations;
            if (orientations > 1 && encoder.FirstOrDefault(x => x.Engine == "onnxruntime" && x.Threads == encoder.Max(e => e.Threads)) is { } service)
            {
                md.AppendLine();
                md.AppendLine($"Each row times one pass. The shipped model averages every photo's map over {orientations} orientations (`image_orientations`; " +
                    $"the model card says what it buys), so the service makes {orientations} passes for a new photo, about {orientations * service.MsPerImage:F0} ms at " +
                    $"{service.Threads} threads from this table; a feature-cache hit skips them all (section 6).");
            }
        }
        return md.ToString();
    }

    /// <summary>
    /// The decode targets: at least llama.cpp's speed at the same precision on the small and 1B shapes, and 90% of the
    /// read-bandwidth ceiling at 2 threads; each row says whether it is met and by how much it is missed.
    /// </summary>
    static void Targets(StringBuilder md, BenchmarkSuite.Results r)
    {
        var rows = PeerComparisons(r).Where(c => c.Shape != "tiny").ToList();
        if (rows.Count == 0) return;
        md.AppendLine("### Targets");
        md.AppendLine();
        md.AppendLine("Decode on the small and 1B shapes at least as fast as llama.cpp at the same precision (1.00×), and at 2 threads at least");
        md.AppendLine("90% of the ceiling (weights one step reads over the measured read bandwidth).");
        md.AppendLine();
        md.AppendLine("| shape | threads | ours | llama.cpp | ratio | met | of ceiling | met |");
        md.AppendLine("|---|---:|---|---|---:|---|---:|---|");
        foreach (var c in rows)
        {
            double bandwidth = c.Threads == 1 ? r.Machine.ReadGBps1Thread : r.Machine.ReadGBps2Threads;
            double ofCeiling = c.Ours.DecodeTokensPerSecond * c.Ours.WeightBytesPerToken / (bandwidth * 1e9);
            string ceilingMet = c.Threads == 2 ? (ofCeiling >= 0.9 ? "yes" : $"no, {0.9 - ofCeiling:P0} short") : "–";
            md.AppendLine($"| {c.Shape} | {c.Threads} | {c.Ours.DType} | {c.Peer.DType} | {c.Ratio:F2}× | {(c.Ratio >= 1 ? "yes" : $"no, {1 - c.Ratio:P0} short")} | {ofCeiling:P0} | {ceilingMet} |");
        }
        md.AppendLine();
    }

    /// <summary>Where a decode step's time goes, phase by phase, for each profiled configuration.</summary>
    static void Profiles(StringBuilder md, BenchmarkSuite.Results r)
    {
        if (r.Profiles is not { Count: > 0 } profiles) return;
        md.AppendLine($"### Where a decode step's time goes ({profiles[0].Shape}, {profiles[0].Threads} threads)");
        md.AppendLine();
        md.AppendLine("`rsmoe bench lm-one --profile`: a clock read between the phases of every step (greedy, after the 64-token prompt), microseconds");
        md.AppendLine("per step and their share. *InputPacking* is the input's bf16 reordering or 8-bit rounding before each projection group.");
        if (r.Machine.ParallelRegionMicroseconds > 0 && profiles[0].Shape != "tiny")
        {
            // Four projection groups and attention per layer, and the head: the regions each step synchronises the threads for.
            int regions = 5 * BenchCommands.Shape(profiles[0].Shape).NumHiddenLayers + 1;
            md.AppendLine($"Each projection group and each layer's attention is one parallel region ({regions} a step here); an empty region costs");
            md.AppendLine($"{r.Machine.ParallelRegionMicroseconds:F1} µs on this machine (the decoder's spinning thread team; a `Parallel.For` costs {r.Machine.ParallelForMicroseconds:F1} µs), so thread");
            md.AppendLine($"synchronisation alone is about {regions * r.Machine.ParallelRegionMicroseconds:F0} µs of each step, inside the projection and attention rows.");
        }
        md.AppendLine();
        md.AppendLine("| phase | " + string.Join(" | ", profiles.Select(p => p.DType)) + " |");
        md.AppendLine("|---|" + string.Concat(profiles.Select(_ => "---:|")));
        foreach (var phase in profiles[0].MicrosecondsPerStep.Keys)
            md.AppendLine($"| {phase} | " + string.Join(" | ", profiles.Select(p => $"{p.MicrosecondsPerStep[phase]:F0} µs ({p.MicrosecondsPerStep[phase] / p.TotalMicroseconds:P0})")) + " |");
        md.AppendLine("| total | " + string.Join(" | ", profiles.Select(p => $"{p.TotalMicroseconds:F0} µs ({1e6 / p.TotalMicroseconds:F0} tokens/s)")) + " |");
        md.AppendLine("| weights streamed | " + string.Join(" | ", profiles.Select(p => $"{p.WeightBytesPerStep / p.TotalMicroseconds / 1e3:F1} GB/s")) + " |");
        md.AppendLine();
    }

    public sealed record PeerComparison(string Shape, int Threads, BenchCommands.BenchRow Ours, BenchCommands.BenchRow Peer)
    {
        public double Ratio => Ours.DecodeTokensPerSecond / Peer.DecodeTokensPerSecond;
        public double RatioLow => Low(Ours) / High(Peer);
        public double RatioHigh => High(Ours) / Low(Peer);
        static double Low(BenchCommands.BenchRow r) => r.Repetitions > 1 ? r.DecodeMin : r.DecodeTokensPerSecond;
        static double High(BenchCommands.BenchRow r) => r.Repetitions > 1 ? r.DecodeMax : r.DecodeTokensPerSecond;
    }

    /// <summary>Same precision class: our fp32 against F32, our bf16 against BF16 and F16, our q8_0 against Q8_0.</summary>
    public static List<PeerComparison> PeerComparisons(BenchmarkSuite.Results r) =>
        (from ours in r.Lm.Where(x => x.Decoder == "cpu")
         from peer in r.Lm.Where(x => x.Decoder == BenchCommands.LlamaCpp && x.Shape == ours.Shape && x.Threads == ours.Threads
                                      && (ours.DType switch { "fp32" => x.DType == "F32", BenchCommands.Q8 => x.DType == "Q8_0", _ => x.DType is "BF16" or "F16" }))
         select new PeerComparison(ours.Shape, ours.Threads, ours, peer)).ToList();

    static string LlamaCppNative(BenchmarkSuite.Results r) =>
        r.Lm.FirstOrDefault(x => x.Native is not null)?.Native is { } native ? $"llama.cpp ran as {native.Split(';')[0]}" : "no llama.cpp row in this run";

    static string Opt(double? v) => v is { } x ? x.ToString("F1") : "–";
}
