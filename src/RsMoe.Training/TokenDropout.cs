using static TorchSharp.torch;

namespace RsMoe.Training;

/// <summary>
/// Training's visual token dropout (<see cref="TrainingConfig.VisualTokenDropout"/>): each row keeps a random share of
/// its visual tokens, in reading order (each token carries its own position code, so nothing else changes). The
/// draws come from torch's generator, which the trainer seeds per step, so a resumed run draws the same tokens.
/// </summary>
public static class TokenDropout
{
    /// <summary>[B, N, width] to [B, K, width], K = round(N × (1 − <paramref name="dropout"/>)), at least 1; the tokens themselves at 0.</summary>
    public static Tensor Keep(Tensor tokens, double dropout)
    {
        EnsureShare(dropout, nameof(dropout));
        if (dropout == 0) return tokens;
        long count = tokens.shape[1], keep = Math.Max(1, (long)Math.Round(count * (1 - dropout)));
        using var scope = NewDisposeScope();
        var kept = rand(tokens.shape[0], count).argsort(1).narrow(1, 0, keep).sort(1).Values;
        return tokens.gather(1, kept.unsqueeze(-1).expand(-1, -1, tokens.shape[2]).to(tokens.device)).MoveToOuterDisposeScope();
    }

    /// <summary>Throws unless <paramref name="dropout"/> is a share in [0, 1) (a config is checked before any work starts).</summary>
    public static void EnsureShare(double dropout, string name)
    {
        if (dropout is < 0 or >= 1) throw new ArgumentOutOfRangeException(name, dropout, $"{name} is a share in [0, 1)");
    }
}
