using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RsMoe.Benchmarks;
using RsMoe.Constellation;
using RsMoe.Contracts.V1;

namespace RsMoe.Cli.Commands;

/// <summary>
/// <c>rsmoe load</c>: drives a constellation on this machine at a fixed concurrency for a fixed time (bounded in
/// requests too) with a mix of captions and questions over a pool of images, and reports requests/s, latency
/// percentiles, errors by status and each process's memory before and after. With <c>--new-share</c> most requests bring
/// an image never sent before, so the image encoder and the feature cache's misses and evictions are under load too.
/// Loopback only: it is a test tool.
/// </summary>
internal static class LoadCommand
{
    public sealed record ProcessMemory(string Service, double RssBeforeMiB, double RssAfterMiB);
    /// <summary>What the feature cache did during the run: the gateway's counters, and the private Redis's memory and evictions.</summary>
    public sealed record CacheActivity(double Hits, double Misses, double ImageEncodes, double? RedisUsedMiB, double? RedisMaxMiB, double? RedisRssMiB,
        long? RedisEvictedKeys, long? RedisKeys);
    public sealed record Report(int Concurrency, double Seconds, int Requests, double RequestsPerSecond, double P50Ms, double P95Ms, double P99Ms,
        double MaxMs, IReadOnlyDictionary<string, int> ByStatus, IReadOnlyList<ProcessMemory> Memory, int NewImages = 0, int NewImagesRunOut = 0,
        CacheActivity? Cache = null);

    public static Command Create()
    {
        var url = new Option<string?>("--url") { Description = "A gateway's gRPC URL on this machine; without it the local constellation is started" };
        var concurrency = new Option<int>("--concurrency") { DefaultValueFactory = _ => 4 };
        var duration = new Option<TimeSpan>("--duration") { DefaultValueFactory = _ => TimeSpan.FromSeconds(60), Description = "e.g. 00:10:00 for a soak" };
        var maxRequests = new Option<int>("--max-requests") { DefaultValueFactory = _ => 1_000_000 };
        var askRatio = new Option<double>("--ask-ratio") { DefaultValueFactory = _ => 0.75, Description = "Share of questions; the rest are captions" };
        var pool = new Option<int>("--pool") { DefaultValueFactory = _ => 64, Description = "Distinct images cycled through" };
        var newShare = new Option<double>("--new-share") { DefaultValueFactory = _ => 0, Description = "Share of requests that bring an image never sent before, taken in turn from the rest of --images (e.g. 0.9 with --images ../shared/data/rsicd/images)" };
        var images = new Option<DirectoryInfo?>("--images") { Description = "default: ../shared/data/rsscn7/images" };
        var warmup = new Option<TimeSpan>("--warmup") { DefaultValueFactory = _ => TimeSpan.FromSeconds(10), Description = "Load before measuring (JIT, caches); memory 'before' is taken after it" };
        var apiKey = GatewayCommands.ApiKeyOption();
        var output = new Option<FileInfo?>("--out") { Description = "Write the report as JSON" };
        var command = new Command("load", "Drive the constellation at a fixed concurrency for a fixed time and report throughput, latency, errors and memory")
            { url, concurrency, duration, warmup, maxRequests, askRatio, pool, newShare, images, apiKey, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? target = parse.GetValue(url);
            if (target is not null && !IsLoopback(target))
                return CliErrors.Report(new ArgumentException($"'{target}' is not on this machine: the load tool drives loopback gateways only"), false);
            if (parse.GetValue(newShare) is < 0 or > 1) return CliErrors.Report(new ArgumentException("--new-share is a share: between 0 and 1"), false);
            var source = new ImageSource(ConstellationBenchmark.ImageFiles(parse.GetValue(images)?.FullName), parse.GetValue(pool), parse.GetValue(newShare));
            LocalConstellation? local = null;
            if (target is null)
            {
                local = await LocalConstellation.StartAsync(new ConstellationOptions { GatewayHttpPort = 0, GatewayGrpcPort = 0 }, Console.Error.WriteLine, cancellationToken);
                target = local.GatewayGrpcUrl;
            }
            try
            {
                if (parse.GetValue(warmup) > TimeSpan.Zero)
                    await RunAsync(target, source, parse.GetValue(concurrency), parse.GetValue(warmup), int.MaxValue, parse.GetValue(askRatio), parse.GetValue(apiKey), local, cancellationToken);
                var report = await RunAsync(target, source, parse.GetValue(concurrency), parse.GetValue(duration), parse.GetValue(maxRequests),
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

    /// <summary>
    /// The images a run sends: a small pool cycled through, and, for a share of requests, files never sent before, taken
    /// in turn from the rest of the folder (read when sent; counted when the folder runs out and a pool image goes instead).
    /// </summary>
    sealed class ImageSource
    {
        readonly IReadOnlyList<string> _files;
        readonly ByteString[] _pool;
        readonly double _newShare;
        int _nextNew;
        public int NewSent;
        public int RunOut;

        public ImageSource(IReadOnlyList<string> files, int pool, double newShare)
        {
            if (files.Count == 0) throw new ArgumentException("no images found");
            _files = files;
            _pool = files.Take(Math.Max(1, pool)).Select(f => ByteString.CopyFrom(File.ReadAllBytes(f))).ToArray();
            _nextNew = _pool.Length;
            _newShare = newShare;
        }

        public ByteString Next(int request, Random random)
        {
            if (_newShare > 0 && random.NextDouble() < _newShare)
            {
                int index = Interlocked.Increment(ref _nextNew) - 1;
                if (index < _files.Count)
                {
                    Interlocked.Increment(ref NewSent);
                    return ByteString.CopyFrom(File.ReadAllBytes(_files[index]));
                }
                Interlocked.Increment(ref RunOut);
            }
            return _pool[request % _pool.Length];
        }
    }

    static async Task<Report> RunAsync(string url, ImageSource images, int concurrency, TimeSpan duration, int maxRequests, double askRatio,
        string? apiKey, LocalConstellation? local, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
        var client = new Captioner.CaptionerClient(channel);
        var headers = string.IsNullOrEmpty(apiKey) ? [] : new Metadata { { "x-api-key", apiKey } };
        var before = Memory(local);
        var cacheBefore = await CacheCountersAsync(local, cancellationToken);
        int newBefore = images.NewSent, runOutBefore = images.RunOut;
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
                var image = images.Next(n, random);
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
        var cacheAfter = await CacheCountersAsync(local, cancellationToken);
        latencies.Sort();
        double P(double q) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
        var memory = before.Keys.Select(k => new ProcessMemory(k, before[k], after.GetValueOrDefault(k))).ToList();
        CacheActivity? cache = null;
        if (local is not null)
        {
            var redis = await local.RedisInfoAsync(cancellationToken);
            double? MiB(string key) => redis.TryGetValue(key, out var v) && double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var b) ? b / (1 << 20) : null;
            long? Count(IReadOnlyDictionary<string, string> info, string key) => info.TryGetValue(key, out var v) && long.TryParse(v, out var c) ? c : null;
            long? keys = redis.TryGetValue("db0", out var db) && db.Split(',')[0].Split('=') is [_, var k] && long.TryParse(k, out var parsed) ? parsed : null;
            cache = new CacheActivity(cacheAfter.Hits - cacheBefore.Hits, cacheAfter.Misses - cacheBefore.Misses, cacheAfter.Encodes - cacheBefore.Encodes,
                MiB("used_memory"), MiB("maxmemory"), MiB("used_memory_rss"), Count(redis, "evicted_keys") - (cacheBefore.Evicted ?? 0), keys);
        }
        return new Report(concurrency, seconds, latencies.Count, latencies.Count / seconds, P(0.50), P(0.95), P(0.99), latencies.LastOrDefault(), statuses, memory,
            images.NewSent - newBefore, images.RunOut - runOutBefore, cache);
    }

    /// <summary>The gateway's feature-cache counters (Prometheus text) and Redis's eviction count, to take differences of.</summary>
    static async Task<(double Hits, double Misses, double Encodes, long? Evicted)> CacheCountersAsync(LocalConstellation? local, CancellationToken cancellationToken)
    {
        if (local is null) return default;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync($"{local.GatewayUrl}/metrics", cancellationToken);
        double Sum(string name) => text.Split('\n').Where(l => l.StartsWith(name + "{") || l.StartsWith(name + " "))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        var redis = await local.RedisInfoAsync(cancellationToken);
        long? evicted = redis.TryGetValue("evicted_keys", out var e) && long.TryParse(e, out var count) ? count : null;
        return (Sum("rsmoe_feature_cache_hits_total"), Sum("rsmoe_feature_cache_misses_total"), Sum("rsmoe_gateway_image_encodes_total"), evicted);
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
        if (r.NewImages > 0 || r.NewImagesRunOut > 0)
            Console.WriteLine($"new images: {r.NewImages} never sent before" + (r.NewImagesRunOut > 0 ? $"; the folder ran out {r.NewImagesRunOut} times (a pool image went instead)" : ""));
        if (r.Cache is { } c)
            Console.WriteLine($"feature cache: {c.Hits:F0} hits, {c.Misses:F0} misses, {c.ImageEncodes:F0} image encodes" +
                (c.RedisUsedMiB is { } used ? $"; Redis {used:F0} of {c.RedisMaxMiB:F0} MiB used (RSS {c.RedisRssMiB:F0} MiB), {c.RedisKeys} keys, {c.RedisEvictedKeys} evicted" : ""));
        if (r.Memory.Count > 0)
        {
            Console.WriteLine("| process | RSS before MiB | RSS after MiB |");
            Console.WriteLine("|---|---:|---:|");
            foreach (var m in r.Memory) Console.WriteLine($"| {m.Service} | {m.RssBeforeMiB:F0} | {m.RssAfterMiB:F0} |");
        }
    }
}
