using RsMoe.ServiceDefaults;
using System.ComponentModel.DataAnnotations;
namespace RsMoe.Gateway.Backends;

/// <summary>The section <c>Resilience</c>: retries of what is safe to retry, and circuit breaking per replica.</summary>
public sealed class ResilienceOptions
{
    public const string Section = "Resilience";

    /// <summary>Tries per call, the first included. Only calls that failed before any answer (Unavailable) are retried.</summary>
    [Range(1, 10)]
    public int MaxAttempts { get; set; } = 3;
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromMilliseconds(50);
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>The retry budget: each call earns this fraction of a retry; at most <see cref="RetryBudgetMax"/> are banked.</summary>
    [Range(0.0, 1.0)]
    public double RetryBudgetRatio { get; set; } = 0.2;
    [Range(0.0, 1000.0)]
    public double RetryBudgetMax { get; set; } = 10;
    /// <summary>Consecutive failures that open a replica's circuit (YARP stops picking it) …</summary>
    [Range(1, 1000)]
    public int CircuitFailures { get; set; } = 3;
    /// <summary>… for this long; then one call tries it again (half-open).</summary>
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan CircuitOpenFor { get; set; } = TimeSpan.FromSeconds(10);
}
