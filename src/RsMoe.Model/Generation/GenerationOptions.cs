namespace RsMoe.Model.Generation;

/// <summary>How to decode. The defaults are greedy decoding of up to 64 new tokens.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>Stop tokens are never chosen before this many new tokens (Hugging Face's min_new_tokens), so an answer is never empty.</summary>
    public int MinNewTokens { get; init; }
    /// <summary>Sample from the distribution instead of taking the most likely token.</summary>
    public bool DoSample { get; init; }
    public double Temperature { get; init; } = 1.0;
    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches this (1 = off).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>CTRL-style penalty on tokens already in the sequence (1 = off).</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    public int NumBeams { get; init; } = 1;
    /// <summary>Beam scores are divided by length^penalty.</summary>
    public double LengthPenalty { get; init; } = 1.0;
    /// <summary>Beam search stops as soon as NumBeams hypotheses are finished.</summary>
    public bool EarlyStopping { get; init; }
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Fills finished rows and left padding; defaults to the first stop token or 0.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>Seed for sampling; the same seed and inputs give the same tokens.</summary>
    public long? Seed { get; init; }

    /// <summary>The tokens that may not be chosen after <paramref name="generated"/> new tokens: the stop tokens until <see cref="MinNewTokens"/>.</summary>
    public IReadOnlyList<int> Suppressed(int generated) => generated < MinNewTokens ? StopTokenIds : [];

    public GenerationOptions Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException("max new tokens must not be negative");
        if (MinNewTokens < 0 || MinNewTokens > MaxNewTokens) throw new ArgumentException("min new tokens must lie between 0 and max new tokens");
        if (Temperature <= 0) throw new ArgumentException("temperature must be positive");
        if (TopP is <= 0 or > 1) throw new ArgumentException("top-p must be in (0, 1]");
        if (TopK < 0) throw new ArgumentException("top-k must not be negative");
        if (RepetitionPenalty <= 0) throw new ArgumentException("repetition penalty must be positive");
        if (NumBeams < 1) throw new ArgumentException("the number of beams must be at least 1");
        if (NumBeams > 1 && DoSample) throw new ArgumentException("beam search with sampling is not supported");
        return this;
    }
}

/// <summary>One prompt: optional embeddings placed before the token ids (visual tokens, soft prompts), then the ids.</summary>
/// <param name="Adapter">With a <see cref="Lora.LoraBank"/>: the adapter this row decodes with.</param>
public sealed record GenerationPrompt(IReadOnlyList<int> TokenIds, TorchSharp.torch.Tensor? PrefixEmbeddings = null, int? Adapter = null)
{
    public long Length => TokenIds.Count + (PrefixEmbeddings?.shape[0] ?? 0);
}

public enum FinishReason { Stop, Length, Cancelled }

/// <summary>New tokens per prompt, why each row ended, and where the time went.</summary>
public sealed record GenerationResult(
    IReadOnlyList<int[]> Tokens,
    IReadOnlyList<FinishReason> FinishReasons,
    long PromptTokens,
    double PrefillSeconds,
    double DecodeSeconds,
    IReadOnlyList<double>? Scores = null)
{
    public long GeneratedTokens => Tokens.Sum(t => (long)t.Length);
    /// <summary>Decode steps per second for one row (tokens after the first, over decode time).</summary>
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? Math.Max(0, Tokens.Max(t => t.Length) - 1) / DecodeSeconds : 0;
    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PromptTokens / PrefillSeconds : 0;
}
