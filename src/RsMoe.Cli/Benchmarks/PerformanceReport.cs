using System.Globalization;
using System.Text;

namespace RsMoe.Cli.Commands;

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
        md.AppendLine($"[`{jsonPath}`]({jsonPath}). Rerun it to regenerate this page. Every comparison below was measured within this one run except llama.cpp's decode speeds, which are constants quoted from the performance issue (taken on another machine), not measured here.");
        md.AppendLine();
        md.AppendLine("## In short");
        md.AppendLine();
        var twoThreads = r.Lm.Where(x => x.Threads == 2 && x.Decoder == "cpu" && BenchCommands.LlamaCpp(x.Shape, x.DType) is not null).ToList();
        md.AppendLine("- Single-sequence decode, 2 threads, against llama.cpp's quoted (not measured here) figures at the same precision class: " +
            string.Join(", ", twoThreads.Select(x => $"{x.Shape} {x.DType} {x.DecodeTokensPerSecond / BenchCommands.LlamaCpp(x.Shape, x.DType)!.Value:F2}×")) + ".");
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
        md.AppendLine();
        md.AppendLine("Where the time went before: a decode step is about fifteen small operations per layer, and each libtorch call from");
        md.AppendLine("TorchSharp costs several microseconds of handles, dispose scopes and P/Invoke, which on the small shapes outweighed the");
        md.AppendLine("weight reads themselves (the *libtorch* rows below). The CPU decoder does each step in vectorised C# over the model's own");
        md.AppendLine("weight memory (fp32, or bf16 widened in registers), splits the matrix products across the threads by output rows, and steps");
        md.AppendLine("any number of sequences together so a batch reads each weight once. Prefill stays in libtorch, whose matrix-matrix kernels");
        md.AppendLine("are what long prompts need. The CPU decoder's logits equal libtorch's to 1e-3 in the tests, and greedy and seeded sampled");
        md.AppendLine("tokens are identical.");
        md.AppendLine();
        md.AppendLine("## The machine");
        md.AppendLine();
        md.AppendLine("| processor | cores | read bandwidth, 1 thread | 2 threads | decoder kernel fp32, 2 threads | bf16 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|");
        md.AppendLine($"| {m.Processor} | {m.Cores} | {m.ReadGBps1Thread} GB/s | {m.ReadGBps2Threads} GB/s | {m.KernelFp32GBps} GB/s | {m.KernelBf16GBps} GB/s |");
        md.AppendLine();
        md.AppendLine("Read bandwidth is a vectorised sum over 1 GiB; the kernel figures are the CPU decoder's matrix-vector product streaming");
        md.AppendLine("weight matrices that do not fit the last-level cache (best of 20 passes; cloud machines vary by ±30% between runs).");
        md.AppendLine();

        md.AppendLine("## 1. Decode and prefill");
        md.AppendLine();
        md.AppendLine("Random-weight Llama shapes (tiny: hidden 256, 4 layers; small: hidden 768, 12 layers; 1b: Llama-3.2-1B), a 64-token prompt,");
        md.AppendLine("64 new tokens greedy, one child process per row. *cpu* is the CPU decoder (decode steps in vectorised C# over the model's own");
        md.AppendLine("weights); *libtorch* is the same model with a libtorch call per operation (`RSMOE_CPU_DECODER=0`); prefill is libtorch in both.");
        md.AppendLine("The ceiling is the weights one step reads over the measured read bandwidth at that thread count. llama.cpp's figures are");
        md.AppendLine("constants quoted from the performance issue (2 threads, F32 against fp32, F16 against bf16; another machine), not measured in this run. Measured side by side on this machine (issue 17, llama.cpp through LLamaSharp.Backend.Cpu 0.30.0), ours was 0.65–0.92× llama.cpp on the small and Llama-3.2-1B shapes and 1.07–1.14× on tiny, so the ratios here overstate the decoder.");
        md.AppendLine();
        md.AppendLine("| shape | dtype | threads | decoder | weights read per token | prefill tokens/s | decode tokens/s | ceiling tokens/s | of ceiling | llama.cpp | ratio |");
        md.AppendLine("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in r.Lm)
        {
            double bandwidth = row.Threads == 1 ? m.ReadGBps1Thread : m.ReadGBps2Threads;
            double ceiling = bandwidth * 1e9 / row.WeightBytesPerToken;
            double? reference = row.Threads == 2 ? BenchCommands.LlamaCpp(row.Shape, row.DType) : null;
            md.AppendLine($"| {row.Shape} | {row.DType} | {row.Threads} | {row.Decoder} | {row.WeightBytesPerToken / 1048576.0:F0} MiB | {row.PrefillTokensPerSecond:F0} | {row.DecodeTokensPerSecond:F1} | {ceiling:F1} | {row.DecodeTokensPerSecond / ceiling * 100:F0}% | {Opt(reference)} | {(reference is { } v ? (row.DecodeTokensPerSecond / v).ToString("F2") + "×" : "–")} |");
        }
        md.AppendLine();
        if (r.Lm.Any(x => x.DecodeTokensPerSecond > m.ReadGBps2Threads * 1e9 / x.WeightBytesPerToken))
        {
            md.AppendLine("A row above 100% holds weights that fit the last-level cache (the tiny shape: 21–42 MiB), which is faster than memory;");
            md.AppendLine("the ceiling is memory's.");
            md.AppendLine();
        }
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
        md.AppendLine("The default model's language model is tiny (hidden 192, 4 layers), so its requests are mostly prefill, tokenizing and");
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
        return md.ToString();
    }

    static string Opt(double? v) => v is { } x ? x.ToString("F1") : "–";
}
