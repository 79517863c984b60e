using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RsMoe.ServiceDefaults.Health;

/// <summary>
/// Whether a service is ready to serve: not before its warm-ups (its model loaded and one pass run) have finished.
/// Liveness is separate: the process answers its probes while it loads.
/// </summary>
public sealed class Readiness
{
    public const string Tag = "ready";
    volatile string? _notReady = "warming up";

    public bool IsReady => _notReady is null;
    public string? NotReadyReason => _notReady;
    internal void Ready() => _notReady = null;
    internal void NotReady(string reason) => _notReady = reason;
}

/// <summary>One thing a service must have done before it is ready (load the model, run one pass).</summary>
public sealed record Warmup(string Name, Func<IServiceProvider, CancellationToken, Task> Run);

/// <summary>The readiness check behind <c>/healthz/ready</c> and the gRPC health service's overall status.</summary>
internal sealed class ReadinessCheck(Readiness readiness) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(readiness.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(readiness.NotReadyReason));
}

/// <summary>Runs the warm-ups once the host has started (so liveness answers meanwhile), then marks the service ready.</summary>
internal sealed class WarmupRunner(IEnumerable<Warmup> warmups, Readiness readiness, IServiceProvider services, ILogger<WarmupRunner> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(async () =>
    {
        foreach (var warmup in warmups)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                await warmup.Run(services, stoppingToken);
                logger.LogInformation("Warm-up {Name} done in {Ms:F0} ms", warmup.Name, clock.Elapsed.TotalMilliseconds);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Not ready, and it says why; the process stays up so the reason can be read from its probes and log.
                readiness.NotReady($"warm-up {warmup.Name} failed: {e.Message}");
                logger.LogError(e, "Warm-up {Name} failed; the service stays not ready", warmup.Name);
                return;
            }
        }
        readiness.Ready();
        logger.LogInformation("Ready");
    }, stoppingToken);
}

public static class ReadinessExtensions
{
    /// <summary>Something to do before the service reports ready; warm-ups run in the order they are added.</summary>
    public static IServiceCollection AddWarmup(this IServiceCollection services, string name, Func<IServiceProvider, CancellationToken, Task> run) =>
        services.AddSingleton(new Warmup(name, run));
}
