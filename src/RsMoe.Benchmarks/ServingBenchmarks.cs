using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RsMoe.Constellation;
using RsMoe.Contracts.V1;
using RsMoe.Model.Moe;

namespace RsMoe.Benchmarks;

/// <summary>Measurements on the running processes: one expert service under concurrent requests, and the gateway's own cost.</summary>
internal static class ServingBenchmarks
{
    public sealed record ExpertServiceRow(int Concurrency, int Requests, int Tokens, double Seconds, double TokensPerSecond, double P50Ms);

    /// <param name="ClientP50Ms">What the caller sees.</param>
    /// <param name="BackendP50Ms">The gateway's waits on the VLM encoder and the expert fan-out (its timings).</param>
    /// <param name="AddedP50Ms">Client time minus backend time per request: the gateway's own work (cache lookup, fan-out, merge) and its hops.</param>
    public sealed record GatewayRow(int Concurrency, int Requests, double ClientP50Ms, double ClientP99Ms, double BackendP50Ms, double AddedP50Ms, double AddedP99Ms, double RequestsPerSecond);

    /// <summary>
    /// Generate calls straight to one expert process (with the internal credential), <paramref name="concurrency"/> at
    /// a time: the service's continuous batching at work. Prefixes are random: the decode cost does not depend on them.
    /// </summary>
    public static async Task<ExpertServiceRow> ExpertServiceAsync(LocalConstellation constellation, string role, int concurrency, int requests, int newTokens)
    {
        var config = ModelFolder.LoadConfig(ModelLocator.DefaultModelDirectory());
        int length = config.NumQueryTokens + config.Router.PromptLength, hidden = config.Llm.HiddenSize;
        var random = new Random(concurrency);
        var prefixes = Enumerable.Range(0, requests).Select(_ =>
        {
            var values = Enumerable.Range(0, length * hidden).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            return Tensor.FromFloats(values, [length, hidden]);
        }).ToList();
        using var channel = GrpcChannel.ForAddress(constellation.Service($"expert-{role}").GrpcAddress);
        var client = new Expert.ExpertClient(channel);
        var headers = new Metadata { { "x-rsmoe-internal", constellation.InternalCredential } };
        var settings = new GenerationSettings { MaxNewTokens = newTokens };
        await client.GenerateAsync(new GenerateRequest { Prefix = prefixes[0], Prompt = "warm up", Settings = settings }, headers);
        int index = -1, tokens = 0;
        var latencies = new List<double>();
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref index)) < requests)
            {
                var clock = Stopwatch.StartNew();
                var response = await client.GenerateAsync(new GenerateRequest { Prefix = prefixes[i], Prompt = RsMoe.Captions.CaptionPolicy.Instruction, Settings = settings }, headers);
                Interlocked.Add(ref tokens, response.GeneratedTokens);
                lock (latencies) latencies.Add(clock.Elapsed.TotalMilliseconds);
            }
        }));
        double seconds = wall.Elapsed.TotalSeconds;
        latencies.Sort();
        return new ExpertServiceRow(concurrency, requests, tokens, Math.Round(seconds, 3), Math.Round(tokens / seconds, 1), Math.Round(ConstellationBenchmark.Percentile(latencies, 0.5), 1));
    }

    /// <summary>
    /// Captions of one cached image through a constellation whose gateway asks every expert for a single token, so the
    /// backends are about as fast as they can be and what remains is the gateway's own cost.
    /// </summary>
    public static async Task<GatewayRow> GatewayOverheadAsync(Captioner.CaptionerClient client, ByteString image, int concurrency, int requests)
    {
        for (int i = 0; i < 20; i++) await client.CaptionAsync(new CaptionRequest { Image = image });   // warm, and cached from here on
        var client_ = new List<double>();
        var backend = new List<double>();
        var added = new List<double>();
        int index = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref index) < requests)
            {
                var clock = Stopwatch.StartNew();
                var response = await client.CaptionAsync(new CaptionRequest { Image = image });
                double total = clock.Elapsed.TotalMilliseconds;
                if (response.Cache != CacheOutcome.Hit) throw new InvalidOperationException("the gateway overhead is measured on cached images");
                double waits = response.TimingsMs.GetValueOrDefault("vlm_encoder") + response.TimingsMs.GetValueOrDefault("experts");
                lock (added) { client_.Add(total); backend.Add(waits); added.Add(total - waits); }
            }
        }));
        double seconds = wall.Elapsed.TotalSeconds;
        client_.Sort(); backend.Sort(); added.Sort();
        double P(List<double> l, double q) => Math.Round(ConstellationBenchmark.Percentile(l, q), 2);
        return new GatewayRow(concurrency, client_.Count, P(client_, 0.5), P(client_, 0.99), P(backend, 0.5), P(added, 0.5), P(added, 0.99), Math.Round(client_.Count / seconds, 1));
    }
}
