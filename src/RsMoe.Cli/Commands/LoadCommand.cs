using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RsMoe.Cli.Constellation;
using RsMoe.Contracts.V1;

namespace RsMoe.Cli.Commands;

/// <summary>
/// <c>rsmoe load</c>: drives a constellation on this machine at a fixed concurrency for a fixed time (bounded in
/// requests too) with a mix of captions and questions over a pool of images, and reports requests/s, latency
/// percentiles, errors by status and each process's memory before and after. Loopback only: it is a test tool.
/// </summary>
internal static class LoadCommand
{
    public sealed record ProcessMemory(string Service, double RssBeforeMiB, double RssAfterMiB);
    public sealed record Report(int Concurrency, double Seconds, int Requests, double RequestsPerSecond, double P50Ms, double P95Ms, double P99Ms,
        double MaxMs, IReadOnlyDictionary<string, int> ByStatus, IReadOnlyList<ProcessMemory> Memory);

    public static Command Create()
    {
        var url = new Option<string?>("--url") { Description = "A gateway's gRPC URL on this machine; without it the local constellation is started" };
        var concurrency = new Option<int>("--concurrency") { DefaultValueFactory = _ => 4 };
        var duration = new Option<TimeSpan>("--duration") { DefaultValueFactory = _ => TimeSpan.FromSeconds(60), Description = "e.g. 00:10:00 for a soak" };
        var maxRequests = new Option<int>("--max-requests") { DefaultValueFactory = _ => 1_000_000 };
        var askRatio = new Option<double>("--ask-ratio") { DefaultValueFactory = _ => 0.75, Description = "Share of questions; the rest are captions" };
        var pool = new Option<int>("--pool") { DefaultValueFactory = _ => 64, Description = "Distinct images cycled through" };
        var images = new Option<DirectoryInfo?>("--images") { Description = "default: ../shared/data/rsscn7/images" };
        var warmup = new Option<TimeSpan>("--warmup") { DefaultValueFactory = _ => TimeSpan.FromSeconds(10), Description = "Load before measuring (JIT, caches); memory 'before' is taken after it" };
        var apiKey = GatewayCommands.ApiKeyOption();
        var output = new Option<FileInfo?>("--out") { Description = "Write the report as JSON" };
        var command = new Command("load", "Drive the constellation at a fixed concurrency for a fixed time and report throughput, latency, errors and memory")
            { url, concurrency, duration, warmup, maxRequests, askRatio, pool, images, apiKey, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? target = parse.GetValue(url);
            if (target is not null && !IsLoopback(target))
                return CliErrors.Report(new ArgumentException($"'{target}' is not on this machine: the load tool drives loopback gateways only"), false);
            var files = ConstellationBenchmark.ImageFiles(parse.GetValue(images)?.FullName).Take(parse.GetValue(pool)).ToList();
            var bodies = files.Select(f => ByteString.CopyFrom(File.ReadAllBytes(f))).ToList();
            LocalConstellation? local = null;
            if (target is null)
            {
                local = await LocalConstellation.StartAsync(new ConstellationOptions { GatewayHttpPort = 0, GatewayGrpcPort = 0 }, Console.Error.WriteLine, cancellationToken);
                target = local.GatewayGrpcUrl;
            }
            try
            {
                if (parse.GetValue(warmup) > TimeSpan.Zero)
                    await RunAsync(target, bodies, parse.GetValue(concurrency), parse.GetValue(warmup), int.MaxValue, parse.GetValue(askRatio), parse.GetValue(apiKey), local, cancellationToken);
                var report = await RunAsync(target, bodies, parse.GetValue(concurrency), parse.GetValue(duration), parse.GetValue(maxRequests),
                    parse.GetValue(askRatio), parse.GetValue(apiKey), local, cancellationToken);
                Print(report);
                if (parse.GetValue(output) is { } file)
                    File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
                return report.ByStatus.Keys.All(k => k == "OK") ? 0 : 1;
            }
            finally
            {
                if (local is not null) await local.DisposeAsync();
            }
        });
        return command;
    }

    static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.IsLoopback || uri.Host is "127.0.0.1" or "::1" or "[::1]");

    static async Task<Report> RunAsync(string url, List<ByteString> images, int concurrency, TimeSpan duration, int maxRequests, double askRatio,
        string? apiKey, LocalConstellation? local, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
        var client = new Captioner.CaptionerClient(channel);
        var headers = string.IsNullOrEmpty(apiKey) ? [] : new Metadata { { "x-api-key", apiKey } };
        var before = Memory(local);
        var latencies = new List<double>();
        var statuses = new Dictionary<string, int>();
        int issued = 0;
        var wall = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(duration);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (!stop.IsCancellationRequested)
            {
                int n = Interlocked.Increment(ref issued);
                if (n > maxRequests) break;
                var image = images[n % images.Count];
                var clock = Stopwatch.StartNew();
                string status = "OK";
                try
                {
                    var deadline = DateTime.UtcNow.AddSeconds(60);
                    if (random.NextDouble() < askRatio)
                        await client.AskAsync(new AskRequest { Image = image, Question = "What is in this image?" }, headers, deadline);
                    else
                        await client.CaptionAsync(new CaptionRequest { Image = image }, headers, deadline);
                }
                catch (RpcException e)
                {
                    status = e.StatusCode.ToString();
                }
                lock (latencies)
                {
                    latencies.Add(clock.Elapsed.TotalMilliseconds);
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                }
            }
        }, CancellationToken.None)));
        double seconds = wall.Elapsed.TotalSeconds;
        var after = Memory(local);
        latencies.Sort();
        double P(double q) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
        var memory = before.Keys.Select(k => new ProcessMemory(k, before[k], after.GetValueOrDefault(k))).ToList();
        return new Report(concurrency, seconds, latencies.Count, latencies.Count / seconds, P(0.50), P(0.95), P(0.99), latencies.LastOrDefault(), statuses, memory);
    }

    /// <summary>Resident memory of each local service, from /proc.</summary>
    static Dictionary<string, double> Memory(LocalConstellation? local)
    {
        var result = new Dictionary<string, double>();
        if (local is null) return result;
        foreach (var service in local.Services)
        {
            if (service.ProcessId is { } pid && BenchmarkProcess.RssMiB(pid) is { } rss) result[service.Name] = rss;
        }
        return result;
    }

    static void Print(Report r)
    {
        Console.WriteLine($"{r.Requests} requests in {r.Seconds:F1} s at concurrency {r.Concurrency}: {r.RequestsPerSecond:F1} requests/s");
        Console.WriteLine($"latency ms: p50 {r.P50Ms:F0}, p95 {r.P95Ms:F0}, p99 {r.P99Ms:F0}, max {r.MaxMs:F0}");
        Console.WriteLine($"by status: {string.Join(", ", r.ByStatus.Select(s => $"{s.Key} {s.Value}"))}");
        if (r.Memory.Count > 0)
        {
            Console.WriteLine("| process | RSS before MiB | RSS after MiB |");
            Console.WriteLine("|---|---:|---:|");
            foreach (var m in r.Memory) Console.WriteLine($"| {m.Service} | {m.RssBeforeMiB:F0} | {m.RssAfterMiB:F0} |");
        }
    }
}
