using RsMoe.Model;
using RsMoe.Model.Llm;
using RsMoe.Model.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Training;

/// <summary>
/// The training objective of both stages, kept apart from the model: next-token cross-entropy on a caption (or an
/// answer) given the expert's prefix and the instruction, the prefix and prompt unlabelled.
/// </summary>
public static class CaptionLoss
{
    /// <summary>
    /// Teacher-forcing inputs for one language model: each row is its prefix embeddings, then BOS and the prompt's
    /// tokens, then the target's tokens and EOS; labels are −100 except on the target and EOS. Right-padded.
    /// </summary>
    public static (Tensor Embeds, Tensor Labels) TeacherForcing(RsMoeModel model, LlamaForCausalLM lm, IReadOnlyList<Tensor> prefixes, IReadOnlyList<string> prompts, IReadOnlyList<string> targets)
    {
        using var scope = NewDisposeScope();
        int eos = model.LlmTokenizer.EosTokenIds[0];
        var rows = new List<Tensor>();
        var labelRows = new List<long[]>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var promptIds = model.LlmTokenizer.Encode(prompts[i], addSpecialTokens: true).Select(x => (long)x).ToArray();
            var targetIds = model.LlmTokenizer.Encode(targets[i], addSpecialTokens: false).Select(x => (long)x).Append(eos).ToArray();
            var tokenEmbeds = lm.Embed(tensor(promptIds.Concat(targetIds).ToArray(), ScalarType.Int64, model.Device).unsqueeze(0)).squeeze(0);
            rows.Add(cat([prefixes[i].to(tokenEmbeds.dtype), tokenEmbeds], 0));
            long prefixLength = prefixes[i].shape[0] + promptIds.Length;
            labelRows.Add(Enumerable.Repeat(-100L, (int)prefixLength).Concat(targetIds).ToArray());
        }
        int length = rows.Max(r => (int)r.shape[0]);
        var padded = rows.Select(r => r.shape[0] == length ? r : cat([r, zeros([length - r.shape[0], r.shape[1]], r.dtype, model.Device)], 0)).ToList();
        var labels = new long[rows.Count * length];
        Array.Fill(labels, -100L);
        for (int i = 0; i < labelRows.Count; i++) Array.Copy(labelRows[i], 0, labels, i * length, labelRows[i].Length);
        return (stack(padded, 0).MoveToOuterDisposeScope(), tensor(labels, [rows.Count, length], ScalarType.Int64, model.Device).MoveToOuterDisposeScope());
    }

    /// <summary>Mean next-token cross-entropy over labelled positions.</summary>
    public static Tensor Loss(LlamaForCausalLM lm, Tensor embeds, Tensor labels) => Compute(lm, embeds, labels, withCaptionState: false).Loss;

    /// <summary>
    /// Each row's mean next-token cross-entropy over its own labelled positions, averaged over the rows that have any:
    /// every example counts once, however long its target.
    /// </summary>
    public static Tensor PerExampleLoss(LlamaForCausalLM lm, Tensor embeds, Tensor labels) => Blended(lm, embeds, labels, perExampleShare: 1);

    /// <summary>
    /// (1 − share) × <see cref="Loss"/> + share × <see cref="PerExampleLoss"/> from one forward pass: 0 weighs every
    /// token alike, 1 every example alike, and a share between tilts the batch toward its short targets by degrees.
    /// </summary>
    public static Tensor Blended(LlamaForCausalLM lm, Tensor embeds, Tensor labels, double perExampleShare)
    {
        EnsurePerExampleShare(perExampleShare);
        if (perExampleShare == 0) return Loss(lm, embeds, labels);
        using var scope = NewDisposeScope();
        var (_, logits, shifted) = Shifted(lm, embeds, labels);
        var tokens = nn.functional.cross_entropy(logits.to_type(ScalarType.Float32), shifted.reshape(-1), ignore_index: -100,
            reduction: nn.Reduction.None).view(shifted.shape[0], shifted.shape[1]);
        var counts = shifted.ne(-100).sum(1).to_type(ScalarType.Float32);
        var labelled = counts.gt(Scalars.Zero);
        var perExample = (tokens.sum(1).masked_select(labelled) / counts.masked_select(labelled)).mean();
        if (perExampleShare == 1) return perExample.MoveToOuterDisposeScope();
        var perToken = tokens.sum() / counts.sum();
        return (perToken * (1 - perExampleShare) + perExample * perExampleShare).MoveToOuterDisposeScope();
    }

    /// <summary>Rejects a per-example share outside [0, 1]; the trainer calls it at start, before any training.</summary>
    public static void EnsurePerExampleShare(double share)
    {
        if (share is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(share), share, "stage2_per_example_share is a share in [0, 1]");
    }

    // The head runs on every position and the logits are shifted after, the order the shipped model was trained in:
    // shifting the hidden states first is the same sum in another order, and changes a long run's last digits.
    static (Tensor Hidden, Tensor Logits, Tensor Labels) Shifted(LlamaForCausalLM lm, Tensor embeds, Tensor labels)
    {
        var positions = arange(embeds.shape[1], ScalarType.Int64, embeds.device).unsqueeze(0).expand(embeds.shape[0], -1);
        var hidden = lm.Model.Forward(embeds, positions, null, null);
        var logits = lm.Logits(hidden);
        return (hidden, logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, logits.shape[2]), labels.narrow(1, 1, labels.shape[1] - 1));
    }

    /// <summary>
    /// The loss of <see cref="Loss"/> and, from the same forward pass, each row's caption state [B, hidden]: the mean
    /// of the final hidden states at the positions that predict a labelled token, what the head reads while it writes
    /// the caption (zero for a row with no label).
    /// </summary>
    public static (Tensor Loss, Tensor CaptionState) LossAndCaptionState(LlamaForCausalLM lm, Tensor embeds, Tensor labels)
    {
        var (loss, captionState) = Compute(lm, embeds, labels, withCaptionState: true);
        return (loss, captionState!);
    }

    static (Tensor Loss, Tensor? CaptionState) Compute(LlamaForCausalLM lm, Tensor embeds, Tensor labels, bool withCaptionState)
    {
        using var scope = NewDisposeScope();
        var (hidden, shiftedLogits, shiftedLabels) = Shifted(lm, embeds, labels);
        var loss = nn.functional.cross_entropy(shiftedLogits.to_type(ScalarType.Float32), shiftedLabels.reshape(-1), ignore_index: -100);
        if (!withCaptionState) return (loss.MoveToOuterDisposeScope(), null);
        var writing = shiftedLabels.ne(-100).unsqueeze(-1).to_type(hidden.dtype);
        var captionState = (hidden.narrow(1, 0, hidden.shape[1] - 1) * writing).sum(1) / writing.sum(1).clamp_min(1);
        return (loss.MoveToOuterDisposeScope(), captionState.MoveToOuterDisposeScope());
    }
}
