using RsMoe.ServiceDefaults;
using System.ComponentModel.DataAnnotations;
using RsMoe.Captions;

namespace RsMoe.Gateway;

/// <summary>The section <c>Gateway</c>.</summary>
public sealed class GatewayOptions : IValidatableObject
{
    public const string Section = "Gateway";

    /// <summary>
    /// The experts listed before the VLM encoder has named its own (<see cref="Pipeline.ExpertRoster"/>); each is the
    /// YARP cluster <c>expert-{role}</c>. (Configuration binding appends to a list, so the default is applied after binding.)
    /// </summary>
    public List<string> ExpertRoles { get; set; } = [];
    /// <summary>Every expert's address, <c>{role}</c> filled in (a headless Service per role in Kubernetes); <c>ReverseProxy:Clusters:expert-{role}</c> overrides it.</summary>
    public string ExpertAddress { get; set; } = "http://expert-{role}:5000";
    public string DefaultInstruction { get; set; } = CaptionPolicy.Instruction;
    [Range(1L, 1L << 31)]
    public long MaxImageBytes { get; set; } = 20L << 20;
    [Range(1, 1_000_000)]
    public int MaxInstructionChars { get; set; } = 2000;
    [Range(1, 100_000)]
    public int CaptionMaxNewTokens { get; set; } = CaptionPolicy.CaptionMaxNewTokens;
    [Range(1.0, 10.0)]
    public double CaptionRepetitionPenalty { get; set; } = CaptionPolicy.CaptionRepetitionPenalty;
    [Range(1, 100_000)]
    public int AskMaxNewTokens { get; set; } = CaptionPolicy.AnswerMaxNewTokens;
    /// <summary>Each stage's own deadline, never later than the caller's.</summary>
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan ImageEncoderTimeout { get; set; } = TimeSpan.FromSeconds(15);
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan VlmEncoderTimeout { get; set; } = TimeSpan.FromSeconds(15);
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan ExpertTimeout { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>How often backend host names are resolved again (new replicas join, gone ones leave).</summary>
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan DnsRefreshPeriod { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Sample scenes the web page offers (PNG or JPEG files); empty for the <c>samples</c> folder beside the gateway.</summary>
    public string? SamplesDirectory { get; set; }
    /// <summary>The whole request's deadline when a REST caller gives none (gRPC callers set their own).</summary>
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Images of one batch (gRPC <c>CaptionImages</c>, REST <c>POST /v1/caption/batch</c>) captioned at once (the next is read only when one finishes). 2 gave the
    /// best rate on the 2-core reference constellation (docs/benchmarks/archives-and-scenes.md).
    /// </summary>
    [Range(1, 256)]
    public int BatchConcurrency { get; set; } = 2;
    /// <summary>Largest REST batch (<c>POST /v1/caption/batch</c>) body: all its images together (default 256 MiB).</summary>
    [Range(1L, 1L << 40)]
    public long MaxBatchBytes { get; set; } = 256L << 20;

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (!ExpertAddress.Contains("{role}", StringComparison.Ordinal))
            yield return new ValidationResult($"'{ExpertAddress}' must contain {{role}}, where each expert's role goes", [nameof(ExpertAddress)]);
        if (!Uri.TryCreate(ExpertAddress.Replace("{role}", RsMoe.Captions.CaptionPolicy.Theme, StringComparison.Ordinal), UriKind.Absolute, out _))
            yield return new ValidationResult($"'{ExpertAddress}' is not an absolute URL", [nameof(ExpertAddress)]);
    }
}

/// <summary>The section <c>Cache</c>: where visual features are kept between questions about one image.</summary>
public sealed class CacheOptions
{
    public const string Section = "Cache";

    /// <summary>A StackExchange.Redis connection string; empty keeps features in this process (LRU).</summary>
    public string? Redis { get; set; }
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan Ttl { get; set; } = TimeSpan.FromHours(1);
    /// <summary>A Redis call slower than this is abandoned and the request goes on without the cache.</summary>
    [Range(typeof(TimeSpan), OptionRanges.MinDuration, OptionRanges.MaxDuration)]
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(250);
    [Range(1, int.MaxValue)]
    public int InProcessMaxEntries { get; set; } = 512;
    /// <summary>How long the image encoder's identity is trusted before it is asked again (zero: before every lookup, one
    /// cheap Info call, so a swapped encoder's features are never served).</summary>
    public TimeSpan IdentityMaxAge { get; set; } = TimeSpan.Zero;
    [Range(1L, long.MaxValue)]
    public long InProcessMaxBytes { get; set; } = 256L << 20;
}
