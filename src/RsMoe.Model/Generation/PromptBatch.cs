using RsMoe.Model.Llm;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Generation;

/// <summary>
/// Prompts of different lengths as one left-padded batch: embeddings, positions that start at 0 on each
/// row's first real token, the attention mask for prefill, and the key mask decoding keeps growing.
/// </summary>
internal sealed class PromptBatch : IDisposable
{
    public required Tensor Embeddings { get; init; }     // [batch, length, hidden]
    public required Tensor Positions { get; init; }      // [batch, length]
    public required Tensor SeenTokens { get; init; }     // [batch, n] token ids for the repetition penalty
    public Tensor? AttentionMask { get; init; }          // [batch, 1, length, length] bool, null when nothing is padded
    public Tensor? KeyMask { get; init; }                // [batch, length] bool, null when nothing is padded
    public long Length { get; init; }

    public static PromptBatch Build(LlamaForCausalLM lm, IReadOnlyList<GenerationPrompt> prompts, int padTokenId)
    {
        var device = lm.Device;
        int batch = prompts.Count;
        long length = prompts.Max(p => p.Length);
        using var scope = NewDisposeScope();

        var rows = new List<Tensor>(batch);
        foreach (var prompt in prompts)
        {
            var parts = new List<Tensor>();
            long padding = length - prompt.Length;
            if (padding > 0) parts.Add(zeros([padding, lm.Config.HiddenSize], lm.DType, device));
            if (prompt.PrefixEmbeddings is { } prefix)
            {
                if (prefix.dim() != 2 || prefix.shape[1] != lm.Config.HiddenSize)
                    throw new ArgumentException($"prefix embeddings must be [n, {lm.Config.HiddenSize}], got [{string.Join(", ", prefix.shape)}]");
                parts.Add(prefix.to(lm.DType, device));
            }
            if (prompt.TokenIds.Count > 0)
            {
                if (prompt.TokenIds.Any(t => t < 0 || t >= lm.Config.VocabSize))
                    throw new ArgumentException($"token ids must lie in [0, {lm.Config.VocabSize})");
                var ids = tensor(prompt.TokenIds.Select(t => (long)t).ToArray(), ScalarType.Int64, device);
                parts.Add(lm.Embed(ids.unsqueeze(0)).squeeze(0));
            }
            rows.Add(cat(parts, 0));
        }
        var embeddings = stack(rows, 0);

        long seenWidth = Math.Max(1, prompts.Max(p => p.TokenIds.Count));
        var seen = new long[batch * seenWidth];
        for (int row = 0; row < batch; row++)
        {
            var ids = prompts[row].TokenIds;
            // Left-fill with the row's own first token (or the pad id): repeats change nothing in the penalty.
            long filler = ids.Count > 0 ? ids[0] : padTokenId;
            long offset = seenWidth - ids.Count;
            for (long i = 0; i < seenWidth; i++) seen[row * seenWidth + i] = i < offset ? filler : ids[(int)(i - offset)];
        }
        var seenTokens = tensor(seen, [batch, seenWidth], ScalarType.Int64, device);

        bool padded = prompts.Any(p => p.Length != length);
        Tensor positions;
        Tensor? attentionMask = null, keyMask = null;
        if (!padded)
        {
            positions = arange(length, ScalarType.Int64, device).unsqueeze(0).expand(batch, -1).contiguous();
        }
        else
        {
            var real = new bool[batch * length];
            for (int row = 0; row < batch; row++)
                for (long i = length - prompts[row].Length; i < length; i++) real[row * length + i] = true;
            keyMask = tensor(real, [batch, length], ScalarType.Bool, device);
            positions = keyMask.to_type(ScalarType.Int64).cumsum(1).add_(Scalars.MinusOne, Scalars.One).clamp_min_(Scalars.Zero);
            var causal = ones([length, length], ScalarType.Bool, device).tril();
            // Padding rows attend to themselves so no row is all-masked (which would give NaN).
            var self = eye(length, dtype: ScalarType.Bool, device: device);
            attentionMask = (causal.unsqueeze(0) & keyMask.unsqueeze(1)) | self.unsqueeze(0);
            attentionMask = attentionMask.unsqueeze(1);
        }

        return new PromptBatch
        {
            Embeddings = embeddings.MoveToOuterDisposeScope(),
            Positions = positions.MoveToOuterDisposeScope(),
            SeenTokens = seenTokens.MoveToOuterDisposeScope(),
            AttentionMask = attentionMask?.MoveToOuterDisposeScope(),
            KeyMask = keyMask?.MoveToOuterDisposeScope(),
            Length = length,
        };
    }

    public void Dispose()
    {
        Embeddings.Dispose();
        Positions.Dispose();
        SeenTokens.Dispose();
        AttentionMask?.Dispose();
        KeyMask?.Dispose();
    }
}
