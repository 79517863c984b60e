using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using RsMoe.Model;
using RsMoe.Model.Configs;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using static TorchSharp.torch;

namespace RsMoe.Cli.Commands;

/// <summary><c>rsmoe bench lm</c>: prefill and decode speed and peak memory of random-weight Llama shapes.</summary>
public static class BenchCommands
{
    /// <summary>llama.cpp decode tokens/s on this kind of machine (2 threads, 64 new tokens), from the model-core issue.</summary>
    static readonly Dictionary<(string Shape, string DType), double> LlamaCppDecode = new()
    {
        [("1b", "fp32")] = 5.6, [("1b", "bf16")] = 12.8,
        [("small", "fp32")] = 69, [("small", "bf16")] = 91,
        [("tiny", "fp32")] = 890, [("tiny", "bf16")] = 1070,
    };

    /// <param name="Decoder">cpu (the CPU decoder) or libtorch (a libtorch call per operation, RSMOE_CPU_DECODER=0).</param>
    /// <param name="WeightBytesPerToken">Bytes of weights one decode step reads: every layer and the output head.</param>
    public sealed record BenchRow(string Shape, string DType, int Threads, string Decoder, long Parameters, double WeightGiB, long WeightBytesPerToken,
        int PromptTokens, int NewTokens, double PrefillTokensPerSecond, double DecodeTokensPerSecond, double PeakRssMiB,
        double? LlamaCppDecodeTokensPerSecond, double? RatioToLlamaCpp);

    internal static double? LlamaCpp(string shape, string dtype) => LlamaCppDecode.TryGetValue((shape, dtype), out var v) ? v : null;

    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks that print figures") { BenchmarkSuite.Create(), Lm(), LmOne(), Kernels(), ConstellationBenchmark.Create() };
        foreach (var command in ExpertBenchmarks.Commands()) bench.Subcommands.Add(command);
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
        var dtypes = new Option<string>("--dtypes") { DefaultValueFactory = _ => "fp32,bf16" };
        var threads = new Option<string>("--threads") { DefaultValueFactory = _ => "1,2" };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 64 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 64 };
        var output = new Option<FileInfo?>("--out") { Description = "Write the rows as JSON here" };
        var command = new Command("lm", "Prefill/decode tokens per second and peak memory, one child process per configuration")
        {
            shapes, dtypes, threads, promptTokens, newTokens, output,
        };
        command.SetAction(parse =>
        {
            var rows = new List<BenchRow>();
            Console.WriteLine($"{"shape",-6} {"dtype",-5} {"thr",3} {"params",8} {"prefill t/s",12} {"decode t/s",11} {"peak MiB",9} {"llama.cpp",10} {"ratio",6}");
            foreach (var shape in Split(parse.GetValue(shapes)!))
                foreach (var dtype in Split(parse.GetValue(dtypes)!))
                    foreach (var t in Split(parse.GetValue(threads)!).Select(int.Parse))
                    {
                        var row = RunChild(shape, dtype, t, parse.GetValue(promptTokens), parse.GetValue(newTokens), cpuDecoder: true);
                        rows.Add(row);
                        Console.WriteLine($"{row.Shape,-6} {row.DType,-5} {row.Threads,3} {row.Parameters / 1e6,7:F1}M {row.PrefillTokensPerSecond,12:F1} {row.DecodeTokensPerSecond,11:F1} {row.PeakRssMiB,9:F0} {row.LlamaCppDecodeTokensPerSecond?.ToString("F1") ?? "-",10} {row.RatioToLlamaCpp?.ToString("F2") ?? "-",6}");
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

    static IEnumerable<string> Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    internal static BenchRow RunChild(string shape, string dtype, int threads, int promptTokens, int newTokens, bool cpuDecoder) =>
        BenchmarkProcess.Run<BenchRow>(new Dictionary<string, string> { ["RSMOE_CPU_DECODER"] = cpuDecoder ? "1" : "0" },
            "bench", "lm-one", "--shape", shape, "--dtype", dtype, "--threads", threads.ToString(), "--prompt-tokens", promptTokens.ToString(), "--new-tokens", newTokens.ToString());

    static Command Kernels()
    {
        var command = new Command("kernels", "Read bandwidth and the decoder's matrix-kernel bandwidth, 1 and 2 threads");
        command.SetAction(_ =>
        {
            foreach (int t in new[] { 1, 2 })
            {
                Console.WriteLine($"threads {t}: read {RsMoe.Model.Decoding.DecodeProbes.ReadBandwidth(t):F1} GB/s");
                foreach (var (rows, cols) in new[] { (2048, 2048), (8192, 2048), (768, 768), (32000, 256) })
                    foreach (var type in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                        Console.WriteLine($"  {type,-9} [{rows}x{cols}] {RsMoe.Model.Decoding.DecodeProbes.MatVecBandwidth(type, rows, cols, t):F1} GB/s");
            }
            return 0;
        });
        return command;
    }

    static Command LmOne()
    {
        var shape = new Option<string>("--shape") { Required = true };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "fp32" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1 };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 64 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 64 };
        var command = new Command("lm-one", "One benchmark configuration in this process (prints one JSON row)") { shape, dtype, threads, promptTokens, newTokens };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            string shapeName = parse.GetValue(shape)!;
            var type = TorchRuntime.ParseDType(parse.GetValue(dtype)!);
            int t = parse.GetValue(threads);
            set_num_threads(t);
            int prompt = parse.GetValue(promptTokens), produce = parse.GetValue(newTokens);
            var config = Shape(shapeName);
            using var lm = LlamaForCausalLM.Create(config, type, seed: 1);
            long parameters = lm.parameters().Sum(p => p.numel());
            var random = new Random(5);
            var ids = Enumerable.Range(0, prompt).Select(_ => random.Next(3, config.VocabSize)).ToArray();
            var generator = new TextGenerator(lm);

            generator.Generate(ids[..8], new GenerationOptions { MaxNewTokens = 4 });   // warm-up
            double prefill = Enumerable.Range(0, 3).Max(_ => MeasurePrefill(lm, ids));
            var result = generator.Generate(ids, new GenerationOptions { MaxNewTokens = produce });
            double decode = result.DecodeTokensPerSecond;

            string typeName = TorchRuntime.DTypeName(type);
            double? reference = t == 2 ? LlamaCpp(shapeName, typeName) : null;
            int elementSize = type == ScalarType.Float32 ? 4 : 2;
            // The embedding table is read one row per token, unless it doubles as the output head.
            long readPerToken = (parameters - (config.TieWordEmbeddings ? 0 : (long)config.VocabSize * config.HiddenSize)) * elementSize;
            string decoder = TextGenerator.UseCpuDecoder && RsMoe.Model.Decoding.CpuDecoder.Unsupported(lm) is null ? "cpu" : "libtorch";
            var row = new BenchRow(shapeName, typeName, t, decoder, parameters, parameters * elementSize / (double)(1L << 30), readPerToken,
                prompt, produce, Math.Round(prefill, 1), Math.Round(decode, 2), Math.Round(BenchmarkProcess.PeakRssMiB(), 0), reference,
                reference is { } v ? Math.Round(decode / v, 3) : null);
            Console.WriteLine(JsonSerializer.Serialize(row));
            return 0;
        });
        return command;
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
