using RsMoe.Model.Checkpoints;
using RsMoe.Model.Configs;
using RsMoe.Model.Decoding;
using RsMoe.Model.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>
/// A Llama-architecture causal language model with the Hugging Face state-dict names
/// (<c>model.*</c>, <c>lm_head.weight</c> unless tied to the input embeddings).
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    readonly LlamaModel model;
    readonly Linear? lm_head;

    public LlamaConfig Config { get; }
    public LlamaModel Model => model;
    /// <summary>The output projection: lm_head, or the input embeddings when they are tied.</summary>
    internal Tensor HeadWeight => lm_head?.weight ?? model.EmbedTokens.weight!;

    /// <summary>Which weights the CPU decoder reads (<see cref="UseDecodeWeights"/>); libtorch passes always use the model's own.</summary>
    public DecodeWeightFormat DecodeWeights { get; private set; }

    /// <summary>The output head in the decoder's 8-bit form when <see cref="DecodeWeights"/> is Q8_0.</summary>
    public Q8Matrix? HeadDecodeWeight { get; private set; }

    /// <summary>
    /// Chooses the weights the CPU decoder reads: <see cref="DecodeWeightFormat.Q8_0"/> quantises every projection
    /// and the output head (matrices whose rows are not whole 32-value blocks stay as they are). Call it once the
    /// weights are final (adapters merged); a later merge or unmerge quantises again.
    /// </summary>
    public void UseDecodeWeights(DecodeWeightFormat format)
    {
        if (format == DecodeWeightFormat.Q8_0 && Device.type != DeviceType.CPU) throw new NotSupportedException("8-bit decode weights are for the CPU decoder; the model is not on the CPU");
        foreach (var (_, layer) in LoraInjector.Layers(this))
        {
            if (format == DecodeWeightFormat.Q8_0) layer.QuantizeForDecoding();
            else layer.DropDecodeWeight();
        }
        HeadDecodeWeight?.Dispose();
        HeadDecodeWeight = format == DecodeWeightFormat.Q8_0 && Q8Matrix.CanQuantize(HeadWeight) ? Q8Matrix.Quantize(HeadWeight) : null;
        DecodeWeights = format;
    }

    /// <summary>Bytes of the decoder's 8-bit copies (zero with full weights).</summary>
    public long DecodeWeightBytes =>
        LoraInjector.Layers(this).Sum(l => l.Layer.DecodeWeight?.Bytes ?? 0) + (HeadDecodeWeight?.Bytes ?? 0);

    protected override void Dispose(bool disposing)
    {
        HeadDecodeWeight?.Dispose();
        HeadDecodeWeight = null;
        base.Dispose(disposing);
    }

    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM))
    {
        Config = config.Validate();
        model = new LlamaModel(config);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Builds the model directly in <paramref name="dtype"/> on <paramref name="device"/>, never holding an fp32 copy of a bf16 model.</summary>
    public static LlamaForCausalLM Create(LlamaConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null, long? seed = null)
    {
        var lm = TorchDefaults.WithDefaultDType(dtype, () =>
        {
            if (seed is { } s) manual_seed(s);
            return new LlamaForCausalLM(config);
        });
        if (device is not null && device.type != DeviceType.CPU) lm.to(device);
        lm.eval();
        return lm;
    }

    /// <summary>
    /// transformers' initialisation for training from scratch: every linear and embedding weight from N(0, std),
    /// biases zero, norms one (torch's defaults, N(0, 1) embeddings among them, make a tied head's logits huge).
    /// </summary>
    public void InitializeWeights(double std = 0.02, long? seed = null)
    {
        using var generator = seed is { } s ? new Generator((ulong)s) : null;
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else if (!name.Contains(".lora_", StringComparison.Ordinal)) p.normal_(0, std, generator);
        }
    }

    public ScalarType DType => model.EmbedTokens.weight!.dtype;
    public Device Device => model.EmbedTokens.weight!.device;

    /// <summary>Token ids [batch, seq] to embeddings [batch, seq, hidden].</summary>
    public Tensor Embed(Tensor inputIds) => model.EmbedTokens.call(inputIds);

    /// <summary>
    /// Logits for [batch, seq, hidden] embeddings. Only the last <paramref name="logitsToKeep"/> positions are
    /// projected to the vocabulary (0 = all), which saves most of the head's cost during prefill.
    /// </summary>
    public Tensor Forward(Tensor inputsEmbeds, Tensor positionIds, Tensor? mask = null, KvCache? cache = null, long logitsToKeep = 0)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(inputsEmbeds, positionIds, mask, cache);
        if (logitsToKeep > 0 && logitsToKeep < hidden.shape[1])
            hidden = hidden.narrow(1, hidden.shape[1] - logitsToKeep, logitsToKeep);
        return Logits(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>The head alone: final hidden states [batch, seq, hidden] (after the stack's norm) to logits.</summary>
    public Tensor Logits(Tensor hidden) => DecodeLinear.Apply(hidden, HeadWeight, null);

    /// <summary>Logits for token ids [batch, seq] at positions 0..seq-1 with causal attention and no cache.</summary>
    public Tensor Forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var positions = arange(inputIds.shape[1], ScalarType.Int64, inputIds.device).unsqueeze(0).expand(inputIds.shape[0], -1);
        return Forward(Embed(inputIds), positions).MoveToOuterDisposeScope();
    }

    public KvCache NewCache(long batch, long capacity) => new(Config, batch, capacity, DType, Device);

    /// <summary>
    /// Loads a Hugging Face LlamaForCausalLM directory (config.json plus safetensors, single or sharded),
    /// failing on any missing or unexpected key.
    /// </summary>
    public static LlamaForCausalLM FromPretrained(string directory, ScalarType? dtype = null, Device? device = null)
    {
        var config = LlamaConfig.Load(directory);
        using var checkpoint = CheckpointDirectory.Open(directory);
        var lm = Create(config, dtype ?? ScalarType.Float32, CPU);
        try
        {
            // A tied head may still be present in the file; it is the same tensor as the embeddings.
            StateDictLoader.Load(lm, checkpoint, rename: key => config.TieWordEmbeddings && key == "lm_head.weight" ? null : key)
                .EnsureComplete($"LlamaForCausalLM from {directory}");
            if (device is not null && device.type != DeviceType.CPU) lm.to(device);
            return lm;
        }
        catch
        {
            lm.Dispose();
            throw;
        }
    }

    /// <summary>Saves config.json and model.safetensors in the Hugging Face layout.</summary>
    public void SavePretrained(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), HfConfigJson.Write(Config with { TorchDtype = DTypeName(DType) }));
        var tensors = state_dict().Where(p => !p.Key.Contains(".lora_", StringComparison.Ordinal));
        SafetensorsWriter.Save(Path.Combine(directory, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    static string DTypeName(ScalarType type) => type switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };
}
