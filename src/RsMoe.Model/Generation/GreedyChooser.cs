namespace RsMoe.Model.Generation;

/// <summary>
/// The greedy choice on one row of logits, in C#: the repetition penalty on the tokens seen so far (once per distinct
/// token, as the libtorch gather/scatter does), then the first highest score, as argmax picks it. Used where the
/// logits already live in managed memory (the CPU decoder), so a step needs no libtorch call. One per thread.
/// </summary>
public sealed class GreedyChooser(int vocabSize)
{
    readonly float[] _scores = new float[vocabSize];

    public int Choose(ReadOnlySpan<float> logits, IEnumerable<int> seen, double repetitionPenalty)
    {
        if (repetitionPenalty == 1.0) return ArgMax(logits);
        logits.CopyTo(_scores);
        float penalty = (float)repetitionPenalty;
        foreach (int id in seen)
            _scores[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
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
