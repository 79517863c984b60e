using RsMoe.Model.Checkpoints;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Moe;

/// <summary>One expert's section and what it cost.</summary>
public sealed record ExpertOutput(string Text, int GeneratedTokens, double DecodeTokensPerSecond);

/// <summary>
/// One expert as the expert service hosts it: the shared base language model plus this role's LoRA adapter, merged
/// for decoding speed. Its <see cref="Version"/> is the adapter folder's name and the weights' digest.
/// </summary>
public sealed class ExpertModel : IDisposable
{
    public string Role { get; }
    public string Version { get; }
    public string AdapterPath { get; }
    public LlamaForCausalLM Lm { get; }
    public ITextTokenizer Tokenizer { get; }

    ExpertModel(string role, string version, string adapterPath, LlamaForCausalLM lm, ITextTokenizer tokenizer)
    {
        Role = role;
        Version = version;
        AdapterPath = adapterPath;
        Lm = lm;
        Tokenizer = tokenizer;
    }

    /// <summary>
    /// Builds the expert beside whatever serves now and checks it before anyone uses it: the adapter must fit the base
    /// (every key and shape) and a forward pass must give finite logits. Throws <see cref="InvalidDataException"/> otherwise.
    /// </summary>
    public static ExpertModel Load(RsMoeConfig config, LlamaForCausalLM baseModel, ITextTokenizer tokenizer, string role, string adapterDirectory)
    {
        string weights = Path.Combine(adapterDirectory, "adapter_model.safetensors");
        if (!Directory.Exists(adapterDirectory)) throw new DirectoryNotFoundException($"adapter folder '{adapterDirectory}' does not exist");
        if (!File.Exists(weights)) throw new FileNotFoundException($"no adapter_model.safetensors in '{adapterDirectory}'", weights);
        string version = $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(adapterDirectory))}-{FileDigest.Short(weights)}";
        LlamaForCausalLM lm;
        try
        {
            lm = RsMoeModel.LoadExpert(config, baseModel, adapterDirectory);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"adapter '{adapterDirectory}' does not fit the base model: {e.Message}", e);
        }
        if (baseModel.Device.type != DeviceType.CPU) lm.to(baseModel.Device);
        var expert = new ExpertModel(role, version, Path.GetFullPath(adapterDirectory), lm, tokenizer);
        try
        {
            expert.CheckFinite();
        }
        catch
        {
            expert.Dispose();
            throw;
        }
        return expert;
    }

    void CheckFinite()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = Tokenizer.Encode("check", addSpecialTokens: true).Select(x => (long)x).ToArray();
        var logits = Lm.Forward(tensor(ids, ScalarType.Int64, Lm.Device).unsqueeze(0));
        if (!isfinite(logits).all().item<bool>())
            throw new InvalidDataException($"adapter '{AdapterPath}' gives non-finite logits");
    }

    /// <summary>Checks a prefix [length, hidden] against this model before any work.</summary>
    public void ValidatePrefix(IReadOnlyList<long> shape)
    {
        if (shape.Count != 2 || shape[0] < 1 || shape[1] != Lm.Config.HiddenSize)
            throw new ArgumentException($"the prefix must be [length, {Lm.Config.HiddenSize}], got [{string.Join(", ", shape)}]");
        if (shape[0] > Lm.Config.MaxPositionEmbeddings / 2)
            throw new ArgumentException($"the prefix has {shape[0]} positions; this expert takes at most {Lm.Config.MaxPositionEmbeddings / 2}");
    }

    /// <summary>
    /// Writes this expert's section after the prefix and the prompt. <paramref name="onText"/> sees the text each
    /// token adds (decoded in context, so word pieces join correctly).
    /// </summary>
    public ExpertOutput Generate(float[] prefix, IReadOnlyList<long> prefixShape, string prompt, GenerationOptions options,
        Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        ValidatePrefix(prefixShape);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        options = options with { StopTokenIds = Tokenizer.EosTokenIds };
        var promptIds = Tokenizer.Encode(prompt, addSpecialTokens: true);
        long room = Lm.Config.MaxPositionEmbeddings - prefixShape[0] - promptIds.Count;
        if (room < 1) throw new ArgumentException($"the prompt is too long for this expert ({promptIds.Count} tokens after a {prefixShape[0]}-position prefix)");
        if (options.MaxNewTokens > room) options = options with { MaxNewTokens = (int)room };
        var prefixTensor = tensor(prefix, [.. prefixShape], ScalarType.Float32, Lm.Device).to_type(Lm.DType);
        var stops = new HashSet<int>(Tokenizer.EosTokenIds);
        var tokens = new List<int>();
        string emitted = "";
        var result = new TextGenerator(Lm).Generate([new GenerationPrompt(promptIds, prefixTensor)], options, (_, token) =>
        {
            if (stops.Contains(token) || onText is null) return;
            tokens.Add(token);
            string text = Tokenizer.Decode(tokens).TrimStart();
            if (text.Length > emitted.Length && text.StartsWith(emitted, StringComparison.Ordinal))
            {
                onText(text[emitted.Length..]);
                emitted = text;
            }
        }, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        return new ExpertOutput(Tokenizer.Decode(result.Tokens[0]).Trim(), result.Tokens[0].Length, result.DecodeTokensPerSecond);
    }

    public void Dispose() => Lm.Dispose();
}
