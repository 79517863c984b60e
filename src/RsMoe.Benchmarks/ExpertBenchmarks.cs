using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using RsMoe.Model;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using static TorchSharp.torch;

namespace RsMoe.Benchmarks;

/// <summary>
/// The two ways experts share work, each measured in its own child process: three experts writing their sections
/// (one shared base with a LoRA bank in one batched pass, against three merged copies one after another), and one
/// expert serving concurrent requests (continuous batching, against the old one-generation-per-thread service).
/// </summary>
internal static class ExpertBenchmarks
{
    public sealed record ExpertsRow(string Shape, string DType, string Mode, int Experts, int NewTokensEach, double Seconds,
        double TokensPerSecond, double WeightMiB, double PeakRssMiB);

    public sealed record ServeRow(string Shape, string DType, string Mode, int Concurrency, int NewTokensEach, double Seconds,
        double TokensPerSecond, double MeanBatch);

    const int PromptTokens = 32;

    public static IEnumerable<Command> Commands() => [ExpertsOne(), ServeOne()];

    public static ExpertsRow RunExperts(string shape, string dtype, string mode, int newTokens) =>
        BenchmarkProcess.Run<ExpertsRow>(null, "bench", "experts-one", "--shape", shape, "--dtype", dtype, "--mode", mode, "--new-tokens", newTokens.ToString());

    public static ServeRow RunServe(string shape, string dtype, string mode, int concurrency, int newTokens) =>
        BenchmarkProcess.Run<ServeRow>(null, "bench", "serve-one", "--shape", shape, "--dtype", dtype, "--mode", mode,
            "--concurrency", concurrency.ToString(), "--new-tokens", newTokens.ToString());

    static int[] Prompt(int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, PromptTokens).Select(_ => random.Next(3, vocab)).ToArray();
    }

    static Command ExpertsOne()
    {
        var shape = new Option<string>("--shape") { Required = true };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "bf16" };
        var mode = new Option<string>("--mode") { Required = true, Description = "batched (one base, a LoRA bank, one pass) or sequential (three merged copies)" };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 64 };
        var command = new Command("experts-one", "Three experts' sections, batched on one base or sequential on three copies (prints one JSON row)") { shape, dtype, mode, newTokens };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            string shapeName = parse.GetValue(shape)!, modeName = parse.GetValue(mode)!;
            var type = TorchRuntime.ParseDType(parse.GetValue(dtype)!);
            int produce = parse.GetValue(newTokens);
            var config = BenchCommands.Shape(shapeName);
            string scratch = Directory.CreateTempSubdirectory("rsmoe-bench-experts-").FullName;
            try
            {
                var adapters = Enumerable.Range(0, 3).Select(i => RandomAdapters.Write(Path.Combine(scratch, $"expert{i}"), config, 8, 10 + i)).ToList();
                var options = new GenerationOptions { MaxNewTokens = produce };   // no stop token: every section is exactly this long
                var prompts = Enumerable.Range(0, 3).Select(i => Prompt(config.VocabSize, i)).ToArray();
                double seconds;
                long weightBytes;
                var models = new List<LlamaForCausalLM>();
                LoraBank? bank = null;
                if (modeName == "batched")
                {
                    var baseModel = LlamaForCausalLM.Create(config, type, seed: 1);
                    models.Add(baseModel);
                    bank = LoraBank.Load(baseModel, adapters.Select((dir, i) => ($"expert{i}", dir)).ToList());
                    var generator = new TextGenerator(baseModel, bank);
                    generator.Generate([new GenerationPrompt(prompts[0][..8], Adapter: 0)], options with { MaxNewTokens = 4 });   // warm-up
                    var clock = Stopwatch.StartNew();
                    generator.Generate(prompts.Select((p, i) => new GenerationPrompt(p, Adapter: i)).ToList(), options);
                    seconds = clock.Elapsed.TotalSeconds;
                    weightBytes = Bytes(baseModel) + bank.Bytes;
                }
                else if (modeName == "sequential")
                {
                    foreach (var dir in adapters)
                    {
                        var copy = LlamaForCausalLM.Create(config, type, seed: 1);
                        PeftAdapter.Load(copy, dir);
                        LoraInjector.Merge(copy);
                        copy.eval();
                        models.Add(copy);
                    }
                    new TextGenerator(models[0]).Generate(prompts[0][..8], options with { MaxNewTokens = 4 });   // warm-up
                    var clock = Stopwatch.StartNew();
                    for (int i = 0; i < 3; i++) new TextGenerator(models[i]).Generate(prompts[i], options);
                    seconds = clock.Elapsed.TotalSeconds;
                    weightBytes = models.Sum(Bytes);
                }
                else throw new ArgumentException("--mode is batched or sequential");
                var row = new ExpertsRow(shapeName, TorchRuntime.DTypeName(type), modeName, 3, produce, Math.Round(seconds, 3),
                    Math.Round(3 * produce / seconds, 2), Math.Round(weightBytes / 1048576.0, 1), Math.Round(BenchmarkProcess.PeakRssMiB(), 0));
                bank?.Dispose();
                foreach (var m in models) m.Dispose();
                Console.WriteLine(JsonSerializer.Serialize(row));
                return 0;
            }
            finally
            {
                Directory.Delete(scratch, recursive: true);
            }
        });
        return command;
    }

    static long Bytes(LlamaForCausalLM lm) => lm.parameters().Sum(p => p.numel() * p.element_size());

    static Command ServeOne()
    {
        var shape = new Option<string>("--shape") { Required = true };
        var dtype = new Option<string>("--dtype") { DefaultValueFactory = _ => "bf16" };
        var mode = new Option<string>("--mode") { Required = true, Description = "batched (continuous batching) or unbatched (a generation per thread, two at once)" };
        var concurrency = new Option<int>("--concurrency") { DefaultValueFactory = _ => 4 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 64 };
        var command = new Command("serve-one", "One expert serving concurrent requests (prints one JSON row)") { shape, dtype, mode, concurrency, newTokens };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            string shapeName = parse.GetValue(shape)!, modeName = parse.GetValue(mode)!;
            var type = TorchRuntime.ParseDType(parse.GetValue(dtype)!);
            int clients = parse.GetValue(concurrency), produce = parse.GetValue(newTokens);
            var config = BenchCommands.Shape(shapeName);
            using var lm = LlamaForCausalLM.Create(config, type, seed: 1);
            var options = new GenerationOptions { MaxNewTokens = produce };
            var prompts = Enumerable.Range(0, clients).Select(i => Prompt(config.VocabSize, 100 + i)).ToArray();
            double seconds, meanBatch = 1;
            if (modeName == "batched")
            {
                using var batcher = new ContinuousBatcher(lm, maxBatch: 16);
                await batcher.GenerateAsync(new GenerationPrompt(prompts[0][..8]), options with { MaxNewTokens = 4 }, cancellationToken: cancellationToken);
                long steps = batcher.Steps;
                double rows = batcher.MeanBatch * steps;
                var clock = Stopwatch.StartNew();
                await Task.WhenAll(prompts.Select(p => batcher.GenerateAsync(new GenerationPrompt(p), options, cancellationToken: cancellationToken)));
                seconds = clock.Elapsed.TotalSeconds;
                meanBatch = (batcher.MeanBatch * batcher.Steps - rows) / Math.Max(1, batcher.Steps - steps);
            }
            else if (modeName == "unbatched")
            {
                // What the expert service did before: each request its own generation, at most two at once.
                new TextGenerator(lm).Generate(prompts[0][..8], options with { MaxNewTokens = 4 });
                using var gate = new SemaphoreSlim(2);
                var clock = Stopwatch.StartNew();
                await Task.WhenAll(prompts.Select(async p =>
                {
                    await gate.WaitAsync(cancellationToken);
                    try { await Task.Run(() => new TextGenerator(lm).Generate(p, options), cancellationToken); }
                    finally { gate.Release(); }
                }));
                seconds = clock.Elapsed.TotalSeconds;
            }
            else throw new ArgumentException("--mode is batched or unbatched");
            Console.WriteLine(JsonSerializer.Serialize(new ServeRow(shapeName, TorchRuntime.DTypeName(type), modeName, clients, produce,
                Math.Round(seconds, 3), Math.Round(clients * produce / seconds, 1), Math.Round(meanBatch, 2))));
            return 0;
        });
        return command;
    }
}
