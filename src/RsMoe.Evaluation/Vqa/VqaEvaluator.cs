namespace RsMoe.Evaluation.Vqa;

/// <summary>One scored question.</summary>
public sealed record VqaJudgement(string QuestionId, string Type, string Prediction, string Reference, bool Correct);

/// <summary>Accuracy per question type, on average over questions, and on average over types.</summary>
public sealed record VqaScores(
    IReadOnlyDictionary<string, double> PerType, IReadOnlyDictionary<string, int> CountPerType,
    double Overall, double MeanOverTypes, int Questions, int Missing, IReadOnlyList<VqaJudgement> Judgements);

/// <summary>
/// RSIEval-style VQA accuracy. After <see cref="AnswerNormalizer"/>, a prediction is correct when:
/// (1) the reference is a yes/no answer (it starts with "yes" or "no") and the prediction's first yes/no word agrees;
/// (2) otherwise the reference holds a number and the prediction's first number equals the reference's first number;
/// (3) otherwise the two are equal, or one contains the other as a whole-word sequence (so "upper part" matches
/// "the upper part of the image"), the shorter having at least one word.
/// A question without a prediction counts as wrong and is reported as missing.
/// </summary>
public static class VqaEvaluator
{
    public static bool IsCorrect(string prediction, string reference)
    {
        var p = AnswerNormalizer.Words(prediction);
        var r = AnswerNormalizer.Words(reference);
        if (r.Count > 0 && r[0] is "yes" or "no")
        {
            var polarity = p.FirstOrDefault(w => w is "yes" or "no");
            return polarity == r[0];
        }
        var referenceNumber = r.FirstOrDefault(w => w.All(char.IsAsciiDigit));
        if (referenceNumber is not null)
            return p.FirstOrDefault(w => w.All(char.IsAsciiDigit)) == referenceNumber;
        if (p.Count == 0 || r.Count == 0) return false;
        return p.SequenceEqual(r) || ContainsRun(r, p) || ContainsRun(p, r);
    }

    static bool ContainsRun(IReadOnlyList<string> haystack, IReadOnlyList<string> needle)
    {
        for (int i = 0; i + needle.Count <= haystack.Count; i++)
        {
            int k = 0;
            while (k < needle.Count && haystack[i + k] == needle[k]) k++;
            if (k == needle.Count) return true;
        }
        return false;
    }

    /// <param name="questions">(id, type, reference answer) for every question.</param>
    /// <param name="predictions">Predicted answer by question id.</param>
    public static VqaScores Score(IEnumerable<(string Id, string Type, string Reference)> questions, IReadOnlyDictionary<string, string> predictions)
    {
        var judgements = new List<VqaJudgement>();
        int missing = 0;
        foreach (var (id, type, reference) in questions)
        {
            if (!predictions.TryGetValue(id, out var prediction)) { missing++; prediction = ""; }
            judgements.Add(new VqaJudgement(id, type, prediction, reference, prediction.Length > 0 && IsCorrect(prediction, reference)));
        }
        var byType = judgements.GroupBy(j => j.Type).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        var perType = byType.ToDictionary(g => g.Key, g => g.Count(j => j.Correct) / (double)g.Count());
        var counts = byType.ToDictionary(g => g.Key, g => g.Count());
        double overall = judgements.Count == 0 ? 0 : judgements.Count(j => j.Correct) / (double)judgements.Count;
        double meanOverTypes = perType.Count == 0 ? 0 : perType.Values.Average();
        return new VqaScores(perType, counts, overall, meanOverTypes, judgements.Count, missing, judgements);
    }
}
