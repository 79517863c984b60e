using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using RsMoe.ServiceDefaults.Grpc;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace RsMoe.Gateway.Backends;

/// <summary>A destination picked for one call; dispose it when the call ends so YARP's load counts stay right.</summary>
public readonly struct BackendCall(GrpcChannel channel, DestinationState destination) : IDisposable
{
    public GrpcChannel Channel { get; } = channel;
    public DestinationState Destination { get; } = destination;
    public void Dispose() => BackendChannels.Track(Destination, -1);
}

/// <summary>
/// The gateway's own calls (fan-out, encoder calls) go where YARP would send them: YARP keeps each cluster's
/// destinations and their active health, and its load-balancing policy picks among the healthy replicas. One HTTP/2
/// channel per destination is kept and reused.
/// </summary>
public sealed class BackendChannels(IProxyStateLookup proxyState, IEnumerable<ILoadBalancingPolicy> policies, InternalOptions @internal) : IDisposable
{
    sealed class InFlight { public int Count; }
    static readonly ConditionalWeakTable<DestinationState, InFlight> Counts = new();

    /// <summary>Counts calls atomically and shows the count to YARP, whose PowerOfTwoChoices and LeastRequests policies weigh it.</summary>
    internal static void Track(DestinationState destination, int delta) =>
        destination.ConcurrentRequestCount = Interlocked.Add(ref Counts.GetOrCreateValue(destination).Count, delta);

    readonly Dictionary<string, ILoadBalancingPolicy> _policies = policies.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
    readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    /// <summary>A healthy destination of the cluster, or <c>Unavailable</c> naming the cluster when it has none.</summary>
    public BackendCall Pick(string clusterId, IReadOnlySet<string>? exclude = null)
    {
        if (!proxyState.TryGetCluster(clusterId, out var cluster))
            throw new RpcException(new Status(StatusCode.Unavailable, $"no backend '{clusterId}' is configured"));
        IReadOnlyList<DestinationState> available = cluster.DestinationsState.AvailableDestinations;
        // A retry goes to another replica when there is one.
        if (exclude is { Count: > 0 } && available.Any(d => !exclude.Contains(d.DestinationId)))
            available = available.Where(d => !exclude.Contains(d.DestinationId)).ToList();
        if (available.Count == 0)
            throw new RpcException(new Status(StatusCode.Unavailable, $"{clusterId} is unavailable: no healthy replica"));
        var policyName = cluster.Model.Config.LoadBalancingPolicy ?? LoadBalancingPolicies.PowerOfTwoChoices;
        var destination = available.Count == 1 || !_policies.TryGetValue(policyName, out var policy)
            ? available[0]
            : policy.PickDestination(new DefaultHttpContext(), cluster, available) ?? available[0];
        Track(destination, +1);
        return new BackendCall(ChannelFor(destination.Model.Config.Address), destination);
    }

    /// <summary>Every destination of a cluster with its health, for listings.</summary>
    public IReadOnlyList<DestinationState> All(string clusterId) =>
        proxyState.TryGetCluster(clusterId, out var cluster) ? cluster.DestinationsState.AllDestinations : [];

    public IReadOnlyList<DestinationState> Available(string clusterId) =>
        proxyState.TryGetCluster(clusterId, out var cluster) ? cluster.DestinationsState.AvailableDestinations : [];

    public GrpcChannel ChannelFor(string address) => _channels.GetOrAdd(address, a => GrpcChannel.ForAddress(a, new GrpcChannelOptions
    {
        // Every call presents the internal credential (the services refuse callers without it). Inside the cluster
        // the network policy is the other lock; TLS between pods is the mesh's business.
        Credentials = string.IsNullOrEmpty(@internal.Credential) ? ChannelCredentials.Insecure : ChannelCredentials.Create(ChannelCredentials.Insecure,
            CallCredentials.FromInterceptor((_, metadata) => { metadata.Add(InternalOptions.Header, @internal.Credential); return Task.CompletedTask; })),
        UnsafeUseInsecureChannelCallCredentials = true,
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(3),
        },
        // Visual tokens and prefixes are a few MiB at paper scale; images are bounded by the gateway's own limit.
        MaxReceiveMessageSize = 64 << 20,
        MaxSendMessageSize = 64 << 20,
    }));

    public void Dispose()
    {
        foreach (var channel in _channels.Values) channel.Dispose();
    }
}
