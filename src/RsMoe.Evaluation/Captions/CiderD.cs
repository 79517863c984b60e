namespace RsMoe.Evaluation.Captions;

/// <summary>
/// CIDEr-D as the toolkit computes it: n = 1..4, σ = 6, document frequency over the references of the images
/// scored, idf = log(N) − log(max(1, df)), clipped numerator min(h, r)·r with unclipped norms, a Gaussian length
/// penalty on the difference in bigram counts, ×10 and averaged over references; corpus = mean over images.
/// </summary>
public static class CiderD
{
    const int MaxOrder = 4;
    const double Sigma = 6.0;

    sealed record Vector(Dictionary<string, double>[] Weights, double[] Norms, int BigramCount);

    public static (double Corpus, Dictionary<string, double> PerImage) Compute(
        IReadOnlyDictionary<string, string> candidates, IReadOnlyDictionary<string, IReadOnlyList<string>> references)
    {
        var ids = candidates.Keys.ToList();
        var refCounts = ids.ToDictionary(id => id, id => references[id].Select(r => NGrams.Count(NGrams.Split(r), MaxOrder)).ToList());
        var documentFrequency = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var id in ids)
            foreach (var gram in refCounts[id].SelectMany(c => c.Keys).Distinct())
                documentFrequency[gram] = documentFrequency.GetValueOrDefault(gram) + 1;
        double logN = Math.Log(ids.Count);

        Vector ToVector(Dictionary<string, int> counts)
        {
            var weights = Enumerable.Range(0, MaxOrder).Select(_ => new Dictionary<string, double>(StringComparer.Ordinal)).ToArray();
            var norms = new double[MaxOrder];
            int bigrams = 0;
            foreach (var (gram, tf) in counts)
            {
                int n = NGrams.Order(gram) - 1;
                double df = Math.Log(Math.Max(1.0, documentFrequency.GetValueOrDefault(gram)));
                double w = tf * (logN - df);
                weights[n][gram] = w;
                norms[n] += w * w;
                if (n == 1) bigrams += tf;
            }
            for (int n = 0; n < MaxOrder; n++) norms[n] = Math.Sqrt(norms[n]);
            return new Vector(weights, norms, bigrams);
        }

        var perImage = new Dictionary<string, double>();
        foreach (var id in ids)
        {
            var hypothesis = ToVector(NGrams.Count(NGrams.Split(candidates[id]), MaxOrder));
            var total = new double[MaxOrder];
            foreach (var reference in refCounts[id].Select(ToVector))
            {
                double delta = hypothesis.BigramCount - reference.BigramCount;
                for (int n = 0; n < MaxOrder; n++)
                {
                    double value = 0;
                    foreach (var (gram, h) in hypothesis.Weights[n])
                    {
                        double r = reference.Weights[n].GetValueOrDefault(gram);
                        value += Math.Min(h, r) * r;
                    }
                    if (hypothesis.Norms[n] != 0 && reference.Norms[n] != 0) value /= hypothesis.Norms[n] * reference.Norms[n];
                    value *= Math.Exp(-(delta * delta) / (2 * Sigma * Sigma));
                    total[n] += value;
                }
            }
            perImage[id] = RougeL.PairwiseMean(total) / refCounts[id].Count * 10.0;
        }
        return (perImage.Count == 0 ? 0 : RougeL.PairwiseMean(perImage.Values.ToArray()), perImage);
    }
}
