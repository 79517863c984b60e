using RsMoe.Model.Configs;
using RsMoe.Model.Router;

namespace RsMoe.Model.Tests.Support;

/// <summary>InstructBLIP shapes shrunk for tests, keeping every structural feature of the real ones.</summary>
public static class TinyVlm
{
    public static VisionConfig Vision => new()
    {
        HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, ImageSize = 28, PatchSize = 7,
    };

    public static QFormerConfig QFormer => new()
    {
        VocabSize = 30523, HiddenSize = 24, NumHiddenLayers = 4, NumAttentionHeads = 4, IntermediateSize = 48,
        MaxPositionEmbeddings = 64, CrossAttentionFrequency = 2, EncoderHiddenSize = 32,
    };

    public static RouterConfig Router => new() { PromptLength = 3, Bottleneck = 16 };

    public const int Queries = 5;
}
