using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Generation;

/// <summary>The logits transforms of Hugging Face's generate, applied in its order.</summary>
public static class LogitsProcessing
{
    /// <summary>Divides positive logits and multiplies negative ones of tokens already seen (CTRL).</summary>
    public static Tensor ApplyRepetitionPenalty(Tensor logits, Tensor seenTokens, double penalty)
    {
        if (penalty == 1.0 || seenTokens.shape[1] == 0) return logits;
        using var scope = NewDisposeScope();
        var seen = logits.gather(1, seenTokens);
        using Scalar factor = penalty;   // held for the call: see Scalars
        var penalised = where(seen.lt(Scalars.Zero), seen.mul(factor), seen.div(factor));
        return logits.scatter(1, seenTokens, penalised).MoveToOuterDisposeScope();
    }

    /// <summary>Tokens that may not be chosen now get −∞ in every row (Hugging Face's MinNewTokensLengthLogitsProcessor).</summary>
    public static Tensor Suppress(Tensor logits, IReadOnlyList<int> tokens)
    {
        if (tokens.Count == 0) return logits;
        using var scope = NewDisposeScope();
        var columns = tensor(tokens.Select(t => (long)t).ToArray(), ScalarType.Int64, logits.device);
        return logits.index_fill(-1, columns, Scalars.NegativeInfinity).MoveToOuterDisposeScope();
    }

    public static Tensor ApplyTopK(Tensor logits, int topK)
    {
        if (topK <= 0 || topK >= logits.shape[^1]) return logits;
        using var scope = NewDisposeScope();
        var (values, _) = logits.topk(topK, -1);
        var threshold = values.narrow(-1, topK - 1, 1);
        return logits.masked_fill(logits.lt(threshold), Scalars.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>Keeps the smallest set of most likely tokens whose probabilities sum to at least topP.</summary>
    public static Tensor ApplyTopP(Tensor logits, double topP)
    {
        if (topP >= 1.0) return logits;
        using var scope = NewDisposeScope();
        var (sorted, indices) = logits.sort(-1, descending: false);
        var cumulative = sorted.softmax(-1).cumsum(-1);
        using Scalar keepMass = 1 - topP;
        var remove = cumulative.le(keepMass);
        remove[TensorIndex.Ellipsis, -1] = tensor(false);   // always keep the most likely token
        var removeUnsorted = remove.scatter(1, indices, remove);
        return logits.masked_fill(removeUnsorted, Scalars.NegativeInfinity).MoveToOuterDisposeScope();
    }
}
