using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace RsMoe.Gateway.Backends;

/// <summary>
/// Calls to a backend cluster that survive a failing replica. A call that fails with <c>Unavailable</c> before any
/// answer arrived did no work, so it is retried on another healthy replica after a jittered exponential backoff, while
/// the cluster's retry budget lasts and the deadline allows (every backend call is safe to repeat: encoders and
/// experts are deterministic and keep no state per call). A replica that fails <see cref="ResilienceOptions.CircuitFailures"/>
/// times in a row (failures of the replica itself, <see cref="ReplicaFailure"/>) has its circuit opened: it is marked
/// unhealthy in YARP for <see cref="ResilienceOptions.CircuitOpenFor"/>, so no one picks it, then tried again. The
/// clusters' availability policy is <c>HealthyAndUnknown</c> (<see cref="ClusterDefaults"/>): with YARP's default,
/// HealthyOrPanic, a cluster whose every replica is unhealthy sends to all of them, so an open circuit stopped nothing.
/// </summary>
/// <remarks>
/// Written here rather than with Polly (Microsoft.Extensions.Http.Resilience): each attempt must go to a replica YARP
/// picks, excluding those already tried; a call that began answering must not be retried; retries draw on a budget per
/// cluster; and the breaker's state must be YARP's destination health, so that YARP's own balancing and pass-through
/// proxying skip the replica too. Polly's retry has no budget and its breaker keeps its own state per pipeline.
/// </remarks>
public sealed class ResilientCalls(BackendChannels backends, IProxyStateLookup proxyState, IDestinationHealthUpdater health,
    ResilienceOptions options, ILogger<ResilientCalls> logger)
{
    static readonly Meter Meter = new("RsMoe.Gateway.Resilience");
    static readonly Counter<long> Retries = Meter.CreateCounter<long>("rsmoe.gateway.retries", description: "Backend calls retried on another replica");
    static readonly Counter<long> BudgetExhausted = Meter.CreateCounter<long>("rsmoe.gateway.retry_budget_exhausted");
    static readonly Counter<long> CircuitsOpened = Meter.CreateCounter<long>("rsmoe.gateway.circuits_opened");

    sealed class Budget { public double Tokens; }
    readonly ConcurrentDictionary<string, Budget> _budgets = new();
    readonly ConcurrentDictionary<string, int> _consecutiveFailures = new();

    /// <summary>Runs <paramref name="call"/> on a healthy replica of <paramref name="cluster"/>, retrying as above.</summary>
    /// <param name="call">Gets the channel and a flag to set once an answer began (after which no retry happens).</param>
    public async Task<T> CallAsync<T>(string cluster, StageDeadline deadline, Func<GrpcChannel, StrongBox<bool>, Task<T>> call, CancellationToken cancellationToken)
    {
        var budget = _budgets.GetOrAdd(cluster, _ => new Budget { Tokens = options.RetryBudgetMax });
        lock (budget) budget.Tokens = Math.Min(options.RetryBudgetMax, budget.Tokens + options.RetryBudgetRatio);
        var tried = new HashSet<string>();
        for (int attempt = 1; ; attempt++)
        {
            using var picked = backends.Pick(cluster, exclude: tried);
            var answered = new StrongBox<bool>();
            try
            {
                var result = await call(picked.Channel, answered);
                _consecutiveFailures[picked.Destination.DestinationId] = 0;
                return result;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable && !cancellationToken.IsCancellationRequested)
            {
                Failed(cluster, picked.Destination);
                tried.Add(picked.Destination.DestinationId);
                var backoff = Backoff(attempt);
                bool canRetry = !answered.Value && attempt < options.MaxAttempts && DateTime.UtcNow + backoff < deadline.At;
                if (canRetry)
                {
                    lock (budget)
                    {
                        if (budget.Tokens >= 1) budget.Tokens -= 1;
                        else { canRetry = false; BudgetExhausted.Add(1, new KeyValuePair<string, object?>("cluster", cluster)); }
                    }
                }
                if (!canRetry) throw;
                Retries.Add(1, new KeyValuePair<string, object?>("cluster", cluster));
                logger.LogInformation("Retrying {Cluster} after {Status} from {Destination} (attempt {Attempt})", cluster, e.StatusCode, picked.Destination.DestinationId, attempt + 1);
                await Task.Delay(backoff, cancellationToken);
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested && ReplicaFailure.Counts(e.StatusCode, deadline))
            {
                Failed(cluster, picked.Destination);
                throw;
            }
        }
    }

    TimeSpan Backoff(int attempt)
    {
        double ceiling = Math.Min(options.MaxBackoff.TotalMilliseconds, options.BaseBackoff.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);   // full jitter
    }

    void Failed(string cluster, DestinationState destination)
    {
        int failures = _consecutiveFailures.AddOrUpdate(destination.DestinationId, 1, (_, n) => n + 1);
        if (failures < options.CircuitFailures || !proxyState.TryGetCluster(cluster, out var state)) return;
        _consecutiveFailures[destination.DestinationId] = 0;
        health.SetPassive(state, destination, DestinationHealth.Unhealthy, options.CircuitOpenFor);
        CircuitsOpened.Add(1, new KeyValuePair<string, object?>("cluster", cluster));
        logger.LogWarning("Circuit opened for {Cluster}/{Destination} for {Seconds} s after {Failures} failures in a row",
            cluster, destination.DestinationId, options.CircuitOpenFor.TotalSeconds, failures);
    }
}
