namespace RsMoe.Model.Lora;

/// <summary>
/// LoRA hyper-parameters and targets, matching PEFT's <c>adapter_config.json</c>: rank <c>r</c>,
/// <c>lora_alpha</c>, <c>lora_dropout</c> and <c>target_modules</c> (module-name patterns).
/// </summary>
public sealed record LoraSettings
{
    public int R { get; init; } = 8;
    public double LoraAlpha { get; init; } = 16;
    public double LoraDropout { get; init; } = 0.05;
    public IReadOnlyList<string> TargetModules { get; init; } = LlmTargets;

    public double Scaling => LoraAlpha / R;

    /// <summary>The paper's LLM targets: attention query and value, and the FFN.</summary>
    public static readonly IReadOnlyList<string> LlmTargets = ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>
    /// The paper's Q-Former targets: self-attention query and value, every cross-attention projection, the FFNs.
    /// Patterns are regular expressions over the full module path, as PEFT accepts.
    /// </summary>
    public static readonly IReadOnlyList<string> QFormerTargets =
    [
        @".*\.attention\.attention\.(query|value)$",
        @".*\.crossattention\.attention\.(query|key|value)$",
        @".*\.crossattention\.output\.dense$",
        @".*\.layer\.\d+\.(intermediate|intermediate_query)\.dense$",
        @".*\.layer\.\d+\.(output|output_query)\.dense$",
    ];
}
