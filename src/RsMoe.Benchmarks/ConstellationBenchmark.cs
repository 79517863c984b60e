using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Net.Client;
using RsMoe.Constellation;
using RsMoe.Contracts.V1;

namespace RsMoe.Benchmarks;

/// <summary>
/// <c>rsmoe bench constellation</c>: end-to-end latency through the gateway with the default model: captions and
/// questions on images never seen (feature cache miss: the image encoder runs) and seen (hit), at each concurrency.
/// Starts the local constellation unless <c>--url</c> names a running gateway.
/// </summary>
public static class ConstellationBenchmark
{
    /// <param name="ImageEncoderP50Ms">On cache misses: the image encoder's time as the gateway reports it (what a hit saves).</param>
    /// <param name="Errors">Requests that failed, by status (a benchmark reports them instead of stopping).</param>
    public sealed record Row(string Request, string Cache, int Concurrency, int Requests, double P50Ms, double P95Ms, double MeanMs, double RequestsPerSecond,
        double? ImageEncoderP50Ms = null, Dictionary<string, int>? Errors = null);

    public static Command Create()
    {
        var url = new Option<string?>("--url") { Description = "A running gateway's gRPC URL; without it the local constellation is started" };
        var images = new Option<DirectoryInfo?>("--images") { Description = "Folder of images (searched recursively); default: ../shared/data/rsscn7/images" };
        var requests = new Option<int>("--requests") { DefaultValueFactory = _ => 24, Description = "Requests per row" };
        var concurrency = new Option<string>("--concurrency") { DefaultValueFactory = _ => "1,8" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the rows as JSON here" };
        var command = new Command("constellation", "Caption and question latency through the gateway, cache miss and hit") { url, images, requests, concurrency, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var files = ImageFiles(parse.GetValue(images)?.FullName);
            int perRow = parse.GetValue(requests);
            var levels = parse.GetValue(concurrency)!.Split(',').Select(int.Parse).ToArray();
            int needed = perRow * levels.Length * 2;
            if (files.Count < needed) throw new ArgumentException($"{needed} distinct images are needed (found {files.Count})");
            LocalConstellation? local = null;
            string target = parse.GetValue(url) ?? "";
            if (target.Length == 0)
            {
                local = await LocalConstellation.StartAsync(new ConstellationOptions { GatewayHttpPort = 0, GatewayGrpcPort = 0 }, Console.Error.WriteLine, cancellationToken);
                target = local.GatewayGrpcUrl;
                Console.Error.WriteLine($"feature cache: {local.Cache}");
            }
            try
            {
                using var channel = GrpcChannel.ForAddress(target, new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
                var rows = await MeasureAsync(new Captioner.CaptionerClient(channel), files, perRow, levels);
                Console.WriteLine("| request | features | clients | requests | p50 ms | p95 ms | mean ms | req/s |");
                Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
                foreach (var r in rows)
                    Console.WriteLine($"| {r.Request} | cache {r.Cache} | {r.Concurrency} | {r.Requests} | {r.P50Ms:F0} | {r.P95Ms:F0} | {r.MeanMs:F0} | {r.RequestsPerSecond:F2} |");
                if (parse.GetValue(output) is { } file)
                    File.WriteAllText(file.FullName, JsonSerializer.Serialize(new { rows }, new JsonSerializerOptions { WriteIndented = true }));
            }
            finally
            {
                if (local is not null) await local.DisposeAsync();
            }
            return 0;
        });
        return command;
    }

    /// <summary>Captions and questions on never-seen images (miss) then the same again (hit), at each concurrency.</summary>
    public static async Task<List<Row>> MeasureAsync(Captioner.CaptionerClient client, List<string> files, int perRow, int[] levels)
    {
        int needed = perRow * levels.Length * 2;
        if (files.Count < needed + 1) throw new ArgumentException($"{needed + 1} distinct images are needed (found {files.Count})");
        await client.AskAsync(new AskRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(files[^1])), Question = "warm-up?" });
        var rows = new List<Row>();
        int next = 0;
        foreach (int level in levels)
        {
            var captionImages = files.Skip(next).Take(perRow).Select(f => ByteString.CopyFrom(File.ReadAllBytes(f))).ToList();
            next += perRow;
            var askImages = files.Skip(next).Take(perRow).Select(f => ByteString.CopyFrom(File.ReadAllBytes(f))).ToList();
            next += perRow;
            rows.Add(await MeasureAsync("caption", "miss", level, captionImages, img => client.CaptionAsync(new CaptionRequest { Image = img }).ResponseAsync));
            rows.Add(await MeasureAsync("caption", "hit", level, captionImages, img => client.CaptionAsync(new CaptionRequest { Image = img }).ResponseAsync));
            rows.Add(await MeasureAsync("ask", "miss", level, askImages, img => client.AskAsync(new AskRequest { Image = img, Question = "What is the main scene?" }).ResponseAsync));
            rows.Add(await MeasureAsync("ask", "hit", level, askImages, img => client.AskAsync(new AskRequest { Image = img, Question = "Are there buildings?" }).ResponseAsync));
        }
        return rows;
    }

    static async Task<Row> MeasureAsync<T>(string request, string cache, int concurrency, List<ByteString> images, Func<ByteString, Task<T>> call)
    {
        var latencies = new List<double>();
        var encoder = new List<double>();
        var errors = new Dictionary<string, int>();
        int index = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref index)) < images.Count)
            {
                var clock = Stopwatch.StartNew();
                T response;
                try
                {
                    response = await call(images[i]);
                }
                catch (Grpc.Core.RpcException e)
                {
                    lock (errors) errors[e.StatusCode.ToString()] = errors.GetValueOrDefault(e.StatusCode.ToString()) + 1;
                    Console.Error.WriteLine($"{request} ({cache}): {e.StatusCode} {e.Status.Detail}");
                    continue;
                }
                string outcome = response switch { CaptionResponse c => c.Cache == CacheOutcome.Hit ? "hit" : "miss", AskResponse a => a.Cache == CacheOutcome.Hit ? "hit" : "miss", _ => "" };
                var timings = response switch { CaptionResponse c => c.TimingsMs, AskResponse a => a.TimingsMs, _ => null };
                if (timings is not null && timings.TryGetValue("image_encoder", out double encodeMs)) lock (encoder) encoder.Add(encodeMs);
                if (outcome != cache)
                {
                    // A hit row whose image failed in its miss row finds nothing cached: counted, not timed.
                    lock (errors) errors[$"cache {outcome}"] = errors.GetValueOrDefault($"cache {outcome}") + 1;
                    continue;
                }
                lock (latencies) latencies.Add(clock.Elapsed.TotalMilliseconds);
            }
        }));
        double seconds = wall.Elapsed.TotalSeconds;
        latencies.Sort();
        encoder.Sort();
        if (latencies.Count == 0) throw new InvalidOperationException($"every {request} request failed: {string.Join(", ", errors.Select(e => $"{e.Key} {e.Value}"))}");
        return new Row(request, cache, concurrency, latencies.Count, Math.Round(Percentile(latencies, 0.5), 1), Math.Round(Percentile(latencies, 0.95), 1),
            Math.Round(latencies.Average(), 1), Math.Round(latencies.Count / seconds, 2), encoder.Count > 0 ? Math.Round(Percentile(encoder, 0.5), 1) : null,
            errors.Count > 0 ? errors : null);
    }

    internal static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    public static List<string> ImageFiles(string? folder)
    {
        if (folder is null)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null && folder is null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "..", "shared", "data", "rsscn7", "images");
                if (File.Exists(Path.Combine(dir.FullName, "RsMoe.Micro.sln")) && Directory.Exists(candidate)) folder = candidate;
            }
            if (folder is null) throw new DirectoryNotFoundException("no --images folder given and ../shared/data/rsscn7/images was not found");
        }
        // Interleave the classes so every row sees a mix of scenes.
        return Directory.EnumerateFiles(folder, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            .GroupBy(Path.GetDirectoryName).SelectMany(g => g.Order().Select((f, i) => (f, i))).OrderBy(p => p.i).ThenBy(p => p.f).Select(p => p.f).ToList();
    }
}
