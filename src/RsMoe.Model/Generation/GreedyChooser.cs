namespace RsMoe.Model.Generation;

/// <summary>
/// The greedy choice on one row of logits, in C#: the repetition penalty on the tokens seen so far (once per distinct
/// token, as the libtorch gather/scatter does), then the first highest score, as argmax picks it. Used where the
/// logits already live in managed memory (the CPU decoder), so a step needs no libtorch call. One per thread.
/// </summary>
public sealed class GreedyChooser(int vocabSize)
{
    readonly float[] _scores = new float[vocabSize];

    /// <param name="suppressed">Tokens that may not be chosen now (stop tokens before the minimum length).</param>
    public int Choose(ReadOnlySpan<float> logits, IEnumerable<int> seen, double repetitionPenalty, IReadOnlyList<int>? suppressed = null)
    {
        if (repetitionPenalty == 1.0 && (suppressed is null || suppressed.Count == 0)) return ArgMax(logits);
        logits.CopyTo(_scores);
        if (repetitionPenalty != 1.0)
        {
            float penalty = (float)repetitionPenalty;
            foreach (int id in seen)
                _scores[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
        }
        if (suppressed is not null)
            foreach (int id in suppressed) _scores[id] = float.NegativeInfinity;
        return ArgMax(_scores);
    }

    static int ArgMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        float max = scores[0];
        for (int i = 1; i < scores.Length; i++)
            if (scores[i] > max) { max = scores[i]; best = i; }
        return best;
    }
}
