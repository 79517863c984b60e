using System.Text.Json;
using System.Text.Json.Serialization;

namespace RsMoe.Model.Configs;

/// <summary>The EVA ViT image encoder in InstructBLIP's <c>vision_config</c>. Defaults are EVA ViT-g/14's.</summary>
public sealed record VisionConfig
{
    public int HiddenSize { get; init; } = 1408;
    public int IntermediateSize { get; init; } = 6144;
    public int NumHiddenLayers { get; init; } = 39;
    public int NumAttentionHeads { get; init; } = 16;
    public int ImageSize { get; init; } = 224;
    public int PatchSize { get; init; } = 14;
    public int NumChannels { get; init; } = 3;
    public string HiddenAct { get; init; } = "gelu";
    public double LayerNormEps { get; init; } = 1e-6;
    public bool QkvBias { get; init; } = true;

    [JsonIgnore] public int PatchesPerSide => ImageSize / PatchSize;
    [JsonIgnore] public int NumPositions => PatchesPerSide * PatchesPerSide + 1;
}

/// <summary>InstructBLIP's instruction-aware Q-Former (<c>qformer_config</c>). Defaults are the released checkpoints'.</summary>
public sealed record QFormerConfig
{
    public int VocabSize { get; init; } = 30523;
    public int HiddenSize { get; init; } = 768;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public int IntermediateSize { get; init; } = 3072;
    public string HiddenAct { get; init; } = "gelu";
    public double HiddenDropoutProb { get; init; } = 0.1;
    public double AttentionProbsDropoutProb { get; init; } = 0.1;
    public int MaxPositionEmbeddings { get; init; } = 512;
    public double LayerNormEps { get; init; } = 1e-12;
    public int CrossAttentionFrequency { get; init; } = 2;
    public int EncoderHiddenSize { get; init; } = 1408;
    public int PadTokenId { get; init; }
}

/// <summary>
/// An InstructBLIP checkpoint's config.json: vision, Q-Former and text configs plus the query count.
/// The text model of an RS-MoE expert is a Llama (<see cref="LlamaConfig"/>).
/// </summary>
public sealed record InstructBlipConfig
{
    public VisionConfig VisionConfig { get; init; } = new();
    public QFormerConfig QformerConfig { get; init; } = new();
    public LlamaConfig TextConfig { get; init; } = new();
    public int NumQueryTokens { get; init; } = 32;

    public static InstructBlipConfig Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var root = doc.RootElement;
        var text = root.TryGetProperty("text_config", out var t)
            ? LlamaConfig.Parse(t.GetRawText())
            : new LlamaConfig();
        return new InstructBlipConfig
        {
            VisionConfig = HfConfigJson.Section<VisionConfig>(root, "vision_config"),
            QformerConfig = HfConfigJson.Section<QFormerConfig>(root, "qformer_config"),
            TextConfig = text,
            NumQueryTokens = root.TryGetProperty("num_query_tokens", out var q) ? q.GetInt32() : 32,
        };
    }
}
