using System.Text.Json.Serialization;

namespace RsMoe.Model.Configs;

/// <summary>RoPE scaling as Hugging Face writes it; <c>rope_type: llama3</c> is Llama 3.1/3.2's.</summary>
public sealed record RopeScaling
{
    public string RopeType { get; init; } = "llama3";
    [JsonPropertyName("type")] public string? LegacyType { get; init; }
    public double Factor { get; init; } = 32.0;
    public double LowFreqFactor { get; init; } = 1.0;
    public double HighFreqFactor { get; init; } = 4.0;
    public int OriginalMaxPositionEmbeddings { get; init; } = 8192;

    [JsonIgnore] public string Kind => LegacyType ?? RopeType;
}

/// <summary>A <c>LlamaForCausalLM</c> config. Defaults are Llama-3.2-1B's.</summary>
public sealed record LlamaConfig
{
    public int VocabSize { get; init; } = 128256;
    public int HiddenSize { get; init; } = 2048;
    public int IntermediateSize { get; init; } = 8192;
    public int NumHiddenLayers { get; init; } = 16;
    public int NumAttentionHeads { get; init; } = 32;
    public int? NumKeyValueHeads { get; init; } = 8;
    public int? HeadDim { get; init; } = 64;
    public string HiddenAct { get; init; } = "silu";
    public int MaxPositionEmbeddings { get; init; } = 131072;
    public double RmsNormEps { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 500000.0;
    public RopeScaling? RopeScaling { get; init; } = new();
    public bool TieWordEmbeddings { get; init; } = true;
    public bool AttentionBias { get; init; }
    public bool MlpBias { get; init; }
    public int? BosTokenId { get; init; } = 128000;
    [JsonConverter(typeof(IntOrIntArrayConverter))]
    public int[]? EosTokenId { get; init; } = [128001];
    public int? PadTokenId { get; init; }
    public string? TorchDtype { get; init; } = "bfloat16";

    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;
    [JsonIgnore] public int HeadDimension => HeadDim ?? HiddenSize / NumAttentionHeads;

    /// <summary>Reads config.json; fields it omits take transformers' LlamaConfig class defaults.</summary>
    public static LlamaConfig Load(string path) => HfConfigJson.Read(path, TransformersClassDefaults).Validate();

    public static LlamaConfig Parse(string json) => HfConfigJson.Parse(json, TransformersClassDefaults).Validate();

    /// <summary>What transformers assumes for a field that config.json leaves out.</summary>
    public static LlamaConfig TransformersClassDefaults => new()
    {
        VocabSize = 32000, HiddenSize = 4096, IntermediateSize = 11008, NumHiddenLayers = 32, NumAttentionHeads = 32,
        NumKeyValueHeads = null, HeadDim = null, MaxPositionEmbeddings = 2048, RmsNormEps = 1e-6, RopeTheta = 10000,
        RopeScaling = null, TieWordEmbeddings = false, BosTokenId = 1, EosTokenId = [2], PadTokenId = null, TorchDtype = null,
    };

    public LlamaConfig Validate()
    {
        if (HiddenSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0 || VocabSize <= 0 || IntermediateSize <= 0)
            throw new InvalidDataException("Llama config: sizes must be positive");
        if (NumAttentionHeads % KeyValueHeads != 0)
            throw new InvalidDataException($"Llama config: {NumAttentionHeads} attention heads are not a multiple of {KeyValueHeads} key/value heads");
        if (HeadDimension % 2 != 0) throw new InvalidDataException("Llama config: head dimension must be even for RoPE");
        if (HiddenAct is not ("silu" or "swish"))
            throw new InvalidDataException($"Llama config: activation '{HiddenAct}' is not supported (silu only)");
        return this;
    }

    /// <summary>Random-weight shapes used by tests and benchmarks.</summary>
    public static LlamaConfig Tiny => new()
    {
        VocabSize = 32000, HiddenSize = 256, IntermediateSize = 688, NumHiddenLayers = 4, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, HeadDim = 64, RopeTheta = 10000, RopeScaling = null, TieWordEmbeddings = false,
        BosTokenId = 1, EosTokenId = [2], MaxPositionEmbeddings = 2048,
    };

    public static LlamaConfig Small => Tiny with
    {
        HiddenSize = 768, IntermediateSize = 2048, NumHiddenLayers = 12, NumAttentionHeads = 12, NumKeyValueHeads = 4,
    };

    public static LlamaConfig Llama32_1B => new();
}
