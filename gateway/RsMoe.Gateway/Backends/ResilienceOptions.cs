namespace RsMoe.Gateway.Backends;

/// <summary>The section <c>Resilience</c>: retries of what is safe to retry, and circuit breaking per replica.</summary>
public sealed class ResilienceOptions
{
    public const string Section = "Resilience";

    /// <summary>Tries per call, the first included. Only calls that failed before any answer (Unavailable) are retried.</summary>
    public int MaxAttempts { get; set; } = 3;
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>The retry budget: each call earns this fraction of a retry; at most <see cref="RetryBudgetMax"/> are banked.</summary>
    public double RetryBudgetRatio { get; set; } = 0.2;
    public double RetryBudgetMax { get; set; } = 10;
    /// <summary>Consecutive failures that open a replica's circuit (YARP stops picking it) …</summary>
    public int CircuitFailures { get; set; } = 3;
    /// <summary>… for this long; then one call tries it again (half-open).</summary>
    public TimeSpan CircuitOpenFor { get; set; } = TimeSpan.FromSeconds(10);
}
