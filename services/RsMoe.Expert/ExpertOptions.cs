using System.ComponentModel.DataAnnotations;
namespace RsMoe.Expert;

/// <summary>The section <c>Expert</c>: which role this process serves and from which weights.</summary>
public sealed class ExpertOptions
{
    public const string Section = "Expert";

    /// <summary>theme, objects or relationships (any role the model's router names).</summary>
    public string Role { get; set; } = "";
    /// <summary>The RS-MoE model folder: its <c>llm/</c> is the base; empty for the embedded default.</summary>
    public string? ModelDirectory { get; set; }
    /// <summary>The role's PEFT adapter folder; empty for <c>{ModelDirectory}/experts/{Role}</c>.</summary>
    public string? Adapter { get; set; }
    public string Device { get; set; } = "auto";
    /// <summary>
    /// The weights the CPU decoder reads: <c>full</c> (the model's own) or <c>q8_0</c> (8-bit blocks quantised at load:
    /// faster decoding; the full weights stay for prefill, so memory grows by about half).
    /// </summary>
    public string DecodeWeights { get; set; } = "full";
    /// <summary>Longest prompt accepted, in characters.</summary>
    [Range(1, 1_000_000)]
    public int MaxPromptChars { get; set; } = 2000;
    /// <summary>Most new tokens one request may ask for.</summary>
    [Range(1, 100_000)]
    public int MaxNewTokensLimit { get; set; } = 256;
    /// <summary>
    /// Sequences decoded together in one continuous batch on the CPU decoder: concurrent requests join the running
    /// batch between steps and share its weight reads; more wait for a place (honouring their deadlines). 1 turns batching off.
    /// </summary>
    [Range(1, 1024)]
    public int MaxBatch { get; set; } = 16;
    /// <summary>Without batching (a GPU, or MaxBatch 1): generations run at once; more wait their turn.</summary>
    [Range(1, 1024)]
    public int MaxConcurrentGenerations { get; set; } = 2;
    /// <summary>Fault injection for drills and tests: a pause after every generated token, or every batch step (zero in production).</summary>
    public TimeSpan TokenDelay { get; set; } = TimeSpan.Zero;
    /// <summary>Largest request: a paper-scale prefix (36 × 4096 float32) is 0.6 MiB.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxReceiveMessageBytes { get; set; } = 4 << 20;
}
