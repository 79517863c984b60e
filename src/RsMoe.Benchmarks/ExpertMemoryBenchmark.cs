using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Grpc.Net.Client;
using RsMoe.Constellation;
using RsMoe.Contracts.V1;
using RsMoe.Model.Configs;
using RsMoe.Model.Llm;
using RsMoe.Model.Moe;
using static TorchSharp.torch;

namespace RsMoe.Benchmarks;

/// <summary>
/// <c>rsmoe bench expert-memory</c>: one expert service's resident memory against the bytes of one copy of its
/// weights, at rest, at the peak of a reload (the new expert is built beside the serving one) and after it.
/// </summary>
internal static class ExpertMemoryBenchmark
{
    /// <param name="WeightMiB">One copy of the language model's weights as stored (the base's safetensors).</param>
    public sealed record Row(string Model, string Weights, double WeightMiB, double AtRestMiB, double ReloadPeakMiB, double AfterReloadMiB, double ReloadSeconds);

    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "RS-MoE model folder (default: the embedded default model)" };
        var shape = new Option<string?>("--shape") { Description = "1b: the model folder's vocabulary and router with a random Llama-3.2-1B-shaped base and adapters (written under --work)" };
        var weights = new Option<string>("--weights") { DefaultValueFactory = _ => "full", Description = "Expert:DecodeWeights: full or q8_0" };
        var expert = new Option<FileInfo?>("--expert-assembly") { Description = "RsMoe.Expert.dll to run (e.g. another commit's build); default: this checkout's" };
        var work = new Option<DirectoryInfo?>("--work") { Description = "Scratch folder for --shape (default: runs/expert-memory)" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the row as JSON here" };
        var command = new Command("expert-memory", "One expert process's resident memory at rest and during a reload, against its weight bytes") { model, shape, weights, expert, work, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string folder = parse.GetValue(model)?.FullName ?? ModelLocator.DefaultModelDirectory();
            string label = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
            if (parse.GetValue(shape) is { } name)
            {
                folder = RandomShapedModel(folder, BenchCommands.Shape(name), Path.Combine(parse.GetValue(work)?.FullName ?? Path.GetFullPath("runs/expert-memory"), name));
                label = $"{name} (random)";
            }
            string assembly = parse.GetValue(expert)?.FullName ?? LocalConstellation.BuiltAssembly("services", "RsMoe.Expert");
            var row = await MeasureAsync(folder, label, parse.GetValue(weights)!, assembly, cancellationToken);
            Console.WriteLine("| model | decode weights | one copy MiB | at rest MiB | reload peak MiB | after reload MiB | reload s |");
            Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
            Console.WriteLine($"| {row.Model} | {row.Weights} | {row.WeightMiB:F0} | {row.AtRestMiB:F0} | {row.ReloadPeakMiB:F0} | {row.AfterReloadMiB:F0} | {row.ReloadSeconds:F1} |");
            if (parse.GetValue(output) is { } file) File.WriteAllText(file.FullName, JsonSerializer.Serialize(row, new JsonSerializerOptions { WriteIndented = true }));
        });
        return command;
    }

    static async Task<Row> MeasureAsync(string modelDirectory, string label, string weights, string assembly, CancellationToken cancellationToken)
    {
        var config = ModelFolder.LoadConfig(modelDirectory);
        string role = config.Router.ExpertRoles[0];
        string log = Path.Combine(Path.GetTempPath(), $"rsmoe-expert-memory-{Guid.NewGuid():N}.log");
        using var service = new ServiceProcess($"expert-{role}", assembly, LocalConstellation.FreePort(), LocalConstellation.FreePort(), log,
            new Dictionary<string, string> { ["Expert__ModelDirectory"] = modelDirectory, ["Expert__Role"] = role, ["Expert__DecodeWeights"] = weights });
        service.Start();
        using var http = new HttpClient();
        await service.WaitHealthyAsync(http, TimeSpan.FromMinutes(10), cancellationToken);
        int pid = service.ProcessId ?? throw new InvalidOperationException($"the expert exited: {service.Tail(20)}");
        double atRest = await SettledRssAsync(pid, cancellationToken);

        using var channel = GrpcChannel.ForAddress(service.GrpcAddress);
        var client = new Expert.ExpertClient(channel);
        double peak = atRest;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, BenchmarkProcess.RssMiB(pid) ?? 0);
                try { await Task.Delay(10, sampling.Token); } catch (OperationCanceledException) { }
            }
        }, CancellationToken.None);
        var clock = Stopwatch.StartNew();
        await client.ReloadAsync(new ReloadRequest { AdapterPath = ModelFolder.AdapterPath(modelDirectory, role) }, cancellationToken: cancellationToken);
        double reloadSeconds = clock.Elapsed.TotalSeconds;
        sampling.Cancel();
        await sampler;
        double after = await SettledRssAsync(pid, cancellationToken);
        service.Stop(TimeSpan.FromSeconds(10));
        double weightMiB = Directory.GetFiles(ModelFolder.LanguageModelPath(modelDirectory), "*.safetensors").Sum(f => new FileInfo(f).Length) / 1048576.0;
        return new Row(label, weights, Math.Round(weightMiB, 1), Math.Round(atRest, 1), Math.Round(peak, 1), Math.Round(after, 1), Math.Round(reloadSeconds, 2));
    }

    /// <summary>The resident set once it stops moving (warm-up and a reload's frees settle within a few seconds).</summary>
    static async Task<double> SettledRssAsync(int pid, CancellationToken cancellationToken)
    {
        double previous = -1, now = BenchmarkProcess.RssMiB(pid) ?? 0;
        for (int i = 0; i < 20 && Math.Abs(now - previous) > 1; i++)
        {
            await Task.Delay(500, cancellationToken);
            (previous, now) = (now, BenchmarkProcess.RssMiB(pid) ?? 0);
        }
        return now;
    }

    /// <summary>
    /// A model folder with <paramref name="source"/>'s router and vocabularies and a random base of <paramref name="shape"/>
    /// with random adapters for every role: an expert process of that size, whatever its words.
    /// </summary>
    static string RandomShapedModel(string source, LlamaConfig shape, string directory)
    {
        var config = ModelFolder.LoadConfig(source);
        shape = shape with { MaxPositionEmbeddings = Math.Max(shape.MaxPositionEmbeddings, config.Llm.MaxPositionEmbeddings) };
        if (ModelFolder.IsModelFolder(directory)) return directory;   // written by an earlier run
        Directory.CreateDirectory(directory);
        foreach (var file in Directory.GetFiles(source).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.EndsWith(".md", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        using (var lm = LlamaForCausalLM.Create(shape, ScalarType.Float32, CPU, seed: 1))
            lm.SavePretrained(ModelFolder.LanguageModelPath(directory));
        foreach (var (role, k) in config.Router.ExpertRoles.Select((r, k) => (r, k)))
            RandomAdapters.Write(ModelFolder.AdapterPath(directory, role), shape, rank: config.ExpertLora.R, seed: 10 + k);
        ModelFolder.SaveConfig(directory, config with { Llm = shape });
        return directory;
    }
}
