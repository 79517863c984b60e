using System.Text.Json;
using System.Text.Json.Serialization;
using RsMoe.Model.Configs;
using RsMoe.Model.Lora;
using RsMoe.Model.Router;

namespace RsMoe.Model.Moe;

/// <summary>
/// An RS-MoE model: which image encoder, the Q-Former and query count, the expert LLM (one base, one LoRA
/// adapter per expert role), the router, and the tokenizers' files. Saved as <c>rsmoe_config.json</c>.
/// </summary>
public sealed record RsMoeConfig
{
    /// <summary>The frozen backbone (<see cref="Vision.ImageBackbone"/>): <c>resnet18</c> (the embedded default, 49×512
    /// tokens) or <c>instructblip-vision</c> (EVA ViT-g from <see cref="VisionCheckpoint"/>).</summary>
    public string ImageEncoder { get; init; } = Vision.ImageBackbone.ResNet18;
    /// <summary>The InstructBLIP checkpoint folder whose <c>vision_model.*</c> an <c>instructblip-vision</c> model reads (as
    /// trained; a service may name another copy).</summary>
    public string? VisionCheckpoint { get; init; }
    public int VisionHiddenSize { get; init; } = 512;
    /// <summary>
    /// How many orientations of each photo the image encoder averages its map over at inference (1, 2, 4 or 8 of
    /// <see cref="Vision.SquareOrientation.All"/>): an aerial photo has no up. Training encodes each view once.
    /// </summary>
    public int ImageOrientations { get; init; } = 1;
    public QFormerConfig QFormer { get; init; } = new();
    /// <summary>A summary token (the visual tokens' mean plus a learned offset) before the visual tokens (<see cref="QFormer.VlmEncoder"/>); InstructBLIP has none.</summary>
    public bool VisualSummaryToken { get; init; }
    public int NumQueryTokens { get; init; } = 32;
    public LlamaConfig Llm { get; init; } = new();
    public RouterConfig Router { get; init; } = new();
    public LoraSettings ExpertLora { get; init; } = new();
    /// <summary>File names inside the model folder.</summary>
    public string InstructionVocabulary { get; init; } = "instruction_vocab.txt";
    public string LlmVocabulary { get; init; } = "words.txt";
    public int MaxInstructionTokens { get; init; } = 32;

    static readonly JsonSerializerOptions Json = new(HfConfigJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static RsMoeConfig Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RsMoeConfig>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The embedded default's shapes: small enough to train on two cores in minutes.</summary>
    public static RsMoeConfig EmbeddedDefault(int instructionVocabulary, int llmVocabulary) => new()
    {
        ImageEncoder = "resnet18",
        VisionHiddenSize = 512,
        QFormer = new QFormerConfig
        {
            VocabSize = instructionVocabulary, HiddenSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 256,
            MaxPositionEmbeddings = 64, CrossAttentionFrequency = 1, EncoderHiddenSize = 512, HiddenDropoutProb = 0.05, AttentionProbsDropoutProb = 0.05,
        },
        NumQueryTokens = 16,
        Llm = new LlamaConfig
        {
            VocabSize = llmVocabulary, HiddenSize = 192, IntermediateSize = 512, NumHiddenLayers = 4, NumAttentionHeads = 4, NumKeyValueHeads = 2,
            HeadDim = 48, RopeTheta = 10000, RopeScaling = null, TieWordEmbeddings = true, BosTokenId = 1, EosTokenId = [2], PadTokenId = 0,
            MaxPositionEmbeddings = 512, TorchDtype = "float32",
        },
        Router = new RouterConfig { PromptLength = 4, Bottleneck = 64 },
        ExpertLora = new LoraSettings { R = 8, LoraAlpha = 16, LoraDropout = 0.05 },
    };
}
