using System.CommandLine;
using System.Text.Json;
using RsMoe.Model.Checkpoints.Gguf;
using RsMoe.Model.Llm;
using RsMoe.Peers;

namespace RsMoe.Benchmarks;

/// <summary>
/// llama.cpp measured in the same run as our decoder: each random-weight shape is exported to GGUF (our exporter, the
/// same seed as our rows) in a child process, then llama.cpp (LLamaSharp's CPU build) decodes it in another, so neither
/// the export nor our model counts in its peak memory.
/// </summary>
internal static class LlamaCppBenchmarks
{
    public static IEnumerable<Command> Commands() => [ExportRandom(), RunOne()];

    public static IEnumerable<BenchCommands.BenchRow> Run(string shape, IReadOnlyList<string> types, IReadOnlyList<int> threads, int promptTokens, int newTokens, int repetitions)
    {
        string folder = Directory.CreateTempSubdirectory("rsmoe-bench-gguf-").FullName;
        try
        {
            foreach (var type in types)
            {
                string path = Path.Combine(folder, $"{shape}-{type}.gguf");
                var export = BenchmarkProcess.Run<LlamaGgufExporter.Result>(null, "bench", "gguf-random", "--shape", shape, "--type", type, "--out", path);
                foreach (int t in threads)
                {
                    var row = BenchCommands.Median(Enumerable.Range(0, repetitions).Select(_ => BenchmarkProcess.Run<BenchCommands.BenchRow>(null,
                        "bench", "llama-cpp-one", "--gguf", path, "--shape", shape, "--type", type, "--threads", t.ToString(),
                        "--prompt-tokens", promptTokens.ToString(), "--new-tokens", newTokens.ToString())).ToList());
                    yield return row with
                    {
                        Parameters = export.Parameters,
                        WeightGiB = export.Bytes / (double)(1L << 30),
                        WeightBytesPerToken = export.BytesReadPerToken,
                    };
                }
                File.Delete(path);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static Command ExportRandom()
    {
        var shape = new Option<string>("--shape") { Required = true };
        var type = new Option<string>("--type") { Required = true };
        var output = new Option<FileInfo>("--out") { Required = true };
        var command = new Command("gguf-random", "Export a random-weight shape (the seed of the lm rows) as GGUF; prints the export as JSON") { shape, type, output };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            using var lm = LlamaForCausalLM.Create(BenchCommands.Shape(parse.GetValue(shape)!), seed: 1);
            var result = LlamaGgufExporter.Export(lm, parse.GetValue(output)!.FullName, LlamaGgufExporter.ParseType(parse.GetValue(type)!));
            Console.WriteLine(JsonSerializer.Serialize(result));
            return 0;
        });
        return command;
    }

    static Command RunOne()
    {
        var gguf = new Option<FileInfo>("--gguf") { Required = true };
        var shape = new Option<string>("--shape") { Required = true };
        var type = new Option<string>("--type") { Required = true };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1 };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 64 };
        var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 64 };
        var command = new Command("llama-cpp-one", "llama.cpp on one GGUF file in this process (prints one JSON row)") { gguf, shape, type, threads, promptTokens, newTokens };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            LlamaCppRunner.QuietNativeLog();
            string shapeName = parse.GetValue(shape)!;
            int t = parse.GetValue(threads), prompt = parse.GetValue(promptTokens), produce = parse.GetValue(newTokens);
            var ids = BenchCommands.PromptIds(BenchCommands.Shape(shapeName), prompt);
            using var runner = new LlamaCppRunner(parse.GetValue(gguf)!.FullName, t, contextSize: prompt + produce + 8);
            runner.Greedy(ids[..8], 4);   // warm-up, as our rows have
            double prefill = Enumerable.Range(0, 3).Max(_ => runner.Greedy(ids, 1).PrefillTokensPerSecond);
            var result = runner.Greedy(ids, produce);
            Console.WriteLine(JsonSerializer.Serialize(new BenchCommands.BenchRow(shapeName, parse.GetValue(type)!.ToUpperInvariant(), t, BenchCommands.LlamaCpp, 0, 0, 0,
                prompt, produce, Math.Round(prefill, 1), Math.Round(result.DecodeTokensPerSecond, 2), Math.Round(BenchmarkProcess.PeakRssMiB(), 0), Native: LlamaCppRunner.Variant)));
            return 0;
        });
        return command;
    }
}
