extern alias GatewayHost;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using OpenTelemetry.Trace;
using RsMoe.Contracts.V1;
using RsMoe.EndToEnd.Tests.Support;
using GatewayProgram = GatewayHost::Program;

namespace RsMoe.EndToEnd.Tests;

/// <summary>
/// The gateway in this process (test server, real gRPC client) in front of the constellation's real backends,
/// with the in-process feature cache and an in-memory trace exporter.
/// </summary>
[Collection(ConstellationCollection.Name)]
public sealed class GatewayFunctionalTests : IDisposable
{
    readonly ConstellationFixture _fixture;
    readonly List<Activity> _spans = [];
    readonly WebApplicationFactory<GatewayProgram> _factory;
    readonly GrpcChannel _channel;
    Captioner.CaptionerClient Captioner => new(_channel);

    public GatewayFunctionalTests(ConstellationFixture fixture)
    {
        _fixture = fixture;
        _factory = new WebApplicationFactory<GatewayProgram>().WithWebHostBuilder(builder =>
        {
            foreach (var backend in fixture.Constellation.Services.Where(s => s.Name != "gateway"))
                builder.UseSetting($"ReverseProxy:Clusters:{backend.Name}:Destinations:primary:Address", backend.GrpcAddress);
            builder.UseSetting("Cache:Redis", "");
            builder.UseSetting("Internal:Credential", fixture.Constellation.InternalCredential);
            builder.ConfigureServices(services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(_spans)));
        });
        _channel = GrpcChannel.ForAddress(_factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = _factory.Server.CreateHandler() });
    }

    [Fact]
    public async Task One_trace_shows_the_fan_out_to_every_expert_and_continues_in_the_expert_processes()
    {
        var response = await Captioner.CaptionAsync(new CaptionRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(ConstellationFixture.Sample("forest"))) });
        Assert.Equal(3, response.Sections.Count(s => s.Error == ""));

        Activity[] spans;
        lock (_spans) spans = [.. _spans];
        var caption = Assert.Single(spans, s => s.OperationName == "caption");
        var experts = spans.Where(s => s.ParentSpanId == caption.SpanId && s.OperationName.StartsWith("expert ")).Select(s => s.OperationName).Order().ToList();
        Assert.Equal(["expert objects", "expert relationships", "expert theme"], experts);
        var outgoing = spans.Where(s => s.TraceId == caption.TraceId && s.Kind == ActivityKind.Client).ToList();
        Assert.True(outgoing.Count >= 5, $"{outgoing.Count} outgoing calls in the trace");   // image encoder, VLM encoder, three experts

        // Each expert process continued the same trace (W3C traceparent); its request log carries the trace id.
        string trace = caption.TraceId.ToHexString();
        foreach (var role in new[] { "theme", "objects", "relationships" })
        {
            var log = _fixture.Constellation.Service($"expert-{role}");
            Assert.Contains(trace, await WaitForAsync(log.LogPath, trace));
        }
    }

    [Fact]
    public async Task The_in_process_cache_serves_the_second_question()
    {
        var image = ByteString.CopyFrom(File.ReadAllBytes(ConstellationFixture.Sample("residential")));
        var first = await Captioner.AskAsync(new AskRequest { Image = image, Question = "Are there houses?" });
        var second = await Captioner.AskAsync(new AskRequest { Image = image, Question = "Is there a road?" });
        Assert.Equal(CacheOutcome.Miss, first.Cache);
        Assert.Equal(CacheOutcome.Hit, second.Cache);
    }

    static async Task<string> WaitForAsync(string path, string text)
    {
        string content = "";
        for (int i = 0; i < 50 && !content.Contains(text); i++)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            content = await new StreamReader(stream).ReadToEndAsync();
            if (!content.Contains(text)) await Task.Delay(100);
        }
        return content;
    }

    public void Dispose()
    {
        _channel.Dispose();
        _factory.Dispose();
    }
}
