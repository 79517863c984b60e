using RsMoe.Captions;

namespace RsMoe.Model.Router;

/// <summary>
/// The Instruction Router: per-expert soft prompts of <see cref="PromptLength"/> vectors in the experts'
/// embedding space, an offset conditioned on the pooled visual and instruction features through a
/// <see cref="Bottleneck"/>, and a gate over experts.
/// </summary>
public sealed record RouterConfig
{
    public IReadOnlyList<string> ExpertRoles { get; init; } = CaptionPolicy.Roles;
    public int PromptLength { get; init; } = 8;
    public int QFormerHiddenSize { get; init; } = 768;
    public int LlmHiddenSize { get; init; } = 2048;
    public int Bottleneck { get; init; } = 256;

    /// <summary>Text each expert's soft prompt starts from (its token embeddings, repeated to the prompt length).</summary>
    public IReadOnlyDictionary<string, string> InitialPrompts { get; init; } = new Dictionary<string, string>
    {
        [CaptionPolicy.Theme] = "Describe the overall theme and scene of this remote sensing image.",
        [CaptionPolicy.Objects] = "Describe the objects in this image: their kinds, colours, sizes and counts.",
        [CaptionPolicy.Relationships] = "Describe where the objects are and how they relate to each other.",
    };

    public int NumExperts => ExpertRoles.Count;
}
