using RsMoe.Model.Checkpoints;
using RsMoe.Model.Decoding;
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
    /// <summary>The router's prefix before every prompt: the Q-Former's query outputs and the expert's soft prompt.</summary>
    public int PrefixPositions { get; }

    ExpertModel(string role, string version, string adapterPath, LlamaForCausalLM lm, ITextTokenizer tokenizer, int prefixPositions)
    {
        Role = role;
        Version = version;
        AdapterPath = adapterPath;
        Lm = lm;
        Tokenizer = tokenizer;
        PrefixPositions = prefixPositions;
    }

    /// <summary>The prompt's tokens as generation counts them (BOS included).</summary>
    public int CountPromptTokens(string prompt) => Tokenizer.Encode(prompt, addSpecialTokens: true).Count;

    /// <summary>The most tokens a prompt may have after a prefix of this length: the rest of the context, less one token to write.</summary>
    public int MaxPromptTokens(long prefixPositions) => (int)Math.Max(0, Lm.Config.MaxPositionEmbeddings - prefixPositions - 1);

    /// <summary>
    /// Builds the expert beside whatever serves now and checks it before anyone uses it: the adapter must fit the base
    /// (every key and shape) and a forward pass must give finite logits. Throws <see cref="InvalidDataException"/> otherwise.
    /// </summary>
    /// <param name="modelDirectory">The model folder whose <c>llm/</c> is the base: the expert is built from the files, so the
    /// caller keeps no base copy in memory.</param>
    /// <param name="decodeWeights">The weights the CPU decoder reads: the merged model's own, or Q8_0 quantised from them.</param>
    public static ExpertModel Load(RsMoeConfig config, string modelDirectory, ITextTokenizer tokenizer, string role, string adapterDirectory,
        Device? device = null, DecodeWeightFormat decodeWeights = DecodeWeightFormat.Full)
    {
        string weights = Path.Combine(adapterDirectory, "adapter_model.safetensors");
        if (!Directory.Exists(adapterDirectory)) throw new DirectoryNotFoundException($"adapter folder '{adapterDirectory}' does not exist");
        if (!File.Exists(weights)) throw new FileNotFoundException($"no adapter_model.safetensors in '{adapterDirectory}'", weights);
        string version = $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(adapterDirectory))}-{FileDigest.Short(weights)}";
        LlamaForCausalLM lm;
        try
        {
            lm = ModelFolder.LoadExpert(modelDirectory, adapterDirectory, device);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"adapter '{adapterDirectory}' does not fit the base model: {e.Message}", e);
        }
        var expert = new ExpertModel(role, version, Path.GetFullPath(adapterDirectory), lm, tokenizer, config.NumQueryTokens + config.Router.PromptLength);
        try
        {
            expert.CheckFinite();
            lm.UseDecodeWeights(decodeWeights);
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
    /// Decodes this expert's requests in one continuous batch (<see cref="ContinuousBatcher"/>) when the model runs
    /// on the CPU decoder; <paramref name="stepDelay"/> is fault injection for drills. False when it cannot.
    /// </summary>
    public bool EnableBatching(int maxBatch, TimeSpan stepDelay = default)
    {
        if (Batcher is not null) return true;
        if (maxBatch < 2 || !ContinuousBatcher.Supports(Lm)) return false;
        Batcher = new ContinuousBatcher(Lm, maxBatch) { StepDelay = stepDelay };
        return true;
    }

    public ContinuousBatcher? Batcher { get; private set; }

    /// <summary>
    /// Writes this expert's section after the prefix and the prompt. <paramref name="onText"/> sees the text each
    /// token adds (decoded in context, so word pieces join correctly).
    /// </summary>
    public ExpertOutput Generate(float[] prefix, IReadOnlyList<long> prefixShape, string prompt, GenerationOptions options,
        Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (request, settings) = Prepare(prefix, prefixShape, prompt, options);
        var text = new IncrementalText(Tokenizer, onText);
        var result = new TextGenerator(Lm).Generate([request], settings, (_, token) => text.Add(token), cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        return Output(result);
    }

    /// <summary>
    /// <see cref="Generate"/> as part of the running batch when batching is on (the request joins between decode
    /// steps), else on a worker thread.
    /// </summary>
    public async Task<ExpertOutput> GenerateAsync(float[] prefix, IReadOnlyList<long> prefixShape, string prompt, GenerationOptions options,
        Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        if (Batcher is not { } batcher)
            return await Task.Run(() => Generate(prefix, prefixShape, prompt, options, onText, cancellationToken), cancellationToken);
        var (request, settings) = Prepare(prefix, prefixShape, prompt, options);
        try
        {
            var text = new IncrementalText(Tokenizer, onText);
            var result = await batcher.GenerateAsync(request, settings, text.Add, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return Output(result);
        }
        finally
        {
            request.PrefixEmbeddings?.Dispose();
        }
    }

    /// <summary>The prompt (prefix tensor outside any dispose scope: it may outlive this call's thread) and the bounded options.</summary>
    (GenerationPrompt Prompt, GenerationOptions Options) Prepare(float[] prefix, IReadOnlyList<long> prefixShape, string prompt, GenerationOptions options)
    {
        ValidatePrefix(prefixShape);
        var promptIds = Tokenizer.Encode(prompt, addSpecialTokens: true);
        int limit = MaxPromptTokens(prefixShape[0]);
        if (promptIds.Count > limit) throw new ArgumentException($"the prompt has {promptIds.Count} tokens; this expert accepts at most {limit} after a {prefixShape[0]}-position prefix");
        long room = Lm.Config.MaxPositionEmbeddings - prefixShape[0] - promptIds.Count;
        if (options.MaxNewTokens > room) options = options with { MaxNewTokens = (int)room };
        options = options.ForExpert(Tokenizer.EosTokenIds);
        Tensor prefixTensor;
        using (var scope = NewDisposeScope())
            prefixTensor = tensor(prefix, [.. prefixShape], ScalarType.Float32, Lm.Device).to_type(Lm.DType).MoveToOuterDisposeScope();
        return (new GenerationPrompt(promptIds, prefixTensor), options);
    }

    ExpertOutput Output(GenerationResult result)
    {
        return new ExpertOutput(Tokenizer.Decode(result.Tokens[0]).Trim(), result.Tokens[0].Length, result.DecodeTokensPerSecond);
    }

    /// <summary>Turns tokens into the text each adds, decoding the whole section so far so word pieces join correctly.</summary>
    sealed class IncrementalText(ITextTokenizer tokenizer, Action<string>? onText)
    {
        readonly HashSet<int> _stops = [.. tokenizer.EosTokenIds];
        readonly List<int> _tokens = [];
        string _emitted = "";

        public void Add(int token)
        {
            if (_stops.Contains(token) || onText is null) return;
            _tokens.Add(token);
            string text = tokenizer.Decode(_tokens).TrimStart();
            if (text.Length > _emitted.Length && text.StartsWith(_emitted, StringComparison.Ordinal))
            {
                onText(text[_emitted.Length..]);
                _emitted = text;
            }
        }
    }

    public void Dispose()
    {
        Batcher?.Dispose();
        Lm.Dispose();
    }
}
