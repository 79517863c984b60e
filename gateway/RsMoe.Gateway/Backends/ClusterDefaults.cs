using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace RsMoe.Gateway.Backends;

/// <summary>
/// What every backend cluster gets unless its configuration says otherwise: the <c>HealthyAndUnknown</c> availability
/// policy. YARP's default, <c>HealthyOrPanic</c>, makes every replica available again once all are unhealthy, so an
/// open circuit (or a failed readiness probe) on a cluster's only replica stopped no traffic. And a passive health
/// check where the configuration enables none: YARP applies no availability policy to a cluster without a health check,
/// so an open circuit on it would stop nothing either.
/// </summary>
public sealed class ClusterDefaults : IProxyConfigFilter
{
    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        var health = cluster.HealthCheck ?? new HealthCheckConfig();
        if (health.AvailableDestinationsPolicy is not { Length: > 0 })
            health = health with { AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyAndUnknown };
        if (health.Active?.Enabled != true && health.Passive?.Enabled != true)
            health = health with { Passive = (health.Passive ?? new PassiveHealthCheckConfig()) with { Enabled = true, Policy = health.Passive?.Policy ?? HealthCheckConstants.PassivePolicy.TransportFailureRate } };
        return ValueTask.FromResult(cluster with { HealthCheck = health });
    }

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) => ValueTask.FromResult(route);
}
