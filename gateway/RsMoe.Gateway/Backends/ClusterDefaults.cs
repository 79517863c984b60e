using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace RsMoe.Gateway.Backends;

/// <summary>
/// What every backend cluster gets unless its configuration says otherwise: the <c>HealthyAndUnknown</c> availability
/// policy. YARP's default, <c>HealthyOrPanic</c>, makes every replica available again once all are unhealthy, so an
/// open circuit (or a failed readiness probe) on a cluster's only replica stopped no traffic.
/// </summary>
public sealed class ClusterDefaults : IProxyConfigFilter
{
    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel) =>
        ValueTask.FromResult(cluster.HealthCheck?.AvailableDestinationsPolicy is { Length: > 0 } ? cluster : cluster with
        {
            HealthCheck = (cluster.HealthCheck ?? new HealthCheckConfig()) with { AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyAndUnknown },
        });

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) => ValueTask.FromResult(route);
}
