using System.CommandLine;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Net.Client;
using RsMoe.Constellation;
using RsMoe.Contracts.V1;
using RsMoe.Model.Decoding;
using static TorchSharp.torch;

namespace RsMoe.Benchmarks;

/// <summary>
/// <c>rsmoe bench suite</c>: every performance figure of the project in one run, printed as it goes, written as JSON
/// and rendered into <c>docs/performance.md</c>. Each row that compares two ways of doing something measures both in
/// the same run, on the same machine, minutes apart.
/// </summary>
internal static class BenchmarkSuite
{
    public sealed record Machine(string Processor, int Cores, double ReadGBps1Thread, double ReadGBps2Threads, double KernelFp32GBps, double KernelBf16GBps, double KernelQ8GBps = 0, double ParallelRegionMicroseconds = 0, double ParallelForMicroseconds = 0);

    public sealed record Results(string Date, bool Quick, Machine Machine,
        List<BenchCommands.BenchRow> Lm, List<ExpertBenchmarks.ExpertsRow> Experts, List<ExpertBenchmarks.ServeRow> Serve,
        List<ServingBenchmarks.ExpertServiceRow> ExpertService, List<ConstellationBenchmark.Row> Constellation, List<ServingBenchmarks.GatewayRow> Gateway,
        string FeatureCache, List<ImageEncoderBenchmarks.Row>? ImageEncoder = null, List<BenchCommands.ProfileRow>? Profiles = null);

    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "Tiny shapes and few requests: checks the suite runs (minutes less), not figures to quote" };
        var output = new Option<FileInfo>("--out") { DefaultValueFactory = _ => new FileInfo("docs/benchmarks/performance.json") };
        var report = new Option<FileInfo>("--report") { DefaultValueFactory = _ => new FileInfo("docs/performance.md") };
        var images = new Option<DirectoryInfo?>("--images") { Description = "Folder of images for the end-to-end rows; default: ../shared/data/rsscn7/images" };
        var renderOnly = new Option<bool>("--render-only") { Description = "Measure nothing: rewrite the report from the --out JSON of an earlier run" };
        var command = new Command("suite", "Every performance figure: decode, batched experts, serving, end to end, gateway; writes JSON and docs/performance.md")
        {
            quick, output, report, images, renderOnly,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var json = parse.GetValue(output)!;
            Results results;
            if (parse.GetValue(renderOnly))
            {
                results = JsonSerializer.Deserialize<Results>(File.ReadAllText(json.FullName))
                    ?? throw new InvalidDataException($"{json.FullName} holds no suite results");
            }
            else
            {
                results = await RunAsync(parse.GetValue(quick), parse.GetValue(images)?.FullName, cancellationToken);
                json.Directory?.Create();
                File.WriteAllText(json.FullName, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            }
            var markdown = parse.GetValue(report)!;
            markdown.Directory?.Create();
            File.WriteAllText(markdown.FullName, PerformanceReport.Render(results, Path.GetRelativePath(markdown.DirectoryName!, json.FullName)));
            Console.WriteLine($"wrote {json.FullName} and {markdown.FullName}");
            return 0;
        });
        return command;
    }

    static async Task<Results> RunAsync(bool quick, string? imageFolder, CancellationToken cancellationToken)
    {
        LocalConstellation.EnsureBuilt();   // the constellation comes half an hour in; a missing build should fail first
        Console.WriteLine("== machine");
        var machine = new Machine(ProcessorName(), Environment.ProcessorCount,
            Math.Round(DecodeProbes.ReadBandwidth(1), 1), Math.Round(DecodeProbes.ReadBandwidth(2), 1),
            Math.Round(DecodeProbes.MatVecBandwidth(ScalarType.Float32, 8192, 2048, 2), 1), Math.Round(DecodeProbes.MatVecBandwidth(ScalarType.BFloat16, 8192, 2048, 2), 1),
            Math.Round(DecodeProbes.MatVecBandwidth(ScalarType.Float32, 8192, 2048, 2, q8: true), 1),
            Math.Round(DecodeProbes.ParallelRegionMicroseconds(2), 2), Math.Round(DecodeProbes.ParallelRegionMicroseconds(2, parallelFor: true), 2));
        Console.WriteLine($"{machine.Processor}, {machine.Cores} cores; read {machine.ReadGBps1Thread} GB/s (1 thread), {machine.ReadGBps2Threads} GB/s (2); decoder kernels fp32 {machine.KernelFp32GBps}, bf16 {machine.KernelBf16GBps}, q8_0 {machine.KernelQ8GBps} GB/s");

        Console.WriteLine("== decode and prefill");
        var lm = new List<BenchCommands.BenchRow>();
        string[] shapes = quick ? ["tiny"] : ["tiny", "small", "1b"];
        int[] threads = quick ? [2] : [1, 2];
        int repetitions = quick ? 1 : 3;
        BenchCommands.PrintHeader();
        foreach (var shape in shapes)
        {
            foreach (var dtype in new[] { "fp32", "bf16", BenchCommands.Q8 })
            {
                foreach (int t in threads) lm.Add(BenchCommands.PrintRow(BenchCommands.RunChild(shape, dtype, t, 64, 64, "cpu", repetitions)));
                // libtorch has no 8-bit path: its row is for the dtypes it runs.
                if (dtype != BenchCommands.Q8) lm.Add(BenchCommands.PrintRow(BenchCommands.RunChild(shape, dtype, 2, 64, 64, "libtorch")));
            }
            lm.AddRange(LlamaCppBenchmarks.Run(shape, ["F32", "F16", "BF16", "Q8_0"], threads, 64, 64, repetitions).Select(BenchCommands.PrintRow));
        }

        Console.WriteLine("== where a decode step's time goes");
        var profiles = new List<BenchCommands.ProfileRow>();
        foreach (var dtype in new[] { "fp32", "bf16", BenchCommands.Q8 })
        {
            profiles.Add(BenchCommands.RunProfile(quick ? "tiny" : "small", dtype, 2));
            BenchCommands.PrintProfile(profiles[^1]);
        }

        Console.WriteLine("== three experts: one shared base and a LoRA bank in one pass, against three merged copies in turn");
        var experts = new List<ExpertBenchmarks.ExpertsRow>();
        foreach (var (shape, dtype) in quick ? new[] { ("tiny", "fp32") } : [("small", "fp32"), ("small", "bf16"), ("1b", "bf16")])
            foreach (var mode in new[] { "sequential", "batched" })
                experts.Add(Print(ExpertBenchmarks.RunExperts(shape, dtype, mode, quick ? 16 : 64)));

        Console.WriteLine("== one expert under concurrent requests: continuous batching against one generation per thread");
        var serve = new List<ExpertBenchmarks.ServeRow>();
        foreach (var (shape, dtype) in quick ? new[] { ("tiny", "fp32") } : [("small", "fp32"), ("small", "bf16")])
            foreach (int concurrency in quick ? new[] { 1, 4 } : [1, 4, 16])
                foreach (var mode in new[] { "unbatched", "batched" })
                    serve.Add(Print(ExpertBenchmarks.RunServe(shape, dtype, mode, concurrency, quick ? 16 : 64)));

        Console.WriteLine("== the image encoder: ResNet-18 in our executor against ONNX Runtime on the same graph");
        var imageEncoder = ImageEncoderBenchmarks.Run(threads, quick ? 4 : 24, repetitions);

        var files = ConstellationBenchmark.ImageFiles(imageFolder);
        List<ServingBenchmarks.ExpertServiceRow> expertService = [];
        List<ConstellationBenchmark.Row> constellation;
        string cache;
        Console.WriteLine("== the local constellation, default model");
        await using (var local = await LocalConstellation.StartAsync(new ConstellationOptions { GatewayHttpPort = 0, GatewayGrpcPort = 0 }, null, cancellationToken))
        {
            cache = local.Cache;
            foreach (int concurrency in quick ? new[] { 1, 4 } : [1, 4, 16])
                expertService.Add(Print(await ServingBenchmarks.ExpertServiceAsync(local, RsMoe.Captions.CaptionPolicy.Objects, concurrency, quick ? 8 : 48, 64)));
            using var channel = GrpcChannel.ForAddress(local.GatewayGrpcUrl, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
            constellation = await ConstellationBenchmark.MeasureAsync(new Captioner.CaptionerClient(channel), files, quick ? 4 : 24, quick ? [1] : [1, 8]);
            constellation.ForEach(r => Print(r));
        }

        Console.WriteLine("== gateway overhead: the same constellation with every expert asked for one token");
        var gateway = new List<ServingBenchmarks.GatewayRow>();
        var oneToken = new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["gateway"] = new Dictionary<string, string> { ["Gateway__CaptionMaxNewTokens"] = "1", ["Gateway__AskMaxNewTokens"] = "1" },
        };
        await using (var fast = await LocalConstellation.StartAsync(new ConstellationOptions { GatewayHttpPort = 0, GatewayGrpcPort = 0, Environment = oneToken }, null, cancellationToken))
        {
            using var channel = GrpcChannel.ForAddress(fast.GatewayGrpcUrl, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
            var client = new Captioner.CaptionerClient(channel);
            var image = ByteString.CopyFrom(File.ReadAllBytes(files[0]));
            foreach (int concurrency in new[] { 1, 8 })
                gateway.Add(Print(await ServingBenchmarks.GatewayOverheadAsync(client, image, concurrency, quick ? 40 : 400)));
        }
        return new Results(DateTime.UtcNow.ToString("yyyy-MM-dd"), quick, machine, lm, experts, serve, expertService, constellation, gateway, cache, imageEncoder, profiles);
    }

    static T Print<T>(T row)
    {
        Console.WriteLine(JsonSerializer.Serialize(row));
        return row;
    }

    static string ProcessorName()
    {
        const string cpuinfo = "/proc/cpuinfo";
        var line = File.Exists(cpuinfo) ? File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
        return line?.Split(':', 2)[1].Trim() ?? "unknown processor";
    }
}
