using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using RsMoe.Gateway.Backends;
using RsMoe.ServiceDefaults.Grpc;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace RsMoe.Gateway.Tests.Backends;

/// <summary>
/// <see cref="ResilientCalls"/> over a real YARP proxy state with unreachable replicas: the calls themselves are
/// scripted, so what is tested is the policy — which replica a retry goes to, what is never retried, the budget, and
/// when a replica's circuit opens so that YARP stops picking it.
/// </summary>
public sealed class RetryTests
{
    const string Cluster = "expert-theme";

    sealed class Gateway(WebApplication app) : IAsyncDisposable
    {
        public ResilientCalls Calls => app.Services.GetRequiredService<ResilientCalls>();
        public BackendChannels Backends => app.Services.GetRequiredService<BackendChannels>();
        public ValueTask DisposeAsync() => app.DisposeAsync();
    }

    static async Task<Gateway> StartAsync(ResilienceOptions options, int replicas)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var cluster = new ClusterConfig
        {
            ClusterId = Cluster,
            // No health check configured: ClusterDefaults enables a passive one, without which YARP would apply no
            // availability policy and an open circuit would stop nothing.
            Destinations = Enumerable.Range(1, replicas).ToDictionary(i => $"replica-{i}", i => new DestinationConfig { Address = $"http://127.0.0.{i}:9" }),
        };
        builder.Services.AddReverseProxy().LoadFromMemory([], [cluster]).AddConfigFilter<ClusterDefaults>();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new InternalOptions());
        builder.Services.AddSingleton<BackendChannels>();
        builder.Services.AddSingleton<ResilientCalls>();
        var app = builder.Build();
        app.MapReverseProxy();
        await app.StartAsync();
        var proxy = app.Services.GetRequiredService<IProxyStateLookup>();
        for (int i = 0; i < 200 && !proxy.TryGetCluster(Cluster, out _); i++) await Task.Delay(10);
        return new Gateway(app);
    }

    static ResilienceOptions Options(int maxAttempts = 3, int circuitFailures = 100, double budget = 10) => new()
    {
        MaxAttempts = maxAttempts, BaseBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(5),
        RetryBudgetMax = budget, RetryBudgetRatio = budget > 0 ? 0.2 : 0, CircuitFailures = circuitFailures, CircuitOpenFor = TimeSpan.FromMinutes(5),
    };

    static StageDeadline Deadline => StageDeadline.Of(DateTime.UtcNow.AddSeconds(10), TimeSpan.FromSeconds(10));

    static string Host(GrpcChannel channel) => channel.Target.Split(':')[0];

    /// <summary>A call that fails with <paramref name="status"/> on the replicas named, answers its host elsewhere, and records where it went.</summary>
    static Func<GrpcChannel, StrongBox<bool>, Task<string>> Scripted(List<string> visited, StatusCode status, params string[] failingHosts) => (channel, _) =>
    {
        visited.Add(Host(channel));
        return failingHosts.Contains(Host(channel)) ? throw new RpcException(new Status(status, "scripted")) : Task.FromResult(Host(channel));
    };

    [Fact]
    public async Task An_unavailable_replica_is_retried_on_another_and_never_twice_on_the_same()
    {
        await using var gateway = await StartAsync(Options(), replicas: 3);
        var visited = new List<string>();
        string answered = await gateway.Calls.CallAsync(Cluster, Deadline, Scripted(visited, StatusCode.Unavailable, "127.0.0.1", "127.0.0.2"), default);

        Assert.Equal("127.0.0.3", answered);
        Assert.Equal(visited.Count, visited.Distinct().Count());
        Assert.Equal("127.0.0.3", visited[^1]);
    }

    [Fact]
    public async Task Attempts_stop_at_the_limit_and_the_last_failure_is_reported()
    {
        await using var gateway = await StartAsync(Options(maxAttempts: 2), replicas: 3);
        var visited = new List<string>();
        var e = await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync(Cluster, Deadline,
            Scripted(visited, StatusCode.Unavailable, "127.0.0.1", "127.0.0.2", "127.0.0.3"), default));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Equal(2, visited.Count);
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.Internal)]
    [InlineData(StatusCode.DeadlineExceeded)]
    public async Task Only_unavailable_is_retried(StatusCode status)
    {
        await using var gateway = await StartAsync(Options(), replicas: 2);
        var visited = new List<string>();
        var e = await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync(Cluster, Deadline,
            Scripted(visited, status, "127.0.0.1", "127.0.0.2"), default));
        Assert.Equal(status, e.StatusCode);
        Assert.Single(visited);
    }

    [Fact]
    public async Task A_call_that_began_answering_is_not_repeated()
    {
        await using var gateway = await StartAsync(Options(), replicas: 2);
        int calls = 0;
        await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync<string>(Cluster, Deadline, (_, answered) =>
        {
            calls++;
            answered.Value = true;   // tokens already streamed to the caller: a retry would send them twice
            throw new RpcException(new Status(StatusCode.Unavailable, "stream broke"));
        }, default));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task An_empty_retry_budget_stops_retries()
    {
        await using var gateway = await StartAsync(Options(budget: 0), replicas: 2);
        var visited = new List<string>();
        await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync(Cluster, Deadline, Scripted(visited, StatusCode.Unavailable, "127.0.0.1", "127.0.0.2"), default));
        Assert.Single(visited);
    }

    [Fact]
    public async Task Consecutive_failures_open_the_replicas_circuit_and_yarp_stops_picking_it_but_the_requests_own_faults_never_do()
    {
        await using var gateway = await StartAsync(Options(maxAttempts: 1, circuitFailures: 2), replicas: 1);
        var visited = new List<string>();
        for (int i = 0; i < 3; i++)
            await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync(Cluster, Deadline, Scripted(visited, StatusCode.InvalidArgument, "127.0.0.1"), default));
        Assert.Single(gateway.Backends.Available(Cluster));

        await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync(Cluster, Deadline, Scripted(visited, StatusCode.Internal, "127.0.0.1"), default));
        Assert.Single(gateway.Backends.Available(Cluster));
        await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync(Cluster, Deadline, Scripted(visited, StatusCode.Internal, "127.0.0.1"), default));

        // YARP recomputes a cluster's available replicas on its own scheduler, just after the health changes.
        for (int i = 0; i < 200 && gateway.Backends.Available(Cluster).Count > 0; i++) await Task.Delay(10);
        Assert.Empty(gateway.Backends.Available(Cluster));
        Assert.Equal(DestinationHealth.Unhealthy, Assert.Single(gateway.Backends.All(Cluster)).Health.Passive);
        var refused = await Assert.ThrowsAsync<RpcException>(() => gateway.Calls.CallAsync(Cluster, Deadline, Scripted(visited, StatusCode.Internal), default));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("no healthy replica", refused.Status.Detail);
        Assert.Equal(5, visited.Count);   // the open circuit sent nothing to the replica
    }
}
