namespace RsMoe.Evaluation.Captions;

/// <summary>
/// ROUGE-L as the toolkit computes it: β = 1.2; precision and recall each maximised over references on its own;
/// the corpus score is the mean of per-image scores.
/// </summary>
public static class RougeL
{
    const double Beta = 1.2;

    public static double Score(string[] candidate, IReadOnlyList<string[]> references)
    {
        double bestPrecision = 0, bestRecall = 0;
        foreach (var reference in references)
        {
            int lcs = LongestCommonSubsequence(candidate, reference);
            if (candidate.Length > 0) bestPrecision = Math.Max(bestPrecision, lcs / (double)candidate.Length);
            if (reference.Length > 0) bestRecall = Math.Max(bestRecall, lcs / (double)reference.Length);
        }
        if (bestPrecision == 0 || bestRecall == 0) return 0;
        return (1 + Beta * Beta) * bestPrecision * bestRecall / (bestRecall + Beta * Beta * bestPrecision);
    }

    static int LongestCommonSubsequence(string[] a, string[] b)
    {
        var row = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = 0;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = a[i - 1] == b[j - 1] ? diagonal + 1 : Math.Max(row[j], row[j - 1]);
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    public static (double Corpus, Dictionary<string, double> PerImage) Compute(
        IReadOnlyDictionary<string, string> candidates, IReadOnlyDictionary<string, IReadOnlyList<string>> references)
    {
        var perImage = candidates.ToDictionary(c => c.Key, c => Score(c.Value.Split(' '), references[c.Key].Select(r => r.Split(' ')).ToList()));
        return (perImage.Count == 0 ? 0 : PairwiseMean(perImage.Values.ToArray()), perImage);
    }

    /// <summary>numpy's pairwise summation (blocks of 8, recursive halves above 128), so means match to the last bits.</summary>
    internal static double PairwiseMean(double[] values) => PairwiseSum(values, 0, values.Length) / values.Length;

    static double PairwiseSum(double[] v, int start, int n)
    {
        if (n < 8)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += v[start + i];
            return s;
        }
        if (n <= 128)
        {
            var r = new double[8];
            for (int i = 0; i < 8; i++) r[i] = v[start + i];
            int k;
            for (k = 8; k < n - n % 8; k += 8)
                for (int j = 0; j < 8; j++) r[j] += v[start + k + j];
            double s = (r[0] + r[1]) + (r[2] + r[3]) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; k < n; k++) s += v[start + k];
            return s;
        }
        int half = n / 2;
        half -= half % 8;
        return PairwiseSum(v, start, half) + PairwiseSum(v, start + half, n - half);
    }
}
