namespace RsMoe.Evaluation.Captions;

/// <summary>
/// BLEU-1..4 as the COCO caption toolkit computes it: counts and lengths pooled over the corpus, the closest
/// reference length (ties to the shorter), clipping by the largest count in any one reference, and the
/// toolkit's smoothing constants (1e-15, 1e-9).
/// </summary>
public static class Bleu
{
    const double Tiny = 1e-15, Small = 1e-9;
    public const int MaxOrder = 4;

    sealed record Counts(int TestLength, int ReferenceLength, int[] Guess, int[] Correct);

    static Counts Cook(string[] candidate, IReadOnlyList<string[]> references)
    {
        var maxRefCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var reference in references)
            foreach (var (gram, count) in NGrams.Count(reference, MaxOrder))
                maxRefCounts[gram] = Math.Max(maxRefCounts.GetValueOrDefault(gram), count);
        int testLength = candidate.Length;
        int referenceLength = references.Select(r => r.Length).OrderBy(l => Math.Abs(l - testLength)).ThenBy(l => l).First();
        var guess = new int[MaxOrder];
        var correct = new int[MaxOrder];
        for (int k = 0; k < MaxOrder; k++) guess[k] = Math.Max(0, testLength - k);
        foreach (var (gram, count) in NGrams.Count(candidate, MaxOrder))
            correct[NGrams.Order(gram) - 1] += Math.Min(maxRefCounts.GetValueOrDefault(gram), count);
        return new Counts(testLength, referenceLength, guess, correct);
    }

    static double[] Score(int testLength, int referenceLength, int[] guess, int[] correct)
    {
        var scores = new double[MaxOrder];
        double product = 1;
        double ratio = (testLength + Tiny) / (referenceLength + Small);
        for (int k = 0; k < MaxOrder; k++)
        {
            product *= (correct[k] + Tiny) / (guess[k] + Small);
            scores[k] = Math.Pow(product, 1.0 / (k + 1));
            if (ratio < 1) scores[k] *= Math.Exp(1 - 1 / ratio);
        }
        return scores;
    }

    /// <summary>Corpus BLEU-1..4 and the per-image scores, over tokenised captions (words split on spaces).</summary>
    public static (double[] Corpus, Dictionary<string, double[]> PerImage) Compute(
        IReadOnlyDictionary<string, string> candidates, IReadOnlyDictionary<string, IReadOnlyList<string>> references)
    {
        int testTotal = 0, refTotal = 0;
        var guess = new int[MaxOrder];
        var correct = new int[MaxOrder];
        var perImage = new Dictionary<string, double[]>();
        foreach (var (id, candidate) in candidates)
        {
            var counts = Cook(NGrams.Split(candidate), references[id].Select(NGrams.Split).ToList());
            testTotal += counts.TestLength;
            refTotal += counts.ReferenceLength;
            for (int k = 0; k < MaxOrder; k++)
            {
                guess[k] += counts.Guess[k];
                correct[k] += counts.Correct[k];
            }
            perImage[id] = Score(counts.TestLength, counts.ReferenceLength, counts.Guess, counts.Correct);
        }
        return (Score(testTotal, refTotal, guess, correct), perImage);
    }
}
