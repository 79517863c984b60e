using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using RsMoe.Model;
using RsMoe.Model.Configs;
using RsMoe.Model.Decoding;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using static TorchSharp.torch;

namespace RsMoe.Benchmarks;

/// <summary>
/// <c>rsmoe bench lm</c>: prefill and decode speed and peak memory of random-weight Llama shapes, for our decoder and for
/// llama.cpp on GGUF exports of the same shapes, measured one after another in this run.
/// </summary>
public static class BenchCommands
{
    /// <summary>Our decoder (<c>cpu</c>), a libtorch call per operation (<c>libtorch</c>), or <see cref="LlamaCpp"/>.</summary>
    public const string LlamaCpp = "llama.cpp";

    /// <summary>Our 8-bit decode weights as a benchmark dtype.</summary>
    public const string Q8 = "q8_0";

    /// <param name="Decoder">cpu (the CPU decoder), libtorch (a libtorch call per operation, RSMOE_CPU_DECODER=0) or llama.cpp.</param>
    /// <param name="DType">fp32, bf16 or q8_0 (a bf16 model decoding from Q8_0 blocks) for ours; the GGUF type (F32, F16, BF16, Q8_0) for llama.cpp.</param>
    /// <param name="WeightBytesPerToken">Bytes of weights one decode step reads: every layer and the output head.</param>
    /// <param name="DecodeMin">Slowest of the <paramref name="Repetitions"/> runs; <paramref name="DecodeTokensPerSecond"/> is their median.</param>
    /// <param name="Native">Which native build of llama.cpp ran (llama.cpp rows only).</param>
    public sealed record BenchRow(string Shape, string DType, int Threads, string Decoder, long Parameters, double WeightGiB, long WeightBytesPerToken,
        int PromptTokens, int NewTokens, double PrefillTokensPerSecond, double DecodeTokensPerSecond, double PeakRssMiB,
        int Repetitions = 1, double DecodeMin = 0, double DecodeMax = 0, string? Native = null);

    /// <summary>Where one decode step's time goes (<c>bench lm-one --profile</c>): microseconds per step by phase.</summary>
    public sealed record ProfileRow(string Shape, string DType, int Threads, Dictionary<string, double> MicrosecondsPerStep, double TotalMicroseconds, long WeightBytesPerStep);

    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks that print figures") { BenchmarkSuite.Create(), Lm(), LmOne(), Kernels(), ConstellationBenchmark.Create() };
        foreach (var command in LlamaCppBenchmarks.Commands().Concat(ImageEncoderBenchmarks.Commands())) bench.Subcommands.Add(command);
        foreach (var command in ExpertBenchmarks.Commands()) bench.Subcommands.Add(command);
        bench.Subcommands.Add(ExpertMemoryBenchmark.Create());
        return bench;
    }

    internal static LlamaConfig Shape(string name) => name switch
    {
        "tiny" => LlamaConfig.Tiny,
        "small" => LlamaConfig.Small,
        "1b" => LlamaConfig.Llama32_1B,
        _ => throw new ArgumentException($"unknown shape '{name}' (tiny, small, 1b)"),
    };

    static Command Lm()
    {
        var shapes = new Option<string>("--shapes") { DefaultValueFactory = _ => "tiny,small,1b", Description = "Comma-separated: tiny, small, 1b" };
        var dtypes = new Option<string>("--dtypes") { DefaultValueFactory = _ => "fp32,bf16,q8_0", Description = "Ours: fp32, bf16, q8_0 (8-bit decode weights)" };
        var peers = new Option<string>("--llama-cpp") { DefaultValueFactory = _ => "F32,F16,BF16,Q8_0", Description = "GGUF types llama.cpp runs on each shape (empty: none)" };
        var threads = new Option<string>("--threads") { DefaultValueFactory = _ => "1,2" };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 64 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 64 };
        var repetitions = new Option<int>("--repetitions") { DefaultValueFactory = _ => 3, Description = "Runs per row; the row is their median" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the rows as JSON here" };
        var command = new Command("lm", "Prefill/decode tokens per second and peak memory, ours and llama.cpp's, one child process per run")
        {
            shapes, dtypes, peers, threads, promptTokens, newTokens, repetitions, output,
        };
        command.SetAction(parse =>
        {
            var rows = new List<BenchRow>();
            PrintHeader();
            int[] threadCounts = Split(parse.GetValue(threads)!).Select(int.Parse).ToArray();
            int prompt = parse.GetValue(promptTokens), produce = parse.GetValue(newTokens), runs = parse.GetValue(repetitions);
            foreach (var shape in Split(parse.GetValue(shapes)!))
            {
                foreach (var dtype in Split(parse.GetValue(dtypes)!))
                    foreach (var t in threadCounts)
                        rows.Add(PrintRow(RunChild(shape, dtype, t, prompt, produce, "cpu", runs)));
                rows.AddRange(LlamaCppBenchmarks.Run(shape, Split(parse.GetValue(peers)!).ToArray(), threadCounts, prompt, produce, runs).Select(PrintRow));
            }
            if (parse.GetValue(output) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(new { machine = Environment.MachineName, cores = Environment.ProcessorCount, rows }, new JsonSerializerOptions { WriteIndented = true }));
                Console.WriteLine($"wrote {file.FullName}");
            }
            return 0;
        });
        return command;
    }

    internal static void PrintHeader() =>
        Console.WriteLine($"{"shape",-6} {"dtype",-5} {"thr",3} {"decoder",-9} {"params",8} {"prefill t/s",12} {"decode t/s",11} {"min–max",15} {"peak MiB",9}");

    internal static BenchRow PrintRow(BenchRow row)
    {
        Console.WriteLine($"{row.Shape,-6} {row.DType,-5} {row.Threads,3} {row.Decoder,-9} {row.Parameters / 1e6,7:F1}M {row.PrefillTokensPerSecond,12:F1} {row.DecodeTokensPerSecond,11:F1} {$"{row.DecodeMin:F1}–{row.DecodeMax:F1}",15} {row.PeakRssMiB,9:F0}");
        return row;
    }

    internal static IEnumerable<string> Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>One configuration in <paramref name="repetitions"/> child processes, one after another: the median run, with the spread of decode speed.</summary>
    internal static BenchRow RunChild(string shape, string dtype, int threads, int promptTokens, int newTokens, string decoder, int repetitions = 1) =>
        Median(Enumerable.Range(0, repetitions).Select(_ =>
            BenchmarkProcess.Run<BenchRow>(new Dictionary<string, string> { ["RSMOE_CPU_DECODER"] = decoder == "libtorch" ? "0" : "1" },
                "bench", "lm-one", "--shape", shape, "--dtype", dtype, "--threads", threads.ToString(), "--prompt-tokens", promptTokens.ToString(), "--new-tokens", newTokens.ToString())).ToList());

    internal static BenchRow Median(IReadOnlyList<BenchRow> runs)
    {
        var sorted = runs.OrderBy(r => r.DecodeTokensPerSecond).ToList();
        return sorted[(sorted.Count - 1) / 2] with
        {
            Repetitions = runs.Count,
            DecodeMin = sorted[0].DecodeTokensPerSecond,
            DecodeMax = sorted[^1].DecodeTokensPerSecond,
            PeakRssMiB = runs.Max(r => r.PeakRssMiB),
        };
    }

    static Command Kernels()
    {
        var command = new Command("kernels", "Read bandwidth, the decoder's matrix-kernel bandwidth (1 and 2 threads) and its thread synchronisation");
        command.SetAction(_ =>
        {
            Console.WriteLine($"empty parallel region, 2 threads: {DecodeProbes.ParallelRegionMicroseconds(2):F2} µs (decoder's thread team), {DecodeProbes.ParallelRegionMicroseconds(2, parallelFor: true):F2} µs (Parallel.For)");
            foreach (int t in new[] { 1, 2 })
            {
                Console.WriteLine($"threads {t}: read {DecodeProbes.ReadBandwidth(t):F1} GB/s");
                foreach (var (rows, cols) in new[] { (2048, 2048), (8192, 2048), (768, 768), (32000, 256) })
                {
                    foreach (var type in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                        Console.WriteLine($"  {type,-9} [{rows}x{cols}] {DecodeProbes.MatVecBandwidth(type, rows, cols, t):F1} GB/s");
                    Console.WriteLine($"  {"Q8_0",-9} [{rows}x{cols}] {DecodeProbes.MatVecBandwidth(ScalarType.Float32, rows, cols, t, q8: true):F1} GB/s");
                }
            }
            return 0;
        });
        return command;
    }

    static Command LmOne()
    {
        var shape = new Option<string>("--shape") { Required = true };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "fp32", Description = "fp32, bf16, or q8_0 (a bf16 model decoding from Q8_0 blocks)" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1 };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 64 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 64 };
        var profile = new Option<bool>("--profile") { Description = "Print where each decode step's time goes, phase by phase, instead of the row" };
        var command = new Command("lm-one", "One benchmark configuration in this process (prints one JSON row)") { shape, dtype, threads, promptTokens, newTokens, profile };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            string shapeName = parse.GetValue(shape)!;
            string dtypeName = parse.GetValue(dtype)!;
            bool q8 = dtypeName.Equals(Q8, StringComparison.OrdinalIgnoreCase);
            var type = q8 ? ScalarType.BFloat16 : TorchRuntime.ParseDType(dtypeName);
            int t = parse.GetValue(threads);
            set_num_threads(t);
            int prompt = parse.GetValue(promptTokens), produce = parse.GetValue(newTokens);
            var config = Shape(shapeName);
            using var lm = LlamaForCausalLM.Create(config, type, seed: 1);
            if (q8) lm.UseDecodeWeights(DecodeWeightFormat.Q8_0);
            long parameters = lm.parameters().Sum(p => p.numel());
            var ids = PromptIds(config, prompt);
            if (parse.GetValue(profile))
            {
                var profileRow = Profile(lm, ids, produce, t) with { Shape = shapeName, DType = q8 ? Q8 : TorchRuntime.DTypeName(type) };
                PrintProfile(profileRow);
                Console.WriteLine(JsonSerializer.Serialize(profileRow));
                return 0;
            }
            var generator = new TextGenerator(lm);

            generator.Generate(ids[..8], new GenerationOptions { MaxNewTokens = 4 });   // warm-up
            double prefill = Enumerable.Range(0, 3).Max(_ => MeasurePrefill(lm, ids));
            var result = generator.Generate(ids, new GenerationOptions { MaxNewTokens = produce });
            double decode = result.DecodeTokensPerSecond;

            string typeName = q8 ? Q8 : TorchRuntime.DTypeName(type);
            int elementSize = type == ScalarType.Float32 ? 4 : 2;
            string decoder = TextGenerator.UseCpuDecoder && CpuDecoder.Unsupported(lm) is null ? "cpu" : "libtorch";
            if (q8 && decoder != "cpu") throw new InvalidOperationException("8-bit decode weights are read by the CPU decoder only");
            // The embedding table is read one row per token, unless it doubles as the output head.
            long readPerToken = decoder == "cpu" ? new CpuDecoder(lm, 1).WeightBytesPerStep
                : (parameters - (config.TieWordEmbeddings ? 0 : (long)config.VocabSize * config.HiddenSize)) * elementSize;
            // Resident weights: the model's own and, with 8-bit decoding, the Q8_0 copies beside them.
            double weightGiB = (parameters * elementSize + lm.DecodeWeightBytes) / (double)(1L << 30);
            var row = new BenchRow(shapeName, typeName, t, decoder, parameters, weightGiB, readPerToken,
                prompt, produce, Math.Round(prefill, 1), Math.Round(decode, 2), Math.Round(BenchmarkProcess.PeakRssMiB(), 0));
            Console.WriteLine(JsonSerializer.Serialize(row));
            return 0;
        });
        return command;
    }

    /// <summary>One configuration's profile in a child process.</summary>
    internal static ProfileRow RunProfile(string shape, string dtype, int threads) =>
        BenchmarkProcess.Run<ProfileRow>(null, "bench", "lm-one", "--shape", shape, "--dtype", dtype, "--threads", threads.ToString(), "--profile");

    internal static void PrintProfile(ProfileRow row)
    {
        Console.WriteLine($"{row.Shape} {row.DType}, {row.Threads} threads: {"phase",-18} {"µs/step",9} {"share",6}");
        foreach (var (phase, us) in row.MicrosecondsPerStep) Console.WriteLine($"  {phase,-18} {us,9:F1} {us / row.TotalMicroseconds,6:P0}");
        Console.WriteLine($"  {"total",-18} {row.TotalMicroseconds,9:F1}  ({1e6 / row.TotalMicroseconds:F1} tokens/s; {row.WeightBytesPerStep / 1e6:F0} MB of weights a step at {row.WeightBytesPerStep / row.TotalMicroseconds / 1e3:F1} GB/s)");
    }

    /// <summary>Greedy decode steps on the CPU decoder with its profile attached: microseconds per step by phase.</summary>
    static ProfileRow Profile(LlamaForCausalLM lm, int[] ids, int steps, int threads)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = lm.NewCache(1, ids.Length);
        lm.Forward(lm.Embed(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)), arange(ids.Length, ScalarType.Int64).unsqueeze(0), null, cache, logitsToKeep: 1);
        var decoder = new CpuDecoder(lm, threads);
        var sequence = decoder.NewSequence(ids.Length + steps + 8);
        decoder.Adopt(sequence, cache, 0, ids.Length);
        int token = ids[^1];
        for (int i = 0; i < steps + 4; i++)
        {
            if (i == 4) decoder.Profile = new DecodeProfile();   // after a warm-up
            decoder.Step([sequence], [token]);
            var logits = decoder.Logits(0);
            token = 0;
            for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[token]) token = v;
        }
        var phases = decoder.Profile!.MicrosecondsPerStep().ToDictionary(p => p.Key, p => Math.Round(p.Value, 1));
        return new ProfileRow("", "", threads, phases, Math.Round(phases.Values.Sum(), 1), decoder.WeightBytesPerStep);
    }

    /// <summary>The prompt every decode benchmark, ours and llama.cpp's, starts from.</summary>
    internal static int[] PromptIds(LlamaConfig config, int count)
    {
        var random = new Random(5);
        return Enumerable.Range(0, count).Select(_ => random.Next(3, config.VocabSize)).ToArray();
    }

    static double MeasurePrefill(LlamaForCausalLM lm, int[] ids)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = lm.NewCache(1, ids.Length + 1);
        var input = tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        var positions = arange(ids.Length, ScalarType.Int64).unsqueeze(0);
        var clock = Stopwatch.StartNew();
        var logits = lm.Forward(lm.Embed(input), positions, null, cache, logitsToKeep: 1);
        logits.argmax(-1).item<long>();
        return ids.Length / clock.Elapsed.TotalSeconds;
    }
}
