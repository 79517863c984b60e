namespace RsMoe.Model.Router;

/// <summary>The aspects RS-MoE's experts write, in caption order.</summary>
public static class Aspects
{
    public const string Theme = "theme";
    public const string Objects = "objects";
    public const string Relationships = "relationships";
    public static readonly IReadOnlyList<string> All = [Theme, Objects, Relationships];
}

/// <summary>
/// The Instruction Router: per-expert soft prompts of <see cref="PromptLength"/> vectors in the experts'
/// embedding space, an offset conditioned on the pooled visual and instruction features through a
/// <see cref="Bottleneck"/>, and a gate over experts.
/// </summary>
public sealed record RouterConfig
{
    public IReadOnlyList<string> ExpertRoles { get; init; } = Aspects.All;
    public int PromptLength { get; init; } = 8;
    public int QFormerHiddenSize { get; init; } = 768;
    public int LlmHiddenSize { get; init; } = 2048;
    public int Bottleneck { get; init; } = 256;

    /// <summary>Text each expert's soft prompt starts from (its token embeddings, repeated to the prompt length).</summary>
    public IReadOnlyDictionary<string, string> InitialPrompts { get; init; } = new Dictionary<string, string>
    {
        [Aspects.Theme] = "Describe the overall theme and scene of this remote sensing image.",
        [Aspects.Objects] = "Describe the objects in this image: their kinds, colours, sizes and counts.",
        [Aspects.Relationships] = "Describe where the objects are and how they relate to each other.",
    };

    public int NumExperts => ExpertRoles.Count;
}
